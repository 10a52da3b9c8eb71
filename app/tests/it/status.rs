//! The foundation: the server starts whatever the services do, reports them, and follows them up and down.

use std::time::Duration;

use crate::support::*;

#[tokio::test]
async fn healthz_reports_both_real_services_up_with_round_trips() {
    let base = spawn_app(&database_url(), &redis_url(), "cachelens-t-status").await;
    let (status, body) = get_json(&format!("{base}/healthz")).await;
    assert_eq!(status, 200);
    assert_eq!(body["mysql"]["up"], true, "{body}");
    assert_eq!(body["redis"]["up"], true, "{body}");
    assert!(body["mysql"]["rtt_us"].as_u64().unwrap() > 0);
    assert!(body["redis"]["rtt_us"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn home_page_is_server_rendered_with_the_hydration_script_and_live_status() {
    let base = spawn_app(&database_url(), &redis_url(), "cachelens-t-home").await;
    let response = http().get(format!("{base}/")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(html.contains("/pkg/cachelens.js"), "no hydration script in:\n{html}");
    assert!(html.contains("/pkg/cachelens.css"));
    assert!(html.contains(r#"data-service="MySQL""#), "{html}");
    assert!(html.contains(r#"class="state up""#), "{html}");
    assert!(!html.contains(r#"class="state down""#), "{html}");
}

#[tokio::test]
async fn home_shows_the_loaded_dataset() {
    let db = loaded_database("homedataset", 120).await;
    let base = spawn_app(&db, &redis_url(), "cachelens-t-homedataset").await;
    let html = http().get(format!("{base}/")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("<strong>120</strong>") && html.contains("<code>homedataset.csv</code>"), "{html}");

    let empty = fresh_database("homeempty").await;
    cachelens::server::dataset::connect_creating(&empty).await.unwrap();
    let base = spawn_app(&empty, &redis_url(), "cachelens-t-homeempty").await;
    let html = http().get(format!("{base}/")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("No articles loaded yet"), "{html}");
}

#[tokio::test]
async fn a_dead_redis_shows_as_down_and_the_server_keeps_serving_until_it_returns() {
    let mut redis = RedisServer::start();
    let base = spawn_app(&database_url(), &redis.url(), "cachelens-t-down").await;
    let redis_up = |base: String| async move { get_json(&format!("{base}/healthz")).await.1["redis"]["up"] == true };
    assert!(eventually(Duration::from_secs(5), || redis_up(base.clone())).await, "redis never came up");

    redis.kill();
    let (status, body) = get_json(&format!("{base}/healthz")).await;
    assert_eq!(status, 200);
    assert_eq!(body["redis"]["up"], false, "{body}");
    assert!(!body["redis"]["detail"].as_str().unwrap().is_empty());
    assert_eq!(body["mysql"]["up"], true, "{body}");
    let html = http().get(format!("{base}/")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains(r#"class="state down""#), "{html}");

    redis.restart();
    assert!(eventually(Duration::from_secs(10), || redis_up(base.clone())).await, "redis not picked up again");
}

#[tokio::test]
async fn the_server_starts_when_nothing_is_reachable() {
    let dead_db = with_port(&database_url(), free_port());
    let dead_redis = format!("redis://127.0.0.1:{}", free_port());
    let base = spawn_app(&dead_db, &dead_redis, "cachelens-t-nothing").await;
    let (status, body) = get_json(&format!("{base}/healthz")).await;
    assert_eq!(status, 200);
    assert_eq!(body["mysql"]["up"], false);
    assert_eq!(body["redis"]["up"], false);
    let detail = body["mysql"]["detail"].as_str().unwrap();
    assert!(!detail.contains("cachelens-local"), "password leaked: {detail}");
}
