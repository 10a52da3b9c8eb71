//! Configuration discovery against a real AWS API emulator (moto, started by scripts/test on loopback):
//! the `cachelens` binary itself resolves stacks and secrets, as it would on an instance.

use std::process::{Command, Output};
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_cloudformation::config::Credentials;

use crate::support::*;

const REGION: &str = "us-east-1";

fn moto_url() -> String {
    std::env::var("MOTO_URL").unwrap_or_else(|_| panic!("MOTO_URL is not set: run the tests through scripts/test, which starts moto"))
}

async fn sdk() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(moto_url())
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
        .load()
        .await
}

fn unique(name: &str) -> String {
    format!(
        "{name}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() % 1_000_000_000
    )
}

async fn create_secret(value: &str) -> (String, String) {
    let name = unique("cachelens-db");
    let out = aws_sdk_secretsmanager::Client::new(&sdk().await)
        .create_secret()
        .name(&name)
        .secret_string(value)
        .send()
        .await
        .expect("moto creates the secret");
    (name, out.arn().unwrap().to_string())
}

/// A stack whose only job is to carry these outputs (moto needs one resource in a template).
async fn create_stack(outputs: &[(&str, &str)]) -> String {
    let name = unique("cachelens-stack");
    let mut template = format!(
        "{{\"Resources\": {{\"Queue\": {{\"Type\": \"AWS::SQS::Queue\", \"Properties\": {{\"QueueName\": \"{name}\"}}}}}}, \"Outputs\": {{"
    );
    let body: Vec<String> = outputs.iter().map(|(k, v)| format!("\"{k}\": {{\"Value\": \"{v}\"}}")).collect();
    template.push_str(&body.join(", "));
    template.push_str("}}");
    aws_sdk_cloudformation::Client::new(&sdk().await)
        .create_stack()
        .stack_name(&name)
        .template_body(template)
        .send()
        .await
        .expect("moto creates the stack");
    name
}

/// The binary with only AWS settings in its environment: no DATABASE_URL or REDIS_URL to fall back on.
fn cachelens(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cachelens"));
    cmd.args(args)
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        .env("AWS_ENDPOINT_URL", moto_url())
        .env("AWS_REGION", REGION)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent");
    cmd
}

fn run(cmd: &mut Command) -> (bool, String, String) {
    let Output { status, stdout, stderr } = cmd.output().unwrap();
    (status.success(), String::from_utf8(stdout).unwrap(), String::from_utf8(stderr).unwrap())
}

fn local_db() -> (String, u16) {
    let addr = socket_of(&database_url());
    (addr.ip().to_string(), addr.port())
}

#[tokio::test]
async fn a_seed_shaped_stack_and_secret_resolve() {
    let (host, port) = local_db();
    let (secret, _) = create_secret(&format!(
        r#"{{"username":"cachelens","password":"cachelens-local","host":"{host}","port":{port},"dbname":"covid"}}"#
    ))
    .await;
    let redis = socket_of(&redis_url()).to_string();
    let stack = create_stack(&[
        ("secretname", &secret),
        ("mysqlendpoint", &host),
        ("redisendpoint", &redis),
        ("webserverpublicip", "203.0.113.7"),
        ("webserverpublicurl", "http://203.0.113.7:8008"),
    ])
    .await;
    let (ok, out, err) = run(&mut cachelens(&["config", "--stack-name", &stack]));
    assert!(ok, "{err}");
    assert!(out.contains(&format!("mysql://cachelens:****@{host}:{port}/covid")), "{out}");
    assert!(out.contains(&format!("credentials from secret {secret}")), "{out}");
    assert!(out.contains(&format!("redis://{redis}")) && out.contains("output redisendpoint"), "{out}");
    assert!(out.lines().any(|l| l.starts_with("stack_name") && l.ends_with(&format!(" {stack}  (flag --stack-name)"))), "{out}");
    assert!(!out.contains("cachelens-local") && !err.contains("cachelens-local"), "password printed");
}

