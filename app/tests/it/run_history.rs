//! The run history: a benchmark's and a lab's results kept in MySQL (`cachelens_runs`) outlive the server that
//! measured them, open and download as before, and are deleted only when asked; with MySQL away a finished run
//! waits in memory and is written when MySQL returns.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::*;

async fn post(url: &str, body: Value) -> (u16, Value) {
    let response = http().post(url).json(&body).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// Starts a run of `kind`; its report once it ended.
async fn run_to_the_end(base: &str, kind: &str, spec: Value) -> Value {
    let (status, started) = post(&format!("{base}/api/{kind}"), spec).await;
    assert_eq!(status, 202, "{started}");
    let id = started["id"].as_u64().unwrap();
    let asked = Instant::now();
    loop {
        let (_, report) = get_json(&format!("{base}/api/{kind}/{id}")).await;
        if report["state"] != "running" {
            return report;
        }
        assert!(asked.elapsed() < Duration::from_secs(60), "the {kind} run did not end: {report}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn text(url: &str) -> (u16, String) {
    let response = http().get(url).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// Whether run `id` is listed by `/api/runs` as saved.
async fn saved(base: &str, kind: &str, id: u64) -> bool {
    let (status, runs) = get_json(&format!("{base}/api/runs?kind={kind}")).await;
    status == 200 && runs.as_array().unwrap().iter().any(|r| r["id"] == id && r["saved"] == true)
}

#[tokio::test]
async fn a_benchmark_and_a_lab_run_survive_a_restart() {
    let db = loaded_database("history", 300).await;
    let settings = || settings_for(&db, &redis_url(), "cachelens-t-history");
    let first = spawn_app_with(settings()).await;
    let bench = run_to_the_end(&first, "bench", json!({"iterations": 40, "concurrency": 2, "paths": ["mysql", "cache"]})).await;
    let lab = run_to_the_end(
        &first,
        "lab",
        json!({"strategies": ["none", "ttl"], "items": 100, "zipf": 1.0, "read_ratio": 0.9, "concurrency": 2, "operations": 400}),
    )
    .await;
    assert_eq!((bench["state"].as_str(), lab["state"].as_str()), (Some("done"), Some("done")), "{bench} {lab}");
    let (bench_id, lab_id) = (bench["id"].as_u64().unwrap(), lab["id"].as_u64().unwrap());
    // A second run of each, with another setting: what a user compares the first with after the restart.
    let bench2 = run_to_the_end(&first, "bench", json!({"iterations": 20, "concurrency": 1, "paths": ["mysql", "cache"]})).await;
    let lab2 = run_to_the_end(
        &first,
        "lab",
        json!({"strategies": ["ttl"], "items": 100, "zipf": 1.2, "read_ratio": 0.9, "concurrency": 2, "operations": 300}),
    )
    .await;
    let (bench2_id, lab2_id) = (bench2["id"].as_u64().unwrap(), lab2["id"].as_u64().unwrap());
    for (kind, id) in [("bench", bench2_id), ("lab", lab2_id)] {
        assert!(eventually(Duration::from_secs(10), || saved(&first, kind, id)).await);
    }
    assert!(eventually(Duration::from_secs(10), || saved(&first, "bench", bench_id)).await);
    assert!(eventually(Duration::from_secs(10), || saved(&first, "lab", lab_id)).await);
    let bench_csv = text(&format!("{first}/api/bench/{bench_id}/csv")).await;
    let lab_json = text(&format!("{first}/api/lab/{lab_id}/json")).await;

    // A restart: a new server on the same database, nothing in its memory.
    let second = spawn_app_with(settings()).await;
    assert_eq!(get_json(&format!("{second}/api/bench/{bench_id}")).await, (200, bench.clone()), "the report as it was");
    assert_eq!(get_json(&format!("{second}/api/lab/{lab_id}")).await, (200, lab.clone()));
    assert_eq!(text(&format!("{second}/api/bench/{bench_id}/csv")).await, bench_csv, "the same CSV");
    assert_eq!(text(&format!("{second}/api/lab/{lab_id}/json")).await, lab_json, "the same JSON download");
    let (_, events) = text(&format!("{second}/api/bench/{bench_id}/events")).await;
    let (data, done) = (events.matches("data: ").count(), events.matches("event: done").count());
    assert_eq!((data, done), (1, 1), "a kept run's stream is its final report, once: {events}");
    let (_, listed) = get_json(&format!("{second}/api/bench")).await;
    assert_eq!(listed.as_array().unwrap().iter().find(|r| r["id"] == bench_id), Some(&bench), "the last runs list it");
    let (_, lab_list) = get_json(&format!("{second}/api/lab")).await;
    assert!(lab_list.as_array().unwrap().iter().any(|r| r["id"] == lab_id));
    let (_, all) = get_json(&format!("{second}/api/runs")).await;
    let kinds: Vec<(u64, &str)> =
        all.as_array().unwrap().iter().map(|r| (r["id"].as_u64().unwrap(), r["kind"].as_str().unwrap())).collect();
    assert!(kinds.contains(&(bench_id, "bench")) && kinds.contains(&(lab_id, "lab")), "{all}");
    assert!(kinds.windows(2).all(|w| w[0].0 > w[1].0), "newest first: {kinds:?}");
    let (status, page) = get_json(&format!("{second}/api/runs?per_page=1&page=1")).await;
    assert_eq!((status, page.as_array().map(Vec::len)), (200, Some(1)), "paged");
    assert_eq!(page[0]["id"].as_u64(), Some(kinds[1].0));

    // Compared after the restart: both runs' figures and the difference, per metric.
    let (status, compared) = get_json(&format!("{second}/api/bench/{bench_id}/compare/{bench2_id}")).await;
    assert_eq!(status, 200, "{compared}");
    let row = |c: &Value, group: &str, metric: &str| {
        c["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["group"] == group && r["metric"] == metric)
            .cloned()
            .unwrap_or_else(|| panic!("{group} {metric} in {c}"))
    };
    let p50 = |report: &Value, path: usize| cachelens::stats::format_us(report["paths"][path]["stats"]["p50_us"].as_u64().unwrap());
    let mysql_p50 = row(&compared, "mysql", "p50");
    assert_eq!((mysql_p50["a"].as_str().unwrap(), mysql_p50["b"].as_str().unwrap()), (p50(&bench, 0).as_str(), p50(&bench2, 0).as_str()));
    assert_eq!(row(&compared, "mysql", "requests answered")["a"], "40");
    assert_eq!(row(&compared, "mysql", "requests answered")["b"], "20");
    assert!(row(&compared, "mysql", "requests answered")["change"].as_str().unwrap().contains("50 %"), "{compared}");
    let (status, compared) = get_json(&format!("{second}/api/lab/{lab_id}/compare/{lab2_id}")).await;
    assert_eq!(status, 200, "{compared}");
    let hit = row(&compared, "ttl", "hit ratio");
    let pct = |r: &Value| format!("{:.1} %", r["results"]["ttl"]["hit_ratio"].as_f64().unwrap() * 100.0);
    assert_eq!((hit["a"].as_str().unwrap(), hit["b"].as_str().unwrap()), (pct(&lab).as_str(), pct(&lab2).as_str()));
    assert_eq!(row(&compared, "none", "hit ratio")["b"], "–", "a strategy only A ran shows a dash for B");
    assert_eq!(get_json(&format!("{second}/api/lab/{lab_id}/compare/{bench_id}")).await.0, 404, "only runs of one kind compare");

    // The CLI reads the same history.
    let cli = |args: Vec<String>| {
        let db = db.clone();
        async move {
            let out = tokio::task::spawn_blocking(move || {
                std::process::Command::new(env!("CARGO_BIN_EXE_cachelens"))
                    .arg("runs")
                    .args(args)
                    .env("DATABASE_URL", &db)
                    .env("REDIS_URL", redis_url())
                    .env("CACHELENS_CACHE_PREFIX", "cachelens-t-history")
                    .output()
                    .unwrap()
            })
            .await
            .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8(out.stdout).unwrap()
        }
    };
    let listed: Value = serde_json::from_str(&cli(vec!["list".into(), "--kind".into(), "lab".into(), "--json".into()]).await).unwrap();
    let ids: Vec<u64> = listed.as_array().unwrap().iter().map(|r| r["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, [lab2_id, lab_id], "newest first, one kind");
    assert_eq!(cli(vec!["show".into(), bench_id.to_string(), "--csv".into()]).await, bench_csv.1, "the same CSV from the CLI");
    let shown: Value = serde_json::from_str(&cli(vec!["show".into(), lab_id.to_string(), "--json".into()]).await).unwrap();
    assert_eq!(shown, lab);
    let table = cli(vec!["compare".into(), lab_id.to_string(), lab2_id.to_string()]).await;
    assert!(table.contains("hit ratio") && table.contains(&pct(&lab)) && table.contains(&pct(&lab2)), "{table}");

    // Deleting: the one way a row goes.
    let deleted = http().delete(format!("{second}/api/runs/{bench_id}")).send().await.unwrap();
    assert_eq!(deleted.status().as_u16(), 204);
    assert_eq!(get_json(&format!("{second}/api/bench/{bench_id}")).await.0, 404);
    assert_eq!(get_json(&format!("{first}/api/bench/{bench_id}")).await.0, 404, "gone for every server");
    assert_eq!(http().delete(format!("{second}/api/runs/{bench_id}")).send().await.unwrap().status().as_u16(), 404);
    assert_eq!(get_json(&format!("{second}/api/lab/{lab_id}")).await.0, 200, "the other run stays");
}

#[tokio::test]
async fn a_run_that_ends_while_mysql_is_away_is_saved_when_it_returns() {
    let db = loaded_database("history_down", 100).await;
    let proxy = Proxy::start(socket_of(&db)).await;
    let through_proxy = with_port(&db, proxy.port);
    let base = spawn_app(&through_proxy, &redis_url(), "cachelens-t-historydown").await;
    proxy.cut();
    // The benchmark runs against a MySQL that is gone: it ends (with errors), and its record cannot be written.
    let report = run_to_the_end(&base, "bench", json!({"iterations": 1, "concurrency": 1, "warmup": 0, "paths": ["mysql"]})).await;
    let id = report["id"].as_u64().unwrap();
    assert_ne!(report["state"], "running");
    let (status, listed) = get_json(&format!("{base}/api/bench")).await;
    assert_eq!(status, 200, "the last runs still list, from memory: {listed}");
    assert!(listed.as_array().unwrap().iter().any(|r| r["id"] == id));
    let (status, page) = text(&format!("{base}/bench")).await;
    assert_eq!(status, 200);
    assert!(page.contains("1 finished run(s) are not saved yet"), "the Benchmark page says the run waits for MySQL");

    proxy.resume().await;
    assert!(eventually(Duration::from_secs(20), || saved(&base, "bench", id)).await, "written once MySQL is back");
    assert!(!text(&format!("{base}/bench")).await.1.contains("not saved yet"), "and the page stops saying so");
    let restarted = spawn_app(&db, &redis_url(), "cachelens-t-historydown").await;
    assert_eq!(get_json(&format!("{restarted}/api/bench/{id}")).await, (200, report));
}
