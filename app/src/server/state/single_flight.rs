//! Single flight within one process: concurrent misses on one key wait for the first to fill it, so MySQL is
//! asked once. Held by the shared state for the cache flow; the lab keeps one per strategy run.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

type Gates = Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>;

#[derive(Clone, Default)]
pub struct SingleFlight {
    gates: Gates,
}

/// Held while one request fills a key; dropping it lets the waiters in and forgets the gate.
pub struct Turn {
    gates: Gates,
    key: String,
    gate: Arc<tokio::sync::Mutex<()>>,
    _held: tokio::sync::OwnedMutexGuard<()>,
}

impl Drop for Turn {
    fn drop(&mut self) {
        let mut gates = self.gates.lock().expect("fill map");
        // The map and this guard hold the gate; anyone else still waiting keeps it alive in the map.
        if Arc::strong_count(&self.gate) <= 3 {
            gates.remove(&self.key);
        }
    }
}

impl SingleFlight {
    /// Waits until no other request of this process is filling `key`, then holds it.
    pub async fn wait_turn(&self, key: &str) -> Turn {
        let gate = self.gates.lock().expect("fill map").entry(key.to_string()).or_default().clone();
        let held = gate.clone().lock_owned().await;
        Turn { gates: self.gates.clone(), key: key.to_string(), gate, _held: held }
    }
}
