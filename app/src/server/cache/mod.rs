//! Cache-aside in Redis: look up, fall back to MySQL and fill, delete only what cachelens wrote.
//!
//! The flow lives here; [`store`] holds the value's layout and the Redis commands, [`compressed`] the rows as an
//! entry holds them (deflate, compressed once at fill, served as stored), the state's single-flight
//! gates and [`fill_lock`] keep concurrent misses (in one process, across processes) to one MySQL query, and
//! the state's circuit breaker stops asking a failing Redis for a moment. Used by the API, the pages and the
//! benchmark.

pub mod compressed;
mod fill_lock;
pub mod store;

use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::error::AppResult;
use crate::model::{AnswerSummary, ArticleQuery, QueryPath, ARTICLE_SQL};
use crate::server::query::articles::{self, RowsJson};
use crate::server::query::sql_guard::GuardedSql;
use crate::server::state::breaker::Gate;
use crate::server::state::AppState;
use crate::stats::Outcome;
use compressed::StoredRows;
use fill_lock::{fill_lock, FillLock};
use fred::prelude::*;
pub use store::{cache_key, delete_prefixed};
use store::{jittered, read_entry, CACHE_TIMEOUT};

/// What the cache can hold: the seed's article search, or a custom SELECT that passed the guard.
#[derive(Clone, Copy, Debug)]
pub enum Source<'a> {
    Articles(&'a ArticleQuery),
    Sql(&'a GuardedSql),
}

impl Source<'_> {
    /// The statement and its parameters, as hashed into the cache key.
    pub(crate) fn hash_into(&self, h: &mut Sha256) {
        match self {
            Source::Articles(query) => {
                h.update(ARTICLE_SQL.as_bytes());
                h.update([0]);
                h.update(query.like_pattern().as_bytes());
                h.update([0]);
                h.update(query.limit.to_string().as_bytes());
            }
            Source::Sql(guarded) => {
                h.update(b"sql\0");
                h.update(guarded.sql.as_bytes());
            }
        }
    }

    async fn fetch(&self, state: &AppState) -> AppResult<RowsJson> {
        match self {
            Source::Articles(query) => state.db_retry(|db| async move { articles::fetch_rows(&db, query).await }).await,
            Source::Sql(guarded) => crate::server::query::custom_sql::fetch(state, guarded).await,
        }
    }
}

/// An answer's rows, never parsed: JSON from MySQL, or an entry's compressed form on a hit.
#[derive(Clone, Debug)]
pub enum Rows {
    Json(RowsJson),
    Stored(StoredRows),
}

impl Rows {
    pub fn count(&self) -> usize {
        match self {
            Rows::Json(rows) => rows.count,
            Rows::Stored(rows) => rows.count,
        }
    }

    /// The rows' JSON (inflated, for a hit).
    pub fn json(&self) -> AppResult<RowsJson> {
        match self {
            Rows::Json(rows) => Ok(rows.clone()),
            Rows::Stored(rows) => rows.inflate(),
        }
    }
}

/// Result of a query on either path, with the rows still as JSON bytes or as stored.
#[derive(Clone, Debug)]
pub struct Answer {
    pub source: QueryPath,
    pub hit: bool,
    pub elapsed_us: u64,
    pub ttl_remaining_s: Option<u64>,
    pub rows: Rows,
    pub cache_error: Option<String>,
}

impl Answer {
    pub fn summary(&self) -> AnswerSummary {
        AnswerSummary {
            source: self.source,
            hit: self.hit,
            elapsed_us: self.elapsed_us,
            ttl_remaining_s: self.ttl_remaining_s,
            row_count: self.rows.count(),
            cache_error: self.cache_error.clone(),
        }
    }

    /// What a page shows, with the median of `other` (the path this one is compared with) when it has runs.
    pub fn into_outcome(self, state: &AppState, other: Outcome) -> AppResult<crate::model::QueryOutcome> {
        let rows = self.rows.json()?.decode()?;
        let versus = state.recent_median(other).map(|median_us| crate::model::Versus { path: other, median_us });
        Ok(crate::model::QueryOutcome { summary: self.summary(), rows, versus })
    }
}

