//! Background runs of every kind (benchmarks, labs, and the kinds that follow): the [`Run`] trait a kind
//! implements, the part every run shares ([`RunCore`]: id, start time, cancellation, the end signal), and the one
//! [`Registry`] that starts, lists, finds and forgets them. Used by `server::bench` and `server::lab` (which
//! implement [`Run`]), the run endpoints (`http::runs`), the pages and the CLI.
//!
//! One run of any kind goes at a time: two would measure each other. A finished run is written to the run
//! history and then forgotten here, so every server reads the same runs from MySQL.

use std::any::Any;
use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use serde::{de::DeserializeOwned, Serialize};

use super::AppState;
use crate::error::{AppError, AppResult};
use crate::server::clock::unix_ms;

/// Runs kept in memory at most (the running one and the last finished ones the history has not taken yet).
const KEEP: usize = 20;

/// What a run's report says of itself, for the endpoints that serve every kind alike.
pub trait RunReport: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    fn id(&self) -> u64;
    fn started_at_ms(&self) -> u64;
    /// What it was asked to do, in a few words (the pages' "compare with…" choice).
    fn summary(&self) -> String;
    fn finished(&self) -> bool;
    fn to_csv(&self) -> String;
    /// The results as a text table, for the CLI.
    fn table(&self) -> String;
    /// Steps done, steps in all, and what is going on, for a progress bar.
    fn progress(&self) -> (u64, u64, String);
    /// Why the run failed, when it did.
    fn failure(&self) -> Option<String>;
    /// What a comparison with another run of the kind shows.
    fn metrics(&self) -> Vec<crate::compare::Metric>;
    /// The report read back from the run history, completed with what its stored form leaves out.
    fn restored(self) -> Self {
        self
    }
}

/// A kind of background run.
pub trait Run: Send + Sync + Sized + 'static {
    type Spec: DeserializeOwned + Send;
    type Report: RunReport;
    /// Its name in the API's paths, the downloads' names and the run history (`bench`, `lab`).
    const KIND: &'static str;
    /// How people call it in a sentence ("benchmark", "lab run").
    const NOUN: &'static str;
    /// The shape of its spec, for a body that does not parse.
    const SPEC_SHAPE: &'static str;
    /// A run of `spec`, checked: a value out of range is refused by name.
    fn new(core: RunCore, spec: Self::Spec) -> AppResult<Self>;
    fn core(&self) -> &RunCore;
    fn report(&self) -> Self::Report;
    /// Does the work and ends the run (through [`RunCore::finish`]) whatever happens.
    fn execute(state: AppState, run: Arc<Self>) -> impl Future<Output = ()> + Send;
}

/// The part of a run every kind has.
pub struct RunCore {
    pub id: u64,
    pub started_at_ms: u64,
    cancel: AtomicBool,
    finished: tokio::sync::watch::Sender<bool>,
}

impl RunCore {
    pub fn new(id: u64) -> Self {
        Self { id, started_at_ms: unix_ms(), cancel: AtomicBool::new(false), finished: tokio::sync::watch::channel(false).0 }
    }

    pub fn cancel(&self) {
        self.cancel.store(true, Relaxed);
    }

    pub fn cancelled(&self) -> bool {
        self.cancel.load(Relaxed)
    }

    pub fn is_running(&self) -> bool {
        !*self.finished.borrow()
    }

    /// Marks the run ended; the kind has recorded its final state first.
    pub fn finish(&self) {
        self.finished.send_replace(true);
    }

    /// Asks the run to stop and resolves once it has.
    pub async fn stop(&self) {
        self.cancel();
        self.wait().await;
    }

    /// Resolves once the run has ended (done, cancelled or failed).
    pub async fn wait(&self) {
        let mut finished = self.finished.subscribe();
        let _ = finished.wait_for(|done| *done).await;
    }
}

/// A run of some kind, as the registry holds it.
trait Held: Send + Sync {
    fn core(&self) -> &RunCore;
    fn kind(&self) -> &'static str;
    fn noun(&self) -> &'static str;
    fn as_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync>;
}

impl<R: Run> Held for R {
    fn core(&self) -> &RunCore {
        Run::core(self)
    }
    fn kind(&self) -> &'static str {
        R::KIND
    }
    fn noun(&self) -> &'static str {
        R::NOUN
    }
    fn as_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
}

/// The runs this process holds: the one running, if any, and the last few finished.
#[derive(Default)]
pub struct Registry {
    runs: Mutex<VecDeque<Arc<dyn Held>>>,
}

impl Registry {
    /// Checks the spec, registers the run and starts it in the background; when it ends its report goes to the
    /// run history. Another run of any kind in progress is a conflict (409).
    pub fn start<R: Run>(&self, state: &AppState, spec: R::Spec) -> AppResult<Arc<R>> {
        let run = self.register::<R>(spec)?;
        let (state, started) = (state.clone(), run.clone());
        tokio::spawn(async move {
            R::execute(state.clone(), started.clone()).await;
            state.keep_run(R::KIND, &started.report()).await;
            // From here the history has it (or holds it until MySQL takes it): every server reads the same runs.
            state.registry.forget(started.core().id);
        });
        Ok(run)
    }

    fn register<R: Run>(&self, spec: R::Spec) -> AppResult<Arc<R>> {
        let mut runs = self.runs.lock().expect("run registry");
        if let Some(running) = runs.iter().find(|r| r.core().is_running()) {
            return Err(AppError::Conflict(format!(
                "{} {} is running: a {} now would measure it too; wait for it or cancel it",
                running.noun(),
                running.core().id,
                R::NOUN
            )));
        }
        let run = Arc::new(R::new(RunCore::new(super::run_history::new_run_id()), spec)?);
        if runs.len() == KEEP {
            runs.pop_front();
        }
        runs.push_back(run.clone());
        Ok(run)
    }

    /// The run in progress, if any: its kind and id.
    pub fn running(&self) -> Option<(&'static str, u64)> {
        let runs = self.runs.lock().expect("run registry");
        runs.iter().find(|r| r.core().is_running()).map(|r| (r.kind(), r.core().id))
    }

    pub fn get<R: Run>(&self, id: u64) -> Option<Arc<R>> {
        let runs = self.runs.lock().expect("run registry");
        let held = runs.iter().find(|r| r.core().id == id && r.kind() == R::KIND)?.clone();
        held.as_any().downcast::<R>().ok()
    }

    /// Whether run `id`, of any kind, is in progress.
    pub fn is_running(&self, id: u64) -> bool {
        self.runs.lock().expect("run registry").iter().any(|r| r.core().id == id && r.core().is_running())
    }

    /// Drops a finished run from memory (the history has it, or it was deleted); a running one stays.
    pub fn forget(&self, id: u64) -> bool {
        let mut runs = self.runs.lock().expect("run registry");
        let before = runs.len();
        runs.retain(|r| r.core().id != id || r.core().is_running());
        before != runs.len()
    }

    /// The reports of the runs of kind `R` held here, newest first.
    pub fn list<R: Run>(&self) -> Vec<R::Report> {
        let runs: Vec<Arc<dyn Held>> = self.runs.lock().expect("run registry").iter().rev().cloned().collect();
        runs.into_iter().filter(|r| r.kind() == R::KIND).filter_map(|r| r.as_any().downcast::<R>().ok()).map(|r| r.report()).collect()
    }
}

/// A run outside any registry, for the CLI.
pub fn standalone<R: Run>(spec: R::Spec) -> AppResult<Arc<R>> {
    Ok(Arc::new(R::new(RunCore::new(1), spec)?))
}
