//! Runs a custom SELECT that passed the guard: read-only, time-boxed, and turned into JSON rows generically.

use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use indexmap::IndexMap;
use serde_json::Value;
use sqlx::mysql::MySqlRow;
use sqlx::types::time;
use sqlx::{Column, Row, TypeInfo, ValueRef};

use crate::error::{AppError, AppResult};
use crate::server::query::articles::RowsJson;
use crate::server::query::sql_guard::GuardedSql;
use crate::server::state::AppState;

/// The server stops a custom statement after this long (max_statement_time / max_execution_time).
pub const STATEMENT_TIME_LIMIT: Duration = Duration::from_secs(crate::model::CUSTOM_SQL_TIME_LIMIT_S);
/// cachelens gives up on the connection a little later, in case the server's own limit did not fire.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(8);

/// A custom result's JSON may reach this size; a larger one is refused with the size named.
pub const MAX_RESULT_BYTES: usize = 8 << 20;

/// One row as a JSON object whose keys keep the statement's column order.
type JsonRow = IndexMap<String, Value>;

/// Boxed so that the server functions awaiting it stay `Send`: without the box the compiler cannot prove it
/// for this future's borrows of the pooled connection.
pub fn fetch<'a>(state: &'a AppState, guarded: &'a GuardedSql) -> BoxFuture<'a, AppResult<RowsJson>> {
    let is_mariadb = &state.sql_server_is_mariadb;
    match state.sql_db.clone() {
        Some(readonly) => Box::pin(fetch_inner(readonly, is_mariadb, &guarded.sql)),
        None => Box::pin(state.db_retry(move |db| fetch_inner(db, is_mariadb, &guarded.sql))),
    }
}

async fn fetch_inner(pool: sqlx::MySqlPool, is_mariadb: &OnceLock<bool>, sql: &str) -> AppResult<RowsJson> {
    let mut conn = pool.acquire().await?;
    // The time-limit variable differs between MariaDB and MySQL; the server is asked once per process.
    let mariadb = match is_mariadb.get() {
        Some(&known) => known,
        None => {
            let version = sqlx::query_scalar::<_, String>("SELECT VERSION()").fetch_one(&mut *conn).await?;
            *is_mariadb.get_or_init(|| version.contains("MariaDB"))
        }
    };
    let limit_var = if mariadb { "max_statement_time" } else { "max_execution_time" };
    let limit_value = if mariadb { STATEMENT_TIME_LIMIT.as_secs() as u128 } else { STATEMENT_TIME_LIMIT.as_millis() };
    let steps = async {
        // The statement inside a READ ONLY transaction with the server's own time limit, both undone
        // afterwards so the pooled connection goes back as it came.
        sqlx::query(&format!("SET SESSION {limit_var} = {limit_value}")).execute(&mut *conn).await?;
        sqlx::query("START TRANSACTION READ ONLY").execute(&mut *conn).await?;
        let rows = read_capped(sqlx::query(sql).persistent(false).fetch(&mut *conn)).await;
        sqlx::query("ROLLBACK").execute(&mut *conn).await?;
        sqlx::query(&format!("SET SESSION {limit_var} = DEFAULT")).execute(&mut *conn).await?;
        rows
    };
    match tokio::time::timeout(CLIENT_TIMEOUT, steps).await {
        Ok(rows) => rows,
        Err(_) => {
            // The statement may still be running on this connection: never hand it back to the pool.
            drop(conn.detach());
            Err(AppError::DatabaseDown(format!("no answer within {CLIENT_TIMEOUT:?}")))
        }
    }
}

