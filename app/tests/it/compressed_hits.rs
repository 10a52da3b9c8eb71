//! Hits served compressed as stored: for a client that accepts gzip, the answer is the entry's deflate inside a
//! gzip member assembled per request. It must decode (flate2 here, Python's gzip, curl --compressed) to exactly
//! the JSON the plain answer carries for the same entry, and a damaged entry must be a miss, never served.

use std::io::{Read, Write};
use std::process::{Command, Stdio};

use fred::prelude::*;
use serde_json::Value;
use tokio::sync::OnceCell;

use crate::support::*;

async fn db() -> String {
    static DB: OnceCell<String> = OnceCell::const_new();
    DB.get_or_init(|| async {
        let url = loaded_database("compressed", 5200).await;
        // Rows with multi-byte UTF-8, quotes, backslashes, newlines and tabs, found by the term "zq".
        let db = sqlx::MySqlPool::connect(&url).await.unwrap();
        sqlx::query("UPDATE articles SET Sentence = ?, Title = ?, Source = ? ORDER BY OBJECTID LIMIT 3")
            .bind("zq ünïcødé ☃ 😀 \"quoted\" back\\slash\nsecond line")
            .bind("tab\there — «guillemets» 'single'")
            .bind("<é>&amp;\u{2028}")
            .execute(&db)
            .await
            .unwrap();
        url
    })
    .await
    .clone()
}

struct Raw {
    status: u16,
    encoding: Option<String>,
    length: Option<usize>,
    body: Vec<u8>,
}

/// GET with this Accept-Encoding, the body as it came over the wire.
async fn raw(url: &str, accept: &str) -> Raw {
    let response = http().get(url).header("accept-encoding", accept).send().await.unwrap();
    let header = |name: &str| response.headers().get(name).map(|v| v.to_str().unwrap().to_string());
    let (status, encoding, length) = (response.status().as_u16(), header("content-encoding"), header("content-length"));
    Raw { status, encoding, length: length.map(|l| l.parse().unwrap()), body: response.bytes().await.unwrap().to_vec() }
}

fn gunzip(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(body).read_to_end(&mut out).expect("the answer is a valid gzip member");
    out
}

