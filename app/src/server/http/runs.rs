//! The endpoints every kind of background run has, a benchmark's and a lab's alike: its report, cancelling it,
//! following it as server-sent events, and its CSV and JSON downloads, under `/api/<kind>/{id}`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::{
    extract::{Path, State},
    http::header,
    response::{
        sse::{Event, KeepAlive, Sse},
        IntoResponse, Response,
    },
    routing::{get, post},
    Json, Router,
};
use futures::Stream;

use crate::error::AppError;
use crate::server::state::AppState;

/// How often the event stream sends the run's state.
const PROGRESS_EVERY: Duration = Duration::from_millis(200);

/// A kind of run the API serves.
pub(crate) trait RunApi: Send + Sync + 'static {
    type Report: serde::Serialize + Send;
    /// The path segment (`bench`, `lab`), also in the downloads' names.
    const KIND: &'static str;
    fn find(state: &AppState, id: u64) -> Result<Arc<Self>, AppError>;
    fn report(&self) -> Self::Report;
    fn finished(report: &Self::Report) -> bool;
    fn csv(report: &Self::Report) -> String;
    fn cancel(&self);
    fn wait(&self) -> impl std::future::Future<Output = ()> + Send;
}

pub(crate) fn routes<R: RunApi>() -> Router<AppState> {
    let base = format!("/api/{}", R::KIND);
    Router::new()
        .route(&format!("{base}/{{id}}"), get(report::<R>))
        .route(&format!("{base}/{{id}}/cancel"), post(cancel::<R>))
        .route(&format!("{base}/{{id}}/events"), get(events::<R>))
        .route(&format!("{base}/{{id}}/csv"), get(csv::<R>))
        .route(&format!("{base}/{{id}}/json"), get(json_download::<R>))
}

async fn report<R: RunApi>(State(state): State<AppState>, Path(id): Path<u64>) -> Result<Response, AppError> {
    Ok(Json(R::find(&state, id)?.report()).into_response())
}

/// Answers once the run has stopped, with its final report.
async fn cancel<R: RunApi>(State(state): State<AppState>, Path(id): Path<u64>) -> Result<Response, AppError> {
    let run = R::find(&state, id)?;
    run.cancel();
    run.wait().await;
    Ok(Json(run.report()).into_response())
}

async fn events<R: RunApi>(State(state): State<AppState>, Path(id): Path<u64>) -> Result<Response, AppError> {
    Ok(Sse::new(progress(R::find(&state, id)?)).keep_alive(KeepAlive::default()).into_response())
}

/// The report every PROGRESS_EVERY while the run lasts, then the final one as event `done`, then the end.
fn progress<R: RunApi>(run: Arc<R>) -> impl Stream<Item = Result<Event, Infallible>> {
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

async fn csv<R: RunApi>(State(state): State<AppState>, Path(id): Path<u64>) -> Result<Response, AppError> {
    let body = R::csv(&R::find(&state, id)?.report());
    Ok(download(body, "text/csv; charset=utf-8", &format!("cachelens-{}-{id}.csv", R::KIND)))
}

async fn json_download<R: RunApi>(State(state): State<AppState>, Path(id): Path<u64>) -> Result<Response, AppError> {
    let body = serde_json::to_string_pretty(&R::find(&state, id)?.report()).expect("reports serialize");
    Ok(download(body, "application/json", &format!("cachelens-{}-{id}.json", R::KIND)))
}

fn download(body: String, content_type: &'static str, filename: &str) -> Response {
    let disposition = format!("attachment; filename=\"{filename}\"");
    ([(header::CONTENT_TYPE, content_type.to_string()), (header::CONTENT_DISPOSITION, disposition)], body).into_response()
}
