# Shared by the scripts in this folder: sourced, never run. Paths, messages and the build toolchain.
# A script gets strict mode; an interactive shell that sources this (to call build_site, say) keeps its own.
[[ $- == *i* ]] || set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Services' data, logs and sockets: git-ignored, inside the clone so two clones never share state.
STATE_DIR="${CACHELENS_STATE_DIR:-$ROOT/.cachelens}"
# Cargo's target dir lives outside the clone so a fresh clone (CI) reuses earlier builds.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cachelens/target}"
TOOLCHAIN_ENV="$STATE_DIR/toolchain.env"
# Where `cargo install` puts the tools (and rustup its proxies).
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
CARGO_LEPTOS_VERSION=0.3.11
MOTO_VERSION=5.2.5
AWSCLI_VERSION=1.46.3
# The Pulumi Python SDK and the provider SDKs Pulumi.yaml pins, for scripts/pulumi/sdk_check.py.
PULUMI_SDK_VERSION=3.272.0
PULUMI_AWS_VERSION=7.51.1
PULUMI_RANDOM_VERSION=4.21.4

say() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }
# In an interactive shell a failure returns instead of closing the shell.
die() { printf 'error: %s\n' "$*" >&2; [[ $- == *i* ]] && return 1; exit 1; }

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# The wasm-bindgen version the crate graph resolved to; the CLI must match it exactly.
wasm_bindgen_version() {
    awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$ROOT/Cargo.lock"
}

# The Rust the project pins (rust-toolchain.toml).
pinned_rust() { awk -F'"' '/^channel *=/ { print $2; exit }' "$ROOT/rust-toolchain.toml"; }

# setup writes toolchain.env: either rustup's pinned toolchain (nothing special) or Debian's rustc-web with std
# built from source. Every build sources it so the server and the WASM use one toolchain.
load_toolchain() {
    [ -f "$TOOLCHAIN_ENV" ] || die "run scripts/setup first (no $TOOLCHAIN_ENV)"
    # shellcheck disable=SC1090
    . "$TOOLCHAIN_ENV"
    export PATH="$ROOT/node_modules/.bin:$PATH:$CARGO_BIN"
    claim_target_dir
}

# The target dir is shared by every checkout on this machine, and so are the artifacts whose names carry no
# hash (the server binary, cachelens.wasm): after another checkout built, cargo would call this checkout's
# crate fresh and leave the other's binary and WASM in place (their server-function URLs differ). Dropping the
# crate's own fingerprints makes cargo rebuild just this crate, reusing every dependency.
claim_target_dir() {
    local marker="$CARGO_TARGET_DIR/.cachelens-checkout"
    mkdir -p "$CARGO_TARGET_DIR"
    if [ "$(cat "$marker" 2>/dev/null)" != "$ROOT" ]; then
        find "$CARGO_TARGET_DIR" -maxdepth 5 -path '*/.fingerprint/cachelens-*' -prune -exec rm -rf {} + 2>/dev/null || true
        echo "$ROOT" > "$marker"
    fi
}

# What release builds of the WASM add on either path: no file/line locations in panic messages
# (-Zlocation-detail=none, allowed on stable by RUSTC_BOOTSTRAP, which the Debian rustc-web fallback needs
# anyway), about 8 KiB of the 400 KiB front-end budget.
release_wasm_flags() {
    export RUSTC_BOOTSTRAP=1
    case " ${CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS:-} " in
        *" -Zlocation-detail=none "*) ;;
        *) export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="${CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS:+$CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS }-Zlocation-detail=none" ;;
    esac
}

# The server binary and target/site, as `cargo leptos build` makes them, without cargo-leptos (scripts/site.py).
#   build_site [--release] [--front-only] [--tools-pid PID]
# With --tools-pid, the cargo builds run while that process (start_tool_install) installs wasm-bindgen, and
# packaging waits for it. --front-only leaves the server to the caller (scripts/test: cargo test builds it).
build_site() {
    local args=() tools=""
    while [ $# -gt 0 ]; do
        case "$1" in
            --tools-pid) tools=$2; shift 2 ;;
            *) args+=("$1"); shift ;;
        esac
    done
    site_compile "${args[@]}" || return
    [ -z "$tools" ] || wait_tools "$tools" || return
    site_package "${args[@]}"
}

