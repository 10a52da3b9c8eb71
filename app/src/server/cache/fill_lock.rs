//! Single flight across instances: a short Redis lock per key, so several cachelens processes sharing a Redis
//! run one MySQL query per missing key (`--fill-lock`).

use std::time::{Duration, Instant};

use fred::prelude::*;

use super::compressed::StoredRows;
use super::store::read_entry;

/// How long a fill may hold the cross-instance lock, and how long others wait for its value.
const FILL_LOCK_TTL: Duration = Duration::from_secs(5);
const FILL_LOCK_WAIT: Duration = Duration::from_secs(2);

pub(super) enum FillLock {
    Held(String),
    /// Another instance filled the key while this one waited.
    Filled(StoredRows, Option<u64>),
    /// The other filler took too long: fill anyway rather than keep the user waiting.
    GaveUp,
}

pub(super) async fn fill_lock(client: &Client, key: &str) -> FillLock {
    // `{hash}` in the key keeps the lock on the value's cluster slot.
    let lock = format!("{key}:lock");
    let deadline = Instant::now() + FILL_LOCK_WAIT;
    loop {
        let took: Result<Option<String>, _> =
            client.set(&lock, "1", Some(Expiration::PX(FILL_LOCK_TTL.as_millis() as i64)), Some(SetOptions::NX), false).await;
        match took {
            // The holder before may have filled the key and let go just now: look once more before filling.
            Ok(Some(_)) => match read_entry(client, key).await {
                Ok(Some((rows, ttl))) => {
                    let _ = client.del::<(), _>(&lock).await;
                    return FillLock::Filled(rows, ttl);
                }
                _ => return FillLock::Held(lock),
            },
            Ok(None) => {}
            Err(_) => return FillLock::GaveUp,
        }
        if let Ok(Some((rows, ttl))) = read_entry(client, key).await {
            return FillLock::Filled(rows, ttl);
        }
        if Instant::now() > deadline {
            return FillLock::GaveUp;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