/// The rows as one JSON array, read one at a time so that a result over [`MAX_RESULT_BYTES`] is refused when
/// it gets there, never held whole (the row cap alone lets 100 rows of `repeat('x', 200000)` through).
async fn read_capped(mut rows: futures::stream::BoxStream<'_, Result<MySqlRow, sqlx::Error>>) -> AppResult<RowsJson> {
    use futures::StreamExt;
    let mut json = vec![b'['];
    let mut count = 0;
    while let Some(row) = rows.next().await {
        let row = row.map_err(refused_by_server)?;
        if count > 0 {
            json.push(b',');
        }
        serde_json::to_writer(&mut json, &row_to_json(&row)).map_err(|e| AppError::Internal(format!("query failed: {e}")))?;
        count += 1;
        if json.len() > MAX_RESULT_BYTES {
            return Err(AppError::Invalid(format!(
                "the result is larger than {} MiB of row data ({count} rows read so far): select fewer rows or narrower columns",
                MAX_RESULT_BYTES >> 20
            )));
        }
    }
    json.push(b']');
    Ok(RowsJson { count, json: Bytes::from(json) })
}

/// The server refused or stopped the statement itself (a typo in a column name, the time limit): that is the
/// user's to fix, so it is a 400 with the server's words, not a 503.
fn refused_by_server(e: sqlx::Error) -> AppError {
    match &e {
        sqlx::Error::Database(db) => {
            let message = db.message();
            if message.contains("max_statement_time") || message.contains("maximum statement execution time") {
                AppError::Invalid(format!("the statement ran longer than {STATEMENT_TIME_LIMIT:?} and was stopped"))
            } else if db.code().as_deref() == Some("42S02")
                || db.code().as_deref() == Some("42S22")
                || db.code().as_deref() == Some("42000")
            {
                AppError::Invalid(format!("MySQL refused the statement: {message}"))
            } else {
                AppError::from(e)
            }
        }
        _ => AppError::from(e),
    }
}

fn row_to_json(row: &MySqlRow) -> JsonRow {
    let mut out = JsonRow::with_capacity(row.len());
    for (i, column) in row.columns().iter().enumerate() {
        // `SELECT 1, 1` names two columns alike; JSON keys must differ.
        let mut name = column.name().to_string();
        let mut n = 1;
        while out.contains_key(&name) {
            n += 1;
            name = format!("{}_{n}", column.name());
        }
        out.insert(name, cell(row, i, column.type_info().name()));
    }
    out
}

/// A value as JSON: numbers as numbers, dates and decimals as text, other bytes as UTF-8 or hex.
fn cell(row: &MySqlRow, i: usize, type_name: &str) -> Value {
    if row.try_get_raw(i).map(|v| v.is_null()).unwrap_or(true) {
        return Value::Null;
    }
    let value = match type_name {
        "BOOLEAN" => row.try_get::<bool, _>(i).map(Value::from),
        t if t.ends_with("UNSIGNED") || t == "BIT" => row.try_get_unchecked::<u64, _>(i).map(Value::from),
        "TINYINT" | "SMALLINT" | "MEDIUMINT" | "INT" | "BIGINT" | "YEAR" => row.try_get_unchecked::<i64, _>(i).map(Value::from),
        "FLOAT" => row.try_get::<f32, _>(i).map(|f| Value::from(f as f64)),
        "DOUBLE" => row.try_get::<f64, _>(i).map(Value::from),
        "DATE" => row.try_get::<time::Date, _>(i).map(|d| Value::from(d.to_string())),
        "DATETIME" | "TIMESTAMP" => row
            .try_get_unchecked::<time::PrimitiveDateTime, _>(i)
            .map(|t| Value::from(format!("{} {:02}:{:02}:{:02}", t.date(), t.hour(), t.minute(), t.second()))),
        "TIME" => row.try_get::<time::Time, _>(i).map(|t| Value::from(format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second()))),
        _ => row.try_get_unchecked::<Vec<u8>, _>(i).map(|bytes| match String::from_utf8(bytes) {
            Ok(text) => Value::from(text),
            Err(e) => Value::from(format!("0x{}", e.as_bytes().iter().map(|b| format!("{b:02X}")).collect::<String>())),
        }),
    };
    value.unwrap_or_else(|_| Value::from(format!("<{type_name}>")))
}
