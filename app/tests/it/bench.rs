//! The benchmark runner and the comparison record, against the real services.

use std::time::Duration;

use crate::support::*;

async fn post(url: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
    let response = http().post(url).json(&body).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn wait_finished(base: &str, id: u64) -> serde_json::Value {
    let url = format!("{base}/api/bench/{id}");
    let finished = eventually(Duration::from_secs(120), || async { get_json(&url).await.1["state"] != "running" }).await;
    let last = get_json(&url).await.1;
    assert!(finished, "benchmark {id} did not end: {last}");
    last
}

#[tokio::test]
async fn a_small_benchmark_measures_both_paths_and_the_cache_wins() {
    let db = loaded_database("bench_small", 3000).await;
    let base = spawn_app(&db, &redis_url(), "cachelens-t-bench").await;
    let (status, started) =
        post(&format!("{base}/api/bench"), serde_json::json!({ "iterations": 200, "concurrency": 4, "paths": ["mysql", "cache"] })).await;
    assert_eq!(status, 202, "{started}");
    let id = started["id"].as_u64().unwrap();
    let report = wait_finished(&base, id).await;
    assert_eq!(report["state"], "done", "{report}");
    for path in ["mysql", "cache"] {
        let r = &report["results"][path];
        assert_eq!(r["count"], 200, "{path}: {r}");
        let (p50, p95, p99, max) =
            (r["p50_us"].as_u64().unwrap(), r["p95_us"].as_u64().unwrap(), r["p99_us"].as_u64().unwrap(), r["max_us"].as_u64().unwrap());
        assert!(0 < p50 && p50 <= p95 && p95 <= p99 && p99 <= max, "{path}: {r}");
    }
    let (mysql, cache) = (report["results"]["mysql"]["p50_us"].as_u64().unwrap(), report["results"]["cache"]["p50_us"].as_u64().unwrap());
    assert!(cache < mysql, "a cache hit's median ({cache} µs) should beat MySQL's ({mysql} µs) on 3000 rows");

    let csv = http().get(format!("{base}/api/bench/{id}/csv")).send().await.unwrap();
    assert!(csv.headers()["content-disposition"].to_str().unwrap().contains(&format!("cachelens-bench-{id}.csv")));
    let csv = csv.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("path,count,errors,p50_us"), "{csv}");
    assert!(lines[1].starts_with("mysql,200,0,") && lines[2].starts_with("cache,200,0,"), "{csv}");

    let (_, list) = get_json(&format!("{base}/api/bench")).await;
    assert_eq!(list[0]["id"], id, "{list}");
    // Benchmark traffic stays out of the comparison page's record.
    let html = http().get(format!("{base}/compare")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("id=\"no-runs\""), "benchmark requests leaked into the run record");
}

#[tokio::test]
async fn cancel_stops_a_run_and_a_second_run_waits_its_turn() {
    let db = loaded_database("bench_cancel", 3000).await;
    let base = spawn_app(&db, &redis_url(), "cachelens-t-benchcancel").await;
    let (_, started) =
        post(&format!("{base}/api/bench"), serde_json::json!({ "iterations": 100000, "concurrency": 2, "paths": ["mysql"], "warmup": 0 }))
            .await;
    let id = started["id"].as_u64().unwrap();
    let (status, busy) = post(&format!("{base}/api/bench"), serde_json::json!({ "iterations": 1, "concurrency": 1 })).await;
    assert_eq!(status, 409, "{busy}");
    assert!(busy["error"].as_str().unwrap().contains(&format!("benchmark {id} is running")), "{busy}");

    assert!(
        eventually(Duration::from_secs(10), || async { get_json(&format!("{base}/api/bench/{id}")).await.1["done"].as_u64() > Some(5) })
            .await
    );
    let (status, cancelled) = post(&format!("{base}/api/bench/{id}/cancel"), serde_json::Value::Null).await;
    assert_eq!((status, cancelled["state"].as_str()), (200, Some("cancelled")), "{cancelled}");
    let done = cancelled["done"].as_u64().unwrap();
    assert!(done < 100_000, "{cancelled}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(get_json(&format!("{base}/api/bench/{id}")).await.1["done"].as_u64(), Some(done), "requests went on after cancel");

    // The event stream of an ended run sends the final report as a `done` event and closes.
    let stream = http().get(format!("{base}/api/bench/{id}/events")).send().await.unwrap();
    assert!(stream.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let text = stream.text().await.unwrap();
    assert!(text.contains("event: done") && text.contains("\"state\":\"cancelled\""), "{text}");
}

#[tokio::test]
async fn bad_benchmark_requests_are_refused_with_a_reason() {
    let base = spawn_app(&database_url(), &redis_url(), "cachelens-t-benchbad").await;
    for (body, needle) in [
        (serde_json::json!({ "iterations": 0, "concurrency": 1 }), "iterations"),
        (serde_json::json!({ "iterations": 100001, "concurrency": 1 }), "iterations"),
        (serde_json::json!({ "iterations": 10, "concurrency": 65 }), "concurrency"),
        (serde_json::json!({ "iterations": 10, "concurrency": 1, "paths": [] }), "path"),
        (serde_json::json!({ "iterations": 10, "concurrency": 1, "paths": ["redis"] }), "unknown variant"),
    ] {
        let (status, answer) = post(&format!("{base}/api/bench"), body.clone()).await;
        assert_eq!(status, 400, "{body} → {answer}");
        assert!(answer["error"].as_str().unwrap().contains(needle), "{body} → {answer}");
    }
    assert_eq!(get_json(&format!("{base}/api/bench/999")).await.0, 404);
}

#[tokio::test]
async fn the_comparison_page_charts_recorded_runs() {
    let db = loaded_database("compare", 600).await;
    let base = spawn_app(&db, &redis_url(), "cachelens-t-compare").await;
    http().post(format!("{base}/api/cache/delete")).send().await.unwrap();
    for _ in 0..3 {
        get_json(&format!("{base}/api/query/mysql?term=delta&limit=50")).await;
        get_json(&format!("{base}/api/query/cache?term=delta&limit=50")).await;
    }
    let html = http().get(format!("{base}/compare")).send().await.unwrap().text().await.unwrap();
    for needle in [
        "id=\"summary\"",
        "data-path=\"mysql\"",
        "data-path=\"miss\"",
        "data-path=\"hit\"",
        "id=\"timeline\"",
        "id=\"distribution\"",
        "id=\"speedup\"",
    ] {
        assert!(html.contains(needle), "{needle} missing from the server-rendered comparison page");
    }
    // Three MySQL runs, one miss and two hits, each a point on the timeline.
    assert_eq!(html.matches("class=\"point\"").count(), 6, "timeline points");
}
