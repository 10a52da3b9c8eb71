//! Keeping up with a rotated database secret. RDS rotates its managed master secret every seven days; the
//! connections already open stay logged in, so the change shows only when the pool opens a new one and MySQL
//! refuses it. The watch re-reads the secret then (and on a timer, so a quiet server is ready before its next
//! request) and gives the pool the new credentials for every connection it opens from then on.

use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use sqlx::mysql::MySqlPool;
use tokio::sync::Mutex;

use crate::error::AppResult;
use crate::server::config::aws;

/// A burst of refused logins (every pooled connection killed at once) reads the secret once.
const MIN_REREAD: Duration = Duration::from_secs(2);

pub struct SecretWatch {
    secret_id: String,
    sdk: SdkConfig,
    /// The last successful read; the lock also makes concurrent re-reads one.
    last: Mutex<LastRead>,
}

struct LastRead {
    at: SystemTime,
    username: String,
    password: String,
}

impl SecretWatch {
    /// A watch over `secret_id`, whose credentials (`username`, `password`) the pool was built with just now.
    pub fn new(secret_id: String, sdk: SdkConfig, username: String, password: String) -> Self {
        Self { secret_id, sdk, last: Mutex::new(LastRead { at: SystemTime::now(), username, password }) }
    }

    pub fn secret_id(&self) -> &str {
        &self.secret_id
    }

    pub async fn last_read(&self) -> SystemTime {
        self.last.lock().await.at
    }

    /// Reads the secret and, when its credentials differ from the pool's, hands the pool the new ones. A call
    /// that finds the secret read since `after` (by a concurrent caller) reads nothing: its retry uses what
    /// that read found. Returns whether the credentials changed.
    pub async fn reread(&self, db: &MySqlPool, after: SystemTime) -> AppResult<bool> {
        let mut last = self.last.lock().await;
        if last.at >= after || last.at.elapsed().unwrap_or_default() < MIN_REREAD {
            return Ok(false);
        }
        let text = aws::secret_string(&self.sdk, &self.secret_id).await?;
        let secret = aws::parse_db_secret(&self.secret_id, &text)?;
        last.at = SystemTime::now();
        if last.username == secret.username && last.password == secret.password {
            return Ok(false);
        }
        // Connections open now keep their login; the ones opened from here on use the new password.
        db.set_connect_options((*db.connect_options()).clone().username(&secret.username).password(&secret.password));
        (last.username, last.password) = (secret.username, secret.password);
        tracing::info!(secret = %self.secret_id, "database credentials re-read from the secret: new connections use them");
        Ok(true)
    }
}
