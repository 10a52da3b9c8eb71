//! Which version of each item had committed when: the lab issues every write, so it can tell whether a read
//! returned a version already superseded when the read began, and for how long.
//!
//! A write's time is taken when MySQL's OK for it arrived, which is after the commit: a read that began between
//! the commit and that moment is not counted as stale. Staleness is therefore never overstated.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Seeded rows start at this version.
pub const FIRST_VERSION: u64 = 1;
const SHARDS: usize = 64;

type Acks = Mutex<HashMap<u32, Vec<Option<Instant>>>>;

pub struct History {
    shards: [Acks; SHARDS],
}

impl Default for History {
    fn default() -> Self {
        Self { shards: std::array::from_fn(|_| Acks::default()) }
    }
}

impl History {
    fn shard(&self, id: u32) -> &Acks {
        &self.shards[id as usize % SHARDS]
    }

    /// `version` of `id` committed no later than `acked`.
    pub fn committed(&self, id: u32, version: u64, acked: Instant) {
        let Some(index) = version.checked_sub(FIRST_VERSION + 1) else { return };
        let index = index as usize;
        let mut shard = self.shard(id).lock().expect("history");
        let acks = shard.entry(id).or_default();
        if acks.len() <= index {
            acks.resize(index + 1, None);
        }
        // Versions commit in order (the row lock), so a version committed no later than any newer one's ack.
        let at = acks[index + 1..].iter().flatten().fold(acked, |a, &b| a.min(b));
        acks[index] = Some(at);
        for earlier in acks[..index].iter_mut().rev().flatten() {
            if *earlier <= at {
                break;
            }
            *earlier = at;
        }
    }

    /// For a read of `id` that began at `began` and returned `version`: how long the returned version had
    /// been superseded by a committed one, or `None` when it was the newest committed.
    pub fn staleness(&self, id: u32, version: u64, began: Instant) -> Option<Duration> {
        let shard = self.shard(id).lock().expect("history");
        let acks = shard.get(&id)?;
        // The first version newer than the one returned that had committed before the read began.
        let first_newer = version.saturating_sub(FIRST_VERSION) as usize;
        acks.get(first_newer..)?.iter().flatten().find(|&&at| at < began).map(|&at| began - at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_is_stale_from_the_first_newer_commit_before_it_began() {
        let h = History::default();
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        assert_eq!(h.staleness(7, 1, t0 + ms(5)), None, "never written: the seed is the newest");
        h.committed(7, 2, t0 + ms(10));
        h.committed(7, 3, t0 + ms(20));
        assert_eq!(h.staleness(7, 1, t0 + ms(5)), None, "began before any write");
        assert_eq!(h.staleness(7, 1, t0 + ms(15)), Some(ms(5)));
        assert_eq!(h.staleness(7, 1, t0 + ms(25)), Some(ms(15)), "aged from version 2, the first newer one");
        assert_eq!(h.staleness(7, 2, t0 + ms(25)), Some(ms(5)));
        assert_eq!(h.staleness(7, 3, t0 + ms(25)), None);
        assert_eq!(h.staleness(8, 1, t0 + ms(25)), None, "another item");
    }

    #[test]
    fn acks_recorded_out_of_order_stay_upper_bounds_in_order() {
        let h = History::default();
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        // Version 3's OK was seen before version 2's: version 2 committed no later than version 3's OK.
        h.committed(1, 3, t0 + ms(10));
        h.committed(1, 2, t0 + ms(30));
        assert_eq!(h.staleness(1, 1, t0 + ms(20)), Some(ms(10)));
        assert_eq!(h.staleness(1, 2, t0 + ms(20)), Some(ms(10)));
    }
}
