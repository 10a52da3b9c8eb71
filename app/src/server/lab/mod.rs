//! The strategy lab: one skewed read/write workload run against the real MySQL and Redis under each caching
//! strategy in turn, measuring hit ratio, latency, MySQL offload and stale reads (see `crate::lab` for the
//! vocabulary and the hit-ratio model). The page, the API and `cachelens lab` start runs here.
//!
//! Each strategy run replays the same workload (the same seed gives every worker the same stream of items and
//! operations), on a freshly seeded `cachelens_lab_items` ([`table`]), with the run's keys
//! (`<prefix>:lab:<run>:<id>`) emptied before it and deleted after the lab. Caching here is plain
//! cache-aside, with single flight within the process unless the spec turns it off (then every read in a fill's
//! window misses and reads MySQL too), so the strategies' known windows and races show: under `invalidate` most
//! stale reads fall between a commit's OK and its DELETE landing, and a reader that missed and read the old row
//! can SET it after a concurrent write's delete (that entry stays until its TTL: the long tail); `write_through`
//! has the same window before its SET and the same reader race, and two writers' SETs can land out of order.

mod history;
mod record;
pub mod table;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use fred::prelude::*;
use hdrhistogram::Histogram;
use rand::{rngs::SmallRng, Rng, SeedableRng};
use rand_distr::{Distribution, Zipf};

use crate::cache_model::Workload;
use crate::error::{AppError, AppResult};
use crate::lab::{predict, zipf_weights, Arrival, LabState, Strategy, StrategyResult, DISAGREE_POINTS};
use crate::server::cache::delete_prefixed;
use crate::server::clock::unix_ms;
use crate::server::state::runs::Run;
use crate::server::state::single_flight::SingleFlight;
use crate::server::state::AppState;
use history::History;
pub use record::LabRun;

/// Highest latency or staleness a histogram records (10 minutes, in µs).
const MAX_TRACKED_US: u64 = 600_000_000;

/// Runs every strategy of `run` in turn and records the outcome; whatever happens, the run's keys go.
pub async fn execute(state: AppState, run: Arc<LabRun>) {
    let namespace = format!("{}:lab:{}", state.cache_prefix, run.core().id);
    let outcome = run_all(&state, &run, &namespace).await;
    let cleaned = delete_prefixed(state.redis.next_connected(), &namespace).await;
    match (outcome, cleaned) {
        (Err(e), _) => run.finish(LabState::Failed, Some(e.to_string())),
        (Ok(()), _) if run.cancelled() => run.finish(LabState::Cancelled, None),
        (Ok(()), Err(e)) => run.finish(LabState::Failed, Some(format!("the lab's keys could not be deleted: {e}"))),
        (Ok(()), Ok(_)) => run.finish(LabState::Done, None),
    }
}

async fn run_all(state: &AppState, run: &Arc<LabRun>, namespace: &str) -> AppResult<()> {
    // One lab per database, whichever cachelens runs it: they would share the table. The lock is MySQL's,
    // held by this connection until the lab ends (or the connection does).
    let mut lock = state.db.acquire().await?;
    let took: Option<i64> = sqlx::query_scalar("SELECT GET_LOCK(CONCAT(DATABASE(), '.cachelens_lab'), 0)").fetch_one(&mut *lock).await?;
    if took != Some(1) {
        return Err(AppError::Conflict("another cachelens is running the lab on this database: wait for it".into()));
    }
    let outcome = run_strategies(state, run, namespace).await;
    let _ = sqlx::query("SELECT RELEASE_LOCK(CONCAT(DATABASE(), '.cachelens_lab'))").execute(&mut *lock).await;
    outcome
}

