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

/// Load balancers call the health endpoints every few seconds; the Home page's "Status check #N" counts only
/// the checks people asked for.
#[tokio::test]
async fn health_checks_do_not_advance_the_home_check_counter() {
    let base = spawn_app(&database_url(), &redis_url(), "cachelens-t-checks").await;
    let check_number = |html: String| -> u64 {
        let start = html.find(r#"id="check-number">"#).expect("a check number") + r#"id="check-number">"#.len();
        html[start..].split('<').next().unwrap().parse().expect("a number")
    };
    let first = check_number(http().get(format!("{base}/")).send().await.unwrap().text().await.unwrap());
    for path in ["/healthz", "/readyz", "/healthz"] {
        assert_eq!(get_json(&format!("{base}{path}")).await.0, 200, "{path}");
    }
    let second = check_number(http().get(format!("{base}/")).send().await.unwrap().text().await.unwrap());
    assert_eq!(second, first + 1, "only the two page loads count");
}

#[tokio::test]
async fn home_shows_the_loaded_dataset() {
    let db = loaded_database("homedataset", 120).await;
    let base = spawn_app(&db, &redis_url(), "cachelens-t-homedataset").await;
    // Erased components (the build's cfg) leave `<!>` hydration markers after text; the text is what counts.
    let html = http().get(format!("{base}/")).send().await.unwrap().text().await.unwrap().replace("<!>", "");
    assert!(html.contains("<strong>120</strong>") && html.contains("<code>homedataset.csv</code>"), "{html}");

    let empty = fresh_database("homeempty").await;
    cachelens::server::loader::dataset::connect_creating(&empty, None).await.unwrap();
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

/// The binary's own logs, as JSON: one object per line, and no password anywhere in them.
#[tokio::test]
async fn json_logs_are_one_object_per_line_and_never_hold_the_password() {
    let port = free_port();
    let db = loaded_database("json_logs", 50).await;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_cachelens"))
        .args(["serve", "--addr", &format!("127.0.0.1:{port}"), "--log-format", "json"])
        .env("DATABASE_URL", &db)
        .env("REDIS_URL", "redis://127.0.0.1:1")
        .env("RUST_LOG", "cachelens=debug")
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    assert!(eventually(std::time::Duration::from_secs(20), || async { http().get(format!("{base}/healthz")).send().await.is_ok() }).await);
    get_json(&format!("{base}/api/query/mysql?term=delta&limit=5")).await;
    let _ = child.kill();
    let output = child.wait_with_output().unwrap();
    let logs = String::from_utf8_lossy(&output.stderr);
    let password = db.split_once("://").unwrap().1.split_once('@').unwrap().0.split_once(':').unwrap().1.to_string();
    assert!(!logs.contains(&password), "the password is in the logs:\n{logs}");
    let lines: Vec<serde_json::Value> = logs.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    assert!(lines.iter().any(|l| l["message"] == "request" && l["path"] == "/api/query/mysql" && l["status"] == 200), "{logs}");
    assert!(lines.iter().any(|l| l["level"] == "WARN" && l["message"].as_str().unwrap_or("").contains("Redis")), "{logs}");
}

/// `cargo leptos watch` runs the binary with no arguments: under it that serves, by hand it prints the help.
#[tokio::test]
async fn no_arguments_serve_under_cargo_leptos_and_print_help_otherwise() {
    let port = free_port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_cachelens"))
        .env("LEPTOS_OUTPUT_NAME", "cachelens")
        .env("CACHELENS_ADDR", format!("127.0.0.1:{port}"))
        .env("DATABASE_URL", database_url())
        .env("REDIS_URL", redis_url())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let served = eventually(Duration::from_secs(20), || async { http().get(format!("{base}/healthz")).send().await.is_ok() }).await;
    let exited = child.try_wait().unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(served, "nothing listened on {base} (exit status: {exited:?})");

    let by_hand = std::process::Command::new(env!("CARGO_BIN_EXE_cachelens")).env_remove("LEPTOS_OUTPUT_NAME").output().unwrap();
    assert!(!by_hand.status.success());
    assert!(String::from_utf8_lossy(&by_hand.stderr).contains("Usage: cachelens"), "{by_hand:?}");
}
