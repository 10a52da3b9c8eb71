//! The MySQL side of a deployment: the application user cachelens sets up so that the master user only sets
//! up, and the certificate check that `--db-ca-file` turns on.

use crate::support::*;

/// With `db_app_user`, the pool logs in as that user (created with rights on the database only), not as the
/// configured one, and the pages' queries work through it.
#[tokio::test]
async fn ordinary_queries_run_as_the_application_user() {
    let db = loaded_database("appuser", 300).await;
    // What RDS's master user may do on its database: hand out rights on it.
    let me = url::Url::parse(&database_url()).unwrap().username().to_string();
    as_root(&format!("GRANT ALL PRIVILEGES ON `{}`.* TO '{me}'@'127.0.0.1' WITH GRANT OPTION", database_of(&db)));
    let user = format!("cl_app_{}", std::process::id() % 100_000);
    let mut settings = settings_for(&db, &redis_url(), "cachelens-t-appuser");
    settings.tuning.db_app_user = Some(user.clone());
    let base = spawn_app_with(settings).await;
    let (status, body) = get_json(&format!("{base}/api/query/mysql?term=delta&limit=10")).await;
    assert_eq!((status, body["row_count"].as_u64()), (200, Some(10)), "{body}");

    let admin = sqlx::MySqlPool::connect(&database_url()).await.unwrap();
    let sessions: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM information_schema.processlist WHERE user = ?")
        .bind(&user)
        .fetch_one(&admin)
        .await
        .unwrap();
    assert!(sessions >= 1, "the query's pooled connection belongs to {user}");
    let grants: Vec<String> = as_root(&format!("SHOW GRANTS FOR '{user}'@'%'")).lines().map(str::to_owned).collect();
    let db_name = database_of(&db);
    assert!(grants.iter().any(|g| g.contains(&format!("`{db_name}`.*")) && g.contains("SELECT") && g.contains("CREATE")), "{grants:?}");
    assert!(!grants.iter().any(|g| g.contains("ON *.*") && !g.contains("USAGE")), "no global rights: {grants:?}");
}

/// A CA file means TLS with the certificate verified: against a server that offers no TLS (the local MariaDB),
/// the query fails, with a 503 that says why, where sqlx's default would have gone on unencrypted.
#[tokio::test]
async fn a_ca_file_requires_a_verified_tls_connection() {
    let db = loaded_database("tlsverify", 10).await;
    let ca = std::env::var("REDIS_TLS_CA").expect("scripts/test makes a private CA (for the TLS Redis)");
    let mut settings = settings_for(&db, &redis_url(), "cachelens-t-dbtls");
    settings.tuning.db_ca_file = Some(ca.into());
    let base = spawn_app_with(settings).await;
    let (status, body) = get_json(&format!("{base}/api/query/mysql?term=delta&limit=10")).await;
    assert_eq!(status, 503, "{body}");
    let error = body["error"].as_str().unwrap().to_ascii_lowercase();
    assert!(error.contains("tls") || error.contains("ssl"), "{body}");

    let mut missing = settings_for(&db, &redis_url(), "cachelens-t-dbtls");
    missing.tuning.db_ca_file = Some("/nonexistent/rds-ca.pem".into());
    let err = cachelens::server::startup::connect(&missing).await.err().expect("refused").to_string();
    assert!(err.contains("MySQL CA file /nonexistent/rds-ca.pem does not exist"), "{err}");
}
