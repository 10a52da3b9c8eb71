//! From resolved settings to the shared state: the pools, the MySQL users cachelens sets up for itself, and
//! the watch over a database secret. Used by `serve` and the commands that query.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use fred::interfaces::ClientLike;

use crate::error::{AppError, AppResult};
use crate::server::config::Resolved;
use crate::server::connections::{mysql_options, mysql_pool, redis_pool};
use crate::server::query::mysql_users::{self, Role};
use crate::server::state::db_secret::SecretWatch;
use crate::server::state::AppState;

/// The shared state for a set of connection settings. MySQL connects on first use (except to set up its
/// users); Redis gets a moment to connect so the first request can use it, but a dead Redis never holds the
/// server back.
pub async fn connect(c: &Resolved) -> AppResult<AppState> {
    let ca = c.tuning.db_ca_file.as_deref();
    let configured = mysql_pool(mysql_options(&c.database_url.value, ca)?, c.tuning.db_pool);
    let db = match c.tuning.db_app_user.as_deref() {
        Some(user) => {
            let app = mysql_users::provision(&configured, &c.database_url.value, user, Role::Application).await?;
            mysql_pool(app, c.tuning.db_pool)
        }
        None => configured.clone(),
    };
    let redis = redis_pool(&c.redis_url.value, c.tuning.redis_pool, c.tuning.redis_ca_file.as_deref())?;
    if tokio::time::timeout(Duration::from_secs(2), redis.wait_for_connect()).await.is_err() {
        tracing::warn!("Redis is not reachable yet; serving from MySQL until it is");
    }
    let mut state = AppState::new(db, redis, c);
    if let Some(url) = c.tuning.sql_database_url.as_deref() {
        let sql_db = mysql_pool(mysql_options(url, ca)?, 4);
        let (main, custom) = (state.database_name(), sql_db.connect_options().get_database().unwrap_or_default().to_string());
        if main != custom {
            return Err(AppError::Invalid(format!(
                "the custom SQL connection reads database `{custom}` but the main one is `{main}`: point both at one database"
            )));
        }
        state.set_sql_db(sql_db);
    } else if let Some(user) = c.tuning.sql_readonly_user.as_deref() {
        match mysql_users::provision(&configured, &c.database_url.value, user, Role::ReadOnly).await {
            Ok(options) => state.set_sql_db(mysql_pool(options, 4)),
            Err(e) => tracing::warn!(
                "custom SQL runs as the main user (still read-only and checked): could not set up the SELECT-only user {user}: {e}"
            ),
        }
    }
    // With an application user the secret's credentials only set up, and the users' passwords stay valid
    // until the next start: a rotation needs nothing from the running server.
    if let (Some(secret), None) = (&c.db_secret, &c.tuning.db_app_user) {
        let watch = Arc::new(secret_watch(secret, c).await?);
        state.set_db_secret(watch.clone());
        if c.tuning.db_secret_refresh > 0 {
            tokio::spawn(reread_every(Duration::from_secs(c.tuning.db_secret_refresh), watch, state.db.clone()));
        }
    }
    Ok(state)
}

async fn secret_watch(secret: &str, c: &Resolved) -> AppResult<SecretWatch> {
    let sdk = crate::server::config::aws::load_sdk_config(c.region.as_ref().map(|r| r.value.clone())).await?;
    let url =
        url::Url::parse(&c.database_url.value).map_err(|e| AppError::Internal(format!("the assembled MySQL URL does not parse: {e}")))?;
    let decode = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
    Ok(SecretWatch::new(secret.to_string(), sdk, decode(url.username()), decode(url.password().unwrap_or_default())))
}

/// The timer's re-read; a failure is logged and tried again at the next tick (a refused login tries at once).
async fn reread_every(period: Duration, watch: Arc<SecretWatch>, db: sqlx::MySqlPool) {
    let mut tick = tokio::time::interval(period);
    tick.tick().await;
    loop {
        tick.tick().await;
        if let Err(e) = watch.reread(&db, SystemTime::now() - period / 2).await {
            tracing::warn!(secret = watch.secret_id(), "re-reading the database secret failed: {e}");
        }
    }
}
