//! The lab API: start, follow (JSON or a server-sent event stream), cancel, export; shaped like the
//! benchmark's.
//!
//! `POST /api/lab` → 202 `{"id"}` (409 while a lab or benchmark run is going, 400 naming a value out of range);
//! `GET /api/lab` lists runs, newest first; `GET /api/lab/{id}`; `GET /api/lab/{id}/events`;
//! `POST /api/lab/{id}/cancel`; `GET /api/lab/{id}/csv` and `/json`.

use std::sync::Arc;

use axum::{
    body::Bytes,
    extract::{Path, State},
    http::StatusCode,
    response::{sse::{KeepAlive, Sse}, IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};

use super::bench_api::{download, progress, Followed};
use crate::error::AppError;
use crate::lab::{LabReport, LabSpec};
use crate::server::lab::{self, LabRun};
use crate::server::state::AppState;

pub fn routes(state: AppState) -> Router {
    Router::new()
        .route("/api/lab", post(start).get(list))
        .route("/api/lab/{id}", get(report))
        .route("/api/lab/{id}/cancel", post(cancel))
        .route("/api/lab/{id}/events", get(events))
        .route("/api/lab/{id}/csv", get(csv))
        .route("/api/lab/{id}/json", get(json_download))
        .with_state(state)
}

impl Followed for LabRun {
    type Report = LabReport;
    fn report(&self) -> LabReport {
        LabRun::report(self)
    }
    fn finished(report: &LabReport) -> bool {
        report.finished()
    }
    async fn wait(&self) {
        LabRun::wait(self).await
    }
}

async fn start(State(state): State<AppState>, body: Bytes) -> Result<Response, AppError> {
    let spec: LabSpec = serde_json::from_slice(&body).map_err(|e| {
        AppError::Invalid(format!(
            "body must be JSON {{\"strategies\": [\"none\", \"ttl\", …], \"items\": 1000, \"zipf\": 1.0, \"read_ratio\": 0.9, …}}: {e}"
        ))
    })?;
    let run = lab::start(&state, spec)?;
    Ok((StatusCode::ACCEPTED, Json(serde_json::json!({ "id": run.id }))).into_response())
}

async fn list(State(state): State<AppState>) -> Response {
    Json(state.labs.list()).into_response()
}

fn find(state: &AppState, id: u64) -> Result<Arc<LabRun>, AppError> {
    state.labs.get(id).ok_or_else(|| AppError::NotFound(format!("no lab run {id} (only the last runs are kept)")))
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

async fn csv(State(state): State<AppState>, Path(id): Path<u64>) -> Result<Response, AppError> {
    Ok(download(find(&state, id)?.report().to_csv(), "text/csv; charset=utf-8", &format!("cachelens-lab-{id}.csv")))
}

async fn json_download(State(state): State<AppState>, Path(id): Path<u64>) -> Result<Response, AppError> {
    let body = serde_json::to_string_pretty(&find(&state, id)?.report()).expect("reports serialize");
    Ok(download(body, "application/json", &format!("cachelens-lab-{id}.json")))
}
