#!/usr/bin/env python3
"""Builds the site exactly as `cargo leptos build --split` does, without cargo-leptos.

    scripts/site.py build [--release]     compile, then package: the server binary and target/site
    scripts/site.py compile [--release] [--front-only]
                                          the cargo builds only (server, WASM, the two site tools)
    scripts/site.py lint                  cargo fmt --check, clippy -D warnings on the server and the WASM
    scripts/site.py package [--release]   the WASM split, wasm-bindgen, wasm-opt, the stylesheet and the assets
    scripts/site.py env [--release]       the server build's environment, as `export` lines

Why: cargo-leptos takes 20 minutes to install from source on two cores, and the README's two commands need
only what it runs: cargo for the server and the WASM, the WASM split at the lazy routes, wasm-bindgen,
wasm-opt, Lightning CSS and a copy of public/. This script runs those same steps with the same arguments and
environment, read from the `[[workspace.metadata.leptos]]` table, so `cargo leptos watch --split` (development)
and this build agree on every file; scripts/test_scripts.py compares the two wherever cargo-leptos is installed.

Always split, as `--split` does: the app's lazy routes (app/src/app.rs) compile to imports from a placeholder
module that only the split step resolves, so an unsplit WASM would not load. The split and stylesheet steps are
two small workspace tools (scripts/wasm-split, scripts/site-css) pinned to the library versions cargo-leptos
0.3.11 locks.

The server and the WASM build run at once (cargo-leptos also does; they use separate target dirs), and the
build of the two tools with them. `compile` needs no wasm-bindgen, so scripts/run installs it meanwhile.
"""
import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WASM = "wasm32-unknown-unknown"


# The variables cargo-leptos lets override its metadata (its config/dotenvs.rs), for the keys used here.
ENV_OVERRIDES = {
    "LEPTOS_OUTPUT_NAME": "output-name", "LEPTOS_SITE_ROOT": "site-root", "LEPTOS_SITE_PKG_DIR": "site-pkg-dir",
    "LEPTOS_STYLE_FILE": "style-file", "LEPTOS_ASSETS_DIR": "assets-dir", "LEPTOS_SITE_ADDR": "site-addr",
    "LEPTOS_RELOAD_PORT": "reload-port", "LEPTOS_HASH_FILES": "hash-files", "LEPTOS_BROWSERQUERY": "browserquery",
    "LEPTOS_JS_MINIFY": "js-minify",
}


def metadata():
    with open(ROOT / "Cargo.toml", "rb") as f:
        (leptos,) = tomllib.load(f)["workspace"]["metadata"]["leptos"]
    for var, key in ENV_OVERRIDES.items():
        if var in os.environ:
            value = os.environ[var]
            leptos[key] = value == "true" if value in ("true", "false") else value
    if leptos.get("hash-files"):
        sys.exit("site: hash-files is not supported here; build with cargo leptos")
    return leptos


def target_dir():
    return Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))


def profile_args(profile):
    """cargo's flag for a cargo-leptos profile name: debug (none), release, or a named profile."""
    return {"debug": [], "release": ["--release"]}.get(profile, [f"--profile={profile}"])


def profile_dir(profile):
    return {"dev": "debug", "test": "debug", "bench": "release"}.get(profile, profile)


def leptos_env(meta, release):
    """The LEPTOS_* variables cargo-leptos gives both builds (its Project::to_envs)."""
    return {
        "LEPTOS_OUTPUT_NAME": meta["output-name"],
        "LEPTOS_SITE_ROOT": meta.get("site-root", "target/site"),
        "LEPTOS_SITE_PKG_DIR": meta.get("site-pkg-dir", "pkg"),
        "LEPTOS_SITE_ADDR": meta.get("site-addr", "127.0.0.1:3000"),
        "LEPTOS_RELOAD_PORT": str(meta.get("reload-port", 3001)),
        "LEPTOS_LIB_DIR": "app",
        "LEPTOS_BIN_DIR": "app",
        "LEPTOS_JS_MINIFY": str(release and meta.get("js-minify", True)).lower(),
        "LEPTOS_HASH_FILES": str(meta.get("hash-files", False)).lower(),
    }


