//! Finished runs (benchmarks, labs, and the kinds that follow) kept in MySQL, in cachelens's own table
//! `cachelens_runs` of the application database, so that a restart, a deploy or a crash loses no measurement.
//!
//! A run is written once, when it ends (done, failed or cancelled): its spec and final report as JSON, with the
//! report's schema version and the cachelens version that wrote it, so an older row still opens or says why it
//! cannot. A write that fails (MySQL down) keeps the run in memory, listed as unsaved, and is tried again every
//! few seconds until it lands: a run never fails because its record could not be written. Only
//! [`RunHistory::save`] writes rows and only [`RunHistory::delete`] removes them.
//!
//! Used by the run registries' callers (`server::bench`, `server::lab`) and the run endpoints (`http::runs`).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::mysql::MySqlPool;
use sqlx::Row;

use crate::error::{AppError, AppResult};

pub const TABLE: &str = "cachelens_runs";
/// The shape of the reports this version writes; a row with another number is read if it decodes, and
/// otherwise named as written by another version.
pub const REPORT_SCHEMA: u32 = 1;
/// How often an unsaved run is tried again.
const RETRY_EVERY: Duration = Duration::from_secs(3);
/// Rows a page of the list holds at most.
pub const PAGE_MAX: u32 = 100;

/// A run id no other run of this or an earlier process has: microseconds since the epoch, made strictly
/// increasing (an integer a browser's JavaScript still holds exactly until the year 2255).
pub fn new_run_id() -> u64 {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = crate::server::clock::unix_us();
    let mut last = LAST.load(Ordering::Relaxed);
    loop {
        let id = now.max(last + 1);
        match LAST.compare_exchange(last, id, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return id,
            Err(seen) => last = seen,
        }
    }
}

/// One finished run as the table keeps it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct StoredRun {
    pub id: u64,
    pub kind: String,
    pub state: String,
    pub spec: serde_json::Value,
    pub report: serde_json::Value,
    pub started_at_ms: u64,
    pub ended_at_ms: u64,
    pub version: String,
    pub schema: u32,
}

impl StoredRun {
    /// The row of a finished run: `report` must serialize with `state`, `spec` and `started_at_ms` fields, as
    /// every run report does.
    pub fn of<R: Serialize>(kind: &str, report: &R) -> AppResult<Self> {
        let report = serde_json::to_value(report).map_err(|e| AppError::Internal(format!("a {kind} report did not serialize: {e}")))?;
        Ok(Self {
            id: report["id"].as_u64().unwrap_or_default(),
            kind: kind.to_string(),
            state: report["state"].as_str().unwrap_or_default().to_string(),
            spec: report["spec"].clone(),
            started_at_ms: report["started_at_ms"].as_u64().unwrap_or_default(),
            ended_at_ms: crate::server::clock::unix_ms(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            schema: REPORT_SCHEMA,
            report,
        })
    }

    /// The report as this version's type, or why a row from another version cannot be read as one.
    pub fn decode<R: serde::de::DeserializeOwned>(&self) -> AppResult<R> {
        serde_json::from_value(self.report.clone()).map_err(|e| {
            AppError::Invalid(format!(
                "{} {} was kept by cachelens {} (report schema {}), which this cachelens {} (schema {REPORT_SCHEMA}) cannot read: {e}",
                self.kind,
                self.id,
                self.version,
                self.schema,
                env!("CARGO_PKG_VERSION")
            ))
        })
    }
}

/// A line of the list of runs: what `GET /api/runs` answers, newest first.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RunSummary {
    pub id: u64,
    pub kind: String,
    pub state: String,
    pub started_at_ms: u64,
    pub ended_at_ms: u64,
    pub version: String,
    pub schema: u32,
    /// False while the run waits in memory for MySQL to take it.
    pub saved: bool,
}

impl From<&StoredRun> for RunSummary {
    fn from(r: &StoredRun) -> Self {
        Self {
            id: r.id,
            kind: r.kind.clone(),
            state: r.state.clone(),
            started_at_ms: r.started_at_ms,
            ended_at_ms: r.ended_at_ms,
            version: r.version.clone(),
            schema: r.schema,
            saved: false,
        }
    }
}

/// The table and the runs still waiting to be written to it.
#[derive(Default)]
pub struct RunHistory {
    pending: Mutex<Vec<StoredRun>>,
    retrying: AtomicBool,
    table_ready: AtomicBool,
}