#[tokio::test]
async fn an_rds_managed_secret_takes_host_and_database_from_other_config() {
    let (host, port) = local_db();
    let (_, arn) = create_secret(r#"{"username":"cachelens","password":"cachelens-local"}"#).await;
    let endpoint = format!("{host}:{port}");
    let stack = create_stack(&[("secretArn", &arn), ("mysqlEndpoint", &endpoint), ("redisEndpoint", "cache.local")]).await;
    let (ok, out, err) =
        run(cachelens(&["config", "--stack-name", &stack, "--db-name", "covid_other", "--redis-tls", "true"])
            .env("REDIS_AUTH_TOKEN", "tok3n"));
    assert!(ok, "{err}");
    assert!(out.contains(&format!("mysql://cachelens:****@{host}:{port}/covid_other")), "{out}");
    assert!(out.contains("rediss://:****@cache.local:6379"), "{out}");
    assert!(!out.contains("tok3n") && !out.contains("cachelens-local"), "{out}");
}

#[tokio::test]
async fn every_error_says_what_is_wrong() {
    let (bad_json, _) = create_secret(r#"{"username": "u", "password": "#).await;
    let (no_host, _) = create_secret(r#"{"username":"u","password":"hunter2"}"#).await;
    let bare = create_stack(&[("webserverpublicurl", "http://x")]).await;
    let missing_stack = unique("no-such-stack");
    let missing_secret = unique("no-such-secret");
    let cases: Vec<(Vec<&str>, String)> = vec![
        (vec!["--stack-name", &missing_stack], format!("stack {missing_stack} not found in region {REGION}")),
        (vec!["--stack-name", &bare], format!("stack {bare} has no output secretArn or secretname (outputs present: webserverpublicurl)")),
        (vec!["--db-secret", &missing_secret], format!("secret {missing_secret} not found in region {REGION}")),
        (vec!["--db-secret", &bad_json], format!("secret {bad_json} is not the expected JSON")),
        (vec!["--db-secret", &no_host], format!("secret {no_host} names no host: set --db-host")),
    ];
    for (args, want) in cases {
        let mut full = vec!["config"];
        full.extend(&args);
        let (ok, out, err) = run(&mut cachelens(&full));
        assert!(!ok, "{args:?} succeeded: {out}");
        assert!(err.contains(&want), "{args:?}: wanted {want:?}, got {err}");
        assert!(!err.contains("hunter2"), "secret value in error: {err}");
    }
    let (ok, _, err) = run(cachelens(&["config", "--db-secret", "x"]).env_remove("AWS_REGION").env_remove("AWS_DEFAULT_REGION"));
    assert!(!ok);
    assert!(err.contains("no AWS region: set AWS_REGION"), "{err}");
}

#[tokio::test]
async fn the_app_started_with_only_a_stack_name_serves_a_cache_hit() {
    let db_url = loaded_database("awsstack", 800).await;
    let addr = socket_of(&db_url);
    let db_name = db_url.rsplit('/').next().unwrap().to_string();
    let (secret, _) = create_secret(&format!(
        r#"{{"username":"cachelens","password":"cachelens-local","host":"{}","port":"{}","dbname":"{db_name}"}}"#,
        addr.ip(),
        addr.port()
    ))
    .await;
    let redis = socket_of(&redis_url()).to_string();
    let stack = create_stack(&[("secretname", &secret), ("redisendpoint", &redis)]).await;

    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut server = cachelens(&["serve", "--addr", &listen, "--stack-name", &stack, "--cache-prefix", "cachelens-t-aws"]).spawn().unwrap();
    let base = format!("http://{listen}");
    let up = eventually(Duration::from_secs(20), || async { http().get(format!("{base}/healthz")).send().await.is_ok() });
    let served = async {
        assert!(up.await, "server did not start");
        http().post(format!("{base}/api/cache/delete")).send().await.unwrap();
        let url = format!("{base}/api/query/cache?term=delta&limit=50");
        let (s1, first) = get_json(&url).await;
        let (s2, second) = get_json(&url).await;
        (s1, first, s2, second)
    }
    .await;
    let _ = server.kill();
    let _ = server.wait();
    let (s1, first, s2, second) = served;
    assert_eq!((s1, first["hit"].as_bool()), (200, Some(false)), "{first}");
    assert_eq!((s2, second["hit"].as_bool(), second["source"].as_str()), (200, Some(true), Some("cache")), "{second}");
    assert_eq!(second["row_count"], 50);
}

/// A moto of this test's own with IAM enforced after the set-up calls: a user with no policy may not read
/// the secret, and cachelens says so.
#[tokio::test]
async fn access_denied_on_the_secret_is_named() {
    let port = free_port();
    let server = std::env::var("MOTO_SERVER").unwrap_or_else(|_| panic!("MOTO_SERVER is not set: run through scripts/test"));
    let mut moto = Command::new(server)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .env("INITIAL_NO_AUTH_ACTION_COUNT", "3")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let started = eventually(Duration::from_secs(20), || async { http().get(format!("{url}/moto-api/")).send().await.is_ok() });
    assert!(started.await, "moto did not start");
    let admin = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(&url)
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
        .load()
        .await;
    // The three unauthenticated calls moto allows: a secret, a user without any policy, that user's key.
    aws_sdk_secretsmanager::Client::new(&admin)
        .create_secret()
        .name("locked")
        .secret_string(r#"{"username":"u","password":"hunter2"}"#)
        .send()
        .await
        .unwrap();
    let iam = aws_sdk_iam::Client::new(&admin);
    iam.create_user().user_name("nobody").send().await.unwrap();
    let key = iam.create_access_key().user_name("nobody").send().await.unwrap().access_key.unwrap();

    let (ok, _, err) = run(cachelens(&["config", "--db-secret", "locked"])
        .env("AWS_ENDPOINT_URL", &url)
        .env("AWS_ACCESS_KEY_ID", key.access_key_id())
        .env("AWS_SECRET_ACCESS_KEY", key.secret_access_key()));
    let _ = moto.kill();
    let _ = moto.wait();
    assert!(!ok);
    assert!(err.contains("access denied reading secret locked: grant secretsmanager:GetSecretValue"), "{err}");
    assert!(!err.contains("hunter2"));
}

/// RDS rotates its managed secret: the password changes in MySQL and then in the secret, and the connections
/// already open are cut. A running cachelens whose credentials came from the secret keeps answering, on the
/// refused login alone (no timer: `--db-secret-refresh 0`), and /healthz says when it read the secret.
#[tokio::test]
async fn a_rotated_secret_is_picked_up_without_a_restart() {
    let db_url = loaded_database("rotation", 300).await;
    let addr = socket_of(&db_url);
    let db_name = db_url.rsplit('/').next().unwrap().to_string();
    let user = format!("cl_rot_{}", std::process::id() % 100_000);
    let admin = sqlx::MySqlPool::connect(&database_url()).await.unwrap();
    as_root(&format!(
        "DROP USER IF EXISTS '{user}'@'127.0.0.1'; CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY 'first-pass-1'; \
         GRANT SELECT ON `{db_name}`.* TO '{user}'@'127.0.0.1'"
    ));
    let (secret, _) = create_secret(&format!(r#"{{"username":"{user}","password":"first-pass-1"}}"#)).await;

    let listen = format!("127.0.0.1:{}", free_port());
    let host = addr.to_string();
    let redis = redis_url();
    let mut server = cachelens(&[
        "serve",
        "--addr",
        &listen,
        "--db-secret",
        &secret,
        "--db-host",
        &host,
        "--db-name",
        &db_name,
        "--redis-url",
        &redis,
        "--db-secret-refresh",
        "0",
    ])
    .spawn()
    .unwrap();
    let base = format!("http://{listen}");
    let outcome = async {
        let up = eventually(Duration::from_secs(20), || async { http().get(format!("{base}/healthz")).send().await.is_ok() });
        assert!(up.await, "server did not start");
        let query = format!("{base}/api/query/mysql?term=delta&limit=20");
        let (before, _) = get_json(&query).await;
        let (_, health) = get_json(&format!("{base}/healthz")).await;
        let first_read = health["db_secret"]["read_at_unix_s"].as_u64().expect("healthz names the secret's read time");
        // Rotation, as RDS does it: the new password in MySQL, then in the secret; every session cut.
        tokio::time::sleep(Duration::from_millis(2100)).await;
        as_root(&format!("ALTER USER '{user}'@'127.0.0.1' IDENTIFIED BY 'second-pass-2'"));
        aws_sdk_secretsmanager::Client::new(&sdk().await)
            .put_secret_value()
            .secret_id(&secret)
            .secret_string(format!(r#"{{"username":"{user}","password":"second-pass-2"}}"#))
            .send()
            .await
            .unwrap();
        let ids: Vec<i64> =
            sqlx::query_scalar("SELECT id FROM information_schema.processlist WHERE user = ?").bind(&user).fetch_all(&admin).await.unwrap();
        assert!(!ids.is_empty(), "the first query left a pooled connection");
        as_root(&ids.iter().map(|id| format!("KILL {id};")).collect::<String>());
        let mut after = Vec::new();
        for _ in 0..5 {
            let (status, body) = get_json(&query).await;
            after.push((status, body["row_count"].as_u64(), body["error"].as_str().map(str::to_owned)));
        }
        let (_, health) = get_json(&format!("{base}/healthz")).await;
        (before, first_read, after, health, ids.len())
    }
    .await;
    let _ = server.kill();
    let _ = server.wait();
    let (before, first_read, after, health, killed) = outcome;
    assert_eq!(before, 200);
    assert!(killed >= 1);
    for answer in &after {
        assert_eq!(answer, &(200, Some(20), None), "every query after the rotation is answered: {after:?}");
    }
    let second_read = health["db_secret"]["read_at_unix_s"].as_u64().unwrap();
    assert!(second_read > first_read, "the secret was read again: {health}");
    assert_eq!(health["mysql"]["up"], true, "{health}");
    assert!(!health.to_string().contains("pass-"), "no password in /healthz");
    as_root(&format!("DROP USER IF EXISTS '{user}'@'127.0.0.1'"));
}

/// The access token's secret is read again on the database secret's timer; a changed token ends every session
/// signed in with the old one, and only the new token opens the dashboard.
#[tokio::test]
async fn a_changed_access_token_ends_the_old_sessions() {
    let (secret, _) = create_secret("first-access-token-0123").await;
    let listen = format!("127.0.0.1:{}", free_port());
    let (db, redis) = (database_url(), redis_url());
    let mut server = cachelens(&[
        "serve",
        "--addr",
        &listen,
        "--database-url",
        &db,
        "--redis-url",
        &redis,
        "--access-token-secret",
        &secret,
        "--db-secret-refresh",
        "1",
    ])
    .spawn()
    .unwrap();
    let base = format!("http://{listen}");
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let outcome = async {
        let up = eventually(Duration::from_secs(20), || async { http().get(format!("{base}/healthz")).send().await.is_ok() });
        assert!(up.await, "server did not start");
        let signed_in = client.post(format!("{base}/login")).form(&[("token", "first-access-token-0123")]).send().await.unwrap();
        assert_eq!(signed_in.status().as_u16(), 303);
        let session = signed_in.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
        let page = |cookie: String| {
            let client = client.clone();
            let url = format!("{base}/compare");
            async move { client.get(url).header("cookie", cookie).send().await.unwrap().status().as_u16() }
        };
        let before = page(session.clone()).await;
        aws_sdk_secretsmanager::Client::new(&sdk().await)
            .put_secret_value()
            .secret_id(&secret)
            .secret_string("second-access-token-4567")
            .send()
            .await
            .unwrap();
        let ended = eventually(Duration::from_secs(15), || {
            let page = page(session.clone());
            async move { page.await == 303 }
        })
        .await;
        let api = |token: &'static str| {
            let client = client.clone();
            let url = format!("{base}/metrics");
            async move { client.get(url).bearer_auth(token).send().await.unwrap().status().as_u16() }
        };
        (before, ended, api("second-access-token-4567").await, api("first-access-token-0123").await)
    }
    .await;
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(outcome, (200, true, 200, 401), "(before, old session ended, new token, old token)");
}
