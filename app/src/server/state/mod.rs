//! What every request handler and server function shares: the pools and settings, and the process-wide state
//! the layers above keep in it (the Redis circuit breaker, the single-flight gates, the runs and their history,
//! who may sign in). Uses only the leaf modules (connections, config, metrics, query_log, clock) and the shared
//! crate types.

pub mod access;
pub mod breaker;
pub mod db_secret;
pub mod run_history;
pub mod runs;
pub mod single_flight;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use sqlx::mysql::MySqlPool;

use crate::error::{AppError, AppResult};
use crate::model::{Probe, ServiceStatus};
use crate::server::config::Resolved;
use crate::server::connections::{probe_mysql, probe_redis};
use crate::server::metrics::Metrics;
use crate::server::query_log::QueryLog;
use crate::stats::Outcome;
use access::Access;
use breaker::Breaker;
use db_secret::SecretWatch;
use single_flight::SingleFlight;

/// Cloned for every request (axum's `State`), so it is one reference count: the fields live in [`StateFields`].
#[derive(Clone)]
pub struct AppState(Arc<StateFields>);

impl std::ops::Deref for AppState {
    type Target = StateFields;
    fn deref(&self) -> &StateFields {
        &self.0
    }
}

#[derive(Clone)]
pub struct StateFields {
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
    pub query_log: Option<Arc<QueryLog>>,
    /// The benchmark and lab runs going or just finished.
    pub registry: Arc<runs::Registry>,
    /// Every finished run, kept in MySQL (or waiting in memory for it).
    pub history: Arc<run_history::RunHistory>,
    pub breaker: Arc<Breaker>,
    /// Who may use the dashboard: the access token and its sessions.
    pub access: Arc<Access>,
    /// One gate per cache key being filled, so concurrent misses on a key run one MySQL query.
    pub fills: SingleFlight,
    /// The secret the MySQL credentials came from, re-read when MySQL refuses them.
    pub db_secret: Option<Arc<SecretWatch>>,
    status_checks: Arc<AtomicU64>,
}

impl AppState {
    /// The state a server function runs with (provided to every page render and server function call).
    pub fn from_context() -> Result<Self, AppError> {
        leptos::prelude::use_context().ok_or_else(|| AppError::Internal("server state is missing".into()).in_response())
    }

    pub fn new(db: MySqlPool, redis: fred::clients::Pool, settings: &Resolved) -> Self {
        let o = db.connect_options();
        let database_identity = format!("{}:{}/{}", o.get_host(), o.get_port(), o.get_database().unwrap_or_default());
        Self(Arc::new(StateFields {
            db,
            redis,
            cache_prefix: settings.tuning.cache_prefix.as_str().into(),
            database_identity: database_identity.into(),
            default_ttl_s: settings.tuning.cache_ttl,
            ttl_jitter_pct: settings.tuning.ttl_jitter,
            fill_lock: settings.tuning.fill_lock,
            sql_db: None,
            sql_server_is_mariadb: Arc::default(),
            metrics: Arc::default(),
            query_log: Some(Arc::default()),
            registry: Arc::default(),
            history: Arc::default(),
            breaker: Arc::default(),
            access: Arc::default(),
            fills: SingleFlight::default(),
            db_secret: None,
            status_checks: Arc::default(),
        }))
    }

    /// Pages and APIs then follow `policy`: the token they ask for (a bearer header or a session signed in
    /// with it), where requests must come from.
    pub fn set_access(&mut self, policy: access::AccessPolicy) {
        Arc::make_mut(&mut self.0).access = Arc::new(Access::new(policy));
    }

    /// Custom SQL runs over `pool` (a SELECT-only user) instead of the main pool.
    pub fn set_sql_db(&mut self, pool: MySqlPool) {
        Arc::make_mut(&mut self.0).sql_db = Some(pool);
    }

    /// MySQL's credentials follow `watch`'s secret.
    pub fn set_db_secret(&mut self, watch: Arc<SecretWatch>) {
        Arc::make_mut(&mut self.0).db_secret = Some(watch);
    }

    /// Runs `query` on the main pool; when MySQL refuses the login and the credentials came from a secret that
    /// has changed since, runs it once more with the new ones. At most one retry, so a wrong secret fails fast.
    pub async fn db_retry<T, F, Fut>(&self, query: F) -> AppResult<T>
    where
        F: Fn(MySqlPool) -> Fut,
        Fut: std::future::Future<Output = AppResult<T>>,
    {
        let started = std::time::SystemTime::now();
        match query(self.db.clone()).await {
            Err(AppError::DatabaseLoginRefused(why)) => match &self.db_secret {
                Some(watch) => match watch.reread(&self.db, started).await {
                    Ok(_) => query(self.db.clone()).await,
                    Err(e) => Err(AppError::DatabaseLoginRefused(format!("{why}; re-reading secret {} failed: {e}", watch.secret_id()))),
                },
                None => Err(AppError::DatabaseLoginRefused(why)),
            },
            other => other,
        }
    }

    /// Keeps a finished run's report in the run history (MySQL, or memory until MySQL takes it).
    pub async fn keep_run<R: serde::Serialize>(&self, kind: &str, report: &R) {
        match run_history::StoredRun::of(kind, report) {
            Ok(row) => self.history.save(&self.db, row).await,
            Err(e) => tracing::warn!("the {kind} run is not kept: {e}"),
        }
    }

    /// The same state, recording nothing into the comparison log.
    pub fn without_query_log(&self) -> Self {
        Self(Arc::new(StateFields { query_log: None, ..StateFields::clone(self) }))
    }

    pub fn record_query(&self, path: Outcome, elapsed_us: u64) {
        if let Some(log) = &self.query_log {
            log.record(path, elapsed_us);
        }
    }

    /// The median of `path` over its latest answers in the comparison record.
    pub fn recent_median(&self, path: Outcome) -> Option<u64> {
        /// How far back "recent" reaches, in answers of that path.
        const RECENT: usize = 100;
        let samples: Vec<u64> = self.query_log.as_ref()?.latest_of(path, RECENT).iter().map(|r| r.elapsed_us).collect();
        crate::stats::percentiles(&samples).map(|p| p.p50_us)
    }

    /// The database name custom SQL may read from.
    pub fn database_name(&self) -> String {
        self.db.connect_options().get_database().unwrap_or_default().to_string()
    }

    /// MySQL's and Redis's probes. Health checks use this directly so that they do not advance the Home
    /// page's check counter.
    pub async fn probe(&self) -> (Probe, Probe) {
        let select_one = self.db_retry(|db| async move { Ok(sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(&db).await?) });
        tokio::join!(probe_mysql(select_one), self.probe_redis())
    }

    /// Redis's probe, answered from the circuit breaker while it is open: a Redis that takes connections and
    /// does not answer (paused, overloaded) costs one probe's timeout, after which the circuit opens and the next
    /// probes (and cache requests) skip it until the cool-down ends.
    async fn probe_redis(&self) -> Probe {
        if let Some(why) = self.breaker.open_because(std::time::Instant::now()) {
            return crate::server::connections::down(format!("cache bypassed after repeated failures (circuit open): {why}"));
        }
        let probe = probe_redis(&self.redis).await;
        if !probe.up {
            self.breaker.trip(std::time::Instant::now(), &probe.detail);
        }
        probe
    }

    /// The probes as the Home page shows them, numbered.
    pub async fn status(&self) -> ServiceStatus {
        let (mysql, redis) = self.probe().await;
        let check = self.status_checks.fetch_add(1, Ordering::Relaxed) + 1;
        ServiceStatus { mysql, redis, check }
    }
}
