//! `cachelens-wasm-split INPUT PKG_DIR OUTPUT_NAME`: the split step of `scripts/site.py`.
//!
//! The pages marked as lazy routes (app/src/app.rs) compile to functions the WASM imports from a placeholder
//! module; `cargo leptos build --split` moves each into a chunk of its own and writes the loader that fetches
//! it. This does the same with the same library and options as cargo-leptos 0.3.11: the main module goes next
//! to INPUT as `<stem>_split.wasm` (for wasm-bindgen), the chunks, their loader and the manifest into PKG_DIR.
//! It prints each chunk's path, one a line, for the caller to optimise.
//!
//! One difference: the manifest's keys are written sorted. cargo-leptos writes them in hash-map order, which
//! changes from build to build, so the parity test compares that file as JSON.
use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

use eyre::{eyre, WrapErr};

/// The loader's name before cargo-leptos's optional file hashing; leptos's `HydrationScripts` looks for it.
const LINK_NAME: &str = "./__wasm_split.______________________.js";
const MANIFEST: &str = "__wasm_split_manifest.json";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, pkg_dir, output_name] = &args[..] else {
        eprintln!("usage: cachelens-wasm-split INPUT PKG_DIR OUTPUT_NAME");
        return ExitCode::from(2);
    };
    match split(Path::new(input), Path::new(pkg_dir), output_name) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cachelens-wasm-split: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn split(input: &Path, pkg_dir: &Path, output_name: &str) -> eyre::Result<()> {
    let wasm = std::fs::read(input).wrap_err_with(|| format!("reading {}", input.display()))?;
    let stem = input.file_stem().and_then(|s| s.to_str()).ok_or_else(|| eyre!("{} has no file name", input.display()))?;
    let main_out = input.with_file_name(format!("{stem}_split.wasm"));
    // Chunks import the main module relative to themselves: they sit beside it in the pkg dir.
    let main_module = format!("./{output_name}.js");
    let split = wasm_split_cli_support::transform({
        let mut opts = wasm_split_cli_support::Options::new(&wasm);
        opts.output_dir = pkg_dir;
        opts.main_out_path = &main_out;
        opts.main_module = &main_module;
        opts.link_name = LINK_NAME;
        opts
    })?;
    let manifest: BTreeMap<_, _> = split.prefetch_map.into_iter().collect();
    std::fs::write(pkg_dir.join(MANIFEST), serde_json::to_string_pretty(&manifest)?)
        .wrap_err_with(|| format!("writing {MANIFEST} into {}", pkg_dir.display()))?;
    for module in split.split_modules {
        println!("{}", module.display());
    }
    Ok(())
}
