//! What a benchmark run is asked to do and what it reports, shared by the API, the CLI and the page.

use serde::{Deserialize, Serialize};

use crate::error::{AppError, AppResult};

use crate::model::{QueryPath, DEFAULT_LIMIT, DEFAULT_TERM, MAX_TTL_S};
use crate::stats::Percentiles;

pub const MAX_ITERATIONS: u32 = 100_000;
pub const MAX_CONCURRENCY: u32 = 64;
pub const MAX_WARMUP: u32 = 10_000;

/// `POST /api/bench`'s body, and `cachelens bench`'s flags; every field but `iterations` and `concurrency` has a
/// default in JSON (the flags default those too).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(clap::Args))]
#[serde(deny_unknown_fields)]
pub struct BenchSpec {
    /// Measured requests per path (1–100000).
    #[cfg_attr(feature = "ssr", arg(long, default_value_t = 1000))]
    pub iterations: u32,
    /// Concurrent workers (1–64).
    #[cfg_attr(feature = "ssr", arg(long, default_value_t = 8))]
    pub concurrency: u32,
    /// The paths to measure, in this order.
    #[serde(default = "both_paths")]
    #[cfg_attr(feature = "ssr", arg(long = "path", value_enum, value_delimiter = ',', default_values_t = both_paths()))]
    pub paths: Vec<QueryPath>,
    /// Unrecorded requests per path before measuring (for the cache path they also fill Redis).
    #[serde(default = "default_warmup")]
    #[cfg_attr(feature = "ssr", arg(long, default_value_t = default_warmup()))]
    pub warmup: u32,
    /// TTL of the entries the cache path writes, in seconds.
    #[serde(default = "default_ttl")]
    #[cfg_attr(feature = "ssr", arg(long, default_value_t = default_ttl()))]
    pub ttl: u64,
    /// The seed's search term: articles whose text contains it.
    #[serde(default = "default_term")]
    #[cfg_attr(feature = "ssr", arg(long, default_value_t = default_term()))]
    pub term: String,
    /// Rows the search returns at most.
    #[serde(default = "default_limit")]
    #[cfg_attr(feature = "ssr", arg(long, default_value_t = default_limit()))]
    pub limit: u32,
}

fn both_paths() -> Vec<QueryPath> {
    vec![QueryPath::Mysql, QueryPath::Cache]
}
fn default_warmup() -> u32 {
    10
}
fn default_ttl() -> u64 {
    300
}
fn default_term() -> String {
    DEFAULT_TERM.into()
}
fn default_limit() -> u32 {
    DEFAULT_LIMIT
}

impl BenchSpec {
    pub fn new(iterations: u32, concurrency: u32, paths: Vec<QueryPath>) -> Self {
        Self { iterations, concurrency, paths, warmup: default_warmup(), ttl: default_ttl(), term: default_term(), limit: default_limit() }
    }

    /// The spec with its paths in run order and without repeats, or what is wrong with it.
    pub fn validated(mut self) -> AppResult<Self> {
        if !(1..=MAX_ITERATIONS).contains(&self.iterations) {
            return Err(AppError::Invalid(format!("iterations must be between 1 and {MAX_ITERATIONS}, got {}", self.iterations)));
        }
        if !(1..=MAX_CONCURRENCY).contains(&self.concurrency) {
            return Err(AppError::Invalid(format!("concurrency must be between 1 and {MAX_CONCURRENCY}, got {}", self.concurrency)));
        }
        if self.warmup > MAX_WARMUP {
            return Err(AppError::Invalid(format!("warmup must be at most {MAX_WARMUP}, got {}", self.warmup)));
        }
        if !(1..=MAX_TTL_S).contains(&self.ttl) {
            return Err(AppError::Invalid(format!("ttl must be between 1 and {MAX_TTL_S} seconds, got {}", self.ttl)));
        }
        self.paths.sort();
        self.paths.dedup();
        if self.paths.is_empty() {
            return Err(AppError::Invalid("choose at least one path: mysql, cache".into()));
        }
        crate::model::ArticleQuery::new(Some(&self.term), Some(self.limit))?;
        Ok(self)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BenchState {
    Running,
    Done,
    Cancelled,
    Failed,
}

/// One path of a run: how far it got and its latencies so far.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PathReport {
    pub path: QueryPath,
    pub done: u64,
    pub total: u64,
    pub errors: u64,
    /// The last error's message, if any request failed.
    pub last_error: Option<String>,
    pub stats: Option<Percentiles>,
    /// Latency distribution: (upper bound µs, count) per bucket, from the HDR histogram.
    pub distribution: Vec<(u64, u64)>,
}

/// The state of a run, as `GET /api/bench/{id}` and the progress stream send it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BenchReport {
    pub id: u64,
    pub state: BenchState,
    pub spec: BenchSpec,
    pub started_at_ms: u64,
    pub elapsed_ms: u64,
    pub done: u64,
    pub total: u64,
    pub paths: Vec<PathReport>,
    /// Per path `{count, p50_us, p95_us, p99_us, max_us, mean_us}`, once the run has ended: for API clients.
    /// The page reads `paths`, so the browser skips this (and the map's decoder stays out of the WASM).
    #[serde(default, skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub results: Option<std::collections::BTreeMap<QueryPath, Percentiles>>,
    pub error: Option<String>,
}

