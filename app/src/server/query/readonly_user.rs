//! The SELECT-only MySQL user custom SQL runs as, set up by cachelens itself wherever its main user may create
//! users (RDS's master user may). Nothing is written down: the password is derived from the main user's, so
//! every instance computes the same one, and it changes when the main password rotates.

use crate::error::{AppError, AppResult};
use std::time::Duration;

use percent_encoding::percent_decode_str;
use sha2::{Digest, Sha256};
use sqlx::mysql::{MySqlPool, MySqlPoolOptions};

use crate::server::connections::redact_error;

/// Creates `user` if needed, sets its password, grants it SELECT on the main connection's database and
/// nothing else, and returns a pool that logs in as it.
pub async fn provision(main: &MySqlPool, main_url: &str, user: &str) -> AppResult<MySqlPool> {
    if user.is_empty() || user.len() > 32 || !user.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(AppError::Internal(format!("{user:?} is not a user name cachelens creates (letters, digits and _, at most 32)")));
    }
    let password = derived_password(main_url, user).ok_or("the main connection has no password to derive one from")?;
    let options = main.connect_options();
    let database = options.get_database().ok_or("the main connection names no database")?.replace('`', "``");
    let account = format!("'{user}'@'%'");
    for statement in [
        format!("CREATE USER IF NOT EXISTS {account} IDENTIFIED BY '{password}'"),
        format!("ALTER USER {account} IDENTIFIED BY '{password}'"),
        format!("GRANT SELECT ON `{database}`.* TO {account}"),
    ] {
        if let Err(e) = sqlx::raw_sql(&statement).execute(main).await {
            // The server may quote the statement back; the password must not travel with it.
            let why = e.as_database_error().map(|d| d.message().to_string()).unwrap_or_else(|| redact_error(e));
            return Err(AppError::Internal(why.replace(&password, "****")));
        }
    }
    let readonly = (*options).clone().username(user).password(&password);
    Ok(MySqlPoolOptions::new()
        .max_connections(4)
        .min_connections(0)
        .acquire_timeout(Duration::from_secs(3))
        .connect_lazy_with(readonly))
}

/// 32 hex characters from the main password, the purpose and the user name.
fn derived_password(main_url: &str, user: &str) -> Option<String> {
    let url = url::Url::parse(main_url).ok()?;
    let password = percent_decode_str(url.password()?).decode_utf8().ok()?;
    if password.is_empty() {
        return None;
    }
    let mut h = Sha256::new();
    for part in [password.as_bytes(), b"cachelens-readonly", user.as_bytes()] {
        h.update(part);
        h.update([0]);
    }
    Some(hex::encode(&h.finalize()[..16]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_follows_the_main_one_and_the_user() {
        let a = derived_password("mysql://admin:s%40cret@db:3306/covid", "reader").unwrap();
        assert_eq!(a.len(), 32);
        assert_eq!(Some(a.clone()), derived_password("mysql://admin:s%40cret@db:3306/covid", "reader"));
        assert_ne!(Some(a.clone()), derived_password("mysql://admin:other@db:3306/covid", "reader"));
        assert_ne!(Some(a), derived_password("mysql://admin:s%40cret@db:3306/covid", "reader2"));
        assert_eq!(derived_password("mysql://admin@db:3306/covid", "reader"), None);
        assert_eq!(derived_password("mysql://admin:@db/covid", "reader"), None);
    }
}
