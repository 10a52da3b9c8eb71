//! The strategy lab's vocabulary, shared by the API, the CLI and the page: what a lab run is asked to do, what
//! each strategy reports, and the hit ratio a strategy should reach, predicted from the workload.
//!
//! # The predictions
//!
//! Reads of item i arrive as a Poisson stream of rate λᵢ = pᵢ·Λ, with pᵢ the item's Zipf weight and Λ the
//! measured read rate; writes of it at μᵢ = pᵢ·W. Every strategy is predicted by [`crate::cache_model::predict`]
//! from those rates, the run's length D (from an empty cache) and two latencies the run measures: the fill
//! window (a miss to its SET landing: with single flight reads of the key in it wait for it, without they miss
//! too) and the action window (a write's commit to its DELETE or SET landing: reads in it find the old entry).
//! Per item
//! it counts the fills over the run with each strategy's mean entry life — `ttl`: T; `invalidate`: T or the
//! first write's DELETE, whichever comes first; `write_through`: until T passes with neither a fill nor a
//! write, (e^(μT) − 1)/μ, and a write refills an empty entry without a miss; `refresh_ahead`: a chain of lives
//! renewed while a read lands in each one's last fraction of T. `ttl` is exact; the others' lives vary, which the
//! fixed-life count approximates (within a point of the simulator on its grid). Stale reads: `ttl` and
//! `refresh_ahead` the hits' share aged past a write; `invalidate` and `write_through` the reads in the action
//! window, a lower bound (a fill that read the old row and lands after a delete adds a tail). Offload is per
//! read. Assumptions: arrivals independent and Poisson (a closed-loop worker's next request waits for its last,
//! so at high load arrivals are smoother than Poisson), rates constant over the run.

use serde::{Deserialize, Serialize};

use crate::cache_model::{Policy, Prediction, Workload};
use crate::error::{AppError, AppResult};
use crate::model::MAX_TTL_S;

pub const MAX_ITEMS: u32 = 1_000_000;
pub const MAX_ZIPF: f64 = 1.5;
pub const MAX_CONCURRENCY: u32 = 64;
pub const MAX_SECONDS: u32 = 600;
pub const MAX_OPERATIONS: u64 = 10_000_000;
pub const MAX_SWEEP: usize = 8;
/// Predicted and measured hit ratios further apart than this (in points) are flagged.
pub const DISAGREE_POINTS: f64 = 5.0;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(clap::ValueEnum), value(rename_all = "snake_case"))]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Every read from MySQL: the baseline for offload.
    None,
    /// Cache-aside; writes touch MySQL only; entries live TTL seconds.
    Ttl,
    /// Cache-aside; each write deletes the key after committing.
    Invalidate,
    /// Each write updates MySQL, then SETs the new value.
    WriteThrough,
    /// Cache-aside with TTL; a hit in the last part of the TTL refreshes the entry in the background.
    RefreshAhead,
}

impl Strategy {
    pub const ALL: [Strategy; 5] = [Strategy::None, Strategy::Ttl, Strategy::Invalidate, Strategy::WriteThrough, Strategy::RefreshAhead];

    pub fn name(self) -> &'static str {
        match self {
            Strategy::None => "none",
            Strategy::Ttl => "ttl",
            Strategy::Invalidate => "invalidate",
            Strategy::WriteThrough => "write_through",
            Strategy::RefreshAhead => "refresh_ahead",
        }
    }

    /// Whether a TTL sweep runs it once per TTL.
    pub fn swept(self) -> bool {
        matches!(self, Strategy::Ttl | Strategy::RefreshAhead)
    }
}

/// How operations are issued.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(clap::ValueEnum))]
#[serde(rename_all = "snake_case")]
pub enum Arrival {
    /// `concurrency` workers, each issuing its next operation when its last has answered: a faster strategy
    /// is asked more.
    #[default]
    Closed,
    /// Operations at Poisson times of `rate` per second, whatever the latency: every strategy gets the same rate,
    /// and the model's Poisson assumption holds.
    Poisson,
}

pub const MAX_RATE: f64 = 100_000.0;

