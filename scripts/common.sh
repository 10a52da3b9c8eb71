# Shared by the scripts in this folder: sourced, never run. Paths, messages and the build toolchain.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Services' data, logs and sockets: git-ignored, inside the clone so two clones never share state.
STATE_DIR="${CACHELENS_STATE_DIR:-$ROOT/.cachelens}"
# Cargo's target dir lives outside the clone so a fresh clone (CI) reuses earlier builds.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cachelens/target}"
TOOLCHAIN_ENV="$STATE_DIR/toolchain.env"
CARGO_LEPTOS_VERSION=0.3.11
MOTO_VERSION=5.2.5
AWSCLI_VERSION=1.46.3

say() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# The wasm-bindgen version the crate graph resolved to; the CLI must match it exactly.
wasm_bindgen_version() {
    awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$ROOT/Cargo.lock"
}

# setup writes toolchain.env: either nothing special (rustup has the wasm32 target) or Debian's rustc-web
# with std built from source. Every build sources it so the server and the WASM use one toolchain.
load_toolchain() {
    [ -f "$TOOLCHAIN_ENV" ] || die "run scripts/setup first (no $TOOLCHAIN_ENV)"
    # shellcheck disable=SC1090
    . "$TOOLCHAIN_ENV"
    export PATH="$ROOT/node_modules/.bin:$PATH:$HOME/.cargo/bin"
    claim_target_dir
}

# The target dir is shared by every checkout on this machine, and so are the final artifacts in it (the
# server binary, cachelens.wasm). Cargo relinks only when this checkout's sources changed, so after another
# checkout built, this one would run the other's binary and WASM (whose server-function URLs differ):
# touching the crate roots makes cargo relink this checkout's.
claim_target_dir() {
    local marker="$CARGO_TARGET_DIR/.cachelens-checkout"
    mkdir -p "$CARGO_TARGET_DIR"
    if [ "$(cat "$marker" 2>/dev/null)" != "$ROOT" ]; then
        touch "$ROOT/app/src/lib.rs" "$ROOT/app/src/main.rs"
        echo "$ROOT" > "$marker"
    fi
}

# cargo leptos with the arguments the chosen toolchain needs. Release WASM leaves file/line locations out of
# panic messages (-Zlocation-detail=none, allowed on stable by RUSTC_BOOTSTRAP, which the Debian rustc-web
# fallback needs anyway): about 8 KiB of the 400 KiB front-end budget.
cargo_leptos() {
    load_toolchain
    local sub=$1; shift
    if [[ " $* " == *" --release "* ]]; then
        export RUSTC_BOOTSTRAP=1
        export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="${CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS:+$CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS }-Zlocation-detail=none"
    fi
    # shellcheck disable=SC2086
    cargo leptos "$sub" ${LEPTOS_LIB_CARGO_ARGS:+--lib-cargo-args="$LEPTOS_LIB_CARGO_ARGS"} "$@" || return
    [ "$sub" = build ] && gzip_front_end
    return 0
}

# The server sends these copies to browsers that accept gzip (app/src/server/assets.rs). -k keeps the file,
# -n leaves the name and time out of the copy; gzip gives the copy its file's modification time.
gzip_front_end() {
    local f
    for f in "$ROOT"/target/site/pkg/*.wasm "$ROOT"/target/site/pkg/*.js "$ROOT"/target/site/pkg/*.css; do
        [ -f "$f" ] && gzip -9 -k -f -n "$f"
    done
    return 0
}
