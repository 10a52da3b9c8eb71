//! The seed's flow over the JSON API and the pages: Query MySQL, Query Cache, Delete Cache, and what
//! happens when Redis or MySQL goes away.

use std::time::Duration;

use fred::prelude::*;
use serde_json::Value;
use tokio::sync::OnceCell;

use crate::support::*;

/// One loaded database shared by these tests (read-only for them); each test uses its own key prefix.
async fn articles_db() -> String {
    static DB: OnceCell<String> = OnceCell::const_new();
    DB.get_or_init(|| loaded_database("cacheflow", 3000)).await.clone()
}

async fn redis_client(url: &str) -> Client {
    let client = Builder::from_config(Config::from_url(url).unwrap()).build().unwrap();
    client.init().await.unwrap();
    client
}

async fn cache_query(base: &str, ttl: u64) -> Value {
    let (status, body) = get_json(&format!("{base}/api/query/cache?term=delta&limit=500&ttl={ttl}")).await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test]
async fn miss_then_hit_with_identical_rows_and_a_falling_ttl() {
    let base = spawn_app(&articles_db().await, &redis_url(), "cachelens-t-misshit").await;
    http().post(format!("{base}/api/cache/delete")).send().await.unwrap();

    let (status, mysql) = get_json(&format!("{base}/api/query/mysql?term=delta&limit=500")).await;
    assert_eq!(status, 200, "{mysql}");
    assert_eq!((mysql["source"].as_str(), mysql["hit"].as_bool()), (Some("mysql"), Some(false)));
    assert_eq!(mysql["row_count"], 500);
    assert_eq!(mysql["ttl_remaining_s"], Value::Null);
    let first = &mysql["rows"][0];
    assert!(first["Sentence"].as_str().unwrap().contains("delta"), "{first}");
    assert!(first["OBJECTID"].is_i64() && first["Title"].is_string() && first["Source"].is_string());

    let miss = cache_query(&base, 60).await;
    assert_eq!((miss["source"].as_str(), miss["hit"].as_bool()), (Some("mysql"), Some(false)), "{miss}");
    assert_eq!(miss["ttl_remaining_s"], 60);
    let hit = cache_query(&base, 60).await;
    assert_eq!((hit["source"].as_str(), hit["hit"].as_bool()), (Some("cache"), Some(true)), "{hit}");
    assert_eq!(hit["rows"], mysql["rows"]);
    assert_eq!(miss["rows"], mysql["rows"]);
    assert_eq!(hit["row_count"], 500);
    assert!(hit["elapsed_us"].as_u64().unwrap() > 0);

    let ttl_then = hit["ttl_remaining_s"].as_u64().unwrap();
    assert!((58..=60).contains(&ttl_then), "{ttl_then}");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let later = cache_query(&base, 60).await;
    assert!(later["hit"] == true && later["ttl_remaining_s"].as_u64().unwrap() < ttl_then, "{later}");
}

#[tokio::test]
async fn a_request_without_ttl_gets_the_configured_default() {
    let mut settings = settings_for(&articles_db().await, &redis_url(), "cachelens-t-defttl");
    settings.tuning.cache_ttl = 90;
    let base = spawn_app_with(settings).await;
    http().post(format!("{base}/api/cache/delete")).send().await.unwrap();
    let (status, miss) = get_json(&format!("{base}/api/query/cache?term=delta&limit=7")).await;
    assert_eq!((status, miss["ttl_remaining_s"].as_u64()), (200, Some(90)), "{miss}");
}

#[tokio::test]
async fn an_expired_entry_turns_a_hit_into_a_miss() {
    let base = spawn_app(&articles_db().await, &redis_url(), "cachelens-t-expiry").await;
    http().post(format!("{base}/api/cache/delete")).send().await.unwrap();
    assert_eq!(cache_query(&base, 1).await["hit"], false);
    assert_eq!(cache_query(&base, 1).await["hit"], true);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(cache_query(&base, 1).await["hit"], false);
}

#[tokio::test]
async fn delete_removes_only_prefixed_keys() {
    let prefix = "cachelens-t-delete";
    let base = spawn_app(&articles_db().await, &redis_url(), prefix).await;
    let redis = redis_client(&redis_url()).await;
    let foreign = "someone-else:precious";
    let _: () = redis.set(foreign, "keep me", None, None, false).await.unwrap();
    let lookalike = "cachelens-t-deleteX:v1:q:0"; // same start, other namespace
    let _: () = redis.set(lookalike, "keep me too", None, None, false).await.unwrap();

    for limit in [10, 20, 30] {
        let (s, _) = get_json(&format!("{base}/api/query/cache?term=delta&limit={limit}")).await;
        assert_eq!(s, 200);
    }
    let response = http().post(format!("{base}/api/cache/delete")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["deleted"], 3, "{body}");
    let left: Vec<String> = redis.keys_matching(&format!("{prefix}:*")).await;
    assert!(left.is_empty(), "{left:?}");
    assert_eq!(redis.get::<String, _>(foreign).await.unwrap(), "keep me");
    assert_eq!(redis.get::<String, _>(lookalike).await.unwrap(), "keep me too");
    let _: () = redis.del((foreign, lookalike)).await.unwrap();
    assert_eq!(cache_query(&base, 60).await["hit"], false, "a query after Delete Cache must miss");
}

trait KeysMatching {
    async fn keys_matching(&self, pattern: &str) -> Vec<String>;
}

