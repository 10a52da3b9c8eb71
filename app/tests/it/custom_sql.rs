//! The custom SQL box against the real MariaDB: the benign corpus runs, the hostile corpus is refused before
//! it reaches the server, and what does run is bounded (LIMIT, time, read-only user).

use cachelens::server::query::sql_guard::check;

use crate::support::*;

async fn post_sql(base: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
    let response = http().post(format!("{base}/api/query/sql")).json(&body).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn article_count(db_url: &str) -> i64 {
    let db = sqlx::MySqlPool::connect(db_url).await.unwrap();
    let n = sqlx::query_scalar("SELECT COUNT(*) FROM articles").fetch_one(&db).await.unwrap();
    db.close().await;
    n
}

#[tokio::test]
async fn benign_statements_run_on_mariadb_and_hostile_ones_never_reach_it() {
    let db = loaded_database("sql_corpus", 300).await;
    let base = spawn_app(&db, &redis_url(), "cachelens-t-sqlcorpus").await;

    let name = db.rsplit_once('/').unwrap().1;
    for sql in read_corpus(include_str!("../sql/benign.sql")) {
        // The corpus names the default database; this test has one of its own.
        let sql = sql.replace("covid.articles", &format!("{name}.articles"));
        let (status, body) = post_sql(&base, serde_json::json!({ "sql": sql, "cache": false })).await;
        assert_eq!(status, 200, "{sql:?} → {body}");
        assert_eq!(body["row_count"].as_u64(), Some(body["rows"].as_array().unwrap().len() as u64), "{sql:?}");
    }

    let hostile = read_corpus(include_str!("../sql/hostile.sql"));
    for sql in &hostile {
        let (status, body) = post_sql(&base, serde_json::json!({ "sql": sql })).await;
        let reason = body["error"].as_str().unwrap_or_default();
        assert_eq!(status, 400, "{sql:?} → {body}");
        assert!(reason.len() > 10, "{sql:?} refused without a reason: {body}");
    }
    // Nothing of it ran: the table is whole and no file was written.
    assert_eq!(article_count(&db).await, 300);
    assert!(!std::path::Path::new("/tmp/x").exists());
}

#[tokio::test]
async fn custom_sql_is_cached_like_the_default_query_and_its_limit_capped() {
    let db = loaded_database("sql_cache", 300).await;
    let base = spawn_app(&db, &redis_url(), "cachelens-t-sqlcache").await;
    http().post(format!("{base}/api/cache/delete")).send().await.unwrap();

    let sql = "select OBJECTID, Title from articles where OBJECTID <= 20 order by OBJECTID";
    let (status, miss) = post_sql(&base, serde_json::json!({ "sql": sql, "ttl": 30 })).await;
    assert_eq!((status, miss["hit"].as_bool(), miss["source"].as_str()), (200, Some(false), Some("mysql")), "{miss}");
    assert_eq!(miss["ttl_remaining_s"], 30);
    let (_, hit) = post_sql(&base, serde_json::json!({ "sql": sql, "ttl": 30 })).await;
    assert_eq!((hit["hit"].as_bool(), hit["source"].as_str()), (Some(true), Some("cache")), "{hit}");
    assert_eq!(hit["rows"], miss["rows"]);
    assert_eq!(hit["row_count"], 20);
    // Columns keep the statement's order.
    let first = hit["rows"][0].as_object().unwrap();
    assert_eq!(first.keys().collect::<Vec<_>>(), ["OBJECTID", "Title"]);

    // 300 × 300 rows asked for; the guard's LIMIT keeps it to the maximum.
    let (status, big) =
        post_sql(&base, serde_json::json!({ "sql": "select a.OBJECTID from articles a, articles b", "cache": false })).await;
    assert_eq!((status, big["row_count"].as_u64()), (200, Some(cachelens::model::MAX_LIMIT as u64)), "{}", big["error"]);
}

#[tokio::test]
async fn bad_requests_get_a_reason_and_a_runaway_statement_is_stopped() {
    let db = loaded_database("sql_limits", 300).await;
    let base = spawn_app(&db, &redis_url(), "cachelens-t-sqllimits").await;

    let json = |r: reqwest::RequestBuilder| r.header("content-type", "application/json");
    let response = json(http().post(format!("{base}/api/query/sql"))).body("{not json").send().await.unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("body must be JSON"), "{body}");

    // Past the body limit, and an unparsable path parameter: the same JSON shape as every other API error.
    let huge = serde_json::json!({ "sql": format!("select 1 -- {}", "x".repeat(70 * 1024)) }).to_string();
    let response = json(http().post(format!("{base}/api/query/sql"))).body(huge).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 413);
    let body: serde_json::Value = response.json().await.expect("a JSON answer to an oversized body");
    assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()), "{body}");
    let response = http().get(format!("{base}/api/bench/not-a-number")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let body: serde_json::Value = response.json().await.expect("a JSON answer to a bad path parameter");
    assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()), "{body}");

    let (status, body) = post_sql(&base, serde_json::json!({ "sql": "select nope from articles" })).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("nope"), "{body}");

    // 300³ rows to count: only the server's statement time limit ends it.
    let (status, body) = post_sql(
        &base,
        serde_json::json!({ "sql": "select count(*) from articles a, articles b, articles c, articles d", "cache": false }),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("ran longer than"), "{body}");
    // The connection went back to the pool clean: the next statement runs normally.
    let (status, body) = post_sql(&base, serde_json::json!({ "sql": "select count(*) as n from articles", "cache": false })).await;
    assert_eq!((status, body["rows"][0]["n"].as_i64()), (200, Some(300)), "{body}");

    // Within the row cap but 20 MB of data: refused with the cap named, and the connection is clean after.
    let (status, body) =
        post_sql(&base, serde_json::json!({ "sql": "select repeat('x', 200000) as big from articles limit 100", "cache": false })).await;
    assert_eq!(status, 400, "{}", &body.to_string()[..200.min(body.to_string().len())]);
    let error = body["error"].as_str().unwrap();
    assert!(error.contains("larger than 8 MiB") && error.contains("rows read so far"), "{error}");
    let (status, body) =
        post_sql(&base, serde_json::json!({ "sql": "select repeat('x', 200000) as big from articles limit 30", "cache": false })).await;
    assert_eq!((status, body["rows"].as_array().map(Vec::len)), (200, Some(30)), "6 MB is within the cap");
    let (status, body) = post_sql(&base, serde_json::json!({ "sql": "select count(*) as n from articles", "cache": false })).await;
    assert_eq!((status, body["rows"][0]["n"].as_i64()), (200, Some(300)), "{body}");
}

