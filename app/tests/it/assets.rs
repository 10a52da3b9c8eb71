//! The front end's files go out gzipped to browsers that ask for it, and never from a copy older than the file.

use std::path::Path;
use std::process::Command;

use cachelens::server::settings::Resolved;

use crate::support::*;

fn run(cmd: &mut Command) {
    let status = cmd.status().expect("the command runs");
    assert!(status.success(), "{cmd:?} failed");
}

/// Content-Encoding, Vary, Content-Type and the body as sent.
async fn fetch(base: &str, path: &str, gzip: bool) -> (Option<String>, Option<String>, Option<String>, Vec<u8>) {
    let mut request = http().get(format!("{base}{path}"));
    if gzip {
        request = request.header("Accept-Encoding", "gzip, deflate, br");
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200, "{path}");
    let header = |name: &str| response.headers().get(name).map(|v| v.to_str().unwrap().to_string());
    let (encoding, vary, kind) = (header("content-encoding"), header("vary"), header("content-type"));
    (encoding, vary, kind, response.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn pkg_files_are_served_from_their_gzip_copy_and_stale_copies_are_dropped() {
    let site = std::env::temp_dir().join(format!("cachelens-site-{}", std::process::id()));
    let pkg = site.join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    let wasm: Vec<u8> = (0..200_000u32).flat_map(|i| (i % 251).to_le_bytes()).collect();
    std::fs::write(pkg.join("cachelens.wasm"), &wasm).unwrap();
    std::fs::write(pkg.join("cachelens.js"), "export const fresh = true;\n").unwrap();
    // What the build does, and a JS copy left from a build before the file changed.
    run(Command::new("gzip").args(["-9", "-k", "-f", "-n"]).arg(pkg.join("cachelens.wasm")));
    std::fs::write(pkg.join("cachelens.js.gz"), b"not the current file").unwrap();
    run(Command::new("touch").args(["-d", "1 hour ago"]).arg(pkg.join("cachelens.js.gz")));

    let base = spawn_app_serving(Resolved::from_urls(&database_url(), &redis_url(), "cachelens-t-assets"), site.to_str().unwrap()).await;
    let (encoding, vary, kind, body) = fetch(&base, "/pkg/cachelens.wasm", true).await;
    assert_eq!(encoding.as_deref(), Some("gzip"));
    assert!(vary.unwrap_or_default().to_lowercase().contains("accept-encoding"), "caches must keep both versions apart");
    assert_eq!(kind.as_deref(), Some("application/wasm"), "browsers compile streamed WASM only with its own type");
    assert_eq!(body, std::fs::read(pkg.join("cachelens.wasm.gz")).unwrap(), "the build's gzip copy, as it is");
    assert!(body.len() < wasm.len() / 3, "{} of {} bytes", body.len(), wasm.len());

    let (encoding, _, _, body) = fetch(&base, "/pkg/cachelens.wasm", false).await;
    assert_eq!(encoding, None);
    assert_eq!(body, wasm, "a client without gzip gets the file itself");

    let (encoding, _, _, body) = fetch(&base, "/pkg/cachelens.js", true).await;
    assert_eq!(encoding, None, "a copy older than its file is never served");
    assert_eq!(body, b"export const fresh = true;\n");
    assert!(!Path::new(&pkg.join("cachelens.js.gz")).exists(), "the stale copy is removed");

    // A rebuild under the running server (cargo leptos watch) leaves the copy behind the file.
    let rebuilt: Vec<u8> = wasm.iter().rev().copied().collect();
    std::fs::write(pkg.join("cachelens.wasm"), &rebuilt).unwrap();
    let (encoding, _, _, body) = fetch(&base, "/pkg/cachelens.wasm", true).await;
    assert_eq!(encoding, None, "the copy of the previous build is not served");
    assert!(body == rebuilt, "the rebuilt file is");
    std::fs::remove_dir_all(&site).unwrap();
}
