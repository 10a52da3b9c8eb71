//! The lab's own table, `cachelens_lab_items`, in the configured database: created, re-created when its layout
//! is older, and seeded by the lab. Payloads are the loaded articles' sentences (so rows are sized like
//! article rows), or generated text when nothing is loaded. The lab never writes to `articles` and drops only
//! a table its own comment marks as the lab's.

use sqlx::mysql::MySqlPool;
use sqlx::QueryBuilder;

use super::history::FIRST_VERSION;
use crate::error::{AppError, AppResult};

pub const TABLE: &str = "cachelens_lab_items";
/// The table's comment: a table of this name whose comment differs is older, or not the lab's.
const LAYOUT: &str = "cachelens lab items, layout 1";
const MARK: &str = "cachelens lab items";
const BATCH: usize = 1000;

fn create_sql() -> String {
    format!(
        "CREATE TABLE {TABLE} (
            id INT UNSIGNED NOT NULL PRIMARY KEY,
            payload VARCHAR(2048) NOT NULL,
            version BIGINT UNSIGNED NOT NULL,
            updated_at DATETIME(6) NOT NULL
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='{LAYOUT}'"
    )
}

/// Sentences to use as payloads: up to 1000 of the loaded articles, or generated ones.
pub async fn payloads(db: &MySqlPool) -> Vec<String> {
    let loaded: Vec<String> = sqlx::query_scalar("SELECT LEFT(Sentence, 1000) FROM articles ORDER BY OBJECTID LIMIT 1000")
        .fetch_all(db)
        .await
        .unwrap_or_default();
    if !loaded.is_empty() {
        return loaded;
    }
    (0..100).map(|i| format!("generated payload {i}: {}", "lorem ipsum dolor sit amet ".repeat(8))).collect()
}

/// The table with `items` rows at the first version, made ready for a run.
pub async fn prepare(db: &MySqlPool, items: u32, payloads: &[String]) -> AppResult<()> {
    let comment: Option<String> =
        sqlx::query_scalar("SELECT TABLE_COMMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?")
            .bind(TABLE)
            .fetch_optional(db)
            .await?;
    match comment.as_deref() {
        Some(LAYOUT) => {
            sqlx::query(&format!("TRUNCATE TABLE {TABLE}")).execute(db).await?;
        }
        Some(c) if c.starts_with(MARK) => {
            sqlx::query(&format!("DROP TABLE {TABLE}")).execute(db).await?;
            sqlx::query(&create_sql()).execute(db).await?;
        }
        Some(_) => {
            return Err(AppError::Conflict(format!(
                "a table {TABLE} exists that the lab did not create; the lab leaves it alone: rename it to run the lab"
            )))
        }
        None => {
            sqlx::query(&create_sql()).execute(db).await?;
        }
    }
    let ids: Vec<u32> = (1..=items).collect();
    for chunk in ids.chunks(BATCH) {
        let mut insert = QueryBuilder::new(format!("INSERT INTO {TABLE} (id, payload, version, updated_at) "));
        insert.push_values(chunk, |mut row, &id| {
            row.push_bind(id).push_bind(&payloads[id as usize % payloads.len()]).push_bind(FIRST_VERSION).push("NOW(6)");
        });
        insert.build().execute(db).await?;
    }
    Ok(())
}

/// A read: the row's version and payload.
pub async fn read(db: &MySqlPool, id: u32) -> Result<(u64, String), sqlx::Error> {
    sqlx::query_as(&format!("SELECT version, payload FROM {TABLE} WHERE id = ?")).bind(id).fetch_one(db).await
}

/// A write: a new payload and the next version, which MySQL hands back in the OK packet (LAST_INSERT_ID(expr)),
/// so the write is one autocommitted statement. Returns the version it committed.
pub async fn write(db: &MySqlPool, id: u32, payload: &str) -> Result<u64, sqlx::Error> {
    let done =
        sqlx::query(&format!("UPDATE {TABLE} SET payload = ?, version = LAST_INSERT_ID(version + 1), updated_at = NOW(6) WHERE id = ?"))
            .bind(payload)
            .bind(id)
            .execute(db)
            .await?;
    Ok(done.last_insert_id())
}
