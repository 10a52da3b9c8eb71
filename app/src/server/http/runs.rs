//! The endpoints every kind of background run has, a benchmark's and a lab's alike, under `/api/<kind>`:
//!
//! `POST /api/<kind>` → 202 `{"id"}` (400 naming a value out of range, 409 while another run of any kind goes);
//! `GET /api/<kind>` lists runs, newest first (from the run history); `GET /api/<kind>/{id}` is the run's report;
//! `GET /api/<kind>/{id}/events` streams it while it runs; `POST /api/<kind>/{id}/cancel`;
//! `GET /api/<kind>/{id}/csv` and `/json` download it; `GET /api/<kind>/{id}/compare/{other}` is both side by
//! side with the difference per metric. And the history of every kind: `GET /api/runs`,
//! `DELETE /api/runs/{id}`. A run from before a restart opens, follows (one `done` event) and downloads as it did.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::{
    body::Bytes,
    extract::{Path, Query, State},
    http::{header, StatusCode},
    response::{
        sse::{Event, KeepAlive, Sse},
        IntoResponse, Response,
    },
    routing::{delete, get, post},
    Json, Router,
};
use futures::Stream;

use crate::compare::{Comparison, RunChoice, RunChoices};
use crate::error::AppError;
use crate::server::bench::BenchRun;
use crate::server::lab::LabRun;
use crate::server::state::run_history::RunSummary;
use crate::server::state::runs::{Run, RunReport};
use crate::server::state::AppState;

/// How often the event stream sends the run's state.
const PROGRESS_EVERY: Duration = Duration::from_millis(200);

/// A run found by id: one this process holds, or one the run history kept (from before a restart, say).
pub(crate) enum Found<R: Run> {
    Live(Arc<R>),
    Kept(R::Report),
}

impl<R: Run> Found<R> {
    pub(crate) fn report(&self) -> R::Report {
        match self {
            Self::Live(run) => run.report(),
            Self::Kept(report) => report.clone(),
        }
    }
}

/// Cancels run `id` of kind `R` if it is going, and answers once it has stopped.
pub(crate) async fn cancel_run<R: Run>(state: &AppState, id: u64) {
    if let Some(run) = state.registry.get::<R>(id) {
        run.core().stop().await;
    }
}

/// The run `id` of kind `R`, wherever it is.
pub(crate) async fn find<R: Run>(state: &AppState, id: u64) -> Result<Found<R>, AppError> {
    if let Some(run) = state.registry.get::<R>(id) {
        return Ok(Found::Live(run));
    }
    match state.history.get(&state.db, R::KIND, id).await? {
        Some(row) => Ok(Found::Kept(row.decode::<R::Report>()?.restored())),
        None => Err(AppError::NotFound(format!("no {} run {id}", R::KIND))),
    }
}

/// The runs of kind `R` newest first: the ones this process holds that the history does not have yet, then a
/// page of the history (reports this version cannot read are left out here; `/api/runs` lists them). With MySQL
/// away, the runs in memory and those waiting to be written.
pub(crate) async fn recent<R: Run>(state: &AppState) -> Result<Vec<R::Report>, AppError> {
    let kept = match state.history.list(&state.db, Some(R::KIND), 0, 20).await {
        Ok(kept) => kept,
        Err(e) if e.is_unavailable() => state.history.unsaved(R::KIND),
        Err(e) => return Err(e),
    };
    let ids: std::collections::HashSet<u64> = kept.iter().map(|r| r.id).collect();
    let mut reports: Vec<R::Report> = state.registry.list::<R>().into_iter().filter(|r| !ids.contains(&r.id())).collect();
    reports.extend(kept.iter().filter_map(|row| row.decode::<R::Report>().ok()).map(RunReport::restored));
    reports.sort_by_key(|r| std::cmp::Reverse(r.id()));
    Ok(reports)
}

