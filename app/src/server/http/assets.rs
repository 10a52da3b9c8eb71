//! The front end's files under `/pkg`. The build gzips the WASM, JS and CSS next to themselves
//! (`scripts/common.sh`), and browsers that accept gzip get those copies as they are: the WASM goes out at a
//! third of its size with no compression work per request.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::{self, Next};
use axum::Router;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeader;

/// Serves `pkg_dir`, answering with `name.gz` where it exists and the client accepts gzip. `Vary` tells
/// caches on the way that the answer depends on Accept-Encoding.
pub fn pkg_routes(pkg_dir: PathBuf) -> Router {
    let serve = SetResponseHeader::appending(
        ServeDir::new(&pkg_dir).precompressed_gzip(),
        header::VARY,
        HeaderValue::from_static("accept-encoding"),
    );
    // Looked at on every request, not only at start: `cargo leptos watch` rebuilds the WASM under a running
    // server. A handful of stat calls, and browsers ask for these files once per page load at most.
    let pkg_dir: Arc<Path> = pkg_dir.into();
    Router::new().fallback_service(serve).layer(middleware::from_fn(move |request: Request, next: Next| {
        drop_stale_gzip(&pkg_dir);
        next.run(request)
    }))
}

/// A `.gz` older than its source is left from an earlier build (`cargo leptos watch` does not gzip):
/// serving it would pair an old WASM with new pages, which breaks hydration. Without a copy the file goes out
/// uncompressed, which is only slower.
fn drop_stale_gzip(pkg_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(pkg_dir) else { return };
    let modified = |p: &Path| -> Option<SystemTime> { std::fs::metadata(p).and_then(|m| m.modified()).ok() };
    for gz in entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "gz")) {
        let stale = match (modified(&gz.with_extension("")), modified(&gz)) {
            (Some(source), Some(copy)) => source > copy,
            (None, _) => true,
            _ => false,
        };
        if stale {
            if let Err(e) = std::fs::remove_file(&gz) {
                tracing::warn!("{} is older than its source and cannot be removed ({e}); browsers may get the old file", gz.display());
            }
        }
    }
}