def rustflags(meta, release, triple):
    """cargo-leptos sets RUSTFLAGS to the configured flags for the target plus its own: relocations for the
    split (WASM only), then the cfg."""
    extra = ["-Clink-args=--emit-relocs"] if triple == WASM else []
    if meta.get("always-erase-components") or (not release and not meta.get("disable-erase-components")):
        extra += ["--cfg", "erase_components"]
    base = os.environ.get("RUSTFLAGS") or os.environ.get(
        "CARGO_TARGET_" + triple.upper().replace("-", "_") + "_RUSTFLAGS", "")
    return " ".join(base.split() + extra)


def host_triple():
    out = subprocess.run(["rustc", "-vV"], capture_output=True, text=True, check=True).stdout
    return next(line.split()[1] for line in out.splitlines() if line.startswith("host:"))


def server_env(meta, release):
    env = leptos_env(meta, release)
    flags = rustflags(meta, release, host_triple())
    if flags:
        env["RUSTFLAGS"] = flags
    return env


def features(meta, side):
    args = [] if meta.get(f"{side}-default-features", True) else ["--no-default-features"]
    if meta.get(f"{side}-features"):
        args.append("--features=" + ",".join(meta[f"{side}-features"]))
    return args


def spawn(name, args, env, drop=()):
    print(f"site: {name}: {' '.join(args)}", file=sys.stderr, flush=True)
    full = {k: v for k, v in {**os.environ, **env}.items() if k not in drop}
    return name, subprocess.Popen(args, cwd=ROOT, env=full)


def wait_all(procs):
    failed = [name for name, p in procs if p.wait() != 0]
    if failed:
        sys.exit(f"site: the {' and '.join(failed)} build failed")


def profiles(meta, release):
    if release:
        return meta.get("bin-profile-release", "release"), meta.get("lib-profile-release", "release")
    return meta.get("bin-profile-dev", "debug"), meta.get("lib-profile-dev", "debug")


def compile_all(release, front_only):
    meta = metadata()
    target = target_dir()
    bin_profile, lib_profile = profiles(meta, release)
    front_target = target / "front"
    lib_env = leptos_env(meta, release)
    flags = rustflags(meta, release, WASM)
    if flags:
        lib_env["RUSTFLAGS"] = flags
    lib_args = os.environ.get("LEPTOS_LIB_CARGO_ARGS", "").split()

    procs = [] if front_only else [
        spawn("server", ["cargo", "build", f"--package={meta['bin-package']}", f"--bin={meta.get('bin-target', meta['bin-package'])}",
                         *features(meta, "bin"), *profile_args(bin_profile)], server_env(meta, release))]
    procs += [
        spawn("front", ["cargo", "build", f"--package={meta['lib-package']}", "--lib", f"--target-dir={front_target}",
                        f"--target={WASM}", *features(meta, "lib"), *lib_args, *profile_args(lib_profile)], lib_env),
        # The two tools are host code of the workspace: their own target dir keeps them off the server's lock, and
        # one environment for debug and release sites keeps them from being rebuilt each time they alternate.
        spawn("site tools", ["cargo", "build", "--release", "--package=cachelens-site-css", "--package=cachelens-wasm-split",
                             f"--target-dir={target / 'tools'}"], {}, drop=("RUSTC_BOOTSTRAP", "RUSTFLAGS")),
    ]
    wait_all(procs)


def lint():
    """`cargo fmt --check`, then clippy with warnings as errors on both builds, each with the environment and
    target dir its build uses (so the checks reuse that build's dependencies)."""
    meta = metadata()
    target = target_dir()
    run(["cargo", "fmt", "--all", "--check"])
    lib_env = leptos_env(meta, False)
    flags = rustflags(meta, False, WASM)
    if flags:
        lib_env["RUSTFLAGS"] = flags
    lib_args = os.environ.get("LEPTOS_LIB_CARGO_ARGS", "").split()
    wait_all([
        spawn("server lint", ["cargo", "clippy", f"--package={meta['bin-package']}", "--all-targets", *features(meta, "bin"),
                              "--", "-D", "warnings"], server_env(meta, False)),
        spawn("front lint", ["cargo", "clippy", f"--package={meta['lib-package']}", "--lib", f"--target-dir={target / 'front'}",
                             f"--target={WASM}", *features(meta, "lib"), *lib_args, "--", "-D", "warnings"], lib_env),
    ])