/// `POST /api/lab`'s body, and `cachelens lab`'s flags. Every field but the strategies has a default in JSON (the
/// flags default those too).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(clap::Args))]
#[serde(deny_unknown_fields)]
pub struct LabSpec {
    /// Strategies to run, in any order.
    #[cfg_attr(feature = "ssr", arg(long, value_enum, value_delimiter = ',', default_values_t = Strategy::ALL))]
    pub strategies: Vec<Strategy>,
    /// Items in the lab table (1–1000000).
    #[serde(default = "default_items")]
    #[cfg_attr(feature = "ssr", arg(long, default_value_t = default_items()))]
    pub items: u32,
    /// Zipf exponent of item popularity (0 uniform – 1.5).
    #[serde(default = "default_zipf")]
    #[cfg_attr(feature = "ssr", arg(long, default_value_t = default_zipf()))]
    pub zipf: f64,
    /// Share of operations that are reads (0–1).
    #[serde(default = "default_read_ratio")]
    #[cfg_attr(feature = "ssr", arg(long, default_value_t = default_read_ratio()))]
    pub read_ratio: f64,
    /// closed: concurrent workers that wait for each answer; poisson: operations at Poisson times of --rate.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", arg(long, value_enum, default_value_t = Arrival::Closed))]
    pub arrival: Arrival,
    /// Operations per second in all, for poisson arrivals (1–100000).
    #[serde(default)]
    #[cfg_attr(feature = "ssr", arg(long))]
    pub rate: Option<f64>,
    /// Whether reads of a key being filled wait for that fill and take its value (single flight, as the app's
    /// cache does), or miss too and read MySQL themselves.
    #[serde(default = "default_single_flight")]
    #[cfg_attr(feature = "ssr", arg(long, default_value_t = default_single_flight(), action = clap::ArgAction::Set))]
    pub single_flight: bool,
    /// Concurrent workers (1–64), for closed arrivals.
    #[serde(default = "default_concurrency")]
    #[cfg_attr(feature = "ssr", arg(long, default_value_t = default_concurrency()))]
    pub concurrency: u32,
    /// Seconds each strategy runs (1–600; 10 when neither this nor --operations is given).
    #[serde(default)]
    #[cfg_attr(feature = "ssr", arg(long, conflicts_with = "operations"))]
    pub seconds: Option<u32>,
    /// Operations each strategy runs, instead of a duration.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", arg(long))]
    pub operations: Option<u64>,
    /// TTL of the entries, seconds.
    #[serde(default = "default_ttl")]
    #[cfg_attr(feature = "ssr", arg(long, default_value_t = default_ttl()))]
    pub ttl: u64,
    /// TTLs for a sweep of ttl and refresh_ahead, e.g. 1,2,5,10.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", arg(long, value_delimiter = ','))]
    pub ttls: Option<Vec<u64>>,
    /// Last part of the TTL in which refresh_ahead refreshes a hit entry (0.01–0.99).
    #[serde(default = "default_refresh_fraction")]
    #[cfg_attr(feature = "ssr", arg(long, default_value_t = default_refresh_fraction()))]
    pub refresh_fraction: f64,
    /// Seed of the workload: the same seed gives the same operations.
    #[serde(default = "default_seed")]
    #[cfg_attr(feature = "ssr", arg(long, default_value_t = default_seed()))]
    pub seed: u64,
    /// The share of stale reads the recommendation accepts (0–1; 0.01 is 1 %).
    #[serde(default = "default_stale_budget")]
    #[cfg_attr(feature = "ssr", arg(long, default_value_t = default_stale_budget()))]
    pub stale_budget: f64,
}

fn default_items() -> u32 {
    1000
}
fn default_zipf() -> f64 {
    1.0
}
fn default_read_ratio() -> f64 {
    0.9
}
fn default_single_flight() -> bool {
    true
}
fn default_concurrency() -> u32 {
    8
}
fn default_ttl() -> u64 {
    5
}
fn default_refresh_fraction() -> f64 {
    0.2
}
fn default_seed() -> u64 {
    1
}
fn default_stale_budget() -> f64 {
    0.01
}

