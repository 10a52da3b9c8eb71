//! The benchmark API: start, follow (JSON or a server-sent event stream), cancel, export.
//!
//! `POST /api/bench` → 202 `{"id"}`; `GET /api/bench` lists runs, newest first; `GET /api/bench/{id}` is the
//! run's report (`results` once it ended); `GET /api/bench/{id}/events` streams the report while it runs;
//! `POST /api/bench/{id}/cancel`; `GET /api/bench/{id}/csv` and `/json` download it.

use std::convert::Infallible;
use std::time::Duration;

use axum::{
    body::Bytes,
    extract::{Path, State},
    http::{header, StatusCode},
    response::{
        sse::{Event, KeepAlive, Sse},
        IntoResponse, Response,
    },
    routing::{get, post},
    Json, Router,
};
use futures::Stream;

use crate::bench::BenchSpec;
use crate::error::AppError;
use crate::server::bench::{self, BenchRun};
use crate::server::state::AppState;

/// How often the event stream sends the run's state.
const PROGRESS_EVERY: Duration = Duration::from_millis(200);

pub fn routes(state: AppState) -> Router {
    Router::new()
        .route("/api/bench", post(start).get(list))
        .route("/api/bench/{id}", get(report))
        .route("/api/bench/{id}/cancel", post(cancel))
        .route("/api/bench/{id}/events", get(events))
        .route("/api/bench/{id}/csv", get(csv))
        .route("/api/bench/{id}/json", get(json_download))
        .with_state(state)
}

async fn start(State(state): State<AppState>, body: Bytes) -> Result<Response, AppError> {
    let spec: BenchSpec = serde_json::from_slice(&body).map_err(|e| {
        AppError::Invalid(format!("body must be JSON {{\"iterations\": n, \"concurrency\": c, \"paths\": [\"mysql\", \"cache\"]}}: {e}"))
    })?;
    let run = bench::start(&state, spec)?;
    Ok((StatusCode::ACCEPTED, Json(serde_json::json!({ "id": run.id }))).into_response())
}

async fn list(State(state): State<AppState>) -> Response {
    Json(state.benches.list()).into_response()
}

fn find(state: &AppState, id: u64) -> Result<std::sync::Arc<BenchRun>, AppError> {
    state.benches.get(id).ok_or_else(|| AppError::NotFound(format!("no benchmark {id} (only the last runs are kept)")))
}

async fn report(State(state): State<AppState>, Path(id): Path<u64>) -> Result<Response, AppError> {
    Ok(Json(find(&state, id)?.report()).into_response())
}

async fn cancel(State(state): State<AppState>, Path(id): Path<u64>) -> Result<Response, AppError> {
    let run = find(&state, id)?;
    run.cancel();
    run.wait().await;
    Ok(Json(run.report()).into_response())
}

async fn events(State(state): State<AppState>, Path(id): Path<u64>) -> Result<Response, AppError> {
    Ok(Sse::new(progress(find(&state, id)?)).keep_alive(KeepAlive::default()).into_response())
}

/// A run whose reports an event stream follows: a benchmark's or a lab's.
pub(crate) trait Followed: Send + Sync + 'static {
    type Report: serde::Serialize;
    fn report(&self) -> Self::Report;
    fn finished(report: &Self::Report) -> bool;
    fn wait(&self) -> impl std::future::Future<Output = ()> + Send;
}

impl Followed for BenchRun {
    type Report = crate::bench::BenchReport;
    fn report(&self) -> Self::Report {
        BenchRun::report(self)
    }
    fn finished(report: &Self::Report) -> bool {
        report.finished()
    }
    async fn wait(&self) {
        BenchRun::wait(self).await
    }
}

/// The report every PROGRESS_EVERY while the run lasts, then the final one, then the end of the stream.
pub(crate) fn progress<R: Followed>(run: std::sync::Arc<R>) -> impl Stream<Item = Result<Event, Infallible>> {
    futures::stream::unfold(Some(run), |run| async move {
        let run = run?;
        let report = run.report();
        let event = Event::default().json_data(&report).unwrap_or_else(|_| Event::default().data("{}"));
        if R::finished(&report) {
            return Some((Ok(event.event("done")), None));
        }
        tokio::select! {
            _ = tokio::time::sleep(PROGRESS_EVERY) => {}
            _ = run.wait() => {}
        }
        Some((Ok(event), Some(run)))
    })
}

async fn csv(State(state): State<AppState>, Path(id): Path<u64>) -> Result<Response, AppError> {
    Ok(download(find(&state, id)?.report().to_csv(), "text/csv; charset=utf-8", &format!("cachelens-bench-{id}.csv")))
}

async fn json_download(State(state): State<AppState>, Path(id): Path<u64>) -> Result<Response, AppError> {
    let body = serde_json::to_string_pretty(&find(&state, id)?.report()).expect("reports serialize");
    Ok(download(body, "application/json", &format!("cachelens-bench-{id}.json")))
}

pub(crate) fn download(body: String, content_type: &'static str, filename: &str) -> Response {
    let disposition = format!("attachment; filename=\"{filename}\"");
    ([(header::CONTENT_TYPE, content_type.to_string()), (header::CONTENT_DISPOSITION, disposition)], body).into_response()
}
