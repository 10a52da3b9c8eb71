//! The stored value and the Redis commands on it: the key, the value's layout, GET as a raw frame, SET with
//! expiry, and deleting every key cachelens wrote. Used by the cache flow ([`super`]) and the fill lock.

use std::time::{Duration, Instant};

use bytes::Bytes;
use fred::prelude::*;
use fred::types::scan::Scanner;
use fred::types::{ClusterHash, CustomCommand, Resp3Frame};
use futures::StreamExt;
use sha2::{Digest, Sha256};

use super::compressed::StoredRows;
use super::Source;
use crate::error::{AppError, AppResult};
use crate::server::clock::unix_ms;

/// Bumped whenever the cached value's layout changes, so old entries are never misread (v3: compressed rows).
const SCHEMA_VERSION: &str = "v3";
/// Budget for one cache command; past it the answer comes from MySQL instead.
pub(crate) const CACHE_TIMEOUT: Duration = Duration::from_millis(500);
/// Budget for one page of a SCAN delete. The scan stream can wait on a lost connection past the client's
/// command timeout (a lab run's cleanup hung on a Redis killed under it), so each page gets its own limit.
const SCAN_PAGE_TIMEOUT: Duration = Duration::from_secs(2);

/// Key = prefix, schema version, and a hash of the database the rows come from, the SQL and its parameters:
/// two deployments sharing one Redis never serve each other's rows.
pub fn cache_key(prefix: &str, database: &str, source: Source<'_>) -> String {
    let mut h = Sha256::new();
    h.update(database.as_bytes());
    h.update([0]);
    source.hash_into(&mut h);
    let hex = hex::encode(&h.finalize()[..16]);
    // The digest is a hash tag, so anything keyed on it later (a fill lock) lands on the same cluster slot.
    format!("{prefix}:{SCHEMA_VERSION}:q:{{{hex}}}")
}

/// The stored value: one header line, then the rows' raw deflate ([`StoredRows`]). The header holds a CRC-32
/// of everything after it, then the row count, the expiry (Unix ms), the JSON's length and its CRC-32:
/// `crc count expires_ms json_len json_crc\n`. A hit checks the CRC (about a microsecond for the seed's 8 KB)
/// and otherwise parses nothing; the time left is computed from the expiry instead of asked with TTL.
pub(super) fn encode_value(rows: &StoredRows, expires_at_ms: u64) -> Bytes {
    let rest = format!(" {} {expires_at_ms} {} {:08x}\n", rows.count, rows.json_len, rows.json_crc);
    let mut crc = crc32fast::Hasher::new();
    crc.update(rest.as_bytes());
    crc.update(&rows.deflate);
    let mut v = Vec::with_capacity(8 + rest.len() + rows.deflate.len());
    v.extend_from_slice(format!("{:08x}", crc.finalize()).as_bytes());
    v.extend_from_slice(rest.as_bytes());
    v.extend_from_slice(&rows.deflate);
    Bytes::from(v)
}

/// The rows and the expiry of a stored value; `None` for anything damaged or of another layout.
fn decode_value(value: Bytes) -> Option<(StoredRows, u64)> {
    let newline = value.iter().position(|&b| b == b'\n')?;
    let header = std::str::from_utf8(&value[..newline]).ok()?;
    let crc = u32::from_str_radix(header.get(..8)?, 16).ok()?;
    if crc32fast::hash(&value[8..]) != crc {
        return None;
    }
    let mut fields = header[8..].split_ascii_whitespace();
    let mut number = || fields.next()?.parse::<u64>().ok();
    let (count, expires_at_ms, json_len) = (number()?, number()?, number()?);
    let json_crc = u32::from_str_radix(header[8..].split_ascii_whitespace().nth(3)?, 16).ok()?;
    let deflate = value.slice(newline + 1..);
    Some((StoredRows { count: count as usize, json_len: json_len as usize, json_crc, deflate }, expires_at_ms))
}

/// `ttl` moved randomly by up to `pct` percent either way (never below one second).
pub(super) fn jittered(ttl: u64, pct: u8) -> u64 {
    if pct == 0 {
        return ttl;
    }
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos());
    let spread = ttl * pct as u64 / 100;
    let offset = h.finish() % (2 * spread + 1);
    (ttl + offset).saturating_sub(spread).max(1)
}

/// One GET; the seconds left come from the expiry stored in the value.
pub(super) async fn read_entry(client: &Client, key: &str) -> AppResult<Option<(StoredRows, Option<u64>)>> {
    let value = match tokio::time::timeout(CACHE_TIMEOUT, get_raw(client, key)).await {
        Ok(value) => value?,
        Err(_) => return Err(AppError::CacheDown(format!("Redis did not answer within {CACHE_TIMEOUT:?}"))),
    };
    // A value we cannot read (damaged, another writer's, an older layout) is treated as a miss and overwritten.
    Ok(value.and_then(decode_value).map(|(rows, expires_at_ms)| {
        let left_ms = expires_at_ms.saturating_sub(unix_ms());
        (rows, Some(left_ms.div_ceil(1000)))
    }))
}

