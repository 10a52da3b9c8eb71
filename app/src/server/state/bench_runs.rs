//! A benchmark run's record (HDR histograms per path, progress, cancellation) and the registry that keeps the
//! last few for the page and the API. No I/O here: `server::bench::execute` drives a run.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;

use crate::bench::{BenchReport, BenchSpec, BenchState, PathReport};
use crate::error::{AppError, AppResult};
use crate::model::QueryPath;
use crate::stats::Percentiles;

/// Finished runs kept for the list.
const KEEP: usize = 20;
/// Highest latency a histogram records (60 s, in µs); slower answers are clamped to it.
pub(crate) const MAX_TRACKED_US: u64 = 60_000_000;

pub(crate) struct PathProgress {
    pub(crate) path: QueryPath,
    pub(crate) done: AtomicU64,
    pub(crate) errors: AtomicU64,
    pub(crate) last_error: Mutex<Option<String>>,
    pub(crate) histogram: Mutex<Histogram<u64>>,
}

pub struct BenchRun {
    pub id: u64,
    pub(crate) spec: BenchSpec,
    started: Instant,
    started_at_ms: u64,
    pub(crate) cancel: AtomicBool,
    state: Mutex<(BenchState, Option<String>, Option<Duration>)>,
    pub(crate) paths: Vec<PathProgress>,
    finished: tokio::sync::watch::Sender<bool>,
}

impl BenchRun {
    /// Its name in the API's paths, the downloads' names and the run history.
    pub const KIND: &'static str = "bench";

    fn new(id: u64, spec: BenchSpec) -> Self {
        let paths = spec
            .paths
            .iter()
            .map(|&path| PathProgress {
                path,
                done: AtomicU64::new(0),
                errors: AtomicU64::new(0),
                last_error: Mutex::new(None),
                histogram: Mutex::new(Histogram::new_with_bounds(1, MAX_TRACKED_US, 3).expect("valid histogram bounds")),
            })
            .collect();
        Self {
            id,
            spec,
            started: Instant::now(),
            started_at_ms: SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or_default(),
            cancel: AtomicBool::new(false),
            state: Mutex::new((BenchState::Running, None, None)),
            paths,
            finished: tokio::sync::watch::channel(false).0,
        }
    }

    pub fn cancel(&self) {
        self.cancel.store(true, Relaxed);
    }

    pub fn is_running(&self) -> bool {
        self.state.lock().expect("bench state").0 == BenchState::Running
    }

    /// Resolves once the run has ended (done, cancelled or failed).
    pub async fn wait(&self) {
        let mut finished = self.finished.subscribe();
        let _ = finished.wait_for(|done| *done).await;
    }

    pub fn report(&self) -> BenchReport {
        let (state, error, took) = self.state.lock().expect("bench state").clone();
        let paths: Vec<PathReport> = self.paths.iter().map(|p| p.report(self.spec.iterations)).collect();
        BenchReport {
            id: self.id,
            state,
            spec: self.spec.clone(),
            started_at_ms: self.started_at_ms,
            elapsed_ms: took.unwrap_or_else(|| self.started.elapsed()).as_millis() as u64,
            done: paths.iter().map(|p| p.done).sum(),
            total: paths.iter().map(|p| p.total).sum(),
            paths,
            results: None,
            error,
        }
        .with_results()
    }

    pub(crate) fn finish(&self, state: BenchState, error: Option<String>) {
        *self.state.lock().expect("bench state") = (state, error, Some(self.started.elapsed()));
        self.finished.send_replace(true);
    }
}

impl PathProgress {
    fn report(&self, total: u32) -> PathReport {
        let histogram = self.histogram.lock().expect("histogram");
        let stats = (!histogram.is_empty()).then(|| Percentiles {
            count: histogram.len(),
            p50_us: histogram.value_at_quantile(0.50),
            p95_us: histogram.value_at_quantile(0.95),
            p99_us: histogram.value_at_quantile(0.99),
            max_us: histogram.max(),
            mean_us: histogram.mean().round() as u64,
        });
        let distribution = if histogram.is_empty() {
            vec![]
        } else {
            // Buckets growing by 1.25× from the fastest answer: fine where the values are, few in all.
            histogram.iter_log(histogram.min().max(1), 1.25).map(|v| (v.value_iterated_to(), v.count_since_last_iteration())).collect()
        };
        PathReport {
            path: self.path,
            done: self.done.load(Relaxed),
            total: total.into(),
            errors: self.errors.load(Relaxed),
            last_error: self.last_error.lock().expect("last error").clone(),
            stats,
            distribution,
        }
    }
}