site_compile() {
    load_toolchain
    [[ " $* " == *" --release "* ]] && release_wasm_flags
    python3 "$ROOT/scripts/site.py" compile "$@"
}

site_package() {
    load_toolchain
    python3 "$ROOT/scripts/site.py" package "$@" && gzip_front_end
}

# Starts `scripts/setup --cargo-tools` in the background, its pid in TOOLS_PID, for wait_tools.
start_tool_install() {
    mkdir -p "$STATE_DIR"
    "$ROOT/scripts/setup" --cargo-tools "$@" >"$STATE_DIR/setup-tools.log" 2>&1 &
    TOOLS_PID=$!
}

wait_tools() {
    wait "$1" && return 0
    cat "$STATE_DIR/setup-tools.log" >&2 2>/dev/null || true
    die "installing the build tools failed (log above: $STATE_DIR/setup-tools.log)"
}

# The environment of the server build, for `cargo test` to share its dependencies and binary.
export_server_build_env() {
    local exports
    exports=$(python3 "$ROOT/scripts/site.py" env "$@") || return
    eval "$exports"
}

# cargo leptos itself (development, and the parity test), with the arguments the chosen toolchain needs and
# --split, without which the lazy routes' WASM does not load (scripts/site.py).
cargo_leptos() {
    load_toolchain
    local sub=$1; shift
    [[ " $* " == *" --release "* ]] && release_wasm_flags
    # shellcheck disable=SC2086
    cargo leptos "$sub" --split ${LEPTOS_LIB_CARGO_ARGS:+--lib-cargo-args="$LEPTOS_LIB_CARGO_ARGS"} "$@" || return
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

# The SELECT-only URL custom SQL uses on database $1 (or on the URL's own database without $1): the one given
# in CACHELENS_SQL_DATABASE_URL, else scripts/services's READONLY_DATABASE_URL. Empty, with a note, when neither
# is known (external services): custom SQL then runs as the main user, still guarded and read-only.
sql_url_for() {
    local base="${CACHELENS_SQL_DATABASE_URL:-${READONLY_DATABASE_URL:-}}"
    if [ -z "$base" ]; then
        say "note: no read-only database user known (set CACHELENS_SQL_DATABASE_URL): custom SQL runs as the main user"
        return 0
    fi
    if [ -n "${1:-}" ]; then echo "${base%/*}/$1"; else echo "$base"; fi
}

# SQL_ENV: an `env` prefix that sets CACHELENS_SQL_DATABASE_URL to $1, or unsets it when $1 is empty. A prefix
# rather than a function, so `"${SQL_ENV[@]}" server &` leaves the server's own pid in $!.
set_sql_env() {
    if [ -n "$1" ]; then SQL_ENV=(env "CACHELENS_SQL_DATABASE_URL=$1"); else SQL_ENV=(env -u CACHELENS_SQL_DATABASE_URL); fi
}

# start_server BIN ADDR LOG DATABASE_URL PREFIX [SQL_URL]: `BIN serve` on ADDR in the background (the scripts' one
# way to start it: test, soak, bench), its own pid in $server, once /healthz answers. Dies with the log when it does
# not start, and before starting when something already serves ADDR (it would answer in this one's place).
start_server() {
    local bin=$1 addr=$2 log=$3 db_url=$4 prefix=$5 sql_url=${6:-}
    ! curl -fsS "http://$addr/healthz" >/dev/null 2>&1 || die "something already serves http://$addr: stop it first"
    set_sql_env "$sql_url"
    DATABASE_URL="$db_url" CACHELENS_CACHE_PREFIX="$prefix" \
        "${SQL_ENV[@]}" "$bin" serve --addr "$addr" --site-root "$ROOT/target/site" >"$log" 2>&1 &
    server=$!
    for _ in $(seq 1 100); do curl -fsS "http://$addr/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
    kill -0 "$server" 2>/dev/null || { cat "$log"; die "the server did not start"; }
}
