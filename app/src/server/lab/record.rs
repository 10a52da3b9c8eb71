//! A lab run's record: progress, results per strategy and sweep point, its final state. No I/O here:
//! [`super::execute`] drives a run, the state's [`Registry`](crate::server::state::runs::Registry) holds it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use crate::error::AppResult;
use crate::lab::{LabReport, LabSpec, LabState, StrategyResult, SweepPoint};
use crate::server::state::runs::{Run, RunCore, RunReport};
use crate::server::state::AppState;

struct Progress {
    state: LabState,
    error: Option<String>,
    phase: String,
    results: BTreeMap<String, StrategyResult>,
    sweep: Vec<SweepPoint>,
}

pub struct LabRun {
    core: RunCore,
    pub spec: LabSpec,
    done: AtomicU64,
    progress: Mutex<Progress>,
}

impl Run for LabRun {
    type Spec = LabSpec;
    type Report = LabReport;
    const KIND: &'static str = "lab";
    const NOUN: &'static str = "lab run";
    const SPEC_SHAPE: &'static str = r#"{"strategies": ["none", "ttl", …], "items": 1000, "zipf": 1.0, "read_ratio": 0.9, …}"#;

    fn new(core: RunCore, spec: LabSpec) -> AppResult<Self> {
        Ok(Self {
            core,
            spec: spec.validated()?,
            done: AtomicU64::new(0),
            progress: Mutex::new(Progress {
                state: LabState::Running,
                error: None,
                phase: "preparing the lab table".into(),
                results: BTreeMap::new(),
                sweep: Vec::new(),
            }),
        })
    }

    fn core(&self) -> &RunCore {
        &self.core
    }

    async fn execute(state: AppState, run: Arc<Self>) {
        super::execute(state, run).await
    }

    fn report(&self) -> LabReport {
        let p = self.progress.lock().expect("lab progress");
        let mut report = LabReport {
            id: self.core.id,
            state: p.state,
            spec: self.spec.clone(),
            started_at_ms: self.core.started_at_ms,
            done: self.done.load(Relaxed),
            total: self.spec.runs().len() as u64,
            phase: p.phase.clone(),
            results: p.results.clone(),
            sweep: p.sweep.clone(),
            error: p.error.clone(),
            recommendation: None,
        };
        if report.state == LabState::Done {
            report.recommendation = crate::lab::recommend(&report);
        }
        report
    }
}

impl RunReport for LabReport {
    fn id(&self) -> u64 {
        self.id
    }
    fn started_at_ms(&self) -> u64 {
        self.started_at_ms
    }
    fn summary(&self) -> String {
        let s = &self.spec;
        let strategies: Vec<&str> = s.strategies.iter().map(|s| s.name()).collect();
        format!("{}, {} items, Zipf {}, {:.0} % reads, TTL {} s", strategies.join(" "), s.items, s.zipf, s.read_ratio * 100.0, s.ttl)
    }
    fn finished(&self) -> bool {
        LabReport::finished(self)
    }
    fn to_csv(&self) -> String {
        LabReport::to_csv(self)
    }
    fn table(&self) -> String {
        crate::lab::table(self)
    }
    fn progress(&self) -> (u64, u64, String) {
        (self.done, self.total, self.phase.clone())
    }
    fn failure(&self) -> Option<String> {
        (self.state == LabState::Failed).then(|| self.error.clone().unwrap_or_else(|| "the lab run failed".into()))
    }
    fn metrics(&self) -> Vec<crate::compare::Metric> {
        LabReport::metrics(self)
    }
    /// Runs kept before the recommendation existed get one from their results.
    fn restored(mut self) -> Self {
        if self.state == LabState::Done && self.recommendation.is_none() {
            self.recommendation = crate::lab::recommend(&self);
        }
        self
    }
}

impl LabRun {
    pub fn cancelled(&self) -> bool {
        self.core.cancelled()
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
        self.core.finish();
    }
}
