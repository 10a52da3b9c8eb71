//! The comparison page's memory: every interactive or API query, with its path and server-side time (not a run: runs are
//! benchmarks and labs, in `state::runs`).

use std::collections::VecDeque;
use std::sync::Mutex;

use crate::stats::{Outcome, QueryRecord};

/// Oldest queries are forgotten past this many.
const KEEP: usize = 5_000;

#[derive(Default)]
pub struct QueryLog {
    queries: Mutex<(u64, VecDeque<QueryRecord>)>,
}

impl QueryLog {
    pub fn record(&self, path: Outcome, elapsed_us: u64) {
        let at_ms = crate::server::clock::unix_ms();
        let mut guard = self.queries.lock().expect("query log");
        let (next, queries) = &mut *guard;
        *next += 1;
        if queries.len() == KEEP {
            queries.pop_front();
        }
        queries.push_back(QueryRecord { seq: *next, at_ms, path, elapsed_us });
    }

    /// The latest `n` queries, oldest first.
    pub fn latest(&self, n: usize) -> Vec<QueryRecord> {
        let guard = self.queries.lock().expect("query log");
        guard.1.iter().skip(guard.1.len().saturating_sub(n)).cloned().collect()
    }

    /// The latest `n` queries of `path`, oldest first.
    pub fn latest_of(&self, path: Outcome, n: usize) -> Vec<QueryRecord> {
        let guard = self.queries.lock().expect("query log");
        let mut queries: Vec<QueryRecord> = guard.1.iter().rev().filter(|r| r.path == path).take(n).cloned().collect();
        queries.reverse();
        queries
    }

    pub fn clear(&self) {
        self.queries.lock().expect("query log").1.clear();
    }
}
