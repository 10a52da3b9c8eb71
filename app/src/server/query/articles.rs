//! The seed's query against MySQL.

use std::time::Duration;

use bytes::Bytes;
use sqlx::mysql::MySqlPool;

use crate::error::{AppError, AppResult};
use crate::model::{Article, ArticleQuery, ARTICLE_SQL};

/// Rows as the JSON array the API and the cache hold, with their count, so a cache hit can hand the bytes
/// on without parsing them.
#[derive(Clone, Debug)]
pub struct RowsJson {
    pub count: usize,
    pub json: Bytes,
}

impl RowsJson {
    pub fn decode(&self) -> AppResult<Vec<Article>> {
        serde_json::from_slice(&self.json).map_err(|e| AppError::Internal(format!("cached rows are not valid: {e}")))
    }
}

/// Past this a query counts as failed: a stuck MySQL must not hold requests (and pool connections) forever.
const QUERY_TIMEOUT: Duration = Duration::from_secs(10);

/// One row as JSON, borrowing its text from the row buffer: no String per cell on the hot path.
#[derive(serde::Serialize)]
struct ArticleJson<'r> {
    #[serde(rename = "OBJECTID")]
    object_id: i32,
    #[serde(rename = "Sentence")]
    sentence: &'r str,
    #[serde(rename = "Title")]
    title: &'r str,
    #[serde(rename = "Source")]
    source: &'r str,
}

/// The seed's query, its rows written straight into the JSON array the API and the cache hold (the same
/// shape as `Vec<Article>` serialized).
pub async fn fetch_rows(db: &MySqlPool, query: &ArticleQuery) -> AppResult<RowsJson> {
    use sqlx::Row;
    let rows = sqlx::query(ARTICLE_SQL).bind(query.like_pattern()).bind(query.limit).fetch_all(db);
    let rows = match tokio::time::timeout(QUERY_TIMEOUT, rows).await {
        Ok(answer) => answer?,
        Err(_) => return Err(AppError::DatabaseDown(format!("no answer within {QUERY_TIMEOUT:?}"))),
    };
    let mut json = Vec::with_capacity(rows.len() * 256 + 2);
    json.push(b'[');
    for (i, row) in rows.iter().enumerate() {
        if i > 0 {
            json.push(b',');
        }
        let article =
            ArticleJson { object_id: row.try_get(0)?, sentence: row.try_get(1)?, title: row.try_get(2)?, source: row.try_get(3)? };
        serde_json::to_writer(&mut json, &article).map_err(|e| AppError::Internal(format!("query failed: {e}")))?;
    }
    json.push(b']');
    Ok(RowsJson { count: rows.len(), json: Bytes::from(json) })
}
