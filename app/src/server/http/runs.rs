//! The endpoints every kind of background run has, a benchmark's and a lab's alike: the list (newest first,
//! from the run history), its report, cancelling it, following it as server-sent events, and its CSV and JSON
//! downloads, under `/api/<kind>` and `/api/<kind>/{id}`; and the history of every kind, `/api/runs`. A run
//! from before a restart opens, follows (one `done` event) and downloads as it did.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::{
    extract::{Path, Query, State},
    http::header,
    response::{
        sse::{Event, KeepAlive, Sse},
        IntoResponse, Response,
    },
    routing::{delete, get, post},
    Json, Router,
};
use futures::Stream;

use crate::error::AppError;
use crate::server::state::run_history::RunSummary;
use crate::server::state::AppState;

/// How often the event stream sends the run's state.
const PROGRESS_EVERY: Duration = Duration::from_millis(200);

/// A kind of run the API serves.
pub(crate) trait RunApi: Send + Sync + 'static {
    type Report: serde::Serialize + serde::de::DeserializeOwned + Clone + Send + Sync;
    /// The path segment (`bench`, `lab`), also in the downloads' names and the run history.
    const KIND: &'static str;
    /// A run this process holds (running, or finished a moment ago).
    fn live(state: &AppState, id: u64) -> Option<Arc<Self>>;
    /// Every run this process holds, newest first.
    fn live_reports(state: &AppState) -> Vec<Self::Report>;
    fn report(&self) -> Self::Report;
    /// A report read back from the run history, completed with what its wire form leaves out.
    fn restored(report: Self::Report) -> Self::Report {
        report
    }
    fn id(report: &Self::Report) -> u64;
    fn finished(report: &Self::Report) -> bool;
    fn csv(report: &Self::Report) -> String;
    fn cancel(&self);
    fn wait(&self) -> impl std::future::Future<Output = ()> + Send;
}

/// A run found by id: one this process holds, or one the run history kept (from before a restart, say).
pub(crate) enum Found<R: RunApi> {
    Live(Arc<R>),
    Kept(R::Report),
}

impl<R: RunApi> Found<R> {
    pub(crate) fn report(&self) -> R::Report {
        match self {
            Self::Live(run) => run.report(),
            Self::Kept(report) => report.clone(),
        }
    }
}

/// The run `id` of kind `R`, wherever it is.
pub(crate) async fn find<R: RunApi>(state: &AppState, id: u64) -> Result<Found<R>, AppError> {
    if let Some(run) = R::live(state, id) {
        return Ok(Found::Live(run));
    }
    match state.history.get(&state.db, R::KIND, id).await? {
        Some(row) => Ok(Found::Kept(R::restored(row.decode()?))),
        None => Err(AppError::NotFound(format!("no {} run {id}", R::KIND))),
    }
}

/// The runs of kind `R` newest first: the ones this process holds that the history does not have yet, then a
/// page of the history (reports this version cannot read are left out here; `/api/runs` lists them). With MySQL
/// away, the runs in memory and those waiting to be written.
pub(crate) async fn recent<R: RunApi>(state: &AppState) -> Result<Vec<R::Report>, AppError> {
    let kept = match state.history.list(&state.db, Some(R::KIND), 0, 20).await {
        Ok(kept) => kept,
        Err(e) if e.is_unavailable() => state.history.unsaved(R::KIND),
        Err(e) => return Err(e),
    };
    let ids: std::collections::HashSet<u64> = kept.iter().map(|r| r.id).collect();
    let mut reports: Vec<R::Report> = R::live_reports(state).into_iter().filter(|r| !ids.contains(&R::id(r))).collect();
    reports.extend(kept.iter().filter_map(|row| row.decode::<R::Report>().ok()).map(R::restored));
    reports.sort_by_key(|r| std::cmp::Reverse(R::id(r)));
    Ok(reports)
}

pub(crate) fn routes<R: RunApi>() -> Router<AppState> {
    let base = format!("/api/{}", R::KIND);
    Router::new()
        .route(&base, get(list::<R>))
        .route(&format!("{base}/{{id}}"), get(report::<R>))
        .route(&format!("{base}/{{id}}/cancel"), post(cancel::<R>))
        .route(&format!("{base}/{{id}}/events"), get(events::<R>))
        .route(&format!("{base}/{{id}}/csv"), get(csv::<R>))
        .route(&format!("{base}/{{id}}/json"), get(json_download::<R>))
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
    let running = state.benches.get(id).is_some_and(|r| r.is_running()) || state.labs.get(id).is_some_and(|r| r.is_running());
    if running {
        return Err(AppError::Conflict(format!("run {id} is still running: cancel it first")));
    }
    let in_memory = state.benches.forget(id) | state.labs.forget(id);
    if state.history.delete(&state.db, id).await? || in_memory {
        Ok(())
    } else {
        Err(AppError::NotFound(format!("no run {id}")))
    }
}

async fn list<R: RunApi>(State(state): State<AppState>) -> Result<Response, AppError> {
    Ok(Json(recent::<R>(&state).await?).into_response())
}

async fn report<R: RunApi>(State(state): State<AppState>, Path(id): Path<u64>) -> Result<Response, AppError> {
    Ok(Json(find::<R>(&state, id).await?.report()).into_response())
}

/// Answers once the run has stopped, with its final report.
async fn cancel<R: RunApi>(State(state): State<AppState>, Path(id): Path<u64>) -> Result<Response, AppError> {
    let found = find::<R>(&state, id).await?;
    if let Found::Live(run) = &found {
        run.cancel();
        run.wait().await;
    }
    Ok(Json(found.report()).into_response())
}

async fn events<R: RunApi>(State(state): State<AppState>, Path(id): Path<u64>) -> Result<Response, AppError> {
    Ok(Sse::new(progress(find::<R>(&state, id).await?)).keep_alive(KeepAlive::default()).into_response())
}

/// The report every PROGRESS_EVERY while the run lasts, then the final one as event `done`, then the end. A
/// kept run is finished: one `done` event.
fn progress<R: RunApi>(found: Found<R>) -> impl Stream<Item = Result<Event, Infallible>> {
    futures::stream::unfold(Some(found), |found| async move {
        let found = found?;
        let report = found.report();
        let event = Event::default().json_data(&report).unwrap_or_else(|_| Event::default().data("{}"));
        let run = match found {
            Found::Live(run) if !R::finished(&report) => run,
            _ => return Some((Ok(event.event("done")), None)),
        };
        tokio::select! {
            _ = tokio::time::sleep(PROGRESS_EVERY) => {}
            _ = run.wait() => {}
        }
        Some((Ok(event), Some(Found::Live(run))))
    })
}

async fn csv<R: RunApi>(State(state): State<AppState>, Path(id): Path<u64>) -> Result<Response, AppError> {
    let body = R::csv(&find::<R>(&state, id).await?.report());
    Ok(download(body, "text/csv; charset=utf-8", &format!("cachelens-{}-{id}.csv", R::KIND)))
}

async fn json_download<R: RunApi>(State(state): State<AppState>, Path(id): Path<u64>) -> Result<Response, AppError> {
    let body = serde_json::to_string_pretty(&find::<R>(&state, id).await?.report()).expect("reports serialize");
    Ok(download(body, "application/json", &format!("cachelens-{}-{id}.json", R::KIND)))
}

fn download(body: String, content_type: &'static str, filename: &str) -> Response {
    let disposition = format!("attachment; filename=\"{filename}\"");
    ([(header::CONTENT_TYPE, content_type.to_string()), (header::CONTENT_DISPOSITION, disposition)], body).into_response()
}
