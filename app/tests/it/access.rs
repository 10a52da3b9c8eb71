//! Access control and cross-site writes: what a page on another site, or someone without the token, can do.

use crate::support::*;

const TOKEN: &str = "correct-horse-battery-staple";

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

async fn guarded(prefix: &str) -> String {
    // A database of each test's own: they run at once, and loading one drops what was there.
    let db = loaded_database(&prefix.replace("cachelens-t-", "access_"), 20).await;
    spawn_app_guarded(settings_for(&db, &redis_url(), prefix), TOKEN).await
}

/// The origin secret the deployment's CloudFront sends.
const ORIGIN: &str = "origin-secret-of-this-stack";

/// Behind CloudFront: the token and the origin secret.
async fn behind_cloudfront(prefix: &str) -> String {
    let db = loaded_database(&prefix.replace("cachelens-t-", "access_"), 20).await;
    spawn_app_policy(settings_for(&db, &redis_url(), prefix), "target/site", |_| AccessPolicy {
        token: Some(TOKEN.into()),
        origin_secret: Some(ORIGIN.into()),
        loopback_port: None,
    })
    .await
}

/// This machine's own address that is not loopback (the origin rule exempts loopback peers).
fn non_loopback_address() -> std::net::IpAddr {
    let out = std::process::Command::new("hostname").arg("-I").output().expect("hostname -I");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|a| a.parse::<std::net::IpAddr>().ok())
        .find(|a| a.is_ipv4() && !a.is_loopback())
        .expect("this machine has a non-loopback IPv4 address to test the origin rule over")
}

#[tokio::test]
async fn without_the_token_pages_redirect_to_login_and_apis_answer_401() {
    let base = guarded("cachelens-t-guard").await;
    let client = no_redirects();

    let page = client.get(format!("{base}/cache?term=delta")).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 303);
    assert_eq!(page.headers()["location"], "/login?next=%2Fcache%3Fterm%3Ddelta");
    for api in ["/api/query/mysql", "/metrics", "/api/bench"] {
        let answer = client.get(format!("{base}{api}")).send().await.unwrap();
        assert_eq!(answer.status().as_u16(), 401, "{api}");
        let body: serde_json::Value = answer.json().await.unwrap();
        assert!(body["error"].as_str().unwrap().contains("/login"), "{api}: {body}");
    }
    let wrong = client.get(format!("{base}/api/query/mysql")).bearer_auth("guess").send().await.unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
    // Open to anyone: the health checks and the sign-in page; the health checks say up or down, nothing more.
    for open in ["/healthz", "/readyz", "/login"] {
        assert_eq!(client.get(format!("{base}{open}")).send().await.unwrap().status().as_u16(), 200, "{open}");
    }
    for check in ["/healthz", "/readyz"] {
        let anonymous: serde_json::Value = client.get(format!("{base}{check}")).send().await.unwrap().json().await.unwrap();
        assert_eq!(anonymous["mysql"], serde_json::json!({ "up": true }), "{check}: {anonymous}");
        assert_eq!(anonymous["redis"], serde_json::json!({ "up": true }), "{check}: {anonymous}");
        let signed: serde_json::Value = client.get(format!("{base}{check}")).bearer_auth(TOKEN).send().await.unwrap().json().await.unwrap();
        assert!(signed["mysql"].as_object().unwrap().len() > 1, "{check} with the token has the details: {signed}");
    }
}