impl Default for LabSpec {
    fn default() -> Self {
        Self {
            strategies: Strategy::ALL.to_vec(),
            items: default_items(),
            zipf: default_zipf(),
            read_ratio: default_read_ratio(),
            arrival: Arrival::Closed,
            rate: None,
            single_flight: default_single_flight(),
            concurrency: default_concurrency(),
            seconds: Some(10),
            operations: None,
            ttl: default_ttl(),
            ttls: None,
            refresh_fraction: default_refresh_fraction(),
            seed: default_seed(),
            stale_budget: default_stale_budget(),
        }
    }
}

fn out_of_range(name: &str, range: &str, got: impl std::fmt::Display) -> AppError {
    AppError::Invalid(format!("{name} must be {range}, got {got}"))
}

impl LabSpec {
    /// The spec with its strategies in run order, without repeats, or the first value out of range, by name.
    pub fn validated(mut self) -> AppResult<Self> {
        self.strategies.sort();
        self.strategies.dedup();
        if self.strategies.is_empty() {
            return Err(AppError::Invalid("strategies: choose at least one of none, ttl, invalidate, write_through, refresh_ahead".into()));
        }
        if !(1..=MAX_ITEMS).contains(&self.items) {
            return Err(out_of_range("items", &format!("between 1 and {MAX_ITEMS}"), self.items));
        }
        if !(0.0..=MAX_ZIPF).contains(&self.zipf) {
            return Err(out_of_range("zipf", &format!("between 0 and {MAX_ZIPF}"), self.zipf));
        }
        if !(0.0..=1.0).contains(&self.read_ratio) {
            return Err(out_of_range("read_ratio", "between 0 and 1", self.read_ratio));
        }
        match (self.arrival, self.rate) {
            (Arrival::Poisson, None) => return Err(AppError::Invalid("rate: poisson arrivals need a rate (operations per second)".into())),
            (Arrival::Poisson, Some(r)) if !(1.0..=MAX_RATE).contains(&r) => {
                return Err(out_of_range("rate", &format!("between 1 and {MAX_RATE} operations per second"), r))
            }
            (Arrival::Closed, Some(_)) => return Err(AppError::Invalid("rate: only poisson arrivals take a rate".into())),
            _ => {}
        }
        if !(1..=MAX_CONCURRENCY).contains(&self.concurrency) {
            return Err(out_of_range("concurrency", &format!("between 1 and {MAX_CONCURRENCY}"), self.concurrency));
        }
        match (self.seconds, self.operations) {
            (Some(_), Some(_)) => return Err(AppError::Invalid("seconds and operations: give one, not both".into())),
            (None, None) => self.seconds = Some(10),
            (Some(s), None) if !(1..=MAX_SECONDS).contains(&s) => {
                return Err(out_of_range("seconds", &format!("between 1 and {MAX_SECONDS}"), s))
            }
            (None, Some(n)) if !(1..=MAX_OPERATIONS).contains(&n) => {
                return Err(out_of_range("operations", &format!("between 1 and {MAX_OPERATIONS}"), n))
            }
            _ => {}
        }
        if !(1..=MAX_TTL_S).contains(&self.ttl) {
            return Err(out_of_range("ttl", &format!("between 1 and {MAX_TTL_S} seconds"), self.ttl));
        }
        if let Some(ttls) = &mut self.ttls {
            ttls.sort_unstable();
            ttls.dedup();
            if ttls.is_empty() || ttls.len() > MAX_SWEEP {
                return Err(out_of_range("ttls", &format!("a list of 1 to {MAX_SWEEP} TTLs"), format!("{} of them", ttls.len())));
            }
            if let Some(bad) = ttls.iter().find(|t| !(1..=MAX_TTL_S).contains(*t)) {
                return Err(out_of_range("ttls", &format!("TTLs between 1 and {MAX_TTL_S} seconds"), bad));
            }
            if !self.strategies.iter().any(|s| s.swept()) {
                return Err(AppError::Invalid("ttls: a sweep runs ttl and refresh_ahead; choose at least one of them".into()));
            }
        }
        if !(0.0..=1.0).contains(&self.stale_budget) {
            return Err(out_of_range("stale_budget", "between 0 and 1", self.stale_budget));
        }
        if !(0.01..=0.99).contains(&self.refresh_fraction) {
            return Err(out_of_range("refresh_fraction", "between 0.01 and 0.99", self.refresh_fraction));
        }
        Ok(self)
    }