def package(release):
    meta = metadata()
    target = target_dir()
    _, lib_profile = profiles(meta, release)
    if release and meta.get("js-minify", True):
        sys.exit("site: js-minify needs cargo-leptos's minifier (swc); set js-minify = false in the metadata")
    site = ROOT / meta.get("site-root", "target/site")
    pkg = site / meta.get("site-pkg-dir", "pkg")
    name = meta["output-name"]
    if meta.get("assets-dir"):
        assets(ROOT / meta["assets-dir"], site, pkg)
    pkg.mkdir(parents=True, exist_ok=True)

    css = subprocess.run([str(target / "tools" / "release" / "cachelens-site-css"), str(ROOT / meta["style-file"]),
                          str(pkg / f"{name}.css"), meta.get("browserquery", "defaults"), *(["--release"] if release else [])])
    if css.returncode != 0:
        sys.exit("site: the stylesheet step failed")

    wasm = target / "front" / WASM / profile_dir(lib_profile) / f"{meta['lib-package'].replace('-', '_')}.wasm"
    chunks = split(target, wasm, pkg, name)
    run(["wasm-bindgen", "--target=web", "--keep-lld-exports", "--no-demangle", f"--out-name={name}", f"--out-dir={pkg}",
         str(wasm.with_name(f"{wasm.stem}_split.wasm"))])
    # The name leptos's HydrationScripts asks for (cargo-leptos renames it the same way).
    os.replace(pkg / f"{name}_bg.wasm", pkg / f"{name}.wasm")
    if release:
        for module in [pkg / f"{name}.wasm", *chunks]:
            run(["wasm-opt", *meta.get("wasm-opt-features", ["-Oz", "--enable-bulk-memory", "--enable-nontrapping-float-to-int"]),
                 str(module), "-o", str(module)])
    print(f"site: built {site.relative_to(ROOT)}", file=sys.stderr)


def split(target, wasm, pkg, name):
    """The lazy routes' chunks, their loader and manifest into `pkg`; the main module beside `wasm`. Chunks of an
    earlier build go first: their names are not unique to a build, and a left-over one would be measured and
    served as if it were part of this one."""
    for old in [*pkg.glob("split_*.wasm*"), *pkg.glob("chunk_*.wasm*")]:
        old.unlink()
    out = subprocess.run([str(target / "tools" / "release" / "cachelens-wasm-split"), str(wasm), str(pkg), name],
                         cwd=ROOT, stdout=subprocess.PIPE, text=True)
    if out.returncode != 0:
        sys.exit("site: the WASM split failed")
    return [Path(line) for line in out.stdout.splitlines() if line]


def assets(src, site, pkg):
    """cargo-leptos's resync: empty the site root but for the pkg dir and index.html, copy the assets in."""
    for reserved in (src / "index.html", src / pkg.name):
        if reserved.exists():
            sys.exit(f"site: {reserved} is reserved for the build's own output")
    if site.exists():
        for entry in site.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                if entry != pkg:
                    shutil.rmtree(entry)
            elif entry.name != "index.html":
                entry.unlink()
    site.mkdir(parents=True, exist_ok=True)
    if src.exists():
        shutil.copytree(src, site, dirs_exist_ok=True)


def run(args):
    if subprocess.run(args, cwd=ROOT).returncode != 0:
        sys.exit(f"site: {args[0]} failed")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["build", "compile", "package", "env", "lint"])
    parser.add_argument("--release", action="store_true")
    parser.add_argument("--front-only", action="store_true", help="compile: leave the server binary out")
    args = parser.parse_args()
    if args.command == "env":
        for key, value in server_env(metadata(), args.release).items():
            print(f"export {key}={shlex.quote(value)}")
    if args.command in ("build", "compile"):
        compile_all(args.release, args.front_only)
    if args.command in ("build", "package"):
        package(args.release)
    if args.command == "lint":
        lint()


if __name__ == "__main__":
    main()