#[tokio::test]
async fn the_bearer_token_and_a_signed_in_session_both_work() {
    let base = guarded("cachelens-t-signin").await;
    let client = no_redirects();

    let api = client.get(format!("{base}/api/query/mysql?limit=3")).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(api.status().as_u16(), 200);
    let metrics = client.get(format!("{base}/metrics")).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(metrics.status().as_u16(), 200, "Prometheus's bearer authorization");

    let signed_in = client.post(format!("{base}/login")).form(&[("token", TOKEN), ("next", "/compare")]).send().await.unwrap();
    assert_eq!(signed_in.status().as_u16(), 303);
    assert_eq!(signed_in.headers()["location"], "/compare");
    let cookie = signed_in.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && cookie.contains("Max-Age="), "{cookie}");
    assert!(!cookie.contains("Secure"), "plain HTTP gets no Secure cookie: {cookie}");
    let session = cookie.split(';').next().unwrap().to_string();
    let page = client.get(format!("{base}/compare")).header("cookie", &session).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let made_up = client.get(format!("{base}/compare")).header("cookie", "cachelens_session=0000").send().await.unwrap();
    assert_eq!(made_up.status().as_u16(), 303, "a session id the server never gave is no session");

    // Behind an HTTPS front (a load balancer's header, or CloudFront's own as the stack forwards it), the cookie
    // is Secure; `next` never leaves the site.
    for proto_header in ["x-forwarded-proto", "cloudfront-forwarded-proto"] {
        let https = client
            .post(format!("{base}/login"))
            .header(proto_header, "https")
            .form(&[("token", TOKEN), ("next", "//evil.example/")])
            .send()
            .await
            .unwrap();
        assert!(https.headers()["set-cookie"].to_str().unwrap().contains("; Secure"), "{proto_header}");
        assert_eq!(https.headers()["location"], "/");
    }
    // A tab or a line break in `next` (a browser drops them, and the rest may be `//elsewhere`) goes home; CR/LF
    // once made a 500.
    for next in ["/\t/evil.example", "/x\r\nSet-Cookie: a=b", "/\n/evil.example"] {
        let signed = client.post(format!("{base}/login")).form(&[("token", TOKEN), ("next", next)]).send().await.unwrap();
        assert_eq!(signed.status().as_u16(), 303, "{next:?}");
        assert_eq!(signed.headers()["location"], "/", "{next:?}");
    }
}

#[tokio::test]
async fn signing_out_ends_the_session_on_the_server() {
    let base = guarded("cachelens-t-signout").await;
    let client = no_redirects();
    let signed_in = client.post(format!("{base}/login")).form(&[("token", TOKEN), ("next", "/")]).send().await.unwrap();
    let session = signed_in.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    assert_eq!(client.get(format!("{base}/compare")).header("cookie", &session).send().await.unwrap().status().as_u16(), 200);

    let out = client.post(format!("{base}/logout")).header("cookie", &session).header("origin", &base).send().await.unwrap();
    assert_eq!(out.status().as_u16(), 303);
    assert_eq!(out.headers()["location"], "/login");
    let cleared = out.headers()["set-cookie"].to_str().unwrap();
    assert!(cleared.starts_with("cachelens_session=;") && cleared.contains("Max-Age=0"), "{cleared}");
    // The id itself is forgotten: a browser that kept the cookie is signed out all the same.
    let after = client.get(format!("{base}/compare")).header("cookie", &session).send().await.unwrap();
    assert_eq!(after.status().as_u16(), 303);
    assert!(after.headers()["location"].to_str().unwrap().starts_with("/login"));
    // From another site, signing someone out is refused like any other cross-site write.
    let cross = client.post(format!("{base}/logout")).header("origin", "https://evil.example").send().await.unwrap();
    assert_eq!(cross.status().as_u16(), 403);
}

#[tokio::test]
async fn failed_sign_ins_are_rate_limited() {
    let base = guarded("cachelens-t-ratelimit").await;
    let client = no_redirects();
    let attempt = |token: &'static str| client.post(format!("{base}/login")).form(&[("token", token)]).send();
    for _ in 0..5 {
        assert_eq!(attempt("wrong").await.unwrap().status().as_u16(), 401);
    }
    let limited = attempt("wrong").await.unwrap();
    assert_eq!(limited.status().as_u16(), 429);
    assert!(limited.headers().contains_key("retry-after"));
    // While the window lasts even the right token waits: guessing is what the limit stops.
    assert_eq!(attempt(TOKEN).await.unwrap().status().as_u16(), 429);
    let bearer = client.get(format!("{base}/api/query/mysql?limit=1")).bearer_auth("wrong").send().await.unwrap();
    assert_eq!(bearer.status().as_u16(), 429, "a locked-out client's bearer guesses are refused too");
}