    /// How its operations were issued and its misses filled, in words.
    pub fn setup_words(&self) -> String {
        let arrivals = match (self.arrival, self.rate) {
            (Arrival::Poisson, Some(rate)) => format!("open loop, Poisson arrivals at {rate} operations/s"),
            _ => format!("closed loop, {} workers", self.concurrency),
        };
        let fills = if self.single_flight { "single flight" } else { "no single flight" };
        format!("{arrivals}, {fills}")
    }

    /// The runs a lab makes, in order: each strategy at `ttl`, then the sweep's (strategy, TTL) pairs.
    pub fn runs(&self) -> Vec<(Strategy, u64, bool)> {
        let mut runs: Vec<(Strategy, u64, bool)> = self.strategies.iter().map(|&s| (s, self.ttl, false)).collect();
        for &ttl in self.ttls.iter().flatten() {
            for &s in self.strategies.iter().filter(|s| s.swept()) {
                runs.push((s, ttl, true));
            }
        }
        runs
    }
}

/// The Zipf(s) popularity of items 1..=n, normalized: weight of item k ∝ 1/k^s.
pub fn zipf_weights(n: u32, s: f64) -> Vec<f64> {
    let raw: Vec<f64> = (1..=n).map(|k| (k as f64).powf(-s)).collect();
    let total: f64 = raw.iter().sum();
    raw.into_iter().map(|w| w / total).collect()
}

/// The simulator's and the closed forms' name for `strategy` at `ttl` seconds.
pub fn policy(strategy: Strategy, ttl: f64, refresh_fraction: f64) -> Policy {
    match strategy {
        Strategy::None => Policy::None,
        Strategy::Ttl => Policy::Ttl { ttl },
        Strategy::Invalidate => Policy::Invalidate { ttl },
        Strategy::WriteThrough => Policy::WriteThrough { ttl },
        Strategy::RefreshAhead => Policy::RefreshAhead { ttl, fraction: refresh_fraction },
    }
}

/// What `strategy` should do to `work` (the run's measured rates and cache-action latencies): see the module's
/// documentation and [`crate::cache_model::predict`].
pub fn predict(strategy: Strategy, ttl: f64, refresh_fraction: f64, work: &Workload) -> Prediction {
    crate::cache_model::predict(policy(strategy, ttl, refresh_fraction), work)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LabState {
    Running,
    Done,
    Failed,
    Cancelled,
}

impl LabState {
    /// As the API writes it.
    pub fn label(self) -> &'static str {
        match self {
            LabState::Running => "running",
            LabState::Done => "done",
            LabState::Failed => "failed",
            LabState::Cancelled => "cancelled",
        }
    }
}

/// What one strategy run measured.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StrategyResult {
    pub strategy: Option<Strategy>,
    pub ttl: u64,
    pub seconds: f64,
    pub reads: u64,
    pub writes: u64,
    pub hits: u64,
    pub hit_ratio: f64,
    pub predicted_hit_ratio: Option<f64>,
    /// Whether predicted and measured differ by more than [`DISAGREE_POINTS`].
    pub prediction_off: bool,
    pub stale_reads: u64,
    pub stale_fraction: f64,
    /// The stale fraction the model predicts (for `invalidate` and `write_through` a lower bound: the
    /// commit-to-action window only). Absent in reports written before it existed.
    #[serde(default)]
    pub predicted_stale_fraction: Option<f64>,
    pub staleness_p50_ms: f64,
    pub staleness_p99_ms: f64,
    pub read_p50_us: u64,
    pub read_p95_us: u64,
    pub read_p99_us: u64,
    /// Reads of MySQL: the misses' and the background refreshes'.
    pub mysql_reads: u64,
    pub mysql_reads_per_s: f64,
    /// The share of the application's reads that did not reach MySQL, 1 − MySQL reads ÷ reads (a refresh counts as
    /// a MySQL read). Per read, not per second: the workers are closed-loop, so a strategy that answers faster is
    /// also asked more. (Reports written before this measured it per second against `none`.)
    pub offload: Option<f64>,
    /// The offload the model predicts.
    #[serde(default)]
    pub predicted_offload: Option<f64>,
    /// Mean ms from a miss to its SET landing, and from a write's commit to its DELETE or SET landing: the
    /// windows the model counts (0 in reports written before they were measured).
    #[serde(default)]
    pub fill_ms: f64,
    #[serde(default)]
    pub action_ms: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepPoint {
    pub ttl: u64,
    pub results: std::collections::BTreeMap<String, StrategyResult>,
}