impl BenchReport {
    /// `results` as the server sends it: each path's stats once the run has ended. The field is not decoded
    /// (see above), so a report read back from the run history gets it again here.
    pub fn with_results(mut self) -> Self {
        if self.state != BenchState::Running {
            self.results = Some(self.paths.iter().map(|p| (p.path, p.stats.unwrap_or_default())).collect());
        }
        self
    }
}

impl BenchState {
    pub fn label(self) -> &'static str {
        match self {
            BenchState::Running => "running",
            BenchState::Done => "done",
            BenchState::Cancelled => "cancelled",
            BenchState::Failed => "failed",
        }
    }
}

impl BenchReport {
    pub fn finished(&self) -> bool {
        self.state != BenchState::Running
    }

    /// MySQL p50 ÷ cache p50, when both were measured.
    pub fn speedup(&self) -> Option<f64> {
        let stats = |p| self.paths.iter().find(|r| r.path == p).and_then(|r| r.stats);
        crate::stats::speedup(&stats(QueryPath::Mysql)?, &stats(QueryPath::Cache)?)
    }

    /// The percentile table as CSV, one row per path.
    pub fn to_csv(&self) -> String {
        let mut out = String::from("path,count,errors,p50_us,p95_us,p99_us,max_us,mean_us,iterations,concurrency,warmup,ttl_s\n");
        for p in &self.paths {
            let s = p.stats.unwrap_or_default();
            out.push_str(&format!(
                "{},{},{},{},{},{},{},{},{},{},{},{}\n",
                p.path.key(),
                s.count,
                p.errors,
                s.p50_us,
                s.p95_us,
                s.p99_us,
                s.max_us,
                s.mean_us,
                self.spec.iterations,
                self.spec.concurrency,
                self.spec.warmup,
                self.spec.ttl
            ));
        }
        out
    }
}

#[cfg(feature = "ssr")]
impl BenchReport {
    /// What a comparison of two benchmark runs shows, per path and for the run.
    pub fn metrics(&self) -> Vec<crate::compare::Metric> {
        use crate::compare::{Metric, Unit};
        let mut out = Vec::new();
        for p in &self.paths {
            let (group, s) = (p.path.key(), p.stats);
            out.push(Metric::new(group, "requests answered", s.map(|s| s.count as f64), Unit::Count, None));
            out.push(Metric::new(group, "errors", Some(p.errors as f64), Unit::Count, Some(false)));
            for (name, us) in [
                ("p50", s.map(|s| s.p50_us)),
                ("p95", s.map(|s| s.p95_us)),
                ("p99", s.map(|s| s.p99_us)),
                ("max", s.map(|s| s.max_us)),
                ("mean", s.map(|s| s.mean_us)),
            ] {
                out.push(Metric::new(group, name, us.map(|us| us as f64), Unit::Micros, Some(false)));
            }
        }
        out.push(Metric::new("run", "speedup (MySQL p50 / cache p50)", self.speedup(), Unit::Times, Some(true)));
        out
    }

    /// The percentile table the page shows, as text (`cachelens bench`, `cachelens runs show`).
    pub fn table(&self) -> String {
        use crate::stats::{format_us, one_decimal};
        let mut out = format!(
            "{} requests per path, concurrency {}, warm-up {}: {:?} in {} s\n{:<6} {:>9} {:>7} {:>10} {:>10} {:>10} {:>10}\n",
            self.spec.iterations,
            self.spec.concurrency,
            self.spec.warmup,
            self.state,
            one_decimal(self.elapsed_ms as f64 / 1000.0),
            "path",
            "requests",
            "errors",
            "p50",
            "p95",
            "p99",
            "max"
        );
        for p in &self.paths {
            let s = p.stats.unwrap_or_default();
            out.push_str(&format!(
                "{:<6} {:>9} {:>7} {:>10} {:>10} {:>10} {:>10}\n",
                p.path.key(),
                s.count,
                p.errors,
                format_us(s.p50_us),
                format_us(s.p95_us),
                format_us(s.p99_us),
                format_us(s.max_us)
            ));
        }
        if let Some(x) = self.speedup() {
            out.push_str(&format!("speedup (MySQL p50 / cache p50): {}x\n", one_decimal(x)));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_are_checked_and_defaults_filled() {
        let spec: BenchSpec = serde_json::from_str(r#"{"iterations": 10, "concurrency": 2}"#).unwrap();
        assert_eq!((spec.paths.len(), spec.warmup, spec.term.as_str()), (2, 10, "delta"));
        let paths = BenchSpec::new(1, 1, vec![QueryPath::Cache, QueryPath::Mysql, QueryPath::Cache]).validated().unwrap().paths;
        assert_eq!(paths, vec![QueryPath::Mysql, QueryPath::Cache]);
        assert!(BenchSpec::new(0, 1, both_paths()).validated().unwrap_err().to_string().contains("iterations"));
        assert!(BenchSpec::new(100_001, 1, both_paths()).validated().unwrap_err().to_string().contains("iterations"));
        assert!(BenchSpec::new(1, 65, both_paths()).validated().unwrap_err().to_string().contains("concurrency"));
        assert!(BenchSpec::new(1, 1, vec![]).validated().unwrap_err().to_string().contains("path"));
        assert!(serde_json::from_str::<BenchSpec>(r#"{"iterations": 1, "concurrency": 1, "path": "x"}"#).is_err());
    }
}
