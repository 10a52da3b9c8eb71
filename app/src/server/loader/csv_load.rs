//! `cachelens load-data`: streams a CSV in the seed's format into a staging table, then swaps it in.
//!
//! Nothing is visible until every row has been read and inserted: a bad row stops the load with
//! `file:line: reason`, drops the staging table, and leaves `articles` exactly as it was.

use crate::error::{AppError, AppResult};
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use sqlx::mysql::MySqlPool;
use sqlx::QueryBuilder;

use crate::server::loader::dataset::{self, COLUMNS, STAGING};
use crate::server::loader::progress::Progress;

/// Rows per INSERT: 13 parameters a row stays well under MySQL's 65 535 placeholders, and statements this
/// size amortise the round trip.
const BATCH_ROWS: usize = 2000;

#[derive(Debug)]
pub struct LoadReport {
    pub rows: u64,
    /// False when the same source was already loaded and nothing was done.
    pub loaded: bool,
    pub source: String,
}

/// A validated row, in `COLUMNS` order.
struct Row {
    object_id: i32,
    fields: Vec<String>,
}

pub async fn load_csv(db: &MySqlPool, path: &Path, force: bool, progress: &mut Progress) -> AppResult<LoadReport> {
    let source = path.display().to_string();
    let checksum = file_checksum(path)?;
    // Read (and on first use create) the load record before anything else, forced or not.
    if let Some(current) = dataset::current_record(db).await? {
        if !force && current.checksum == checksum && dataset::table_exists(db, dataset::TABLE).await? {
            return Ok(LoadReport { rows: current.row_count, loaded: false, source });
        }
    }

    dataset::create_staging(db).await?;
    let outcome = insert_all(db, path, progress).await;
    let rows = match outcome {
        Ok(rows) => rows,
        Err(e) => {
            let _ = dataset::drop_staging(db).await;
            return Err(e);
        }
    };
    dataset::swap_in(db, &source, &checksum, rows).await?;
    progress.finish(rows);
    Ok(LoadReport { rows, loaded: true, source })
}

