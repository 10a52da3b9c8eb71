//! The `articles` table: its schema, the record of what was loaded into it, and the atomic swap.

use crate::error::{AppError, AppResult};
use sqlx::mysql::{MySqlPool, MySqlPoolOptions};
use sqlx::Row;

use crate::server::connections::mysql_options;
use crate::server::redact::redact_error;

/// The seed's columns, in the seed's CSV order.
pub const COLUMNS: [&str; 13] = [
    "OBJECTID",
    "SHA",
    "PossiblePlace",
    "Sentence",
    "MatchedPlace",
    "DOI",
    "Title",
    "Abstract",
    "PublishedDate",
    "Authors",
    "Journal",
    "Source",
    "License",
];

pub const TABLE: &str = "articles";
/// Bumped whenever `create_table_sql` changes, so `load-data` reloads tables made by an older layout.
pub const LAYOUT_VERSION: &str = "articles-layout-2";
pub const STAGING: &str = "articles_staging";
const RETIRED: &str = "articles_retired";

fn create_table_sql(name: &str) -> String {
    format!(
        "CREATE TABLE {name} (
            OBJECTID INT NOT NULL PRIMARY KEY,
            SHA VARCHAR(255) NOT NULL,
            PossiblePlace TEXT NOT NULL,
            Sentence TEXT NOT NULL,
            MatchedPlace TEXT NOT NULL,
            DOI TEXT NOT NULL,
            Title TEXT NOT NULL,
            Abstract MEDIUMTEXT NOT NULL,
            PublishedDate VARCHAR(64) NOT NULL,
            Authors MEDIUMTEXT NOT NULL,
            Journal TEXT NOT NULL,
            Source TEXT NOT NULL,
            License TEXT NOT NULL
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci"
    )
}

const META_SQL: &str = "CREATE TABLE IF NOT EXISTS cachelens_datasets (
    table_name VARCHAR(64) NOT NULL PRIMARY KEY,
    source VARCHAR(1024) NOT NULL,
    checksum CHAR(64) NOT NULL,
    row_count BIGINT NOT NULL,
    loaded_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4";

/// What was last loaded into `articles`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatasetRecord {
    pub source: String,
    pub checksum: String,
    pub row_count: u64,
    pub loaded_at: String,
}

/// Connects to the database in `url`, creating the database first when the server does not have it yet.
pub async fn connect_creating(url: &str, ca_file: Option<&std::path::Path>) -> AppResult<MySqlPool> {
    let options = mysql_options(url, ca_file)?;
    let database = options.get_database().map(str::to_owned).ok_or_else(|| AppError::Invalid("DATABASE_URL names no database".into()))?;
    if !database.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(AppError::Invalid(format!("database name {database:?}: use letters, digits and '_' only")));
    }
    let server = mysql_options(&strip_database(url), ca_file)?;
    let admin = MySqlPoolOptions::new().max_connections(1).connect_with(server).await.map_err(unreachable)?;
    sqlx::query(&format!("CREATE DATABASE IF NOT EXISTS `{database}` CHARACTER SET utf8mb4"))
        .execute(&admin)
        .await
        .map_err(|e| AppError::Invalid(format!("cannot create database {database}: {}", redact_error(e))))?;
    admin.close().await;
    MySqlPoolOptions::new().max_connections(4).connect_with(options).await.map_err(unreachable)
}

fn unreachable(e: sqlx::Error) -> AppError {
    AppError::DatabaseDown(format!("cannot connect to MySQL: {}", redact_error(e)))
}

/// `mysql://u:p@h:3306/db?x=y` → `mysql://u:p@h:3306/?x=y`. A URL that does not parse is left for the
/// connection options to refuse with their own message.
fn strip_database(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            parsed.set_path("/");
            parsed.to_string()
        }
        Err(_) => url.to_string(),
    }
}

pub async fn table_exists(db: &MySqlPool, name: &str) -> AppResult<bool> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?")
        .bind(name)
        .fetch_one(db)
        .await?;
    Ok(n > 0)
}

pub async fn current_record(db: &MySqlPool) -> AppResult<Option<DatasetRecord>> {
    sqlx::query(META_SQL).execute(db).await?;
    Ok(read_record(db).await?)
}

/// The record without creating anything: `None` before the first load.
pub async fn read_record(db: &MySqlPool) -> Result<Option<DatasetRecord>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT source, checksum, row_count, DATE_FORMAT(loaded_at, '%Y-%m-%d %H:%i:%s') AS loaded_at \
         FROM cachelens_datasets WHERE table_name = ?",
    )
    .bind(TABLE)
    .fetch_optional(db)
    .await;
    let row = match row {
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42S02") => None,
        other => other?,
    };
    Ok(row.map(|r| DatasetRecord {
        source: r.get("source"),
        checksum: r.get("checksum"),
        row_count: r.get::<i64, _>("row_count") as u64,
        loaded_at: r.get("loaded_at"),
    }))
}

pub async fn create_staging(db: &MySqlPool) -> AppResult<()> {
    drop_staging(db).await?;
    sqlx::query(&create_table_sql(STAGING)).execute(db).await?;
    Ok(())
}

pub async fn drop_staging(db: &MySqlPool) -> AppResult<()> {
    sqlx::query(&format!("DROP TABLE IF EXISTS {STAGING}")).execute(db).await?;
    Ok(())
}

/// Puts the staging table in place of `articles` in one RENAME TABLE, so readers see the old rows or the new
/// ones, never a half-loaded table, then records where the rows came from.
pub async fn swap_in(db: &MySqlPool, source: &str, checksum: &str, rows: u64) -> AppResult<()> {
    sqlx::query(&format!("DROP TABLE IF EXISTS {RETIRED}")).execute(db).await?;
    let rename = if table_exists(db, TABLE).await? {
        format!("RENAME TABLE {TABLE} TO {RETIRED}, {STAGING} TO {TABLE}")
    } else {
        format!("RENAME TABLE {STAGING} TO {TABLE}")
    };
    sqlx::query(&rename).execute(db).await?;
    sqlx::query(&format!("DROP TABLE IF EXISTS {RETIRED}")).execute(db).await?;
    sqlx::query(
        "REPLACE INTO cachelens_datasets (table_name, source, checksum, row_count, loaded_at) \
         VALUES (?, ?, ?, ?, CURRENT_TIMESTAMP)",
    )
    .bind(TABLE)
    .bind(source)
    .bind(checksum)
    .bind(rows as i64)
    .execute(db)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::strip_database;

    #[test]
    fn database_is_removed_from_the_url_and_options_kept() {
        assert_eq!(strip_database("mysql://u:p@h:3306/covid"), "mysql://u:p@h:3306/");
        assert_eq!(strip_database("mysql://u:p@h/covid?ssl-mode=required"), "mysql://u:p@h/?ssl-mode=required");
        assert_eq!(strip_database("mysql://h:1"), "mysql://h:1/");
    }
}
