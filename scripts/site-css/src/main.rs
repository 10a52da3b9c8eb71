//! `cachelens-site-css SRC DEST BROWSERQUERY [--release]`: the stylesheet step of `scripts/site`.
//!
//! cargo-leptos parses the style file with Lightning CSS, minifies it for the browser query's targets and
//! prints it (compact in release). `scripts/site` builds the site without cargo-leptos, so this does the same
//! with the same library version; `scripts/test_scripts.py` compares the two outputs byte for byte.
use lightningcss::stylesheet::{MinifyOptions, ParserOptions, PrinterOptions, StyleSheet};
use lightningcss::targets::{Browsers, Targets};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let release = args.iter().any(|a| a == "--release");
    let positional: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let [src, dest, query] = positional[..] else {
        eprintln!("usage: cachelens-site-css SRC DEST BROWSERQUERY [--release]");
        return ExitCode::from(2);
    };
    match run(src, dest, query, release) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cachelens-site-css: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(src: &str, dest: &str, query: &str, release: bool) -> Result<(), String> {
    let source = std::fs::read_to_string(src).map_err(|e| format!("{src}: {e}"))?;
    // cargo-leptos joins the style file and Tailwind's output (empty here) with a newline.
    let css = format!("{source}\n");
    let browsers = Browsers::from_browserslist([query]).map_err(|e| format!("browser query {query:?}: {e}"))?;
    let targets = Targets::from(browsers);
    let options = ParserOptions { filename: src.to_string(), ..Default::default() };
    // Like cargo-leptos, a stylesheet Lightning CSS cannot parse is written as it is.
    let out = match StyleSheet::parse(&css, options) {
        Ok(mut sheet) => {
            sheet.minify(MinifyOptions { targets, ..Default::default() }).map_err(|e| e.to_string())?;
            sheet.to_css(PrinterOptions { targets, minify: release, ..Default::default() }).map_err(|e| e.to_string())?.code
        }
        Err(_) => css.clone(),
    };
    if let Some(dir) = std::path::Path::new(dest).parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::write(dest, out).map_err(|e| format!("{dest}: {e}"))
}
