//! Fault injection under load: Redis or MySQL dies while requests keep coming.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::*;

/// One answer seen by the load: when it arrived, its status and body.
type Seen = Arc<Mutex<Vec<(Instant, u16, serde_json::Value)>>>;

/// `workers` clients requesting `url` back to back until `stop` is set.
fn load(url: String, workers: usize, stop: Arc<AtomicBool>, seen: Seen) -> Vec<tokio::task::JoinHandle<()>> {
    (0..workers)
        .map(|_| {
            let (url, stop, seen) = (url.clone(), stop.clone(), seen.clone());
            tokio::spawn(async move {
                let client = http();
                while !stop.load(Ordering::SeqCst) {
                    let (status, body) = match client.get(&url).send().await {
                        Ok(r) => {
                            let status = r.status().as_u16();
                            (status, r.json().await.unwrap_or(serde_json::Value::Null))
                        }
                        Err(e) => (0, serde_json::json!({ "error": e.to_string() })),
                    };
                    seen.lock().unwrap().push((Instant::now(), status, body));
                }
            })
        })
        .collect()
}

#[tokio::test]
async fn redis_dying_under_load_costs_no_errors_and_hits_resume_within_two_seconds() {
    let db = loaded_database("faults_redis", 600).await;
    let mut redis = RedisServer::start();
    let base = spawn_app(&db, &redis.url(), "cachelens-t-faults").await;
    let url = format!("{base}/api/query/cache?term=delta&limit=50&ttl=300");
    assert_eq!(get_json(&url).await.0, 200);

    let (stop, seen): (Arc<AtomicBool>, Seen) = (Arc::default(), Arc::default());
    let workers = load(url, 8, stop.clone(), seen.clone());
    tokio::time::sleep(Duration::from_millis(500)).await;
    redis.kill();
    let killed = Instant::now();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    redis.restart();
    let back = Instant::now();
    let resumed =
        eventually(Duration::from_secs(5), || async { seen.lock().unwrap().iter().any(|(at, _, body)| *at > back && body["hit"] == true) })
            .await;
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        w.await.unwrap();
    }

    let seen = seen.lock().unwrap().clone();
    let failures: Vec<_> = seen.iter().filter(|(_, status, _)| *status != 200).collect();
    assert!(failures.is_empty(), "{} of {} requests failed, e.g. {:?}", failures.len(), seen.len(), failures.first());
    let outage: Vec<_> = seen.iter().filter(|(at, _, _)| *at > killed + Duration::from_millis(300) && *at < back).collect();
    assert!(!outage.is_empty(), "no requests during the outage");
    assert!(
        outage.iter().all(|(_, _, b)| b["source"] == "mysql" && b["cache_error"].is_string()),
        "during the outage every answer comes from MySQL and says why"
    );
    assert!(resumed, "no cache hit within 5 s of Redis returning");
    let first_hit = seen.iter().filter(|(at, _, b)| *at > back && b["hit"] == true).map(|(at, _, _)| *at).min().unwrap();
    assert!(first_hit - back < Duration::from_secs(2), "hits resumed {:?} after Redis returned", first_hit - back);
}

#[tokio::test]
async fn mysql_dying_under_load_gives_503s_that_say_why_then_recovers() {
    let db = loaded_database("faults_mysql", 600).await;
    let proxy = Proxy::start(socket_of(&db)).await;
    let base = spawn_app(&with_port(&db, proxy.port), &redis_url(), "cachelens-t-faultsdb").await;
    let url = format!("{base}/api/query/mysql?term=delta&limit=50");
    assert_eq!(get_json(&url).await.0, 200);

    let (stop, seen): (Arc<AtomicBool>, Seen) = (Arc::default(), Arc::default());
    let workers = load(url.clone(), 4, stop.clone(), seen.clone());
    tokio::time::sleep(Duration::from_millis(500)).await;
    proxy.cut();
    let cut = Instant::now();
    tokio::time::sleep(Duration::from_secs(4)).await;
    proxy.resume().await;
    let back = Instant::now();
    let recovered =
        eventually(Duration::from_secs(15), || async { seen.lock().unwrap().iter().any(|(at, status, _)| *at > back && *status == 200) })
            .await;
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        w.await.unwrap();
    }

    let seen = seen.lock().unwrap().clone();
    let statuses: std::collections::BTreeSet<u16> = seen.iter().map(|(_, s, _)| *s).collect();
    assert!(statuses.iter().all(|s| [200, 503].contains(s)), "only 200 and 503 expected, saw {statuses:?}");
    let down: Vec<_> = seen.iter().filter(|(at, s, _)| *at > cut && *at < back && *s == 503).collect();
    assert!(!down.is_empty(), "no 503 while MySQL was unreachable");
    assert!(
        down.iter()
            .all(|(_, _, b)| b["error"].as_str().is_some_and(|e| e.starts_with("MySQL is unavailable") && !e.contains("cachelens-local"))),
        "a 503 without the message, or with the password: {:?}",
        down.first()
    );
    assert!(recovered, "no 200 within 15 s of MySQL returning");
    assert_eq!(get_json(&format!("{base}/healthz")).await.0, 200);
}
