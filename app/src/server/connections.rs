//! Building the MySQL pool and the Redis client, and probing both.
//!
//! Both are created lazily: the server must start and show the services as down when they are unreachable,
//! and pick them up again without a restart when they come back.

use crate::error::{AppError, AppResult};
use crate::server::redact::{redact_error, redact_userinfo};
use std::path::Path;
use std::time::{Duration, Instant};

use fred::prelude::*;
use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions, MySqlSslMode};

use crate::model::Probe;

/// How long one probe may take before the service counts as down.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// The options of a MySQL URL; with `ca_file`, TLS is required and the server's certificate and name are
/// checked against it (sqlx's default, `preferred`, takes any certificate).
pub fn mysql_options(url: &str, ca_file: Option<&Path>) -> AppResult<MySqlConnectOptions> {
    let options: MySqlConnectOptions =
        url.parse().map_err(|e| AppError::Invalid(format!("DATABASE_URL is not a valid MySQL URL: {}", redact_error(e))))?;
    Ok(match ca_file {
        Some(ca) => {
            if !ca.is_file() {
                return Err(AppError::Invalid(format!("MySQL CA file {} does not exist", ca.display())));
            }
            options.ssl_mode(MySqlSslMode::VerifyIdentity).ssl_ca(ca)
        }
        None => options,
    })
}

pub fn mysql_pool(options: MySqlConnectOptions, max_connections: u32) -> MySqlPool {
    MySqlPoolOptions::new()
        .max_connections(max_connections)
        .min_connections(0)
        .acquire_timeout(Duration::from_secs(3))
        .connect_lazy_with(options)
}

/// A pool of multiplexed Redis connections that keeps reconnecting in the background. `redis://`,
/// `rediss://` (TLS), `redis-cluster://` and `rediss-cluster://`, with `user:password@` for AUTH/ACL;
/// `ca_file` trusts a private CA (PEM) for TLS instead of the system roots.
pub fn redis_pool(url: &str, size: usize, ca_file: Option<&Path>) -> AppResult<fred::clients::Pool> {
    // The AWS SDK brings aws-lc-rs and fred brings ring; rustls refuses to pick between them by itself.
    let _ = fred::rustls::crypto::ring::default_provider().install_default();
    let mut config = Config::from_url(url)
        .map_err(|e| AppError::Invalid(format!("REDIS_URL is not a valid Redis URL: {}", redact_userinfo(e.details()))))?;
    if let Some(ca) = ca_file {
        if config.tls.is_none() {
            return Err(AppError::Invalid("a Redis CA file was given but the URL is not TLS: use rediss:// or rediss-cluster://".into()));
        }
        config.tls = Some(private_ca(ca)?.into());
    }
    let pool = Builder::from_config(config)
        .with_config(|c| c.fail_fast = false)
        .with_performance_config(|p| p.default_command_timeout = Duration::from_secs(2))
        .with_connection_config(|c| {
            c.connection_timeout = Duration::from_secs(2);
            c.internal_command_timeout = Duration::from_secs(2);
            c.max_command_attempts = 1;
        })
        .set_policy(ReconnectPolicy::new_constant(0, 250))
        .build_pool(size)
        .map_err(|e| AppError::Invalid(format!("cannot build the Redis client: {}", e.details())))?;
    // The connection task runs for the life of the process (dropping its handle detaches it); its errors are
    // reported by the probes.
    drop(pool.connect());
    Ok(pool)
}

fn ca_problem(path: &Path, e: impl std::fmt::Display) -> AppError {
    AppError::Invalid(format!("Redis CA file {}: {e}", path.display()))
}

fn private_ca(path: &Path) -> AppResult<fred::types::config::TlsConnector> {
    use fred::rustls::pki_types::{pem::PemObject, CertificateDer};
    let mut roots = fred::rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(path).map_err(|e| ca_problem(path, e))? {
        let cert = cert.map_err(|e| ca_problem(path, e))?;
        roots.add(cert).map_err(|e| ca_problem(path, e))?;
    }
    if roots.is_empty() {
        return Err(AppError::Invalid(format!("Redis CA file {} holds no certificate", path.display())));
    }
    let provider = std::sync::Arc::new(fred::rustls::crypto::ring::default_provider());
    let tls = fred::rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| AppError::Invalid(format!("TLS setup: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tls.into())
}

/// `select_one` runs `SELECT 1` (through the state's login retry).
pub async fn probe_mysql(select_one: impl std::future::Future<Output = AppResult<i32>>) -> Probe {
    let started = Instant::now();
    match tokio::time::timeout(PROBE_TIMEOUT, select_one).await {
        Ok(Ok(1)) => up(started),
        Ok(Ok(other)) => down(format!("SELECT 1 answered {other}")),
        Ok(Err(e)) => down(e.to_string()),
        Err(_) => down(format!("no answer within {PROBE_TIMEOUT:?}")),
    }
}

/// Redis's probe. A pool with no connection up (Redis gone: the client is reconnecting) answers at once from
/// that state, so the Home page and `/healthz` do not wait for a timeout while Redis is down; only a connected
/// client is sent a PING.
pub async fn probe_redis(redis: &fred::clients::Pool) -> Probe {
    use fred::interfaces::ClientLike;
    if !redis.clients().iter().any(|c| c.is_connected()) {
        return down("not connected: the client is reconnecting to Redis".into());
    }
    let started = Instant::now();
    let answer = tokio::time::timeout(PROBE_TIMEOUT, redis.next().ping::<String>(None)).await;
    match answer {
        Ok(Ok(pong)) if pong == "PONG" => up(started),
        Ok(Ok(other)) => down(format!("PING answered {other:?}")),
        Ok(Err(e)) => down(format!("Redis: {}", e.details())),
        Err(_) => down(format!("no answer within {PROBE_TIMEOUT:?}")),
    }
}

fn up(started: Instant) -> Probe {
    Probe { up: true, rtt_us: Some(started.elapsed().as_micros() as u64), detail: String::new() }
}

pub fn down(detail: String) -> Probe {
    Probe { up: false, rtt_us: None, detail }
}