fn file_checksum(path: &Path) -> AppResult<String> {
    let mut file = File::open(path).map_err(|e| unreadable(path, e))?;
    let mut hasher = Sha256::new();
    // The table layout is part of what was loaded: a file loaded by an older layout is loaded again.
    hasher.update(dataset::LAYOUT_VERSION.as_bytes());
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).map_err(|e| unreadable(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Reads, validates and inserts every row; returns how many.
async fn insert_all(db: &MySqlPool, path: &Path, progress: &mut Progress) -> AppResult<u64> {
    let file = File::open(path).map_err(|e| unreadable(path, e))?;
    let total_bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
    progress.start_bytes(total_bytes);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        // Rows with the wrong number of fields are reported by us, with their line.
        .flexible(true)
        .from_reader(BufReader::with_capacity(1 << 20, file));
    let order = header_order(path, &mut reader)?;

    let mut seen: HashMap<i32, u64> = HashMap::new();
    let mut inserter = Inserter { db: db.clone(), inflight: None };
    let mut batch: Vec<Row> = Vec::with_capacity(BATCH_ROWS);
    let mut record = csv::ByteRecord::new();
    let mut rows = 0u64;
    loop {
        let more = reader.read_byte_record(&mut record).map_err(|e| csv_error(path, e))?;
        if !more {
            break;
        }
        let line = record.position().map_or(0, |p| p.line());
        let row = validate(&record, &order).map_err(|why| AppError::Invalid(format!("{}:{line}: {why}", path.display())))?;
        if let Some(first) = seen.insert(row.object_id, line) {
            return Err(AppError::Invalid(format!(
                "{}:{line}: duplicate OBJECTID {} (first on line {first})",
                path.display(),
                row.object_id
            )));
        }
        batch.push(row);
        if batch.len() == BATCH_ROWS {
            rows += batch.len() as u64;
            inserter.push(std::mem::replace(&mut batch, Vec::with_capacity(BATCH_ROWS))).await?;
            progress.advance(rows, reader.position().byte());
        }
    }
    rows += batch.len() as u64;
    inserter.push(batch).await?;
    inserter.finish().await?;
    progress.advance(rows, total_bytes);
    Ok(rows)
}

/// Maps the file's header to `COLUMNS`: every seed column must be there once, in any order.
fn header_order(path: &Path, reader: &mut csv::Reader<BufReader<File>>) -> AppResult<Vec<usize>> {
    let header = reader.byte_headers().map_err(|e| csv_error(path, e))?.clone();
    let names: Vec<String> = header.iter().map(|h| String::from_utf8_lossy(h).trim().trim_start_matches('\u{feff}').to_string()).collect();
    let mut order = Vec::with_capacity(COLUMNS.len());
    for column in COLUMNS {
        let found: Vec<usize> = names.iter().enumerate().filter(|(_, n)| n.eq_ignore_ascii_case(column)).map(|(i, _)| i).collect();
        match found.as_slice() {
            [i] => order.push(*i),
            [] => {
                return Err(AppError::Invalid(format!("{}:1: header has no {column} column (found: {})", path.display(), names.join(", "))))
            }
            _ => return Err(AppError::Invalid(format!("{}:1: header has {column} more than once", path.display()))),
        }
    }
    if names.len() != COLUMNS.len() {
        return Err(AppError::Invalid(format!(
            "{}:1: header has {} columns, expected the {} seed columns: {}",
            path.display(),
            names.len(),
            COLUMNS.len(),
            COLUMNS.join(", ")
        )));
    }
    Ok(order)
}

fn validate(record: &csv::ByteRecord, order: &[usize]) -> AppResult<Row> {
    if record.len() != COLUMNS.len() {
        return Err(AppError::Invalid(format!("expected {} fields, found {}", COLUMNS.len(), record.len())));
    }
    let mut fields = Vec::with_capacity(COLUMNS.len());
    for (column, &at) in COLUMNS.iter().zip(order) {
        let raw = &record[at];
        let text = std::str::from_utf8(raw)
            .map_err(|e| AppError::Invalid(format!("{column} is not valid UTF-8 (byte {} of the field)", e.valid_up_to() + 1)))?;
        fields.push(text.to_string());
    }
    let id_text = fields[0].trim();
    let object_id = id_text.parse::<i32>().map_err(|_| AppError::Invalid(format!("OBJECTID {id_text:?} is not an integer")))?;
    Ok(Row { object_id, fields })
}

/// Keeps one INSERT in flight while the reader parses the next batch, so MySQL and the parser work at once.
/// On an error the caller drops the staging table, which waits for an INSERT still running.
struct Inserter {
    db: MySqlPool,
    inflight: Option<tokio::task::JoinHandle<AppResult<()>>>,
}

impl Inserter {
    async fn push(&mut self, batch: Vec<Row>) -> AppResult<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let db = self.db.clone();
        let next = tokio::spawn(async move { insert_batch(&db, &batch).await });
        match self.inflight.replace(next) {
            Some(previous) => joined(previous).await,
            None => Ok(()),
        }
    }

    async fn finish(mut self) -> AppResult<()> {
        match self.inflight.take() {
            Some(last) => joined(last).await,
            None => Ok(()),
        }
    }
}

async fn joined(task: tokio::task::JoinHandle<AppResult<()>>) -> AppResult<()> {
    task.await.map_err(|e| AppError::Internal(format!("inserting rows failed: {e}")))?
}

async fn insert_batch(db: &MySqlPool, batch: &[Row]) -> AppResult<()> {
    let mut q = QueryBuilder::new(format!("INSERT INTO {STAGING} ({}) ", COLUMNS.join(", ")));
    q.push_values(batch, |mut b, row| {
        b.push_bind(row.object_id);
        for field in &row.fields[1..] {
            b.push_bind(field.as_str());
        }
    });
    q.build().execute(db).await?;
    Ok(())
}

fn csv_error(path: &Path, e: csv::Error) -> AppError {
    let line = e.position().map_or(0, |p| p.line());
    AppError::Invalid(format!("{}:{line}: {}", path.display(), e))
}

fn unreadable(path: &Path, e: std::io::Error) -> AppError {
    AppError::Invalid(format!("{}: {e}", path.display()))
}

pub fn default_sample() -> PathBuf {
    PathBuf::from("sample-data/articles.csv")
}