#[tokio::test]
async fn bearer_guesses_count_like_failed_sign_ins() {
    let base = guarded("cachelens-t-bearerlimit").await;
    let client = no_redirects();
    for _ in 0..5 {
        let guess = client.get(format!("{base}/api/query/mysql?limit=1")).bearer_auth("guess-0123456789abcdef").send().await.unwrap();
        assert_eq!(guess.status().as_u16(), 401);
    }
    let form = client.post(format!("{base}/login")).form(&[("token", TOKEN)]).send().await.unwrap();
    assert_eq!(form.status().as_u16(), 429, "five wrong bearers used up the address's sign-ins");
}

/// Behind CloudFront the viewer's address (trusted only with the origin secret) is the client: one attacker
/// cannot lock the owner out, and a forged viewer address without the secret counts against the peer.
#[tokio::test]
async fn failures_lock_out_the_failing_client_only() {
    let base = behind_cloudfront("cachelens-t-perclient").await;
    let client = no_redirects();
    let from = |viewer: &str, secret: &str, token: &str| {
        client
            .post(format!("{base}/login"))
            .header("x-origin-verify", secret)
            .header("cloudfront-viewer-address", viewer)
            .form(&[("token", token)])
            .send()
    };
    for _ in 0..5 {
        assert_eq!(from("203.0.113.9:40001", ORIGIN, "wrong").await.unwrap().status().as_u16(), 401);
    }
    assert_eq!(from("203.0.113.9:40002", ORIGIN, "wrong").await.unwrap().status().as_u16(), 429);
    assert_eq!(from("203.0.113.9:40003", ORIGIN, TOKEN).await.unwrap().status().as_u16(), 429, "the attacker's address waits");
    assert_eq!(from("198.51.100.1:50000", ORIGIN, TOKEN).await.unwrap().status().as_u16(), 303, "the owner signs in");
    assert_eq!(from("2001:db8::1:50000", ORIGIN, TOKEN).await.unwrap().status().as_u16(), 303, "IPv6 viewers too");

    // Without the secret the viewer header is the client's own claim: every guess counts against the peer.
    for i in 0..5 {
        assert_eq!(from(&format!("192.0.2.{i}:1"), "forged", "wrong").await.unwrap().status().as_u16(), 401);
    }
    assert_eq!(from("192.0.2.99:1", "forged", TOKEN).await.unwrap().status().as_u16(), 429);
}

/// Only the stack's CloudFront distribution reaches the dashboard: a request from a non-loopback peer without
/// the origin secret is refused, health checks included; loopback (SSM port forwarding) is exempt.
#[tokio::test]
async fn without_the_origin_secret_only_loopback_gets_in() {
    let db = loaded_database("access_origin", 20).await;
    let mut state = cachelens::server::startup::connect(&settings_for(&db, &redis_url(), "cachelens-t-origin")).await.unwrap();
    let ip = non_loopback_address();
    let listener = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    state.set_access(AccessPolicy { token: Some(TOKEN.into()), origin_secret: Some(ORIGIN.into()), loopback_port: None });
    let options = leptos::prelude::LeptosOptions::builder().output_name("cachelens").site_root("target/site").build();
    let app = cachelens::server::http::router(state, options).into_make_service_with_connect_info::<std::net::SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let base = format!("http://{addr}");
    let client = no_redirects();

    for path in ["/healthz", "/login", "/api/query/mysql?limit=1"] {
        let around = client.get(format!("{base}{path}")).bearer_auth(TOKEN).send().await.unwrap();
        assert_eq!(around.status().as_u16(), 403, "{path}");
        let body: serde_json::Value = around.json().await.unwrap();
        assert!(body["error"].as_str().unwrap().contains("CloudFront"), "{body}");
    }
    let wrong = client.get(format!("{base}/healthz")).header("x-origin-verify", "guess").send().await.unwrap();
    assert_eq!(wrong.status().as_u16(), 403);
    let through =
        client.get(format!("{base}/api/query/mysql?limit=1")).header("x-origin-verify", ORIGIN).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(through.status().as_u16(), 200);

    // The same rule from loopback: exempt (the instance's own checks, SSM port forwarding).
    let local = behind_cloudfront("cachelens-t-originlocal").await;
    let answer = client.get(format!("{local}/api/query/mysql?limit=1")).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(answer.status().as_u16(), 200);
}

