//! The lab API, shaped like the benchmark's: start and list here; follow, cancel and export through
//! [`super::runs`].
//!
//! `POST /api/lab` → 202 `{"id"}` (409 while a lab or benchmark run is going, 400 naming a value out of range);
//! `GET /api/lab` lists runs, newest first; `GET /api/lab/{id}`; `GET /api/lab/{id}/events`;
//! `POST /api/lab/{id}/cancel`; `GET /api/lab/{id}/csv` and `/json`.

use std::sync::Arc;

use axum::{
    body::Bytes,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::post,
    Json, Router,
};

use super::runs::{self, RunApi};
use crate::error::AppError;
use crate::lab::{LabReport, LabSpec};
use crate::server::lab::{self, LabRun};
use crate::server::state::AppState;

pub fn routes(state: AppState) -> Router {
    Router::new().route("/api/lab", post(start)).merge(runs::routes::<LabRun>()).with_state(state)
}

impl RunApi for LabRun {
    type Report = LabReport;
    const KIND: &'static str = LabRun::KIND;
    fn live(state: &AppState, id: u64) -> Option<Arc<Self>> {
        state.labs.get(id)
    }
    fn live_reports(state: &AppState) -> Vec<LabReport> {
        state.labs.list()
    }
    fn report(&self) -> LabReport {
        LabRun::report(self)
    }
    fn id(report: &LabReport) -> u64 {
        report.id
    }
    fn finished(report: &LabReport) -> bool {
        report.finished()
    }
    fn csv(report: &LabReport) -> String {
        report.to_csv()
    }
    fn cancel(&self) {
        LabRun::cancel(self)
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
