//! Single flight, /metrics, /readyz and the security headers, against the real services.

use std::time::Duration;

use crate::support::*;

async fn metric(base: &str, name: &str) -> u64 {
    let text = http().get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("{name} not in /metrics:\n{text}"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn a_hundred_concurrent_misses_run_one_mysql_query() {
    let db = loaded_database("singleflight", 3000).await;
    let base = spawn_app(&db, &redis_url(), "cachelens-t-singleflight").await;
    http().post(format!("{base}/api/cache/delete")).send().await.unwrap();
    let before = metric(&base, "cachelens_mysql_queries_total").await;

    let url = format!("{base}/api/query/cache?term=delta&limit=500&ttl=60");
    let answers = futures::future::join_all((0..100).map(|_| get_json(&url))).await;
    assert!(answers.iter().all(|(status, body)| *status == 200 && body["row_count"] == 500));
    let misses = answers.iter().filter(|(_, b)| b["hit"] == false).count();
    assert_eq!(misses, 1, "every request but the first should be served by the fill it waited for");
    assert_eq!(metric(&base, "cachelens_mysql_queries_total").await - before, 1);
    assert_eq!(metric(&base, "cachelens_cache_misses_total").await, 1);
    assert_eq!(metric(&base, "cachelens_cache_hits_total").await, 99);
}

#[tokio::test]
async fn metrics_count_paths_and_statuses() {
    let db = loaded_database("metrics", 600).await;
    let base = spawn_app(&db, &redis_url(), "cachelens-t-metrics").await;
    for _ in 0..3 {
        get_json(&format!("{base}/api/query/mysql?term=delta&limit=5")).await;
    }
    get_json(&format!("{base}/api/query/mysql?limit=zero")).await;
    let text = http().get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(text.contains("cachelens_query_duration_seconds_count{path=\"mysql\"} 3\n"), "{text}");
    assert!(text.contains("cachelens_http_responses_total{class=\"4xx\"} 1\n"), "{text}");
    assert!(text.contains("# TYPE cachelens_query_duration_seconds histogram"), "{text}");
    assert!(text.contains("cachelens_db_pool_connections{state=\"open\"}"), "{text}");
}

#[tokio::test]
async fn readyz_follows_mysql_and_ignores_redis() {
    let db_url = database_url();
    let proxy = Proxy::start(socket_of(&db_url)).await;
    let dead_redis = format!("redis://127.0.0.1:{}", free_port());
    let base = spawn_app(&with_port(&db_url, proxy.port), &dead_redis, "cachelens-t-ready").await;
    let (status, body) = get_json(&format!("{base}/readyz")).await;
    assert_eq!((status, body["ready"].as_bool()), (200, Some(true)), "{body}");
    proxy.cut();
    let (status, body) = get_json(&format!("{base}/readyz")).await;
    assert_eq!((status, body["ready"].as_bool()), (503, Some(false)), "{body}");
    proxy.resume().await;
    assert!(eventually(Duration::from_secs(10), || async { get_json(&format!("{base}/readyz")).await.0 == 200 }).await);
}

#[tokio::test]
async fn pages_carry_security_headers_and_big_bodies_are_refused() {
    let base = spawn_app(&database_url(), &redis_url(), "cachelens-t-headers").await;
    let response = http().get(format!("{base}/")).send().await.unwrap();
    // Not `no-referrer`: with it Chromium sends `Origin: null` on the page's own posts, which the same-site check
    // must refuse (the browser sign-in test shows the whole flow).
    assert_eq!(response.headers()["referrer-policy"], "same-origin");
    let headers = response.headers();
    let csp = headers["content-security-policy"].to_str().unwrap().to_string();
    assert!(csp.starts_with("default-src 'self'"), "{csp}");
    assert!(!csp.contains("http"), "a remote origin is allowed: {csp}");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["x-frame-options"], "DENY");
    // Inline scripts run by this response's nonce, not by 'unsafe-inline'.
    let script_src = csp.split(';').find(|d| d.trim().starts_with("script-src")).unwrap().to_string();
    assert!(!script_src.contains("unsafe-inline"), "{csp}");
    let nonce = script_src.split("'nonce-").nth(1).and_then(|r| r.split('\'').next()).expect("a nonce in script-src").to_string();
    let html = response.text().await.unwrap();
    let scripts = html.matches("<script").count();
    assert!(scripts > 0 && html.matches(&format!("nonce=\"{nonce}\"")).count() >= scripts, "every inline script carries the nonce");
    let again = http().get(format!("{base}/")).send().await.unwrap();
    assert!(!again.headers()["content-security-policy"].to_str().unwrap().contains(&nonce), "a nonce was reused");
    let api = http().get(format!("{base}/healthz")).send().await.unwrap();
    let api_csp = api.headers()["content-security-policy"].to_str().unwrap();
    assert!(api_csp.contains("script-src 'self' 'wasm-unsafe-eval';") && !api_csp.contains("nonce"), "{api_csp}");
    let big = http().post(format!("{base}/api/cache/delete")).body(vec![b'x'; 200 * 1024]).send().await.unwrap();
    assert_eq!(big.status(), 413);
}

#[tokio::test]
async fn with_the_fill_lock_two_instances_run_one_mysql_query_between_them() {
    let db = loaded_database("filllock", 3000).await;
    let instance = || {
        let mut settings = settings_for(&db, &redis_url(), "cachelens-t-filllock");
        settings.tuning.fill_lock = true;
        spawn_app_with(settings)
    };
    let (a, b) = (instance().await, instance().await);
    http().post(format!("{a}/api/cache/delete")).send().await.unwrap();
    let before = metric(&a, "cachelens_mysql_queries_total").await + metric(&b, "cachelens_mysql_queries_total").await;

    let url = |base: &str| format!("{base}/api/query/cache?term=delta&limit=500&ttl=60");
    let requests = (0..40).map(|i| if i % 2 == 0 { url(&a) } else { url(&b) }).collect::<Vec<_>>();
    let answers = futures::future::join_all(requests.iter().map(|u| get_json(u))).await;
    assert!(answers.iter().all(|(status, body)| *status == 200 && body["row_count"] == 500));
    let after = metric(&a, "cachelens_mysql_queries_total").await + metric(&b, "cachelens_mysql_queries_total").await;
    assert_eq!(after - before, 1, "two instances, one fill");
    assert_eq!(answers.iter().filter(|(_, body)| body["hit"] == false).count(), 1);
}

#[tokio::test]
async fn the_redis_circuit_shows_in_metrics_and_closes_when_redis_returns() {
    let db = loaded_database("breaker", 300).await;
    let mut redis = RedisServer::start();
    let base = spawn_app(&db, &redis.url(), "cachelens-t-breaker").await;
    let url = format!("{base}/api/query/cache?term=delta&limit=5");
    redis.kill();
    for _ in 0..5 {
        let (status, body) = get_json(&url).await;
        assert_eq!((status, body["source"].as_str()), (200, Some("mysql")), "{body}");
    }
    assert_eq!(metric(&base, "cachelens_redis_circuit_open").await, 1);
    let (_, body) = get_json(&url).await;
    assert!(body["cache_error"].as_str().unwrap().contains("circuit open"), "{body}");
    redis.restart();
    assert!(
        eventually(Duration::from_secs(3), || async {
            get_json(&url).await.1["source"] != "mysql" || metric(&base, "cachelens_redis_circuit_open").await == 0
        })
        .await
    );
    assert!(eventually(Duration::from_secs(3), || async { metric(&base, "cachelens_redis_circuit_open").await == 0 }).await);
    assert!(metric(&base, "cachelens_redis_circuit_trips_total").await >= 1);
}