/// The endpoints of kind `R`.
pub(crate) fn routes<R: Run>(state: AppState) -> Router {
    let base = format!("/api/{}", R::KIND);
    Router::new()
        .route(&base, get(list::<R>).post(start::<R>))
        .route(&format!("{base}/{{id}}"), get(report::<R>))
        .route(&format!("{base}/{{id}}/cancel"), post(cancel::<R>))
        .route(&format!("{base}/{{id}}/events"), get(events::<R>))
        .route(&format!("{base}/{{id}}/csv"), get(csv::<R>))
        .route(&format!("{base}/{{id}}/json"), get(json_download::<R>))
        .route(&format!("{base}/{{id}}/compare/{{other}}"), get(compare_route::<R>))
        .with_state(state)
}

async fn start<R: Run>(State(state): State<AppState>, body: Bytes) -> Result<Response, AppError> {
    let spec: R::Spec =
        serde_json::from_slice(&body).map_err(|e| AppError::Invalid(format!("body must be JSON {}: {e}", R::SPEC_SHAPE)))?;
    let run = state.registry.start::<R>(&state, spec)?;
    Ok((StatusCode::ACCEPTED, Json(serde_json::json!({ "id": run.core().id }))).into_response())
}

/// Run `a` of kind `R` beside run `b` of the same kind.
pub(crate) async fn compare<R: Run>(state: &AppState, a: u64, b: u64) -> Result<Comparison, AppError> {
    let (first, second) = (find::<R>(state, a).await?.report(), find::<R>(state, b).await?.report());
    Ok(Comparison { kind: R::KIND.into(), a, b, rows: crate::compare::compare(&first.metrics(), &second.metrics()) })
}

/// The kind of run `id`: one in progress or just finished, or one the history keeps.
pub(crate) async fn kind_of(state: &AppState, id: u64) -> Result<&'static str, AppError> {
    if holds::<BenchRun>(state, id).await? {
        return Ok(BenchRun::KIND);
    }
    if holds::<LabRun>(state, id).await? {
        return Ok(LabRun::KIND);
    }
    Err(AppError::NotFound(format!("no run {id}")))
}

/// Whether run `id` is of kind `R`, in memory or in the history.
async fn holds<R: Run>(state: &AppState, id: u64) -> Result<bool, AppError> {
    Ok(state.registry.get::<R>(id).is_some() || state.history.get(&state.db, R::KIND, id).await?.is_some())
}

/// The finished runs of kind `R` to choose from, newest first, with how many wait for MySQL.
pub(crate) async fn choices<R: Run>(state: &AppState) -> Result<RunChoices, AppError> {
    let finished: Vec<R::Report> = recent::<R>(state).await?.into_iter().filter(|r| r.finished()).collect();
    let label = |r: &R::Report| format!("{} · {}", crate::stats::utc_minute(r.started_at_ms()), r.summary());
    Ok(RunChoices {
        unsaved: finished.iter().filter(|r| state.history.is_pending(r.id())).count() as u32,
        runs: finished.iter().map(|r| RunChoice { id: r.id(), label: label(r) }).collect(),
    })
}

/// [`choices`] for a kind named at run time.
pub(crate) async fn choices_of_kind(state: &AppState, kind: &str) -> Result<RunChoices, AppError> {
    match kind {
        BenchRun::KIND => choices::<BenchRun>(state).await,
        LabRun::KIND => choices::<LabRun>(state).await,
        other => Err(unknown_kind(other)),
    }
}

fn unknown_kind(kind: &str) -> AppError {
    AppError::Invalid(format!("kind must be {} or {}, got {kind:?}", BenchRun::KIND, LabRun::KIND))
}

/// [`compare`] for a kind named at run time (the pages' server function, the CLI).
pub(crate) async fn compare_of_kind(state: &AppState, kind: &str, a: u64, b: u64) -> Result<Comparison, AppError> {
    match kind {
        BenchRun::KIND => compare::<BenchRun>(state, a, b).await,
        LabRun::KIND => compare::<LabRun>(state, a, b).await,
        other => Err(unknown_kind(other)),
    }
}

async fn compare_route<R: Run>(State(state): State<AppState>, Path((a, b)): Path<(u64, u64)>) -> Result<Response, AppError> {
    Ok(Json(compare::<R>(&state, a, b).await?).into_response())
}

/// The run history of every kind: `GET /api/runs?kind=…&page=…&per_page=…` and `DELETE /api/runs/{id}`.
pub(crate) fn history_routes(state: AppState) -> Router {
    Router::new().route("/api/runs", get(history)).route("/api/runs/{id}", delete(remove)).with_state(state)
}