fn python_gunzip(body: &[u8]) -> Vec<u8> {
    let mut child = Command::new("python3")
        .args(["-c", "import gzip, sys; sys.stdout.buffer.write(gzip.decompress(sys.stdin.buffer.read()))"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(body).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "Python's gzip refused the answer");
    out.stdout
}

/// On the blocking pool: the server under test runs on this test's own single-threaded runtime.
async fn curl_compressed(url: &str) -> Vec<u8> {
    let url = url.to_string();
    let out = tokio::task::spawn_blocking(move || Command::new("curl").args(["-sS", "--max-time", "20", "--compressed", &url]).output())
        .await
        .unwrap()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// The rows exactly as sent: everything after `"rows":`, but the envelope's closing brace.
fn rows_bytes(body: &[u8]) -> &[u8] {
    let at = body.windows(7).position(|w| w == b"\"rows\":").expect("an answer with rows");
    assert_eq!(body.last(), Some(&b'}'));
    &body[at + 7..body.len() - 1]
}

/// The envelope without the fields that vary between two answers of one entry.
fn envelope(body: &[u8]) -> Value {
    let mut v: Value = serde_json::from_slice(body).expect("the answer is JSON");
    let map = v.as_object_mut().unwrap();
    for varying in ["elapsed_us", "ttl_remaining_s", "rows"] {
        map.remove(varying);
    }
    v
}

/// Fills the entry, then asks for it plain and with gzip; checks that every decoder gets the plain JSON.
async fn same_entry_both_ways(base: &str, query: &str, rows: u64) {
    let url = format!("{base}/api/query/cache?{query}&ttl=300");
    let miss = raw(&url, "identity").await;
    assert_eq!(miss.status, 200, "{}", String::from_utf8_lossy(&miss.body));
    let miss: Value = serde_json::from_slice(&miss.body).unwrap();
    assert_eq!((miss["hit"].as_bool(), miss["row_count"].as_u64()), (Some(false), Some(rows)), "{query}");

    let gzip = raw(&url, "gzip, deflate, br").await;
    let plain = raw(&url, "identity").await;
    assert_eq!(gzip.encoding.as_deref(), Some("gzip"), "{query}: a hit for a gzip client is sent compressed");
    assert_eq!(gzip.length, Some(gzip.body.len()), "{query}: exact Content-Length");
    assert_eq!(plain.encoding, None);
    let decoded = gunzip(&gzip.body);
    let plain_json: Value = serde_json::from_slice(&plain.body).unwrap();
    assert_eq!((plain_json["hit"].as_bool(), plain_json["row_count"].as_u64()), (Some(true), Some(rows)));
    assert_eq!(rows_bytes(&decoded), rows_bytes(&plain.body), "{query}: the rows, byte for byte");
    assert_eq!(envelope(&decoded), envelope(&plain.body), "{query}");
    assert_eq!(rows_bytes(&python_gunzip(&gzip.body)), rows_bytes(&plain.body), "{query}: Python's gzip");
    assert_eq!(rows_bytes(&curl_compressed(&url).await), rows_bytes(&plain.body), "{query}: curl --compressed");
    // The rows are exactly what MySQL answers.
    let (_, mysql) = get_json(&format!("{base}/api/query/mysql?{query}")).await;
    assert_eq!(serde_json::from_slice::<Value>(rows_bytes(&plain.body)).unwrap(), mysql["rows"], "{query}");
}

#[tokio::test]
async fn gzip_hits_decode_to_the_plain_answer_for_0_1_and_5000_rows() {
    let base = spawn_app(&db().await, &redis_url(), "cachelens-t-gzip").await;
    http().post(format!("{base}/api/cache/delete")).send().await.unwrap();
    same_entry_both_ways(&base, "term=nothing-matches-this", 0).await;
    same_entry_both_ways(&base, "term=delta&limit=1", 1).await;
    same_entry_both_ways(&base, "term=e&limit=5000", 5000).await;
    same_entry_both_ways(&base, "term=zq&limit=10", 3).await;
}

/// An app with an empty cache under `prefix`, one entry filled by `query`: the plain answer, the entry's key and
/// its stored length.
async fn one_entry(prefix: &str, query: &str) -> (String, Raw, String, u64) {
    let base = spawn_app(&db().await, &redis_url(), prefix).await;
    http().post(format!("{base}/api/cache/delete")).send().await.unwrap();
    let url = format!("{base}/api/query/cache?{query}&ttl=300");
    let plain = raw(&url, "identity").await;
    let keys = redis_keys(&format!("{prefix}:*")).await;
    assert_eq!(keys.len(), 1, "{keys:?}");
    let stored: u64 = redis_client().await.strlen(&keys[0]).await.unwrap();
    (url, plain, keys[0].clone(), stored)
}

#[tokio::test]
async fn the_stored_entry_is_a_fraction_of_the_json() {
    let (_, plain, _, stored) = one_entry("cachelens-t-gzipsize", "term=e&limit=500").await;
    assert!(stored * 100 <= rows_bytes(&plain.body).len() as u64 * 30, "stored {stored} B for {} B of rows", plain.body.len());
}

#[tokio::test]
async fn a_damaged_entry_is_a_miss_and_is_refilled() {
    let (url, first, key, length) = one_entry("cachelens-t-gzipbad", "term=delta&limit=50").await;
    let redis = redis_client().await;
    let keys = [key];
    for at in [3, length / 2, length - 1] {
        // One byte changed, in the header, the middle of the rows, the last byte.
        let _: u64 = redis.setrange(&keys[0], at as u32, "\u{7f}").await.unwrap();
        for accept in ["gzip", "identity"] {
            let answer = raw(&url, accept).await;
            let body = if answer.encoding.as_deref() == Some("gzip") { gunzip(&answer.body) } else { answer.body };
            let json: Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(json["hit"], accept == "identity", "damage at byte {at} ({accept}): {json}");
            assert_eq!(rows_bytes(&body), rows_bytes(&first.body), "damage at byte {at}: the refilled rows are the same");
        }
    }
}