async fn run_strategies(state: &AppState, run: &Arc<LabRun>, namespace: &str) -> AppResult<()> {
    let spec = &run.spec;
    let payloads = Arc::new(table::payloads(&state.db).await);
    let weights = zipf_weights(spec.items, spec.zipf);
    for (strategy, ttl, sweep) in spec.runs() {
        if run.cancelled() {
            return Ok(());
        }
        run.set_phase(format!("{}: seeding {} items", label(strategy, ttl), spec.items));
        table::prepare(&state.db, spec.items, &payloads).await.map_err(|e| e.context("preparing the lab table"))?;
        delete_prefixed(state.redis.next_connected(), namespace).await.map_err(|e| e.context("emptying the lab's keys"))?;
        let mut result = one_strategy(state, run, namespace, strategy, ttl, payloads.clone()).await?;
        if run.cancelled() {
            return Ok(());
        }
        let work = Workload {
            weights: &weights,
            read_rate: result.reads as f64 / result.seconds,
            write_rate: result.writes as f64 / result.seconds,
            duration: result.seconds,
            fill_latency: result.fill_ms / 1000.0,
            action_latency: result.action_ms / 1000.0,
            single_flight: spec.single_flight,
        };
        let predicted = predict(strategy, ttl as f64, spec.refresh_fraction, &work);
        result.predicted_hit_ratio = Some(predicted.hit_ratio);
        // Invalidate's and write-through's stale reads come from sub-millisecond windows (the commit to the
        // DELETE or SET) that the lab's conservative count (from MySQL's OK, see `history`) mostly does not see:
        // the window form over-predicts what the lab counts, so the lab claims nothing for them.
        result.predicted_stale_fraction =
            (!matches!(strategy, Strategy::Invalidate | Strategy::WriteThrough)).then_some(predicted.stale_fraction);
        result.predicted_offload = Some(predicted.offload);
        result.prediction_off = (predicted.hit_ratio - result.hit_ratio).abs() * 100.0 > DISAGREE_POINTS;
        run.record(result, sweep);
    }
    Ok(())
}

fn label(strategy: Strategy, ttl: u64) -> String {
    match strategy {
        Strategy::None => "none".into(),
        s => format!("{} (TTL {ttl} s)", s.name()),
    }
}

/// What the workers of one strategy run share.
struct StrategyRun {
    strategy: Strategy,
    ttl: u64,
    refresh_fraction: f64,
    namespace: String,
    payloads: Arc<Vec<String>>,
    history: History,
    reads: AtomicU64,
    writes: AtomicU64,
    hits: AtomicU64,
    mysql_reads: AtomicU64,
    stale: AtomicU64,
    /// Fills and writes' cache actions, and the nanoseconds their windows lasted in all.
    fills: Window,
    actions: Window,
    latency: Mutex<Histogram<u64>>,
    staleness: Mutex<Histogram<u64>>,
    /// Items being refreshed ahead of expiry: one refresh per key at a time.
    refreshing: Mutex<HashSet<u32>>,
    /// One fill per key at a time, when the spec asks for single flight.
    flights: Option<SingleFlight>,
    failed: Mutex<Option<AppError>>,
    stop: AtomicBool,
}

/// How often a window opened and how long it stayed open in all.
#[derive(Default)]
struct Window {
    count: AtomicU64,
    nanos: AtomicU64,
}

impl Window {
    fn add(&self, since: Instant) {
        self.count.fetch_add(1, Relaxed);
        self.nanos.fetch_add(since.elapsed().as_nanos() as u64, Relaxed);
    }

    fn mean_ms(&self) -> f64 {
        let count = self.count.load(Relaxed);
        if count == 0 {
            0.0
        } else {
            self.nanos.load(Relaxed) as f64 / count as f64 / 1e6
        }
    }
}

impl StrategyRun {
    fn key(&self, id: u32) -> String {
        format!("{}:{id}", self.namespace)
    }

    fn fail(&self, why: AppError) {
        self.failed.lock().expect("lab failure").get_or_insert(why);
        self.stop.store(true, Relaxed);
    }
}

