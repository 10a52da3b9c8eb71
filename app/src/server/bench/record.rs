//! A benchmark run's record: HDR histograms per path, progress, and its final state. No I/O here:
//! [`super::execute`] drives a run, the state's [`Registry`](crate::server::state::runs::Registry) holds it.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::bench::{BenchReport, BenchSpec, BenchState, PathReport};
use crate::error::AppResult;
use crate::model::QueryPath;
use crate::server::state::runs::{Run, RunCore, RunReport};
use crate::server::state::AppState;
use crate::stats::Percentiles;
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
    core: RunCore,
    pub(crate) spec: BenchSpec,
    started: Instant,
    state: Mutex<(BenchState, Option<String>, Option<Duration>)>,
    pub(crate) paths: Vec<PathProgress>,
}

impl Run for BenchRun {
    type Spec = BenchSpec;
    type Report = BenchReport;
    const KIND: &'static str = "bench";
    const NOUN: &'static str = "benchmark";
    const SPEC_SHAPE: &'static str = r#"{"iterations": n, "concurrency": c, "paths": ["mysql", "cache"]}"#;

    fn new(core: RunCore, spec: BenchSpec) -> AppResult<Self> {
        let spec = spec.validated()?;
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
        Ok(Self { core, spec, started: Instant::now(), state: Mutex::new((BenchState::Running, None, None)), paths })
    }

    fn core(&self) -> &RunCore {
        &self.core
    }

    async fn execute(state: AppState, run: Arc<Self>) {
        super::execute(state, run).await
    }

    fn report(&self) -> BenchReport {
        let (state, error, took) = self.state.lock().expect("bench state").clone();
        let paths: Vec<PathReport> = self.paths.iter().map(|p| p.report(self.spec.iterations)).collect();
        BenchReport {
            id: self.core.id,
            state,
            spec: self.spec.clone(),
            started_at_ms: self.core.started_at_ms,
            elapsed_ms: took.unwrap_or_else(|| self.started.elapsed()).as_millis() as u64,
            done: paths.iter().map(|p| p.done).sum(),
            total: paths.iter().map(|p| p.total).sum(),
            paths,
            results: None,
            error,
        }
        .with_results()
    }
}

impl RunReport for BenchReport {
    fn id(&self) -> u64 {
        self.id
    }
    fn started_at_ms(&self) -> u64 {
        self.started_at_ms
    }
    fn summary(&self) -> String {
        let paths: Vec<&str> = self.paths.iter().map(|p| p.path.key()).collect();
        format!("{} × {} workers, {}, TTL {} s", self.spec.iterations, self.spec.concurrency, paths.join(" + "), self.spec.ttl)
    }
    fn finished(&self) -> bool {
        BenchReport::finished(self)
    }
    fn to_csv(&self) -> String {
        BenchReport::to_csv(self)
    }
    fn table(&self) -> String {
        BenchReport::table(self)
    }
    fn progress(&self) -> (u64, u64, String) {
        (self.done, self.total, format!("requests, {:.1} s", self.elapsed_ms as f64 / 1000.0))
    }
    fn failure(&self) -> Option<String> {
        (self.state == BenchState::Failed).then(|| self.error.clone().unwrap_or_else(|| "the benchmark failed".into()))
    }
    fn metrics(&self) -> Vec<crate::compare::Metric> {
        BenchReport::metrics(self)
    }
    fn restored(self) -> Self {
        self.with_results()
    }
}

impl BenchRun {
    pub(crate) fn finish(&self, state: BenchState, error: Option<String>) {
        *self.state.lock().expect("bench state") = (state, error, Some(self.started.elapsed()));
        self.core.finish();
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

#[cfg(test)]
mod tests {
    use super::*;

    fn progress_of(samples: impl Iterator<Item = u64>) -> PathReport {
        let run = BenchRun::new(RunCore::new(1), BenchSpec::new(1, 1, vec![QueryPath::Mysql])).unwrap();
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
