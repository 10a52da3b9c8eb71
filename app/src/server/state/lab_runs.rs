//! A lab run's record (progress, results, cancellation) and the registry that keeps the last few for the page
//! and the API. No I/O here: `server::lab::execute` drives a run.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{AppError, AppResult};
use crate::lab::{LabReport, LabSpec, LabState, StrategyResult, SweepPoint};

/// Finished runs kept for the list.
const KEEP: usize = 20;

struct Progress {
    state: LabState,
    error: Option<String>,
    phase: String,
    results: BTreeMap<String, StrategyResult>,
    sweep: Vec<SweepPoint>,
}

pub struct LabRun {
    pub id: u64,
    pub spec: LabSpec,
    started_at_ms: u64,
    pub(crate) cancel: AtomicBool,
    done: AtomicU64,
    progress: Mutex<Progress>,
    finished: tokio::sync::watch::Sender<bool>,
}

impl LabRun {
    /// Its name in the API's paths, the downloads' names and the run history.
    pub const KIND: &'static str = "lab";

    fn new(id: u64, spec: LabSpec) -> Self {
        Self {
            id,
            spec,
            started_at_ms: SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or_default(),
            cancel: AtomicBool::new(false),
            done: AtomicU64::new(0),
            progress: Mutex::new(Progress {
                state: LabState::Running,
                error: None,
                phase: "preparing the lab table".into(),
                results: BTreeMap::new(),
                sweep: Vec::new(),
            }),
            finished: tokio::sync::watch::channel(false).0,
        }
    }

    pub fn cancel(&self) {
        self.cancel.store(true, Relaxed);
    }

    pub fn cancelled(&self) -> bool {
        self.cancel.load(Relaxed)
    }

    /// Resolves once the run has ended.
    pub async fn wait(&self) {
        let mut finished = self.finished.subscribe();
        let _ = finished.wait_for(|done| *done).await;
    }

    pub fn state(&self) -> LabState {
        self.progress.lock().expect("lab progress").state
    }

    pub fn is_running(&self) -> bool {
        self.state() == LabState::Running
    }

    pub fn report(&self) -> LabReport {
        let p = self.progress.lock().expect("lab progress");
        LabReport {
            id: self.id,
            state: p.state,
            spec: self.spec.clone(),
            started_at_ms: self.started_at_ms,
            done: self.done.load(Relaxed),
            total: self.spec.runs().len() as u64,
            phase: p.phase.clone(),
            results: p.results.clone(),
            sweep: p.sweep.clone(),
            error: p.error.clone(),
        }
    }

    pub(crate) fn set_phase(&self, phase: String) {
        self.progress.lock().expect("lab progress").phase = phase;
    }

    /// One strategy run's result: the main table's, or a point of the sweep.
    pub(crate) fn record(&self, result: StrategyResult, sweep: bool) {
        let mut p = self.progress.lock().expect("lab progress");
        let name = result.strategy.map(|s| s.name().to_string()).unwrap_or_default();
        if sweep {
            match p.sweep.iter_mut().find(|point| point.ttl == result.ttl) {
                Some(point) => {
                    point.results.insert(name, result);
                }
                None => {
                    let ttl = result.ttl;
                    p.sweep.push(SweepPoint { ttl, results: BTreeMap::from([(name, result)]) });
                }
            }
        } else {
            p.results.insert(name, result);
        }
        drop(p);
        self.done.fetch_add(1, Relaxed);
    }

    /// The `none` run's MySQL reads per second, once it ran: what offload is measured against.
    pub(crate) fn baseline_mysql_reads_per_s(&self) -> Option<f64> {
        self.progress.lock().expect("lab progress").results.get("none").map(|r| r.mysql_reads_per_s)
    }

    pub(crate) fn finish(&self, state: LabState, error: Option<String>) {
        let mut p = self.progress.lock().expect("lab progress");
        p.state = state;
        p.error = error;
        p.phase = match state {
            LabState::Done => "done".into(),
            LabState::Cancelled => "cancelled".into(),
            LabState::Failed => "failed".into(),
            LabState::Running => p.phase.clone(),
        };
        drop(p);
        self.finished.send_replace(true);
    }
}

/// The lab runs this process knows: the one running, if any, and the last few finished.
#[derive(Default)]
pub struct LabRegistry {
    runs: Mutex<VecDeque<Arc<LabRun>>>,
}

impl LabRegistry {
    /// Checks the spec and registers a new run; `busy` names other load in progress (a benchmark), which
    /// would skew both.
    pub fn register(&self, spec: LabSpec, busy: Option<String>) -> AppResult<Arc<LabRun>> {
        let spec = spec.validated()?;
        let mut runs = self.runs.lock().expect("lab registry");
        if let Some(running) = running_in(&runs) {
            return Err(AppError::Conflict(format!("lab run {running} is still running: wait for it or cancel it")));
        }
        if let Some(busy) = busy {
            return Err(AppError::Conflict(format!("{busy} is running: the lab would measure it too; wait for it or cancel it")));
        }
        let run = Arc::new(LabRun::new(super::run_history::new_run_id(), spec));
        if runs.len() == KEEP {
            runs.pop_front();
        }
        runs.push_back(run.clone());
        Ok(run)
    }

    pub fn get(&self, id: u64) -> Option<Arc<LabRun>> {
        self.runs.lock().expect("lab registry").iter().find(|r| r.id == id).cloned()
    }

    pub fn running(&self) -> Option<u64> {
        running_in(&self.runs.lock().expect("lab registry"))
    }

    /// Drops a finished run from memory (it was deleted); a running one stays.
    pub fn forget(&self, id: u64) -> bool {
        let mut runs = self.runs.lock().expect("lab registry");
        let before = runs.len();
        runs.retain(|r| r.id != id || r.is_running());
        before != runs.len()
    }

    /// Newest first.
    pub fn list(&self) -> Vec<LabReport> {
        self.runs.lock().expect("lab registry").iter().rev().map(|r| r.report()).collect()
    }
}

fn running_in(runs: &VecDeque<Arc<LabRun>>) -> Option<u64> {
    runs.iter().find(|r| r.state() == LabState::Running).map(|r| r.id)
}

/// A run outside any registry, for the CLI.
pub fn standalone(spec: LabSpec) -> AppResult<Arc<LabRun>> {
    Ok(Arc::new(LabRun::new(1, spec.validated()?)))
}