/// Without a token only a loopback Host is answered: a DNS-rebinding page (its own name resolving to
/// 127.0.0.1) sends `Host: its.name`, and must reach neither the SQL box nor the cache.
#[tokio::test]
async fn without_a_token_only_loopback_hosts_are_answered() {
    let base = spawn_app(&database_url(), &redis_url(), "cachelens-t-rebind").await;
    let port = base.rsplit(':').next().unwrap().to_string();
    let client = no_redirects();
    let sql = r#"{"sql": "select 1 as one", "cache": false}"#;
    for host in
        [format!("rebind.evil.example:{port}"), "rebind.evil.example".into(), "127.0.0.1:1".into(), format!("127.0.0.1.nip.io:{port}")]
    {
        let page = client.get(format!("{base}/sql")).header("host", &host).send().await.unwrap();
        assert_eq!(page.status().as_u16(), 421, "{host}");
        let body: serde_json::Value = page.json().await.unwrap();
        assert!(body["error"].as_str().unwrap().contains("127.0.0.1"), "{body}");
        let posted = client
            .post(format!("{base}/api/query/sql"))
            .header("host", &host)
            .header("origin", format!("http://{host}"))
            .header("content-type", "application/json")
            .body(sql)
            .send()
            .await
            .unwrap();
        assert_eq!(posted.status().as_u16(), 421, "{host}");
    }
    for host in [format!("127.0.0.1:{port}"), format!("localhost:{port}"), format!("LocalHost:{port}")] {
        let page = client.get(format!("{base}/healthz")).header("host", &host).send().await.unwrap();
        assert_eq!(page.status().as_u16(), 200, "{host}");
    }
}

#[tokio::test]
async fn cross_site_posts_and_non_json_bodies_are_refused() {
    let base = spawn_app(&database_url(), &redis_url(), "cachelens-t-csrf").await;
    let host = base.trim_start_matches("http://").to_string();
    let client = http();
    let sql = r#"{"sql": "select 1 as one", "cache": false}"#;

    let cross = client
        .post(format!("{base}/api/query/sql"))
        .header("origin", "https://evil.example")
        .header("content-type", "application/json")
        .body(sql)
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status().as_u16(), 403);
    assert!(cross.json::<serde_json::Value>().await.unwrap()["error"].as_str().unwrap().contains("another site"));
    let delete = client.post(format!("{base}/api/cache/delete")).header("referer", "https://evil.example/page").send().await.unwrap();
    assert_eq!(delete.status().as_u16(), 403, "a cross-site delete, named by its Referer");

    // The "simple" request a browser sends cross-site without a preflight.
    let plain = client.post(format!("{base}/api/query/sql")).header("content-type", "text/plain").body(sql).send().await.unwrap();
    assert_eq!(plain.status().as_u16(), 415);

    // `null` is what a sandboxed frame or a page hiding its origin sends: another site.
    let null = client
        .post(format!("{base}/api/query/sql"))
        .header("origin", "null")
        .header("content-type", "application/json")
        .body(sql)
        .send()
        .await
        .unwrap();
    assert_eq!(null.status().as_u16(), 403);

    let same = client
        .post(format!("{base}/api/query/sql"))
        .header("origin", format!("http://{host}"))
        .header("content-type", "application/json")
        .body(sql)
        .send()
        .await
        .unwrap();
    assert_eq!(same.status().as_u16(), 200, "the same site may");
    let tool = client.post(format!("{base}/api/query/sql")).header("content-type", "application/json").body(sql).send().await.unwrap();
    assert_eq!(tool.status().as_u16(), 200, "a script without Origin or Referer may");
}

#[tokio::test]
async fn serve_refuses_a_public_address_without_a_token() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cachelens"))
        .args(["serve", "--addr", "0.0.0.0:0"])
        .env_remove("CACHELENS_ACCESS_TOKEN")
        .env_remove("LEPTOS_OUTPUT_NAME")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("without an access token") && err.contains("--allow-anonymous"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
}

#[tokio::test]
async fn serve_refuses_a_short_token() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cachelens"))
        .args(["serve", "--addr", "127.0.0.1:0", "--access-token", "hunter2"])
        .env_remove("LEPTOS_OUTPUT_NAME")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("7 characters") && err.contains("at least 16"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(!err.contains("hunter2"), "the token is not repeated: {err}");
}