#[tokio::test]
async fn the_select_only_user_answers_custom_sql_and_cannot_write() {
    let db = loaded_database("sql_ro", 50).await;
    let ro = std::env::var("READONLY_DATABASE_URL").expect("scripts/services env sets READONLY_DATABASE_URL");
    let ro = format!("{}/{}", ro.rsplit_once('/').unwrap().0, db.rsplit_once('/').unwrap().1);
    let mut settings = settings_for(&db, &redis_url(), "cachelens-t-sqlro");
    settings.tuning.sql_database_url = Some(ro.clone());
    let base = spawn_app_with(settings).await;
    let (status, body) = post_sql(&base, serde_json::json!({ "sql": "select current_user() as u", "cache": false })).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["rows"][0]["u"].as_str().unwrap().starts_with("cachelens_ro@"), "{body}");

    // The same user, straight to the server: writing is refused by MariaDB itself.
    let direct = sqlx::MySqlPool::connect(&ro).await.unwrap();
    let denied = sqlx::query("DELETE FROM articles").execute(&direct).await.unwrap_err();
    assert!(denied.to_string().contains("denied"), "{denied}");
    assert_eq!(article_count(&db).await, 50);

    // Pointing the custom SQL user at another database is a configuration error, said at start.
    let mut mismatched = settings_for(&db, &redis_url(), "cachelens-t-sqlro");
    mismatched.tuning.sql_database_url = Some(database_url_named("covid"));
    let err = cachelens::server::startup::connect(&mismatched).await.err().expect("refused").to_string();
    assert!(err.contains("point both at one database") && !err.contains("cachelens-local"), "{err}");
}

#[tokio::test]
async fn cachelens_sets_up_its_own_select_only_user_where_the_main_user_may() {
    // The shared database: MariaDB hands out grant options on exactly named databases, not through the
    // `covid\_%` pattern the per-test databases match.
    let db = database_url();
    let settings = || {
        let mut s = settings_for(&db, &redis_url(), "cachelens-t-sqlreader");
        s.tuning.sql_readonly_user = Some("cachelens_t_reader".into());
        s
    };
    // Two instances derive the same password, so neither locks the other out.
    let (a, b) = (spawn_app_with(settings()).await, spawn_app_with(settings()).await);
    for base in [&a, &b] {
        let (status, body) = post_sql(base, serde_json::json!({ "sql": "select current_user() as u", "cache": false })).await;
        assert_eq!(status, 200, "{body}");
        assert!(body["rows"][0]["u"].as_str().unwrap().starts_with("cachelens_t_reader@"), "{body}");
    }

    // A main user without the right to create users: custom SQL still answers, as that user.
    let ro = std::env::var("READONLY_DATABASE_URL").unwrap();
    let mut limited = settings_for(&ro, &redis_url(), "cachelens-t-sqlreader2");
    limited.tuning.sql_readonly_user = Some("cachelens_t_reader2".into());
    let base = spawn_app_with(limited).await;
    let (status, body) = post_sql(&base, serde_json::json!({ "sql": "select current_user() as u", "cache": false })).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["rows"][0]["u"].as_str().unwrap().starts_with("cachelens_ro@"), "{body}");
}

// The guard alone, on the corpora: no server needed.
#[test]
fn hostile_corpus_is_refused_with_a_reason() {
    let cases = read_corpus(include_str!("../sql/hostile.sql"));
    assert!(cases.len() >= 150, "only {} hostile cases", cases.len());
    let accepted: Vec<_> = cases.iter().filter_map(|c| check(c, "covid", 5000).ok().map(|g| (c, g.sql))).collect();
    assert!(accepted.is_empty(), "hostile statements accepted: {accepted:#?}");
    for case in &cases {
        let why = check(case, "covid", 5000).unwrap_err().0;
        assert!(why.len() > 10, "refusal without a reason for {case:?}: {why:?}");
    }
}

#[test]
fn benign_corpus_is_accepted() {
    let cases = read_corpus(include_str!("../sql/benign.sql"));
    assert!(cases.len() >= 30, "only {} benign cases", cases.len());
    let refused: Vec<_> = cases.iter().filter_map(|c| check(c, "covid", 5000).err().map(|r| (c, r.0))).collect();
    assert!(refused.is_empty(), "benign statements refused: {refused:#?}");
}
