//! Cache-aside in Redis: look up, fall back to MySQL and fill, delete only what cachelens wrote.

use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use bytes::Bytes;
use fred::prelude::*;
use fred::types::scan::Scanner;
use fred::types::{ClusterHash, CustomCommand, Resp3Frame};
use futures::StreamExt;
use sha2::{Digest, Sha256};

use crate::model::{AnswerSummary, ArticleQuery, Source, ARTICLE_SQL};
use crate::server::articles::{self, QueryFailure, RowsJson};
use crate::server::breaker::Gate;
use crate::server::sql_guard::GuardedSql;
use crate::server::state::AppState;
use crate::stats::RunPath;

/// What the cache can hold: the seed's article search, or a custom SELECT that passed the guard.
#[derive(Clone, Copy, Debug)]
pub enum Lookup<'a> {
    Articles(&'a ArticleQuery),
    Sql(&'a GuardedSql),
}

impl Lookup<'_> {
    /// The statement and its parameters, as hashed into the cache key.
    fn hash_into(&self, h: &mut Sha256) {
        match self {
            Lookup::Articles(query) => {
                h.update(ARTICLE_SQL.as_bytes());
                h.update([0]);
                h.update(query.like_pattern().as_bytes());
                h.update([0]);
                h.update(query.limit.to_string().as_bytes());
            }
            Lookup::Sql(guarded) => {
                h.update(b"sql\0");
                h.update(guarded.sql.as_bytes());
            }
        }
    }

    async fn fetch(&self, state: &AppState) -> Result<RowsJson, QueryFailure> {
        match self {
            Lookup::Articles(query) => articles::fetch_rows(&state.db, query).await,
            Lookup::Sql(guarded) => crate::server::custom_sql::fetch(state, guarded).await,
        }
    }
}

/// Bumped whenever the cached value's layout changes, so old entries are never misread.
const SCHEMA_VERSION: &str = "v2";
/// Budget for one cache command; past it the answer comes from MySQL instead.
const CACHE_TIMEOUT: Duration = Duration::from_millis(500);

/// Result of a query on either path, with the rows still as JSON bytes.
#[derive(Clone, Debug)]
pub struct Answer {
    pub source: Source,
    pub hit: bool,
    pub elapsed_us: u64,
    pub ttl_remaining_s: Option<u64>,
    pub rows: RowsJson,
    pub cache_error: Option<String>,
}

impl Answer {
    pub fn summary(&self) -> AnswerSummary {
        AnswerSummary {
            source: self.source,
            hit: self.hit,
            elapsed_us: self.elapsed_us,
            ttl_remaining_s: self.ttl_remaining_s,
            row_count: self.rows.count,
            cache_error: self.cache_error.clone(),
        }
    }

    pub fn into_outcome(self) -> Result<crate::model::QueryOutcome, QueryFailure> {
        let rows = self.rows.decode().map_err(QueryFailure::Internal)?;
        Ok(crate::model::QueryOutcome { summary: self.summary(), rows })
    }
}

/// Key = prefix, schema version, and a hash of the database the rows come from, the SQL and its parameters:
/// two deployments sharing one Redis never serve each other's rows.
pub fn cache_key(prefix: &str, database: &str, lookup: Lookup<'_>) -> String {
    let mut h = Sha256::new();
    h.update(database.as_bytes());
    h.update([0]);
    lookup.hash_into(&mut h);
    let hex = hex(&h.finalize()[..16]);
    // The digest is a hash tag, so anything keyed on it later (a fill lock) lands on the same cluster slot.
    format!("{prefix}:{SCHEMA_VERSION}:q:{{{hex}}}")
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from_digit((b >> 4).into(), 16).expect("a nibble"));
        out.push(char::from_digit((b & 15).into(), 16).expect("a nibble"));
    }
    out
}