/// A lab run's state, as `GET /api/lab/{id}` and its event stream send it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LabReport {
    pub id: u64,
    pub state: LabState,
    pub spec: LabSpec,
    pub started_at_ms: u64,
    /// Runs finished and in all (each strategy once, plus the sweep's runs).
    pub done: u64,
    pub total: u64,
    /// What is running now, e.g. "ttl (TTL 5 s): 3.2 of 10 s".
    pub phase: String,
    pub results: std::collections::BTreeMap<String, StrategyResult>,
    pub sweep: Vec<SweepPoint>,
    pub error: Option<String>,
    /// Which strategy and TTL to choose, in words, once the run is done ([`recommend`]).
    #[serde(default)]
    pub recommendation: Option<String>,
}

impl LabReport {
    pub fn finished(&self) -> bool {
        self.state != LabState::Running
    }

    /// The main results in run order (none, ttl, invalidate, write_through, refresh_ahead), then the sweep's,
    /// by TTL and then in run order.
    pub fn ordered(&self) -> (Vec<&StrategyResult>, Vec<&StrategyResult>) {
        let in_order = |results: &mut Vec<&StrategyResult>| results.sort_by_key(|r| r.strategy);
        let mut main: Vec<&StrategyResult> = self.results.values().collect();
        in_order(&mut main);
        let mut sweep = Vec::new();
        for point in &self.sweep {
            let mut at: Vec<&StrategyResult> = point.results.values().collect();
            in_order(&mut at);
            sweep.extend(at);
        }
        (main, sweep)
    }

    /// One line per strategy run, for the CSV download.
    pub fn to_csv(&self) -> String {
        let mut out = String::from(
            "strategy,ttl,sweep,seconds,reads,writes,hit_ratio,predicted_hit_ratio,stale_reads,stale_fraction,staleness_p50_ms,staleness_p99_ms,read_p50_us,read_p95_us,read_p99_us,mysql_reads_per_s,offload,predicted_stale_fraction,predicted_offload,fill_ms,action_ms\n",
        );
        let (main, sweep) = self.ordered();
        let rows = main.into_iter().map(|r| (r, false)).chain(sweep.into_iter().map(|r| (r, true)));
        for (r, sweep) in rows {
            let opt = |v: Option<f64>| v.map(|v| format!("{v:.4}")).unwrap_or_default();
            out.push_str(&format!(
                "{},{},{},{:.3},{},{},{:.4},{},{},{:.4},{:.3},{:.3},{},{},{},{:.1},{},{},{},{:.3},{:.3}\n",
                r.strategy.map(Strategy::name).unwrap_or_default(),
                r.ttl,
                sweep,
                r.seconds,
                r.reads,
                r.writes,
                r.hit_ratio,
                opt(r.predicted_hit_ratio),
                r.stale_reads,
                r.stale_fraction,
                r.staleness_p50_ms,
                r.staleness_p99_ms,
                r.read_p50_us,
                r.read_p95_us,
                r.read_p99_us,
                r.mysql_reads_per_s,
                opt(r.offload),
                opt(r.predicted_stale_fraction),
                opt(r.predicted_offload),
                r.fill_ms,
                r.action_ms,
            ));
        }
        out
    }
}

