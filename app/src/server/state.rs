//! What every request handler and server function shares.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use sqlx::mysql::MySqlPool;

use crate::pages::home::{Probe, ServiceStatus};
use crate::server::connections::{probe_mysql, probe_redis};
use crate::server::bench_runner::BenchRegistry;
use crate::server::breaker::Breaker;
use crate::server::metrics::Metrics;
use crate::server::run_log::RunLog;
use crate::stats::RunPath;
use crate::server::settings::Resolved;

/// Cloned for every request (axum's `State`), so it is one reference count: the fields live in [`Shared`].
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

#[derive(Clone)]
pub struct Shared {
    pub db: MySqlPool,
    pub redis: fred::clients::Pool,
    /// Every key cachelens writes starts with `<prefix>:`; Delete Cache removes those and nothing else.
    pub cache_prefix: Arc<str>,
    /// host:port/database of MySQL, part of every cache key.
    pub database_identity: Arc<str>,
    /// TTL for requests that name none.
    pub default_ttl_s: u64,
    /// Up to this many percent added to or taken from each fill's TTL.
    pub ttl_jitter_pct: u8,
    /// Whether fills also take a Redis lock, for single flight across instances.
    pub fill_lock: bool,
    /// Connection of the SELECT-only user for custom SQL, when one is configured.
    pub sql_db: Option<MySqlPool>,
    /// Whether the custom SQL server is MariaDB, learned on its first query.
    pub sql_server_is_mariadb: Arc<OnceLock<bool>>,
    pub metrics: Arc<Metrics>,
    /// Every query the pages and the API answer, for the comparison page; `None` for benchmark traffic.
    pub runs: Option<Arc<RunLog>>,
    pub benches: Arc<BenchRegistry>,
    pub breaker: Arc<Breaker>,
    /// One gate per cache key being filled, so concurrent misses on a key run one MySQL query.
    fills: FillGates,
    status_checks: Arc<AtomicU64>,
}

type FillGates = Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>;

/// Held while one request fills a key; dropping it lets the waiters in and forgets the gate.
pub struct FillGuard {
    fills: FillGates,
    key: String,
    gate: Arc<tokio::sync::Mutex<()>>,
    _held: tokio::sync::OwnedMutexGuard<()>,
}

impl Drop for FillGuard {
    fn drop(&mut self) {
        let mut fills = self.fills.lock().expect("fill map");
        // The map and this guard hold the gate; anyone else still waiting keeps it alive in the map.
        if Arc::strong_count(&self.gate) <= 3 {
            fills.remove(&self.key);
        }
    }
}

impl AppState {
    pub fn new(db: MySqlPool, redis: fred::clients::Pool, settings: &Resolved) -> Self {
        let o = db.connect_options();
        let database_identity = format!("{}:{}/{}", o.get_host(), o.get_port(), o.get_database().unwrap_or_default());
        Self(Arc::new(Shared {
            db,
            redis,
            cache_prefix: settings.cache_prefix.as_str().into(),
            database_identity: database_identity.into(),
            default_ttl_s: settings.cache_ttl,
            ttl_jitter_pct: settings.ttl_jitter,
            fill_lock: settings.fill_lock,
            sql_db: None,
            sql_server_is_mariadb: Arc::default(),
            metrics: Arc::default(),
            runs: Some(Arc::default()),
            benches: Arc::default(),
            breaker: Arc::default(),
            fills: Arc::default(),
            status_checks: Arc::default(),
        }))
    }

    /// Custom SQL runs over `pool` (a SELECT-only user) instead of the main pool.
    pub fn set_sql_db(&mut self, pool: MySqlPool) {
        Arc::make_mut(&mut self.0).sql_db = Some(pool);
    }

    /// Waits until no other request of this process is filling `key`, then holds it.
    pub async fn fill_gate(&self, key: &str) -> FillGuard {
        let gate = self.fills.lock().expect("fill map").entry(key.to_string()).or_default().clone();
        let held = gate.clone().lock_owned().await;
        FillGuard { fills: self.fills.clone(), key: key.to_string(), gate, _held: held }
    }

    /// The same state, recording nothing into the comparison log.
    pub fn without_run_log(&self) -> Self {
        Self(Arc::new(Shared { runs: None, ..Shared::clone(self) }))
    }

    pub fn record_run(&self, path: RunPath, elapsed_us: u64) {
        if let Some(runs) = &self.runs {
            runs.record(path, elapsed_us);
        }
    }

    /// The database name custom SQL may read from.
    pub fn database_name(&self) -> String {
        self.db.connect_options().get_database().unwrap_or_default().to_string()
    }

    /// MySQL's and Redis's probes. Health checks use this directly so that they do not advance the Home
    /// page's check counter.
    pub async fn probe(&self) -> (Probe, Probe) {
        tokio::join!(probe_mysql(&self.db), probe_redis(&self.redis))
    }

    /// The probes as the Home page shows them, numbered.
    pub async fn status(&self) -> ServiceStatus {
        let (mysql, redis) = self.probe().await;
        let check = self.status_checks.fetch_add(1, Ordering::Relaxed) + 1;
        ServiceStatus { mysql, redis, check }
    }
}