async fn one_strategy(
    state: &AppState,
    run: &Arc<LabRun>,
    namespace: &str,
    strategy: Strategy,
    ttl: u64,
    payloads: Arc<Vec<String>>,
) -> AppResult<StrategyResult> {
    let spec = &run.spec;
    let histogram = || Mutex::new(Histogram::new_with_bounds(1, MAX_TRACKED_US, 3).expect("valid histogram bounds"));
    let shared = Arc::new(StrategyRun {
        strategy,
        ttl,
        refresh_fraction: spec.refresh_fraction,
        namespace: namespace.to_string(),
        payloads,
        history: History::default(),
        reads: AtomicU64::new(0),
        writes: AtomicU64::new(0),
        hits: AtomicU64::new(0),
        mysql_reads: AtomicU64::new(0),
        stale: AtomicU64::new(0),
        fills: Window::default(),
        actions: Window::default(),
        latency: histogram(),
        staleness: histogram(),
        refreshing: Mutex::new(HashSet::new()),
        flights: spec.single_flight.then(SingleFlight::default),
        failed: Mutex::new(None),
        stop: AtomicBool::new(false),
    });
    let zipf = Zipf::new(spec.items as f64, spec.zipf).map_err(|e| AppError::Invalid(format!("zipf: {e}")))?;
    let started = Instant::now();
    let deadline = spec.seconds.map(|s| started + Duration::from_secs(s.into()));
    let issued = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = match spec.arrival {
        Arrival::Closed => (0..spec.concurrency)
            .map(|worker| {
                let (state, run, shared, issued) = (state.clone(), run.clone(), shared.clone(), issued.clone());
                // The same seed and worker number give the same stream of operations under every strategy.
                let mut rng = SmallRng::seed_from_u64(run.spec.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ u64::from(worker));
                tokio::spawn(async move {
                    let ops = run.spec.operations;
                    while !shared.stop.load(Relaxed) && !run.cancelled() {
                        if deadline.is_some_and(|d| Instant::now() >= d) || ops.is_some_and(|n| issued.fetch_add(1, Relaxed) >= n) {
                            break;
                        }
                        let op = draw(&mut rng, &zipf, run.spec.read_ratio, &shared.payloads);
                        if let Err(e) = perform(&state, &shared, op).await {
                            shared.fail(e);
                        }
                    }
                })
            })
            .collect(),
        Arrival::Poisson => {
            vec![tokio::spawn(open_loop(state.clone(), run.clone(), shared.clone(), zipf, started, deadline, issued.clone()))]
        }
    };
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let wait_all = futures::future::join_all(workers);
    tokio::pin!(wait_all);
    loop {
        tokio::select! {
            joined = &mut wait_all => {
                if let Some(e) = joined.into_iter().find_map(|j| j.err()) {
                    return Err(AppError::Internal(format!("a lab worker stopped: {e}")));
                }
                break;
            }
            _ = tick.tick() => {
                let so_far = match (spec.seconds, spec.operations) {
                    (Some(s), _) => format!("{:.1} of {s} s", started.elapsed().as_secs_f64().min(s.into())),
                    (None, Some(n)) => format!("{} of {n} operations", issued.load(Relaxed).min(n)),
                    _ => String::new(),
                };
                run.set_phase(format!("{}: {so_far}", label(strategy, ttl)));
            }
        }
    }
    // Background refreshes still in flight belong to this run's MySQL reads; give them a moment.
    for _ in 0..50 {
        if shared.refreshing.lock().expect("refreshing").is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    if let Some(why) = shared.failed.lock().expect("lab failure").clone() {
        return Err(why.context(label(strategy, ttl)));
    }
    Ok(summarize(&shared, started.elapsed().as_secs_f64().max(1e-3)))
}

/// Operations in flight at most in an open-loop run: past it, arrivals wait (a slower MySQL or Redis than the
/// rate asks for), which the run's measured rate then shows.
const MAX_IN_FLIGHT: usize = 1024;

/// One operation of the workload.
enum LabOp {
    Read(u32),
    Write(u32, String),
}

/// The next operation of a stream: the item by popularity, a read with probability `read_ratio`.
fn draw(rng: &mut SmallRng, zipf: &Zipf<f64>, read_ratio: f64, payloads: &[String]) -> LabOp {
    let id = zipf.sample(rng) as u32;
    if rng.random::<f64>() < read_ratio {
        LabOp::Read(id)
    } else {
        LabOp::Write(id, format!("{} (edit {})", payloads[rng.random_range(0..payloads.len())], rng.random::<u32>()))
    }
}

async fn perform(state: &AppState, shared: &Arc<StrategyRun>, op: LabOp) -> AppResult<()> {
    match op {
        LabOp::Read(id) => read(state, shared, id).await,
        LabOp::Write(id, payload) => write(state, shared, id, payload).await,
    }
}

/// Open-loop arrivals: operations issued at Poisson times of the spec's rate, each in a task of its own, without
/// waiting for the ones before (up to [`MAX_IN_FLIGHT`]), so the rates do not depend on the strategy; returns
/// once the last has ended.
async fn open_loop(
    state: AppState,
    run: Arc<LabRun>,
    shared: Arc<StrategyRun>,
    zipf: Zipf<f64>,
    started: Instant,
    deadline: Option<Instant>,
    issued: Arc<AtomicU64>,
) {
    let rate = run.spec.rate.unwrap_or(1.0);
    let mut rng = SmallRng::seed_from_u64(run.spec.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let in_flight = Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT));
    let mut at = 0.0;
    while !shared.stop.load(Relaxed) && !run.cancelled() {
        at += -(1.0 - rng.random::<f64>()).ln() / rate;
        let when = started + Duration::from_secs_f64(at);
        if deadline.is_some_and(|d| when >= d) || run.spec.operations.is_some_and(|n| issued.fetch_add(1, Relaxed) >= n) {
            break;
        }
        tokio::time::sleep_until(when.into()).await;
        let op = draw(&mut rng, &zipf, run.spec.read_ratio, &shared.payloads);
        let Ok(permit) = in_flight.clone().acquire_owned().await else { break };
        let (state, shared) = (state.clone(), shared.clone());
        tokio::spawn(async move {
            if let Err(e) = perform(&state, &shared, op).await {
                shared.fail(e);
            }
            drop(permit);
        });
    }
    let _ = in_flight.acquire_many(MAX_IN_FLIGHT as u32).await;
}