/// The runs this process knows: the one running, if any, and the last few finished.
#[derive(Default)]
pub struct BenchRegistry {
    runs: Mutex<VecDeque<Arc<BenchRun>>>,
}

impl BenchRegistry {
    /// Checks the spec and registers a new run; another run in progress is a conflict, since two at once
    /// would measure each other.
    pub fn register(&self, spec: BenchSpec) -> Result<Arc<BenchRun>, AppError> {
        let spec = spec.validated()?;
        let mut runs = self.runs.lock().expect("bench registry");
        if let Some(running) = running_in(&runs) {
            return Err(AppError::Conflict(format!("benchmark {running} is still running: wait for it or cancel it")));
        }
        let run = Arc::new(BenchRun::new(super::run_history::new_run_id(), spec));
        if runs.len() == KEEP {
            runs.pop_front();
        }
        runs.push_back(run.clone());
        Ok(run)
    }

    pub fn running(&self) -> Option<u64> {
        running_in(&self.runs.lock().expect("bench registry"))
    }

    pub fn get(&self, id: u64) -> Option<Arc<BenchRun>> {
        self.runs.lock().expect("bench registry").iter().find(|r| r.id == id).cloned()
    }

    /// Drops a finished run from memory (it was deleted); a running one stays.
    pub fn forget(&self, id: u64) -> bool {
        let mut runs = self.runs.lock().expect("bench registry");
        let before = runs.len();
        runs.retain(|r| r.id != id || r.is_running());
        before != runs.len()
    }

    /// Newest first.
    pub fn list(&self) -> Vec<BenchReport> {
        self.runs.lock().expect("bench registry").iter().rev().map(|r| r.report()).collect()
    }
}

/// The running one, by its state alone (a full report would build every histogram's summary).
fn running_in(runs: &VecDeque<Arc<BenchRun>>) -> Option<u64> {
    runs.iter().find(|r| r.state.lock().expect("bench state").0 == BenchState::Running).map(|r| r.id)
}

/// A run outside any registry, for the CLI.
pub fn standalone(spec: BenchSpec) -> AppResult<Arc<BenchRun>> {
    Ok(Arc::new(BenchRun::new(1, spec.validated()?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress_of(samples: impl Iterator<Item = u64>) -> PathReport {
        let run = BenchRun::new(1, BenchSpec::new(1, 1, vec![QueryPath::Mysql]));
        let mut h = run.paths[0].histogram.lock().unwrap();
        for s in samples {
            h.record(s).unwrap();
        }
        drop(h);
        run.paths[0].report(1)
    }

    /// HDR histograms keep three significant digits: the percentiles of known distributions within 0.1 %.
    #[test]
    fn hdr_percentiles_match_known_distributions() {
        let close = |got: u64, want: u64| (got as f64 - want as f64).abs() <= want as f64 * 0.001 + 1.0;
        let uniform = progress_of(1..=100_000).stats.unwrap();
        assert_eq!(uniform.count, 100_000);
        for (got, want) in [(uniform.p50_us, 50_000), (uniform.p95_us, 95_000), (uniform.p99_us, 99_000), (uniform.max_us, 100_000)] {
            assert!(close(got, want), "uniform: {got} vs {want}");
        }
        // Bimodal, like a cache: 90 % hits near 300 µs, 10 % misses near 20 ms.
        let bimodal = progress_of((0..9000).map(|i| 250 + i % 100).chain((0..1000).map(|i| 20_000 + i))).stats.unwrap();
        assert!(close(bimodal.p50_us, 305), "{bimodal:?}");
        assert!(close(bimodal.p95_us, 20_499), "{bimodal:?}");
        assert!(close(bimodal.p99_us, 20_899), "{bimodal:?}");
        let report = progress_of([100, 100, 200, 5000].into_iter());
        assert_eq!(report.distribution.iter().map(|(_, n)| n).sum::<u64>(), 4, "{:?}", report.distribution);
    }
}