/// The results as a text table, for the CLI: one line per strategy run, the sweep's after the main ones.
pub fn table(report: &LabReport) -> String {
    let s = &report.spec;
    let bound = match (s.seconds, s.operations) {
        (_, Some(n)) => format!("{n} operations"),
        (Some(secs), _) => format!("{secs} s"),
        _ => String::new(),
    };
    let mut out = format!(
        "{} items, Zipf {}, {:.0} % reads, {}, {bound} per strategy, seed {}: {:?}\n{:<14} {:>5} {:>9} {:>8} {:>6} {:>9} {:>7} {:>9} {:>9} {:>9} {:>9} {:>10} {:>8}\n",
        s.items, s.zipf, s.read_ratio * 100.0, s.setup_words(), s.seed, report.state,
        "strategy", "ttl", "reads", "writes", "hit %", "predicted", "stale %", "predicted", "stale p99", "read p50", "read p99", "MySQL r/s", "offload"
    );
    let (main, sweep) = report.ordered();
    for r in main.into_iter().chain(sweep) {
        let predicted =
            r.predicted_hit_ratio.map_or("-".into(), |p| format!("{:.1}{}", p * 100.0, if r.prediction_off { " !" } else { "" }));
        out.push_str(&format!(
            "{:<14} {:>5} {:>9} {:>8} {:>6.1} {:>9} {:>7.2} {:>9} {:>7.1}ms {:>7}µs {:>7}µs {:>10.0} {:>8}\n",
            r.strategy.map(Strategy::name).unwrap_or_default(),
            r.ttl,
            r.reads,
            r.writes,
            r.hit_ratio * 100.0,
            predicted,
            r.stale_fraction * 100.0,
            r.predicted_stale_fraction.map_or("-".into(), |p| format!("{:.2}", p * 100.0)),
            r.staleness_p99_ms,
            r.read_p50_us,
            r.read_p99_us,
            r.mysql_reads_per_s,
            r.offload.map_or("-".into(), |o| format!("{:.0} %", o * 100.0)),
        ));
    }
    if report.results.values().any(|r| r.prediction_off) {
        out.push_str(&format!("! predicted and measured hit ratios differ by more than {DISAGREE_POINTS} points\n"));
    }
    if let Some(words) = &report.recommendation {
        out.push_str(&format!("{words}\n"));
    }
    if let Some(e) = &report.error {
        out.push_str(&format!("error: {e}\n"));
    }
    out
}

/// A strategy run's name in a sentence: "invalidate (TTL 5 s)", "none".
#[cfg(feature = "ssr")]
fn run_name(r: &StrategyResult) -> String {
    match r.strategy {
        Some(Strategy::None) | None => "none".into(),
        Some(s) => format!("{} (TTL {} s)", s.name(), r.ttl),
    }
}

/// Which strategy and TTL keep the most reads from MySQL with stale reads within the spec's budget, by how much
/// they beat the next best within it, and what the best beyond it would cost in stale reads; from the measured
/// results (main and sweep). `None` before any caching strategy has a result.
#[cfg(feature = "ssr")]
pub fn recommend(report: &LabReport) -> Option<String> {
    let budget = report.spec.stale_budget;
    let (main, sweep) = report.ordered();
    let mut runs: Vec<&StrategyResult> =
        main.into_iter().chain(sweep).filter(|r| r.strategy.is_some_and(|s| s != Strategy::None) && r.reads > 0).collect();
    let kept = |r: &StrategyResult| r.offload.unwrap_or(0.0);
    // The most reads kept first; the fresher of two equal ones.
    runs.sort_by(|a, b| kept(b).total_cmp(&kept(a)).then(a.stale_fraction.total_cmp(&b.stale_fraction)));
    let pct = |v: f64| format!("{:.1} %", v * 100.0);
    let budget_words = format!("the {} stale-read budget", pct(budget));
    let (within, beyond): (Vec<&StrategyResult>, Vec<&StrategyResult>) = runs.iter().partition(|r| r.stale_fraction <= budget);
    let Some(best) = within.first() else {
        let freshest = runs.iter().min_by(|a, b| a.stale_fraction.total_cmp(&b.stale_fraction))?;
        return Some(format!(
            "No strategy stayed within {budget_words}; the freshest was {}, with {} stale reads and {} of reads kept from MySQL.",
            run_name(freshest),
            pct(freshest.stale_fraction),
            pct(kept(freshest))
        ));
    };
    let mut words = format!(
        "Within {budget_words}, {} keeps the most reads from MySQL: {} ({} hits, {} stale).",
        run_name(best),
        pct(kept(best)),
        pct(best.hit_ratio),
        pct(best.stale_fraction)
    );
    if let Some(next) = within.get(1) {
        words.push_str(&format!(" That is {:.1} points more than {}.", (kept(best) - kept(next)) * 100.0, run_name(next)));
    }
    if let Some(tempting) = beyond.first().filter(|r| kept(r) > kept(best)) {
        words.push_str(&format!(
            " {} would keep {} but serve {} stale reads.",
            run_name(tempting),
            pct(kept(tempting)),
            pct(tempting.stale_fraction)
        ));
    }
    Some(words)
}

