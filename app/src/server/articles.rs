//! The seed's query against MySQL.

use std::time::Duration;

use bytes::Bytes;
use sqlx::mysql::MySqlPool;

use crate::model::{Article, ArticleQuery, ARTICLE_SQL};
use crate::server::connections::redact_error;

/// Why a query produced no rows; each maps to an HTTP status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryFailure {
    /// The request itself is wrong (400).
    Invalid(String),
    /// MySQL could not answer (503).
    DatabaseDown(String),
    /// MySQL answered something cachelens cannot use (500).
    Internal(String),
}

impl QueryFailure {
    pub fn status(&self) -> u16 {
        match self {
            Self::Invalid(_) => 400,
            Self::DatabaseDown(_) => 503,
            Self::Internal(_) => 500,
        }
    }

    pub fn message(&self) -> String {
        match self {
            Self::Invalid(m) => m.clone(),
            Self::DatabaseDown(m) => format!("MySQL is unavailable: {m}"),
            Self::Internal(m) => format!("query failed: {m}"),
        }
    }
}

/// Rows as the JSON array the API and the cache hold, with their count, so a cache hit can hand the bytes
/// on without parsing them.
#[derive(Clone, Debug)]
pub struct RowsJson {
    pub count: usize,
    pub json: Bytes,
}

impl RowsJson {

    pub fn decode(&self) -> Result<Vec<Article>, String> {
        serde_json::from_slice(&self.json).map_err(|e| format!("cached rows are not valid: {e}"))
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
pub async fn fetch_rows(db: &MySqlPool, query: &ArticleQuery) -> Result<RowsJson, QueryFailure> {
    use sqlx::Row;
    let rows = sqlx::query(ARTICLE_SQL).bind(query.like_pattern()).bind(query.limit).fetch_all(db);
    let rows = match tokio::time::timeout(QUERY_TIMEOUT, rows).await {
        Ok(answer) => answer.map_err(classify)?,
        Err(_) => return Err(QueryFailure::DatabaseDown(format!("no answer within {QUERY_TIMEOUT:?}"))),
    };
    let mut json = Vec::with_capacity(rows.len() * 256 + 2);
    json.push(b'[');
    for (i, row) in rows.iter().enumerate() {
        if i > 0 {
            json.push(b',');
        }
        let article = ArticleJson {
            object_id: row.try_get(0).map_err(classify)?,
            sentence: row.try_get(1).map_err(classify)?,
            title: row.try_get(2).map_err(classify)?,
            source: row.try_get(3).map_err(classify)?,
        };
        serde_json::to_writer(&mut json, &article).map_err(|e| QueryFailure::Internal(e.to_string()))?;
    }
    json.push(b']');
    Ok(RowsJson { count: rows.len(), json: Bytes::from(json) })
}

pub fn classify(e: sqlx::Error) -> QueryFailure {
    use sqlx::Error::*;
    match &e {
        Io(_) | Tls(_) | Protocol(_) | PoolTimedOut | PoolClosed | WorkerCrashed => {
            QueryFailure::DatabaseDown(redact_error(e))
        }
        // The server answered but refused the statement: a missing table is a setup problem the user can fix.
        sqlx::Error::Database(db) if db.code().as_deref() == Some("42S02") => QueryFailure::DatabaseDown(
            "the articles table does not exist yet: run `cachelens load-data`".into(),
        ),
        Database(_) => QueryFailure::DatabaseDown(redact_error(e)),
        _ => QueryFailure::Internal(redact_error(e)),
    }
}
