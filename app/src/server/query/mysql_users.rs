//! The MySQL users cachelens sets up for itself wherever its configured user may create users (RDS's master user
//! may): the application user every ordinary query runs as, so the master user only sets up, and the
//! SELECT-only user custom SQL runs as. Nothing is written down: each password is derived from the configured
//! user's, so every instance computes the same one, and it changes when that password rotates.

use crate::error::{AppError, AppResult};

use percent_encoding::percent_decode_str;
use sha2::{Digest, Sha256};
use sqlx::mysql::{MySqlConnectOptions, MySqlPool};

use crate::server::redact::redact_error;

/// What each user may do, on the configured database only.
pub enum Role {
    /// Reads, writes and its own tables (the loader creates `articles`, the lab its table).
    Application,
    ReadOnly,
}

impl Role {
    fn grants(&self) -> &'static str {
        match self {
            Role::Application => "SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, INDEX, ALTER",
            Role::ReadOnly => "SELECT",
        }
    }

    fn purpose(&self) -> &'static [u8] {
        match self {
            Role::Application => b"cachelens-app",
            Role::ReadOnly => b"cachelens-readonly",
        }
    }
}

/// Creates `user` if needed, sets its password and grants it `role`'s rights on the main connection's
/// database and nothing else; returns the connection options that log in as it (the main pool's otherwise).
pub async fn provision(main: &MySqlPool, main_url: &str, user: &str, role: Role) -> AppResult<MySqlConnectOptions> {
    if user.is_empty() || user.len() > 32 || !user.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(AppError::Invalid(format!("{user:?} is not a user name cachelens creates (letters, digits and _, at most 32)")));
    }
    let password = derived_password(main_url, user, role.purpose())
        .ok_or_else(|| AppError::Invalid("the main connection has no password to derive one from".into()))?;
    let options = main.connect_options();
    let database =
        options.get_database().ok_or_else(|| AppError::Invalid("the main connection names no database".into()))?.replace('`', "``");
    let account = format!("'{user}'@'%'");
    for statement in [
        format!("CREATE USER IF NOT EXISTS {account} IDENTIFIED BY '{password}'"),
        format!("ALTER USER {account} IDENTIFIED BY '{password}'"),
        format!("GRANT {} ON `{database}`.* TO {account}", role.grants()),
    ] {
        if let Err(e) = sqlx::raw_sql(&statement).execute(main).await {
            // The server may quote the statement back; the password must not travel with it.
            let why = e.as_database_error().map(|d| d.message().to_string()).unwrap_or_else(|| redact_error(e));
            return Err(AppError::Internal(why.replace(&password, "****")));
        }
    }
    Ok((*options).clone().username(user).password(&password))
}

/// 32 hex characters from the main password, the purpose and the user name.
fn derived_password(main_url: &str, user: &str, purpose: &[u8]) -> Option<String> {
    let url = url::Url::parse(main_url).ok()?;
    let password = percent_decode_str(url.password()?).decode_utf8().ok()?;
    if password.is_empty() {
        return None;
    }
    let mut h = Sha256::new();
    for part in [password.as_bytes(), purpose, user.as_bytes()] {
        h.update(part);
        h.update([0]);
    }
    Some(hex::encode(&h.finalize()[..16]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_follows_the_main_one_the_user_and_the_role() {
        let ro = Role::ReadOnly.purpose();
        let a = derived_password("mysql://admin:s%40cret@db:3306/covid", "reader", ro).unwrap();
        assert_eq!(a.len(), 32);
        assert_eq!(Some(a.clone()), derived_password("mysql://admin:s%40cret@db:3306/covid", "reader", ro));
        assert_ne!(Some(a.clone()), derived_password("mysql://admin:other@db:3306/covid", "reader", ro));
        assert_ne!(Some(a.clone()), derived_password("mysql://admin:s%40cret@db:3306/covid", "reader2", ro));
        assert_ne!(Some(a), derived_password("mysql://admin:s%40cret@db:3306/covid", "reader", Role::Application.purpose()));
        assert_eq!(derived_password("mysql://admin@db:3306/covid", "reader", ro), None);
        assert_eq!(derived_password("mysql://admin:@db/covid", "reader", ro), None);
    }
}
