//! Benchmark runs: the same cache and MySQL code paths the pages use, driven by N concurrent workers and
//! recorded into a [`BenchRun`] (a [`Run`](crate::server::state::runs::Run), started through the state's
//! registry by the page and the API, or on its own by `cachelens bench`).

mod record;

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

pub use record::BenchRun;
use record::MAX_TRACKED_US;

use crate::bench::BenchState;
use crate::error::AppResult;
use crate::model::ArticleQuery;
use crate::model::QueryPath;
use crate::server::cache::{self, Source};
use crate::server::state::runs::Run;
use crate::server::state::AppState;

/// Runs every path of `run` in turn and records the outcome into it.
pub async fn execute(state: AppState, run: Arc<BenchRun>) {
    // Benchmark traffic would drown the comparison page's own record.
    let state = state.without_query_log();
    let query = match ArticleQuery::new(Some(&run.spec.term), Some(run.spec.limit)) {
        Ok(q) => q,
        Err(e) => return run.finish(BenchState::Failed, Some(e.to_string())),
    };
    for (i, progress) in run.paths.iter().enumerate() {
        for _ in 0..run.spec.warmup {
            if run.core().cancelled() {
                break;
            }
            let _ = timed_request(&state, progress.path, &query, run.spec.ttl).await;
        }
        let next = Arc::new(AtomicU64::new(0));
        let workers: Vec<_> = (0..run.spec.concurrency)
            .map(|_| {
                let (state, run, next, query) = (state.clone(), run.clone(), next.clone(), query.clone());
                tokio::spawn(async move {
                    let progress = &run.paths[i];
                    while !run.core().cancelled() && next.fetch_add(1, Relaxed) < run.spec.iterations.into() {
                        match timed_request(&state, progress.path, &query, run.spec.ttl).await {
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
    let state = if run.core().cancelled() {
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
async fn timed_request(state: &AppState, path: QueryPath, query: &ArticleQuery, ttl: u64) -> AppResult<u64> {
    let answer = match path {
        QueryPath::Mysql => cache::query_mysql(state, Source::Articles(query)).await,
        QueryPath::Cache => cache::query_cache(state, Source::Articles(query), ttl).await,
    };
    answer.map(|a| a.elapsed_us)
}
