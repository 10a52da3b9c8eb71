//! Benchmark runs: the same cache and MySQL code paths the pages use, driven by N concurrent workers and
//! recorded into a [`BenchRun`] (kept by the state's registry). The page, the API and `cachelens bench` start runs here.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use crate::server::state::bench_runs::MAX_TRACKED_US;
pub use crate::server::state::bench_runs::{standalone, BenchRun};

use crate::bench::{BenchSpec, BenchState};
use crate::error::{AppError, AppResult};
use crate::model::ArticleQuery;
use crate::model::QueryPath;
use crate::server::cache::{self, Lookup};
use crate::server::state::AppState;

/// Checks the spec, registers the run and starts it in the background.
pub fn start(state: &AppState, spec: BenchSpec) -> Result<Arc<BenchRun>, AppError> {
    if let Some(lab) = state.labs.running() {
        return Err(AppError::Conflict(format!("lab run {lab} is running: the benchmark would measure it too; wait for it or cancel it")));
    }
    let run = state.benches.register(spec)?;
    let (state, started) = (state.clone(), run.clone());
    tokio::spawn(async move {
        execute(state.clone(), started.clone()).await;
        state.keep_run(BenchRun::KIND, &started.report()).await;
        // From here the history has it (or holds it until MySQL takes it): every server reads the same runs.
        state.benches.forget(started.id);
    });
    Ok(run)
}

/// Runs every path of `run` in turn and records the outcome into it.
pub async fn execute(state: AppState, run: Arc<BenchRun>) {
    // Benchmark traffic would drown the comparison page's own record.
    let state = state.without_run_log();
    let query = match ArticleQuery::new(Some(&run.spec.term), Some(run.spec.limit)) {
        Ok(q) => q,
        Err(e) => return run.finish(BenchState::Failed, Some(e.to_string())),
    };
    for (i, progress) in run.paths.iter().enumerate() {
        for _ in 0..run.spec.warmup {
            if run.cancel.load(Relaxed) {
                break;
            }
            let _ = one(&state, progress.path, &query, run.spec.ttl).await;
        }
        let next = Arc::new(AtomicU64::new(0));
        let workers: Vec<_> = (0..run.spec.concurrency)
            .map(|_| {
                let (state, run, next, query) = (state.clone(), run.clone(), next.clone(), query.clone());
                tokio::spawn(async move {
                    let progress = &run.paths[i];
                    while !run.cancel.load(Relaxed) && next.fetch_add(1, Relaxed) < run.spec.iterations.into() {
                        match one(&state, progress.path, &query, run.spec.ttl).await {
                            Ok(us) => {
                                let _ = progress.histogram.lock().expect("histogram").record(us.clamp(1, MAX_TRACKED_US));
                            }
                            Err(e) => {
                                progress.errors.fetch_add(1, Relaxed);
                                *progress.last_error.lock().expect("last error") = Some(e.to_string());
                            }
                        }
                        progress.done.fetch_add(1, Relaxed);
                    }
                })
            })
            .collect();
        for worker in workers {
            if let Err(e) = worker.await {
                return run.finish(BenchState::Failed, Some(format!("a benchmark worker stopped: {e}")));
            }
        }
    }
    let report = run.report();
    let answered: u64 = report.paths.iter().map(|p| p.stats.map_or(0, |s| s.count)).sum();
    let state = if run.cancel.load(Relaxed) {
        (BenchState::Cancelled, None)
    } else if answered == 0 {
        let why = report.paths.iter().find_map(|p| p.last_error.clone()).unwrap_or_else(|| "no request succeeded".into());
        (BenchState::Failed, Some(why))
    } else {
        (BenchState::Done, None)
    };
    run.finish(state.0, state.1);
}

/// One request on `path`, returning its server-side time.
async fn one(state: &AppState, path: QueryPath, query: &ArticleQuery, ttl: u64) -> AppResult<u64> {
    let answer = match path {
        QueryPath::Mysql => cache::query_mysql(state, Lookup::Articles(query)).await,
        QueryPath::Cache => cache::query_cache(state, Lookup::Articles(query), ttl).await,
    };
    answer.map(|a| a.elapsed_us)
}