impl KeysMatching for Client {
    async fn keys_matching(&self, pattern: &str) -> Vec<String> {
        self.custom(fred::cmd!("KEYS"), vec![pattern]).await.unwrap()
    }
}

#[tokio::test]
async fn bad_parameters_are_refused_with_a_reason() {
    let base = spawn_app(&articles_db().await, &redis_url(), "cachelens-t-bad").await;
    for (query, reason) in [
        ("mysql?limit=abc", "limit must be a whole number"),
        ("mysql?limit=0", "limit must be between 1 and 5000"),
        ("mysql?limit=999999", "limit must be between 1 and 5000"),
        ("mysql?term=", "the search term is empty"),
        ("cache?ttl=0", "ttl must be between 1"),
        ("cache?ttl=-5", "ttl must be a whole number"),
    ] {
        let (status, body) = get_json(&format!("{base}/api/query/{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert!(body["error"].as_str().unwrap().contains(reason), "{query}: {body}");
    }
    // The term is bound, not spliced: SQL in it is just text to search for.
    let (status, body) = get_json(&format!("{base}/api/query/mysql?term=%27%20OR%201%3D1%20--%20")).await;
    assert_eq!((status, body["row_count"].as_u64()), (200, Some(0)), "{body}");
}

#[tokio::test]
async fn a_dead_redis_degrades_to_mysql_with_a_banner_and_hits_resume_when_it_returns() {
    let mut redis = RedisServer::start();
    let base = spawn_app(&articles_db().await, &redis.url(), "cachelens-t-redisdown").await;
    assert!(eventually(Duration::from_secs(5), || async { cache_query(&base, 60).await["hit"] == true }).await);

    redis.kill();
    let fallback = cache_query(&base, 60).await;
    assert_eq!((fallback["source"].as_str(), fallback["hit"].as_bool()), (Some("mysql"), Some(false)));
    assert_eq!(fallback["row_count"], 500);
    assert!(fallback["cache_error"].is_string(), "{fallback}");
    let page = http().get(format!("{base}/cache?term=delta&limit=500&ttl=60&run=1")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Cache unavailable"), "no banner in the page");
    // The status answers from the client's and the breaker's state, not from a PING left to time out.
    let (_, health) = get_json(&format!("{base}/healthz")).await;
    assert_eq!(health["redis"]["up"], false, "{health}");
    let why = health["redis"]["detail"].as_str().unwrap_or_default();
    assert!(why.contains("not connected") || why.contains("circuit open"), "{health}");
    let home = http().get(format!("{base}/")).send().await.unwrap().text().await.unwrap();
    assert!(home.contains("not connected") || home.contains("circuit open"), "the Home page says Redis is down");

    redis.restart();
    let resumed = eventually(Duration::from_secs(10), || async {
        let a = cache_query(&base, 60).await;
        a["cache_error"].is_null() && cache_query(&base, 60).await["hit"] == true
    });
    assert!(resumed.await, "hits did not resume after Redis came back");
}

#[tokio::test]
async fn a_dead_mysql_gives_503_with_a_message_and_recovers_without_a_restart() {
    let db_url = articles_db().await;
    let proxy = Proxy::start(socket_of(&db_url)).await;
    let base = spawn_app(&with_port(&db_url, proxy.port), &redis_url(), "cachelens-t-mysqldown").await;
    let (status, _) = get_json(&format!("{base}/api/query/mysql")).await;
    assert_eq!(status, 200);

    proxy.cut();
    let (status, body) = get_json(&format!("{base}/api/query/mysql")).await;
    assert_eq!(status, 503, "{body}");
    let message = body["error"].as_str().unwrap();
    assert!(message.starts_with("MySQL is unavailable"), "{message}");
    assert!(!message.contains("cachelens-local"), "password leaked: {message}");
    let page = http().get(format!("{base}/mysql?term=delta&limit=5&run=1")).send().await.unwrap();
    assert_eq!(page.status(), 503);
    assert!(page.text().await.unwrap().contains("MySQL is unavailable"));

    proxy.resume().await;
    let back = eventually(Duration::from_secs(10), || async { get_json(&format!("{base}/api/query/mysql")).await.0 == 200 });
    assert!(back.await, "MySQL path did not recover");
    let page = http().get(format!("{base}/mysql?term=delta&limit=5&run=2")).send().await.unwrap();
    assert_eq!(page.status(), 200);
}

#[tokio::test]
async fn a_hung_mysql_is_cut_off_with_a_503_instead_of_holding_the_request() {
    let db_url = articles_db().await;
    let proxy = Proxy::start(socket_of(&db_url)).await;
    let base = spawn_app(&with_port(&db_url, proxy.port), &redis_url(), "cachelens-t-mysqlhang").await;
    assert_eq!(get_json(&format!("{base}/api/query/mysql?limit=5")).await.0, 200);

    proxy.stall();
    let started = std::time::Instant::now();
    let (status, body) = get_json(&format!("{base}/api/query/mysql?limit=5")).await;
    assert_eq!(status, 503, "{body}");
    // Either bound may fire first: the pool's health ping on acquire (3 s) or the query timeout (10 s).
    assert!(body["error"].as_str().unwrap().starts_with("MySQL is unavailable"), "{body}");
    assert!(started.elapsed() < Duration::from_secs(20), "the request was held {:?}", started.elapsed());
}