impl RunHistory {
    async fn ensure_table(&self, db: &MySqlPool) -> AppResult<()> {
        if self.table_ready.load(Ordering::Relaxed) {
            return Ok(());
        }
        sqlx::query(&format!(
            "CREATE TABLE IF NOT EXISTS {TABLE} (
                id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
                kind VARCHAR(32) NOT NULL,
                state VARCHAR(16) NOT NULL,
                spec LONGTEXT NOT NULL,
                report LONGTEXT NOT NULL,
                started_at_ms BIGINT UNSIGNED NOT NULL,
                ended_at_ms BIGINT UNSIGNED NOT NULL,
                version VARCHAR(32) NOT NULL,
                report_schema INT UNSIGNED NOT NULL,
                KEY by_kind (kind, id)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='cachelens runs'"
        ))
        .execute(db)
        .await?;
        self.table_ready.store(true, Ordering::Relaxed);
        Ok(())
    }

    async fn insert(&self, db: &MySqlPool, run: &StoredRun) -> AppResult<()> {
        self.ensure_table(db).await?;
        sqlx::query(&format!(
            "INSERT INTO {TABLE} (id, kind, state, spec, report, started_at_ms, ended_at_ms, version, report_schema)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE id = id"
        ))
        .bind(run.id)
        .bind(&run.kind)
        .bind(&run.state)
        .bind(run.spec.to_string())
        .bind(run.report.to_string())
        .bind(run.started_at_ms)
        .bind(run.ended_at_ms)
        .bind(&run.version)
        .bind(run.schema)
        .execute(db)
        .await?;
        Ok(())
    }

    /// Writes a finished run; when MySQL cannot take it now, keeps it and tries again until it can.
    pub async fn save(self: &Arc<Self>, db: &MySqlPool, run: StoredRun) {
        if let Err(e) = self.insert(db, &run).await {
            tracing::warn!(run = run.id, kind = %run.kind, "the run could not be saved yet (kept in memory, tried again every {RETRY_EVERY:?}): {e}");
            self.pending.lock().expect("pending runs").push(run);
            self.retry_later(db.clone());
        }
    }

    fn retry_later(self: &Arc<Self>, db: MySqlPool) {
        if self.retrying.swap(true, Ordering::AcqRel) {
            return;
        }
        let history = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(RETRY_EVERY).await;
                let waiting: Vec<StoredRun> = history.pending.lock().expect("pending runs").clone();
                for run in waiting {
                    if history.insert(&db, &run).await.is_ok() {
                        history.pending.lock().expect("pending runs").retain(|r| r.id != run.id);
                        tracing::info!(run = run.id, kind = %run.kind, "the run waiting for MySQL is saved");
                    }
                }
                let mut pending = history.pending.lock().expect("pending runs");
                if pending.is_empty() {
                    history.retrying.store(false, Ordering::Release);
                    drop(pending);
                    return;
                }
                pending.shrink_to_fit();
            }
        });
    }

    /// Runs of `kind` waiting for MySQL, newest first.
    pub fn unsaved(&self, kind: &str) -> Vec<StoredRun> {
        let mut runs: Vec<StoredRun> = self.pending.lock().expect("pending runs").iter().filter(|r| r.kind == kind).cloned().collect();
        runs.sort_by_key(|r| std::cmp::Reverse(r.id));
        runs
    }

    /// The run `id` of `kind`: waiting in memory, or from the table.
    pub async fn get(&self, db: &MySqlPool, kind: &str, id: u64) -> AppResult<Option<StoredRun>> {
        if let Some(run) = self.pending.lock().expect("pending runs").iter().find(|r| r.id == id && r.kind == kind) {
            return Ok(Some(run.clone()));
        }
        self.ensure_table(db).await?;
        let row =
            sqlx::query(&format!("SELECT {COLUMNS} FROM {TABLE} WHERE id = ? AND kind = ?")).bind(id).bind(kind).fetch_optional(db).await?;
        row.map(|r| stored(&r)).transpose()
    }

    /// Runs of `kind` (every kind for `None`), newest first: those waiting for MySQL, then a page of the table
    /// (`page` from 0, `per_page` up to [`PAGE_MAX`]).
    pub async fn list(&self, db: &MySqlPool, kind: Option<&str>, page: u32, per_page: u32) -> AppResult<Vec<StoredRun>> {
        self.ensure_table(db).await?;
        let per_page = per_page.clamp(1, PAGE_MAX);
        let sql = match kind {
            Some(_) => format!("SELECT {COLUMNS} FROM {TABLE} WHERE kind = ? ORDER BY id DESC LIMIT ? OFFSET ?"),
            None => format!("SELECT {COLUMNS} FROM {TABLE} ORDER BY id DESC LIMIT ? OFFSET ?"),
        };
        let mut query = sqlx::query(&sql);
        if let Some(kind) = kind {
            query = query.bind(kind);
        }
        let rows = query.bind(per_page).bind(u64::from(page) * u64::from(per_page)).fetch_all(db).await?;
        let mut runs = if page == 0 {
            let mut waiting: Vec<StoredRun> = self.pending.lock().expect("pending runs").clone();
            waiting.retain(|r| kind.is_none_or(|k| r.kind == k));
            waiting.sort_by_key(|r| std::cmp::Reverse(r.id));
            waiting
        } else {
            Vec::new()
        };
        for row in &rows {
            runs.push(stored(row)?);
        }
        Ok(runs)
    }

    /// Removes run `id` from the table (and from the runs waiting for it); whether there was one.
    pub async fn delete(&self, db: &MySqlPool, id: u64) -> AppResult<bool> {
        let waiting = {
            let mut pending = self.pending.lock().expect("pending runs");
            let before = pending.len();
            pending.retain(|r| r.id != id);
            before != pending.len()
        };
        self.ensure_table(db).await?;
        let deleted = sqlx::query(&format!("DELETE FROM {TABLE} WHERE id = ?")).bind(id).execute(db).await?.rows_affected();
        Ok(waiting || deleted > 0)
    }

    /// Whether run `id` is kept in the table (not only waiting in memory).
    pub fn is_pending(&self, id: u64) -> bool {
        self.pending.lock().expect("pending runs").iter().any(|r| r.id == id)
    }
}