/// The stored value: the row count and the expiry (Unix ms), each on its own line, then the rows' JSON. A hit
/// needs no parsing and one GET: the time left is computed here instead of asked with TTL.
fn encode_value(rows: &RowsJson, expires_at_ms: u64) -> Bytes {
    let mut v = Vec::with_capacity(rows.json.len() + 24);
    v.extend_from_slice(format!("{}\n{expires_at_ms}\n", rows.count).as_bytes());
    v.extend_from_slice(&rows.json);
    Bytes::from(v)
}

/// The rows and the expiry of a stored value.
fn decode_value(value: Bytes) -> Option<(RowsJson, u64)> {
    let mut fields = value.splitn(3, |&b| b == b'\n');
    let number = |f: Option<&[u8]>| std::str::from_utf8(f?).ok()?.parse::<u64>().ok();
    let count = number(fields.next())?;
    let expires_at_ms = number(fields.next())?;
    let header = value.len() - fields.next()?.len();
    Some((RowsJson { count: count as usize, json: value.slice(header..) }, expires_at_ms))
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or_default()
}

pub async fn query_mysql(state: &AppState, query: Lookup<'_>) -> Result<Answer, QueryFailure> {
    let started = Instant::now();
    let rows = fetch_counted(state, query).await?;
    let elapsed = started.elapsed();
    state.metrics.mysql_latency.observe(elapsed);
    let elapsed_us = elapsed.as_micros() as u64;
    state.record_run(RunPath::Mysql, elapsed_us);
    Ok(Answer { source: Source::Mysql, hit: false, elapsed_us, ttl_remaining_s: None, rows, cache_error: None })
}

/// Every query goes through here, so /metrics counts exactly what MySQL was asked.
async fn fetch_counted(state: &AppState, query: Lookup<'_>) -> Result<RowsJson, QueryFailure> {
    state.metrics.mysql_queries.fetch_add(1, Relaxed);
    let rows = query.fetch(state).await;
    if rows.is_err() {
        state.metrics.mysql_errors.fetch_add(1, Relaxed);
    }
    rows
}

fn hit(state: &AppState, started: Instant, rows: RowsJson, ttl: Option<u64>) -> Answer {
    state.metrics.cache_hits.fetch_add(1, Relaxed);
    let elapsed = started.elapsed();
    state.metrics.hit_latency.observe(elapsed);
    state.record_run(RunPath::Hit, elapsed.as_micros() as u64);
    Answer {
        source: Source::Cache,
        hit: true,
        elapsed_us: elapsed.as_micros() as u64,
        ttl_remaining_s: ttl,
        rows,
        cache_error: None,
    }
}

/// Redis GET; on a hit MySQL is not touched. On a miss, MySQL then SET with EX ttl. Redis trouble never fails
/// the request: the answer then comes from MySQL with `cache_error` saying why.
pub async fn query_cache(state: &AppState, query: Lookup<'_>, ttl_s: u64) -> Result<Answer, QueryFailure> {
    let started = Instant::now();
    let key = cache_key(&state.cache_prefix, &state.database_identity, query);
    if state.breaker.check(started) == Gate::Open {
        return fallback(state, query, "Redis failed repeatedly; retrying it shortly (circuit open)".into()).await;
    }
    let client = state.redis.next_connected();
    if !client.is_connected() {
        state.breaker.failure(started);
        return fallback(state, query, "Redis is not connected".into()).await;
    }

    // Single flight: after a first miss, wait for any fill of this key in progress and look again; only the
    // request that still misses while holding the gate asks MySQL.
    let mut gate = None;
    loop {
        match lookup(client, &key).await {
            Ok(Some((rows, ttl))) => {
                state.breaker.success();
                return Ok(hit(state, started, rows, ttl));
            }
            Ok(None) if gate.is_none() => gate = Some(state.fill_gate(&key).await),
            Ok(None) => break,
            Err(e) => {
                state.breaker.failure(Instant::now());
                return fallback(state, query, e).await;
            }
        }
    }
    state.breaker.success();
    // Across instances: whoever holds the Redis lock fills; the others wait a little for its value.
    let mut lock = None;
    if state.fill_lock {
        match fill_lock(client, &key).await {
            FillLock::Held(held) => lock = Some(held),
            FillLock::Filled(rows, ttl) => return Ok(hit(state, started, rows, ttl)),
            FillLock::GaveUp => {}
        }
    }
    state.metrics.cache_misses.fetch_add(1, Relaxed);
    let rows = fetch_counted(state, query).await?;
    let ttl_s = jittered(ttl_s, state.ttl_jitter_pct);
    let stored = tokio::time::timeout(
        CACHE_TIMEOUT,
        client.set::<(), _, _>(
            &key,
            encode_value(&rows, unix_ms() + ttl_s * 1000),
            Some(Expiration::EX(ttl_s as i64)),
            None,
            false,
        ),
    )
    .await;
    if let Some(lock) = lock {
        let _ = tokio::time::timeout(CACHE_TIMEOUT, client.del::<(), _>(lock)).await;
    }
    let cache_error = match stored {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(format!("could not store in Redis: {}", e.details())),
        Err(_) => Some(format!("Redis did not answer within {CACHE_TIMEOUT:?}")),
    };
    let elapsed = started.elapsed();
    state.metrics.miss_latency.observe(elapsed);
    state.record_run(RunPath::Miss, elapsed.as_micros() as u64);
    Ok(Answer {
        source: Source::Mysql,
        hit: false,
        elapsed_us: elapsed.as_micros() as u64,
        ttl_remaining_s: cache_error.is_none().then_some(ttl_s),
        rows,
        cache_error,
    })
}