#[cfg(feature = "ssr")]
impl LabReport {
    /// What a comparison of two lab runs shows, per strategy (and per sweep point, named with its TTL).
    pub fn metrics(&self) -> Vec<crate::compare::Metric> {
        use crate::compare::{Metric, Unit};
        let (main, sweep) = self.ordered();
        let mut out = Vec::new();
        let groups = main.into_iter().map(|r| (r, false)).chain(sweep.into_iter().map(|r| (r, true)));
        for (r, swept) in groups {
            let name = r.strategy.map(Strategy::name).unwrap_or_default();
            let group = if swept { format!("{name}, sweep TTL {} s", r.ttl) } else { name.to_string() };
            out.extend([
                Metric::new(&group, "hit ratio", Some(r.hit_ratio), Unit::Share, Some(true)),
                Metric::new(&group, "predicted hit ratio", r.predicted_hit_ratio, Unit::Share, None),
                Metric::new(&group, "stale reads", Some(r.stale_fraction), Unit::Share, Some(false)),
                Metric::new(&group, "predicted stale reads", r.predicted_stale_fraction, Unit::Share, None),
                Metric::new(&group, "staleness p99", Some(r.staleness_p99_ms * 1000.0), Unit::Micros, Some(false)),
                Metric::new(&group, "read p50", Some(r.read_p50_us as f64), Unit::Micros, Some(false)),
                Metric::new(&group, "read p99", Some(r.read_p99_us as f64), Unit::Micros, Some(false)),
                Metric::new(&group, "MySQL reads", Some(r.mysql_reads_per_s), Unit::PerSecond, Some(false)),
                Metric::new(&group, "MySQL offload", r.offload, Unit::Share, Some(true)),
                Metric::new(&group, "predicted offload", r.predicted_offload, Unit::Share, None),
            ]);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_values_are_refused_by_name() {
        let bad = |f: fn(&mut LabSpec), name: &str| {
            let mut spec = LabSpec::default();
            f(&mut spec);
            let err = spec.validated().unwrap_err().to_string();
            assert!(err.starts_with(name), "{name}: {err}");
        };
        bad(|s| s.items = 0, "items");
        bad(|s| s.items = 1_000_001, "items");
        bad(|s| s.zipf = 1.6, "zipf");
        bad(|s| s.read_ratio = 1.5, "read_ratio");
        bad(|s| s.concurrency = 65, "concurrency");
        bad(|s| s.seconds = Some(601), "seconds");
        bad(|s| s.operations = Some(5), "seconds and operations");
        bad(|s| s.ttl = 0, "ttl");
        bad(|s| s.ttls = Some(vec![]), "ttls");
        bad(|s| s.strategies = vec![], "strategies");
        bad(|s| s.refresh_fraction = 1.0, "refresh_fraction");
        bad(|s| s.stale_budget = -0.1, "stale_budget");
        bad(|s| s.arrival = Arrival::Poisson, "rate");
        bad(|s| s.rate = Some(10.0), "rate");
        bad(
            |s| {
                s.arrival = Arrival::Poisson;
                s.rate = Some(0.5)
            },
            "rate",
        );
        bad(
            |s| {
                s.strategies = vec![Strategy::Invalidate];
                s.ttls = Some(vec![1, 2])
            },
            "ttls",
        );
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn the_recommendation_keeps_most_reads_from_mysql_within_the_budget() {
        let result = |strategy, ttl, offload: f64, stale: f64| StrategyResult {
            strategy: Some(strategy),
            ttl,
            reads: 1000,
            hit_ratio: offload,
            offload: Some(offload),
            stale_fraction: stale,
            ..StrategyResult::default()
        };
        let mut report = LabReport {
            id: 1,
            state: LabState::Done,
            spec: LabSpec::default(),
            started_at_ms: 0,
            done: 4,
            total: 4,
            phase: String::new(),
            results: [
                result(Strategy::None, 5, 0.0, 0.0),
                result(Strategy::Ttl, 5, 0.95, 0.88),
                result(Strategy::Invalidate, 5, 0.74, 0.008),
                result(Strategy::WriteThrough, 5, 0.70, 0.002),
            ]
            .into_iter()
            .map(|r| (r.strategy.unwrap().name().to_string(), r))
            .collect(),
            sweep: Vec::new(),
            error: None,
            recommendation: None,
        };
        let words = recommend(&report).unwrap();
        assert!(
            words.starts_with("Within the 1.0 % stale-read budget, invalidate (TTL 5 s) keeps the most reads from MySQL: 74.0 %"),
            "{words}"
        );
        assert!(words.contains("4.0 points more than write_through (TTL 5 s)"), "{words}");
        assert!(words.contains("ttl (TTL 5 s) would keep 95.0 % but serve 88.0 % stale reads"), "{words}");
        report.spec.stale_budget = 0.001;
        let words = recommend(&report).unwrap();
        assert!(words.starts_with("No strategy stayed within the 0.1 % stale-read budget; the freshest was write_through"), "{words}");
        report.results.retain(|name, _| name == "none");
        assert_eq!(recommend(&report), None);
    }

    #[test]
    fn runs_come_in_order_and_the_sweep_covers_the_ttl_strategies() {
        let spec = LabSpec {
            strategies: vec![Strategy::RefreshAhead, Strategy::None, Strategy::Ttl, Strategy::None],
            ttls: Some(vec![4, 2]),
            ..LabSpec::default()
        }
        .validated()
        .unwrap();
        let runs = spec.runs();
        assert_eq!(
            runs,
            vec![
                (Strategy::None, 5, false),
                (Strategy::Ttl, 5, false),
                (Strategy::RefreshAhead, 5, false),
                (Strategy::Ttl, 2, true),
                (Strategy::RefreshAhead, 2, true),
                (Strategy::Ttl, 4, true),
                (Strategy::RefreshAhead, 4, true),
            ]
        );
    }

    #[test]
    fn the_model_matches_its_limits() {
        let uniform = zipf_weights(100, 0.0);
        assert!((uniform.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        let hit = |strategy, weights: &[f64], read_rate, write_rate, ttl, duration| {
            let work = Workload { weights, read_rate, write_rate, duration, fill_latency: 0.0, action_latency: 0.0, single_flight: false };
            predict(strategy, ttl, 0.2, &work).hit_ratio
        };
        // One item read 10 times a second with a 1 s TTL: in the long run 10 hits per miss.
        let one = [1.0];
        let long = hit(Strategy::Ttl, &one, 10.0, 0.0, 1.0, 100_000.0);
        assert!((long - 10.0 / 11.0).abs() < 1e-4, "{long}");
        // A run shorter than the TTL: one miss, the rest hits.
        let short = hit(Strategy::Ttl, &one, 10.0, 0.0, 5.0, 2.0);
        assert!((short - (1.0 - 1.0 / 20.0)).abs() < 1e-6, "{short}");
        // Without writes, invalidate and write-through are ttl; with writes invalidate is lower and write-through
        // higher; none is 0.
        let w = zipf_weights(1000, 1.0);
        let ttl = hit(Strategy::Ttl, &w, 1000.0, 0.0, 5.0, 60.0);
        for s in [Strategy::Invalidate, Strategy::WriteThrough] {
            assert!((hit(s, &w, 1000.0, 0.0, 5.0, 60.0) - ttl).abs() < 1e-9, "{s:?}");
        }
        assert!(hit(Strategy::Invalidate, &w, 1000.0, 100.0, 5.0, 60.0) < ttl);
        assert!(hit(Strategy::WriteThrough, &w, 1000.0, 100.0, 5.0, 60.0) > ttl);
        assert!(hit(Strategy::RefreshAhead, &w, 1000.0, 0.0, 5.0, 60.0) > ttl);
        assert_eq!(hit(Strategy::None, &w, 1000.0, 100.0, 5.0, 60.0), 0.0);
        // Skew helps: the same traffic over Zipf(1) hits more than over uniform popularity.
        assert!(ttl > hit(Strategy::Ttl, &zipf_weights(1000, 0.0), 1000.0, 0.0, 5.0, 60.0));
    }
}
