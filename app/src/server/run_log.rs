//! The comparison page's memory: every interactive or API query, with its path and server-side time.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::stats::{Outcome, RunRecord};

/// Oldest runs are forgotten past this many.
const KEEP: usize = 5_000;

#[derive(Default)]
pub struct RunLog {
    runs: Mutex<(u64, VecDeque<RunRecord>)>,
}

impl RunLog {
    pub fn record(&self, path: Outcome, elapsed_us: u64) {
        let at_ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or_default();
        let mut guard = self.runs.lock().expect("run log");
        let (next, runs) = &mut *guard;
        *next += 1;
        if runs.len() == KEEP {
            runs.pop_front();
        }
        runs.push_back(RunRecord { seq: *next, at_ms, path, elapsed_us });
    }

    /// The latest `n` runs, oldest first.
    pub fn latest(&self, n: usize) -> Vec<RunRecord> {
        let guard = self.runs.lock().expect("run log");
        guard.1.iter().skip(guard.1.len().saturating_sub(n)).cloned().collect()
    }

    /// The latest `n` runs of `path`, oldest first.
    pub fn latest_of(&self, path: Outcome, n: usize) -> Vec<RunRecord> {
        let guard = self.runs.lock().expect("run log");
        let mut runs: Vec<RunRecord> = guard.1.iter().rev().filter(|r| r.path == path).take(n).cloned().collect();
        runs.reverse();
        runs
    }

    pub fn clear(&self) {
        self.runs.lock().expect("run log").1.clear();
    }
}