pub async fn query_mysql(state: &AppState, query: Source<'_>) -> AppResult<Answer> {
    let started = Instant::now();
    let rows = fetch_counted(state, query).await?;
    let elapsed_us = observe(state, Outcome::Mysql, started.elapsed());
    Ok(Answer { source: QueryPath::Mysql, hit: false, elapsed_us, ttl_remaining_s: None, rows: Rows::Json(rows), cache_error: None })
}

/// Every query goes through here, so /metrics counts exactly what MySQL was asked.
async fn fetch_counted(state: &AppState, query: Source<'_>) -> AppResult<RowsJson> {
    state.metrics.mysql_queries.fetch_add(1, Relaxed);
    let rows = query.fetch(state).await;
    if rows.is_err() {
        state.metrics.mysql_errors.fetch_add(1, Relaxed);
    }
    rows
}

fn hit(state: &AppState, started: Instant, rows: StoredRows, ttl: Option<u64>) -> Answer {
    state.metrics.cache_hits.fetch_add(1, Relaxed);
    Answer {
        source: QueryPath::Cache,
        hit: true,
        elapsed_us: observe(state, Outcome::Hit, started.elapsed()),
        ttl_remaining_s: ttl,
        rows: Rows::Stored(rows),
        cache_error: None,
    }
}

/// Redis GET; on a hit MySQL is not touched. On a miss, MySQL then SET with EX ttl. Redis trouble never fails
/// the request: the answer then comes from MySQL with `cache_error` saying why.
pub async fn query_cache(state: &AppState, query: Source<'_>, ttl_s: u64) -> AppResult<Answer> {
    let started = Instant::now();
    let key = cache_key(&state.cache_prefix, &state.database_identity, query);
    if state.breaker.check(started) == Gate::Open {
        return fallback(state, query, "Redis failed repeatedly; retrying it shortly (circuit open)".into()).await;
    }
    let client = state.redis.next_connected();
    if !client.is_connected() {
        state.breaker.failure(started, "Redis is not connected");
        return fallback(state, query, "Redis is not connected".into()).await;
    }

    // Single flight: after a first miss, wait for any fill of this key in progress and look again; only the
    // request that still misses while holding the gate asks MySQL.
    let mut gate = None;
    loop {
        match read_entry(client, &key).await {
            Ok(Some((rows, ttl))) => {
                state.breaker.success();
                return Ok(hit(state, started, rows, ttl));
            }
            Ok(None) if gate.is_none() => gate = Some(state.fills.wait_turn(&key).await),
            Ok(None) => break,
            Err(e) => {
                state.breaker.failure(Instant::now(), &e.to_string());
                return fallback(state, query, e.to_string()).await;
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
    let cache_error = store::store(client, &key, &StoredRows::compress(&rows), ttl_s).await.err().map(|e| e.to_string());
    if let Some(lock) = lock {
        let _ = tokio::time::timeout(CACHE_TIMEOUT, client.del::<(), _>(lock)).await;
    }
    Ok(Answer {
        source: QueryPath::Mysql,
        hit: false,
        elapsed_us: observe(state, Outcome::Miss, started.elapsed()),
        ttl_remaining_s: cache_error.is_none().then_some(ttl_s),
        rows: Rows::Json(rows),
        cache_error,
    })
}

async fn fallback(state: &AppState, query: Source<'_>, why: String) -> AppResult<Answer> {
    tracing::warn!("cache unavailable, answering from MySQL: {why}");
    state.metrics.cache_fallbacks.fetch_add(1, Relaxed);
    let mut answer = query_mysql(state, query).await?;
    answer.cache_error = Some(why);
    Ok(answer)
}

/// Removes every key under the cachelens prefix and nothing else.
pub async fn delete_cached(state: &AppState) -> AppResult<u64> {
    delete_prefixed(state.redis.next_connected(), &state.cache_prefix).await
}

/// One answer's time, into the metrics and the comparison page's record; returns it in µs.
fn observe(state: &AppState, path: Outcome, elapsed: Duration) -> u64 {
    state.metrics.latency(path).observe(elapsed);
    let elapsed_us = elapsed.as_micros() as u64;
    state.record_query(path, elapsed_us);
    elapsed_us
}
