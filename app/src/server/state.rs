//! What every request handler and server function shares.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use sqlx::mysql::MySqlPool;

use crate::pages::home::ServiceStatus;
use crate::server::connections::{probe_mysql, probe_redis};

#[derive(Clone)]
pub struct AppState {
    pub db: MySqlPool,
    pub redis: fred::clients::Pool,
    /// Every key cachelens writes starts with `<prefix>:`; Delete Cache removes those and nothing else.
    pub cache_prefix: Arc<str>,
    /// host:port/database of MySQL, part of every cache key.
    pub database_identity: Arc<str>,
    status_checks: Arc<AtomicU64>,
}

impl AppState {
    pub fn new(db: MySqlPool, redis: fred::clients::Pool, cache_prefix: &str) -> Self {
        let o = db.connect_options();
        let database_identity = format!("{}:{}/{}", o.get_host(), o.get_port(), o.get_database().unwrap_or_default());
        Self {
            db,
            redis,
            cache_prefix: cache_prefix.into(),
            database_identity: database_identity.into(),
            status_checks: Arc::default(),
        }
    }

    pub async fn status(&self) -> ServiceStatus {
        let (mysql, redis) = tokio::join!(probe_mysql(&self.db), probe_redis(&self.redis));
        let check = self.status_checks.fetch_add(1, Ordering::Relaxed) + 1;
        ServiceStatus { mysql, redis, check }
    }
}