#[derive(serde::Deserialize)]
struct HistoryQuery {
    kind: Option<String>,
    #[serde(default)]
    page: u32,
    per_page: Option<u32>,
}

async fn history(State(state): State<AppState>, Query(q): Query<HistoryQuery>) -> Result<Response, AppError> {
    let runs = state.history.list(&state.db, q.kind.as_deref(), q.page, q.per_page.unwrap_or(20)).await?;
    let summaries: Vec<RunSummary> =
        runs.iter().map(|r| RunSummary { saved: !state.history.is_pending(r.id), ..RunSummary::from(r) }).collect();
    Ok(Json(summaries).into_response())
}

async fn remove(State(state): State<AppState>, Path(id): Path<u64>) -> Result<Response, AppError> {
    delete_run(&state, id).await?;
    Ok(axum::http::StatusCode::NO_CONTENT.into_response())
}

/// Deletes a finished run from the history and from memory, for every kind; a running one must be cancelled
/// first (409).
pub(crate) async fn delete_run(state: &AppState, id: u64) -> Result<(), AppError> {
    if state.registry.is_running(id) {
        return Err(AppError::Conflict(format!("run {id} is still running: cancel it first")));
    }
    let in_memory = state.registry.forget(id);
    if state.history.delete(&state.db, id).await? || in_memory {
        Ok(())
    } else {
        Err(AppError::NotFound(format!("no run {id}")))
    }
}

async fn list<R: Run>(State(state): State<AppState>) -> Result<Response, AppError> {
    Ok(Json(recent::<R>(&state).await?).into_response())
}

async fn report<R: Run>(State(state): State<AppState>, Path(id): Path<u64>) -> Result<Response, AppError> {
    Ok(Json(find::<R>(&state, id).await?.report()).into_response())
}

/// Answers once the run has stopped, with its final report.
async fn cancel<R: Run>(State(state): State<AppState>, Path(id): Path<u64>) -> Result<Response, AppError> {
    let found = find::<R>(&state, id).await?;
    if let Found::Live(run) = &found {
        run.core().stop().await;
    }
    Ok(Json(found.report()).into_response())
}

async fn events<R: Run>(State(state): State<AppState>, Path(id): Path<u64>) -> Result<Response, AppError> {
    Ok(Sse::new(progress(find::<R>(&state, id).await?)).keep_alive(KeepAlive::default()).into_response())
}

/// The report every PROGRESS_EVERY while the run lasts, then the final one as event `done`, then the end. A
/// kept run is finished: one `done` event.
fn progress<R: Run>(found: Found<R>) -> impl Stream<Item = Result<Event, Infallible>> {
    futures::stream::unfold(Some(found), |found| async move {
        let found = found?;
        let report = found.report();
        let event = Event::default().json_data(&report).unwrap_or_else(|_| Event::default().data("{}"));
        let run = match found {
            Found::Live(run) if !report.finished() => run,
            _ => return Some((Ok(event.event("done")), None)),
        };
        tokio::select! {
            _ = tokio::time::sleep(PROGRESS_EVERY) => {}
            _ = run.core().wait() => {}
        }
        Some((Ok(event), Some(Found::Live(run))))
    })
}

async fn csv<R: Run>(State(state): State<AppState>, Path(id): Path<u64>) -> Result<Response, AppError> {
    let body = find::<R>(&state, id).await?.report().to_csv();
    Ok(download(body, "text/csv; charset=utf-8", &format!("cachelens-{}-{id}.csv", R::KIND)))
}

async fn json_download<R: Run>(State(state): State<AppState>, Path(id): Path<u64>) -> Result<Response, AppError> {
    let body = serde_json::to_string_pretty(&find::<R>(&state, id).await?.report()).expect("reports serialize");
    Ok(download(body, "application/json", &format!("cachelens-{}-{id}.json", R::KIND)))
}

fn download(body: String, content_type: &'static str, filename: &str) -> Response {
    let disposition = format!("attachment; filename=\"{filename}\"");
    ([(header::CONTENT_TYPE, content_type.to_string()), (header::CONTENT_DISPOSITION, disposition)], body).into_response()
}