const COLUMNS: &str = "id, kind, state, spec, report, started_at_ms, ended_at_ms, version, report_schema";

fn stored(row: &sqlx::mysql::MySqlRow) -> AppResult<StoredRun> {
    let text = |name: &str| -> AppResult<String> {
        // MariaDB keeps JSON as LONGTEXT, MySQL as its own type; both read as text.
        row.try_get::<String, _>(name)
            .or_else(|_| row.try_get::<Vec<u8>, _>(name).map(|b| String::from_utf8_lossy(&b).into_owned()))
            .map_err(AppError::from)
    };
    let json = |name: &str| -> AppResult<serde_json::Value> {
        serde_json::from_str(&text(name)?).map_err(|e| AppError::Internal(format!("a kept run's {name} is not JSON: {e}")))
    };
    Ok(StoredRun {
        id: row.try_get("id")?,
        kind: text("kind")?,
        state: text("state")?,
        spec: json("spec")?,
        report: json("report")?,
        started_at_ms: row.try_get("started_at_ms")?,
        ended_at_ms: row.try_get("ended_at_ms")?,
        version: text("version")?,
        schema: row.try_get("report_schema")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_only_grow() {
        let ids: Vec<u64> = (0..1000).map(|_| new_run_id()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        assert!(ids[0] > 1_700_000_000_000_000, "microseconds since the epoch");
        assert!(ids[999] < (1 << 53), "exact as a JavaScript number");
    }

    #[test]
    fn a_report_from_another_version_says_why_it_cannot_be_read() {
        #[derive(Serialize, Deserialize, Debug)]
        struct Report {
            id: u64,
            state: String,
            spec: serde_json::Value,
            started_at_ms: u64,
            needed: u32,
        }
        let report = Report { id: 7, state: "done".into(), spec: serde_json::json!({"n": 1}), started_at_ms: 5, needed: 3 };
        let mut row = StoredRun::of("bench", &report).unwrap();
        assert_eq!((row.id, row.state.as_str(), row.spec["n"].as_u64(), row.started_at_ms), (7, "done", Some(1), 5));
        assert_eq!(row.decode::<Report>().unwrap().needed, 3);
        row.report.as_object_mut().unwrap().remove("needed");
        row.schema = 0;
        row.version = "0.0.9".into();
        let why = row.decode::<Report>().unwrap_err().to_string();
        assert!(why.contains("bench 7 was kept by cachelens 0.0.9 (report schema 0)") && why.contains("needed"), "{why}");
    }
}
