//! What goes out compressed: the front end's files from the build's gzip copies (never from a copy older than
//! the file), pages and JSON on the fly for clients that ask, server-sent events never.

use std::io::Write;
use std::process::{Command, Stdio};

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

    let base = spawn_app_serving(settings_for(&database_url(), &redis_url(), "cachelens-t-assets"), site.to_str().unwrap()).await;
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
    assert!(!pkg.join("cachelens.js.gz").exists(), "the stale copy is removed");

    // A rebuild under the running server (cargo leptos watch) leaves the copy behind the file.
    let rebuilt: Vec<u8> = wasm.iter().rev().copied().collect();
    std::fs::write(pkg.join("cachelens.wasm"), &rebuilt).unwrap();
    let (encoding, _, _, body) = fetch(&base, "/pkg/cachelens.wasm", true).await;
    // Compressed on the fly now, like any response: what matters is which file it is.
    let body = if encoding.as_deref() == Some("gzip") { gunzip(&body) } else { body };
    assert!(body == rebuilt, "the rebuilt file is served, not the copy of the previous build");
    assert!(!pkg.join("cachelens.wasm.gz").exists());
    std::fs::remove_dir_all(&site).unwrap();
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut child = Command::new("gzip").arg("-dc").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "not gzip");
    out.stdout
}

#[tokio::test]
async fn json_and_pages_are_gzipped_for_clients_that_ask_and_events_never() {
    let db = loaded_database("compressed", 3000).await;
    let base = spawn_app(&db, &redis_url(), "cachelens-t-gzip").await;
    for path in ["/api/query/mysql?term=delta&limit=500", "/api/query/cache?term=delta&limit=500"] {
        let (encoding, _, kind, gzipped) = fetch(&base, path, true).await;
        assert_eq!((encoding.as_deref(), kind.as_deref()), (Some("gzip"), Some("application/json")), "{path}");
        let (encoding, _, _, plain) = fetch(&base, path, false).await;
        assert_eq!(encoding, None, "{path}: a client that does not ask gets identity");
        let (a, b): (serde_json::Value, serde_json::Value) =
            (serde_json::from_slice(&gunzip(&gzipped)).unwrap(), serde_json::from_slice(&plain).unwrap());
        assert_eq!(a["rows"], b["rows"], "{path}");
        assert_eq!(a["row_count"], 500, "{path}");
        assert!(gzipped.len() * 3 < plain.len(), "{path}: {} of {} bytes", gzipped.len(), plain.len());
    }
    let (encoding, _, kind, page) = fetch(&base, "/cache?term=delta&limit=500&run=1", true).await;
    assert_eq!(encoding.as_deref(), Some("gzip"));
    assert!(kind.unwrap_or_default().starts_with("text/html"));
    assert!(String::from_utf8(gunzip(&page)).unwrap().contains("</html>"));

    let response = http()
        .post(format!("{base}/api/bench"))
        .json(&serde_json::json!({ "iterations": 20, "concurrency": 2, "paths": ["mysql"], "warmup": 0 }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let id = response.json::<serde_json::Value>().await.unwrap()["id"].as_u64().unwrap();
    let (encoding, _, kind, events) = fetch(&base, &format!("/api/bench/{id}/events"), true).await;
    assert_eq!((encoding, kind.as_deref()), (None, Some("text/event-stream")), "events must reach the page as they happen");
    assert!(String::from_utf8(events).unwrap().contains("event: done"));
}