fn summarize(shared: &StrategyRun, seconds: f64) -> StrategyResult {
    let (reads, writes, hits, stale) =
        (shared.reads.load(Relaxed), shared.writes.load(Relaxed), shared.hits.load(Relaxed), shared.stale.load(Relaxed));
    let latency = shared.latency.lock().expect("latency");
    let staleness = shared.staleness.lock().expect("staleness");
    let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let ms = |h: &Histogram<u64>, q: f64| if h.is_empty() { 0.0 } else { h.value_at_quantile(q) as f64 / 1000.0 };
    let us = |h: &Histogram<u64>, q: f64| if h.is_empty() { 0 } else { h.value_at_quantile(q) };
    let mysql_reads = shared.mysql_reads.load(Relaxed);
    StrategyResult {
        strategy: Some(shared.strategy),
        ttl: shared.ttl,
        seconds,
        reads,
        writes,
        hits,
        hit_ratio: ratio(hits, reads),
        predicted_hit_ratio: None,
        predicted_stale_fraction: None,
        prediction_off: false,
        stale_reads: stale,
        stale_fraction: ratio(stale, reads),
        staleness_p50_ms: ms(&staleness, 0.5),
        staleness_p99_ms: ms(&staleness, 0.99),
        read_p50_us: us(&latency, 0.5),
        read_p95_us: us(&latency, 0.95),
        read_p99_us: us(&latency, 0.99),
        mysql_reads,
        mysql_reads_per_s: mysql_reads as f64 / seconds,
        offload: (reads > 0).then(|| 1.0 - (mysql_reads as f64 / reads as f64).min(1.0)),
        predicted_offload: None,
        fill_ms: shared.fills.mean_ms(),
        action_ms: shared.actions.mean_ms(),
    }
}

/// What an entry holds: the version, its expiry (Unix ms, for refresh-ahead) and the payload.
fn entry(version: u64, expires_at_ms: u64, payload: &str) -> String {
    format!("{version}\n{expires_at_ms}\n{payload}")
}

fn parse_entry(value: &[u8]) -> Option<(u64, u64)> {
    let mut fields = value.splitn(3, |&b| b == b'\n');
    let number = |f: Option<&[u8]>| std::str::from_utf8(f?).ok()?.parse::<u64>().ok();
    Some((number(fields.next())?, number(fields.next())?))
}