/// GET as the raw reply frame. fred's typed `get` checks every byte of a string reply for UTF-8 to decide
/// between text and bytes; for a 100 KB value that check was the largest single cost of a hit.
async fn get_raw(client: &Client, key: &str) -> AppResult<Option<Bytes>> {
    let get = CustomCommand::new_static("GET", ClusterHash::FirstKey, false);
    match client.custom_raw(get, vec![key]).await? {
        Resp3Frame::BlobString { data, .. } => Ok(Some(data)),
        Resp3Frame::Null => Ok(None),
        Resp3Frame::SimpleError { data, .. } => Err(AppError::CacheDown(format!("Redis: {data}"))),
        Resp3Frame::BlobError { data, .. } => Err(AppError::CacheDown(format!("Redis: {}", String::from_utf8_lossy(&data)))),
        _ => Err(AppError::CacheDown("Redis answered GET with neither a string nor nil".into())),
    }
}

/// SET with EX: the value and the expiry it carries agree, so a hit can tell the time left without asking.
pub(super) async fn store(client: &Client, key: &str, rows: &StoredRows, ttl_s: u64) -> AppResult<()> {
    let set = client.set::<(), _, _>(key, encode_value(rows, unix_ms() + ttl_s * 1000), Some(Expiration::EX(ttl_s as i64)), None, false);
    match tokio::time::timeout(CACHE_TIMEOUT, set).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(AppError::CacheDown(format!("could not store in Redis: {}", e.details()))),
        Err(_) => Err(AppError::CacheDown(format!("Redis did not answer within {CACHE_TIMEOUT:?}"))),
    }
}

/// Removes every key under the cachelens prefix (SCAN + UNLINK) and nothing else: never FLUSHALL, which
/// would wipe whatever else shares the Redis.
pub async fn delete_prefixed(client: &Client, prefix: &str) -> AppResult<u64> {
    if !client.is_connected() {
        return Err(AppError::CacheDown("Redis is not connected".into()));
    }
    let pattern = format!("{prefix}:*");
    let mut deleted = 0u64;
    let mut pages = if client.is_clustered() {
        client.scan_cluster(pattern, Some(1000), None).boxed()
    } else {
        client.scan(pattern, Some(1000), None).boxed()
    };
    loop {
        let page = tokio::time::timeout(SCAN_PAGE_TIMEOUT, pages.next())
            .await
            .map_err(|_| AppError::CacheDown(format!("Redis SCAN gave no answer within {SCAN_PAGE_TIMEOUT:?}")))?;
        let Some(page) = page else { break };
        let mut page = page.map_err(|e| AppError::CacheDown(format!("Redis SCAN failed: {}", e.details())))?;
        if let Some(keys) = page.take_results() {
            if !keys.is_empty() {
                // Keys from one page of one node, so in cluster mode they share a node, not a slot: one UNLINK each.
                for key in keys {
                    deleted += client
                        .unlink::<u64, _>(key)
                        .await
                        .map_err(|e| AppError::CacheDown(format!("Redis UNLINK failed: {}", e.details())))?;
                }
            }
        }
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ArticleQuery;

    #[test]
    fn key_depends_on_every_parameter_and_carries_the_prefix() {
        let a = ArticleQuery::new(Some("delta"), Some(500)).unwrap();
        let b = ArticleQuery::new(Some("delta"), Some(499)).unwrap();
        let c = ArticleQuery::new(Some("Delta"), Some(500)).unwrap();
        let key = |prefix, db, q| cache_key(prefix, db, Source::Articles(q));
        let ka = key("cachelens", "db:3306/covid", &a);
        assert!(ka.starts_with("cachelens:v3:q:"), "{ka}");
        assert_eq!(ka, key("cachelens", "db:3306/covid", &a));
        assert_ne!(ka, key("cachelens", "db:3306/covid", &b));
        assert_ne!(ka, key("cachelens", "db:3306/covid", &c));
        assert_ne!(ka, key("other", "db:3306/covid", &a));
        assert_ne!(ka, key("cachelens", "db:3306/covid_test", &a));
        let sql = crate::server::query::sql_guard::check("select 1", "covid", 10).unwrap();
        assert_ne!(key("cachelens", "db:3306/covid", &a), cache_key("cachelens", "db:3306/covid", Source::Sql(&sql)));
    }

    #[test]
    fn jitter_stays_within_its_spread() {
        assert_eq!(jittered(60, 0), 60);
        let ttls: Vec<u64> = (0..200).map(|_| jittered(100, 10)).collect();
        assert!(ttls.iter().all(|t| (90..=110).contains(t)), "{ttls:?}");
        assert!(ttls.iter().any(|&t| t != ttls[0]), "no spread at all: {ttls:?}");
        assert_eq!(jittered(1, 50), 1);
    }

    #[test]
    fn stored_value_round_trips_and_damage_is_noticed() {
        let json = crate::server::query::articles::RowsJson { count: 2, json: Bytes::from_static(b"[{\"a\":1},{\"a\":2}]") };
        let rows = StoredRows::compress(&json);
        let value = encode_value(&rows, 1_700_000_000_123);
        let (back, expires) = decode_value(value.clone()).unwrap();
        assert_eq!((back.count, back.json_len, back.json_crc, expires), (2, json.json.len(), rows.json_crc, 1_700_000_000_123));
        assert_eq!(&back.inflate().unwrap().json[..], &json.json[..]);
        for at in [0, 12, value.len() - 1] {
            let mut damaged = value.to_vec();
            damaged[at] ^= 0x01;
            assert!(decode_value(Bytes::from(damaged)).is_none(), "a flip at byte {at} went unnoticed");
        }
        assert!(decode_value(Bytes::from_static(b"garbage")).is_none());
        assert!(decode_value(Bytes::from_static(b"2\n1700000000123\n[]")).is_none(), "a v2 value is not read as v3");
    }
}
