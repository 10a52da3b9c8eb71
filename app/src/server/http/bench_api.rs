//! The benchmark API: start and list here; follow (JSON or a server-sent event stream), cancel and export
//! through [`super::runs`].
//!
//! `POST /api/bench` → 202 `{"id"}`; `GET /api/bench` lists runs, newest first; `GET /api/bench/{id}` is the
//! run's report (`results` once it ended); `GET /api/bench/{id}/events` streams the report while it runs;
//! `POST /api/bench/{id}/cancel`; `GET /api/bench/{id}/csv` and `/json` download it.

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
use crate::bench::{BenchReport, BenchSpec};
use crate::error::AppError;
use crate::server::bench::{self, BenchRun};
use crate::server::state::AppState;

pub fn routes(state: AppState) -> Router {
    Router::new().route("/api/bench", post(start)).merge(runs::routes::<BenchRun>()).with_state(state)
}

impl RunApi for BenchRun {
    type Report = BenchReport;
    const KIND: &'static str = BenchRun::KIND;
    fn live(state: &AppState, id: u64) -> Option<Arc<Self>> {
        state.benches.get(id)
    }
    fn live_reports(state: &AppState) -> Vec<BenchReport> {
        state.benches.list()
    }
    fn report(&self) -> BenchReport {
        BenchRun::report(self)
    }
    fn restored(report: BenchReport) -> BenchReport {
        report.with_results()
    }
    fn id(report: &BenchReport) -> u64 {
        report.id
    }
    fn finished(report: &BenchReport) -> bool {
        report.finished()
    }
    fn csv(report: &BenchReport) -> String {
        report.to_csv()
    }
    fn cancel(&self) {
        BenchRun::cancel(self)
    }
    async fn wait(&self) {
        BenchRun::wait(self).await
    }
}

async fn start(State(state): State<AppState>, body: Bytes) -> Result<Response, AppError> {
    let spec: BenchSpec = serde_json::from_slice(&body).map_err(|e| {
        AppError::Invalid(format!("body must be JSON {{\"iterations\": n, \"concurrency\": c, \"paths\": [\"mysql\", \"cache\"]}}: {e}"))
    })?;
    let run = bench::start(&state, spec)?;
    Ok((StatusCode::ACCEPTED, Json(serde_json::json!({ "id": run.id }))).into_response())
}
