//! The cache against every Redis shape a deployment may have: standalone, a 3-primary cluster, and TLS with
//! AUTH behind a private CA (all started on loopback by scripts/test), and a cluster primary dying mid-run.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::support::*;

fn env(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| panic!("{var} is not set: scripts/test starts the cluster and TLS Redis"))
}

fn services(args: &[&str]) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/services");
    let status = Command::new(script).args(args).env_remove("DATABASE_URL").env_remove("REDIS_URL").status().unwrap();
    assert!(status.success(), "scripts/services {args:?} failed");
}

async fn app(redis_url: &str, ca: Option<PathBuf>, prefix: &str, rows: u64) -> String {
    let db = loaded_database(&format!("topo_{}", prefix.replace('-', "_")), rows).await;
    let mut settings = settings_for(&db, redis_url, prefix);
    settings.tuning.redis_ca_file = ca;
    spawn_app_with(settings).await
}

async fn cache(base: &str, limit: u32) -> Value {
    let (status, body) = get_json(&format!("{base}/api/query/cache?term=delta&limit={limit}&ttl=120")).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn delete(base: &str) -> u64 {
    let response = http().post(format!("{base}/api/cache/delete")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.json::<Value>().await.unwrap()["deleted"].as_u64().unwrap()
}

/// Miss, hit with the same rows, several keys, Delete Cache removes them all.
async fn cache_contract(base: &str) {
    delete(base).await;
    let limits = [3, 5, 8, 13, 21, 34];
    for limit in limits {
        let miss = cache(base, limit).await;
        assert_eq!((miss["hit"].as_bool(), miss["cache_error"].as_str()), (Some(false), None), "{miss}");
        let hit = cache(base, limit).await;
        assert_eq!((hit["source"].as_str(), hit["hit"].as_bool()), (Some("cache"), Some(true)), "{hit}");
        assert_eq!(hit["rows"], miss["rows"]);
        assert_eq!(hit["row_count"], limit);
    }
    assert_eq!(delete(base).await, limits.len() as u64);
    assert_eq!(cache(base, 3).await["hit"], false);
}

#[tokio::test]
async fn standalone() {
    cache_contract(&app(&redis_url(), None, "cachelens-t-standalone", 600).await).await;
}

#[tokio::test]
async fn tls_with_auth_and_a_private_ca() {
    let base = app(&env("REDIS_TLS_URL"), Some(env("REDIS_TLS_CA").into()), "cachelens-t-tls", 600).await;
    cache_contract(&base).await;
    let (_, health) = get_json(&format!("{base}/healthz")).await;
    assert_eq!(health["redis"]["up"], true, "{health}");
}

#[tokio::test]
async fn tls_refuses_a_server_it_cannot_verify() {
    // Without the private CA the system roots do not vouch for the server: the cache is unusable and
    // MySQL answers instead.
    let base = app(&env("REDIS_TLS_URL"), None, "cachelens-t-tlsbad", 600).await;
    let answer = cache(&base, 4).await;
    assert_eq!((answer["source"].as_str(), answer["hit"].as_bool()), (Some("mysql"), Some(false)));
    assert!(answer["cache_error"].is_string(), "{answer}");
}

/// One test, in sequence: it stops a primary, which no other cluster test may see.
#[tokio::test]
async fn cluster_works_across_primaries_and_survives_losing_one() {
    let base = app(&env("REDIS_CLUSTER_URL"), None, "cachelens-t-cluster", 600).await;
    cache_contract(&base).await;

    delete(&base).await;
    let limits: Vec<u32> = (1..=12).collect();
    for &limit in &limits {
        cache(&base, limit).await;
        assert_eq!(cache(&base, limit).await["hit"], true);
    }

    services(&["stop", "cluster-node", "17002"]);
    let mut degraded = 0;
    for &limit in &limits {
        let answer = cache(&base, limit).await; // 200 asserted inside: never a 5xx
        assert_eq!(answer["row_count"], limit);
        if answer["cache_error"].is_string() {
            assert_eq!(answer["source"], "mysql");
            degraded += 1;
        }
    }
    assert!(degraded > 0, "no query touched the dead primary");

    services(&["start", "cluster"]);
    let resumed = eventually(Duration::from_secs(20), || async {
        let mut all_hit = true;
        for &limit in &limits {
            let a = cache(&base, limit).await;
            all_hit &= a["hit"] == true;
        }
        all_hit
    });
    assert!(resumed.await, "hits did not resume after the primary came back");
}