/// How long a fill may hold the cross-instance lock, and how long others wait for its value.
const FILL_LOCK_TTL: Duration = Duration::from_secs(5);
const FILL_LOCK_WAIT: Duration = Duration::from_secs(2);

enum FillLock {
    Held(String),
    /// Another instance filled the key while this one waited.
    Filled(RowsJson, Option<u64>),
    /// The other filler took too long: fill anyway rather than keep the user waiting.
    GaveUp,
}

async fn fill_lock(client: &Client, key: &str) -> FillLock {
    // `{hash}` in the key keeps the lock on the value's cluster slot.
    let lock = format!("{key}:lock");
    let deadline = Instant::now() + FILL_LOCK_WAIT;
    loop {
        let took: Result<Option<String>, _> =
            client.set(&lock, "1", Some(Expiration::PX(FILL_LOCK_TTL.as_millis() as i64)), Some(SetOptions::NX), false).await;
        match took {
            // The holder before may have filled the key and let go just now: look once more before filling.
            Ok(Some(_)) => match lookup(client, key).await {
                Ok(Some((rows, ttl))) => {
                    let _ = client.del::<(), _>(&lock).await;
                    return FillLock::Filled(rows, ttl);
                }
                _ => return FillLock::Held(lock),
            },
            Ok(None) => {}
            Err(_) => return FillLock::GaveUp,
        }
        if let Ok(Some((rows, ttl))) = lookup(client, key).await {
            return FillLock::Filled(rows, ttl);
        }
        if Instant::now() > deadline {
            return FillLock::GaveUp;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `ttl` moved randomly by up to `pct` percent either way (never below one second).
fn jittered(ttl: u64, pct: u8) -> u64 {
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
async fn lookup(client: &Client, key: &str) -> Result<Option<(RowsJson, Option<u64>)>, String> {
    let value = match tokio::time::timeout(CACHE_TIMEOUT, get_raw(client, key)).await {
        Ok(value) => value?,
        Err(_) => return Err(format!("Redis did not answer within {CACHE_TIMEOUT:?}")),
    };
    // A value we cannot read (another writer, a half-written entry) is treated as a miss and overwritten.
    Ok(value.and_then(decode_value).map(|(rows, expires_at_ms)| {
        let left_ms = expires_at_ms.saturating_sub(unix_ms());
        (rows, Some(left_ms.div_ceil(1000)))
    }))
}

/// GET as the raw reply frame. fred's typed `get` checks every byte of a string reply for UTF-8 to decide
/// between text and bytes; for a 100 KB value that check was the largest single cost of a hit.
async fn get_raw(client: &Client, key: &str) -> Result<Option<Bytes>, String> {
    let get = CustomCommand::new_static("GET", ClusterHash::FirstKey, false);
    match client.custom_raw(get, vec![key]).await.map_err(|e| format!("Redis: {}", e.details()))? {
        Resp3Frame::BlobString { data, .. } => Ok(Some(data)),
        Resp3Frame::Null => Ok(None),
        Resp3Frame::SimpleError { data, .. } => Err(format!("Redis: {data}")),
        Resp3Frame::BlobError { data, .. } => Err(format!("Redis: {}", String::from_utf8_lossy(&data))),
        _ => Err("Redis answered GET with neither a string nor nil".into()),
    }
}

async fn fallback(state: &AppState, query: Lookup<'_>, why: String) -> Result<Answer, QueryFailure> {
    tracing::warn!("cache unavailable, answering from MySQL: {why}");
    state.metrics.cache_fallbacks.fetch_add(1, Relaxed);
    let mut answer = query_mysql(state, query).await?;
    answer.cache_error = Some(why);
    Ok(answer)
}

/// Removes every key under the cachelens prefix (SCAN + UNLINK) and nothing else: never FLUSHALL, which
/// would wipe whatever else shares the Redis.
pub async fn delete_cached(state: &AppState) -> Result<u64, String> {
    let client = state.redis.next_connected();
    if !client.is_connected() {
        return Err("Redis is not connected".into());
    }
    let pattern = format!("{}:*", state.cache_prefix);
    let mut deleted = 0u64;
    let mut pages = if client.is_clustered() {
        client.scan_cluster(pattern, Some(1000), None).boxed()
    } else {
        client.scan(pattern, Some(1000), None).boxed()
    };
    while let Some(page) = pages.next().await {
        let mut page = page.map_err(|e| format!("Redis SCAN failed: {}", e.details()))?;
        if let Some(keys) = page.take_results() {
            if !keys.is_empty() {
                // Keys from one page of one node, so in cluster mode they share a node, not a slot: one UNLINK each.
                for key in keys {
                    deleted += client
                        .unlink::<u64, _>(key)
                        .await
                        .map_err(|e| format!("Redis UNLINK failed: {}", e.details()))?;
                }
            }
        }
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_depends_on_every_parameter_and_carries_the_prefix() {
        let a = ArticleQuery::new(Some("delta"), Some(500)).unwrap();
        let b = ArticleQuery::new(Some("delta"), Some(499)).unwrap();
        let c = ArticleQuery::new(Some("Delta"), Some(500)).unwrap();
        let key = |prefix, db, q| cache_key(prefix, db, Lookup::Articles(q));
        let ka = key("cachelens", "db:3306/covid", &a);
        assert!(ka.starts_with("cachelens:v2:q:"), "{ka}");
        assert_eq!(ka, key("cachelens", "db:3306/covid", &a));
        assert_ne!(ka, key("cachelens", "db:3306/covid", &b));
        assert_ne!(ka, key("cachelens", "db:3306/covid", &c));
        assert_ne!(ka, key("other", "db:3306/covid", &a));
        assert_ne!(ka, key("cachelens", "db:3306/covid_test", &a));
        let sql = crate::server::sql_guard::check("select 1", "covid", 10).unwrap();
        assert_ne!(key("cachelens", "db:3306/covid", &a), cache_key("cachelens", "db:3306/covid", Lookup::Sql(&sql)));
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
    fn stored_value_round_trips_without_parsing_rows() {
        let rows = RowsJson { count: 2, json: Bytes::from_static(b"[{\"a\":1},{\"a\":2}]") };
        let (back, expires) = decode_value(encode_value(&rows, 1_700_000_000_123)).unwrap();
        assert_eq!((back.count, &back.json[..], expires), (2, &rows.json[..], 1_700_000_000_123));
        assert!(decode_value(Bytes::from_static(b"garbage")).is_none());
        assert!(decode_value(Bytes::from_static(b"2\n[]")).is_none(), "a v1 value is not read as v2");
    }
}