async fn read(state: &AppState, shared: &Arc<StrategyRun>, id: u32) -> AppResult<()> {
    let began = Instant::now();
    let version = match shared.strategy {
        Strategy::None => from_mysql(state, shared, id).await?.0,
        _ => {
            let client = state.redis.next_connected();
            let key = shared.key(id);
            match cached(client, &key).await? {
                Some((version, expires_at_ms)) => {
                    shared.hits.fetch_add(1, Relaxed);
                    if shared.strategy == Strategy::RefreshAhead {
                        refresh_if_due(state, shared, id, expires_at_ms);
                    }
                    version
                }
                None => {
                    // Single flight: wait for the key's fill in progress, if any, and look again.
                    let turn = match &shared.flights {
                        Some(flights) => Some(flights.wait_turn(&key).await),
                        None => None,
                    };
                    let landed = if turn.is_some() { cached(client, &key).await? } else { None };
                    match landed {
                        Some((version, _)) => {
                            shared.hits.fetch_add(1, Relaxed);
                            version
                        }
                        None => {
                            // From the miss to the SET landing: the fill window.
                            let missed = Instant::now();
                            let (version, payload) = from_mysql(state, shared, id).await?;
                            set(client, shared, &key, version, &payload).await?;
                            shared.fills.add(missed);
                            version
                        }
                    }
                }
            }
        }
    };
    let elapsed = began.elapsed();
    shared.reads.fetch_add(1, Relaxed);
    let _ = shared.latency.lock().expect("latency").record((elapsed.as_micros() as u64).clamp(1, MAX_TRACKED_US));
    if let Some(age) = shared.history.staleness(id, version, began) {
        shared.stale.fetch_add(1, Relaxed);
        let _ = shared.staleness.lock().expect("staleness").record((age.as_micros() as u64).clamp(1, MAX_TRACKED_US));
    }
    Ok(())
}

/// The entry at `key`, if any: its version and expiry.
async fn cached(client: &Client, key: &str) -> AppResult<Option<(u64, u64)>> {
    let value: Option<Bytes> = client.get(key).await.map_err(|e| AppError::from(e).context("GET"))?;
    Ok(value.as_deref().and_then(parse_entry))
}

async fn from_mysql(state: &AppState, shared: &StrategyRun, id: u32) -> AppResult<(u64, String)> {
    shared.mysql_reads.fetch_add(1, Relaxed);
    table::read(&state.db, id).await.map_err(|e| AppError::from(e).context("read"))
}

async fn set(client: &Client, shared: &StrategyRun, key: &str, version: u64, payload: &str) -> AppResult<()> {
    let value = entry(version, unix_ms() + shared.ttl * 1000, payload);
    client
        .set::<(), _, _>(key, value, Some(Expiration::EX(shared.ttl as i64)), None, false)
        .await
        .map_err(|e| AppError::from(e).context("SET"))
}

/// Refresh-ahead: a hit in the last `refresh_fraction` of the TTL reloads the entry in the background, once
/// per key at a time; the hit itself is answered from the cache.
fn refresh_if_due(state: &AppState, shared: &Arc<StrategyRun>, id: u32, expires_at_ms: u64) {
    let left_ms = expires_at_ms.saturating_sub(unix_ms()) as f64;
    if left_ms > shared.refresh_fraction * (shared.ttl * 1000) as f64 || !shared.refreshing.lock().expect("refreshing").insert(id) {
        return;
    }
    let (state, shared) = (state.clone(), shared.clone());
    tokio::spawn(async move {
        let refreshed = async {
            let (version, payload) = from_mysql(&state, &shared, id).await?;
            set(state.redis.next_connected(), &shared, &shared.key(id), version, &payload).await
        };
        if let Err(e) = refreshed.await {
            shared.fail(e);
        }
        shared.refreshing.lock().expect("refreshing").remove(&id);
    });
}

async fn write(state: &AppState, shared: &StrategyRun, id: u32, payload: String) -> AppResult<()> {
    let version = table::write(&state.db, id, &payload).await.map_err(|e| AppError::from(e).context("write"))?;
    let committed = Instant::now();
    shared.history.committed(id, version, committed);
    shared.writes.fetch_add(1, Relaxed);
    let client = state.redis.next_connected();
    match shared.strategy {
        Strategy::Invalidate => {
            client.del::<(), _>(shared.key(id)).await.map_err(|e| AppError::from(e).context("DEL"))?;
            shared.actions.add(committed);
        }
        Strategy::WriteThrough => {
            set(client, shared, &shared.key(id), version, &payload).await?;
            shared.actions.add(committed);
        }
        Strategy::None | Strategy::Ttl | Strategy::RefreshAhead => {}
    }
    Ok(())
}
