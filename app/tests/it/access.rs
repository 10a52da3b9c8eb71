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
    // Open to anyone: the health checks and the sign-in page.
    for open in ["/healthz", "/readyz", "/login"] {
        assert_eq!(client.get(format!("{base}{open}")).send().await.unwrap().status().as_u16(), 200, "{open}");
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

    let signed_in = client
        .post(format!("{base}/login"))
        .form(&[("token", TOKEN), ("next", "/compare")])
        .send()
        .await
        .unwrap();
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
}

#[tokio::test]
async fn cross_site_posts_and_non_json_bodies_are_refused() {
    let base = spawn_app(&database_url(), &redis_url(), "cachelens-t-csrf").await;
    let host = base.trim_start_matches("http://").to_string();
    let client = http();
    let sql = r#"{"sql": "select 1 as one", "cache": false}"#;

    let cross = client.post(format!("{base}/api/query/sql")).header("origin", "https://evil.example").header("content-type", "application/json").body(sql).send().await.unwrap();
    assert_eq!(cross.status().as_u16(), 403);
    assert!(cross.json::<serde_json::Value>().await.unwrap()["error"].as_str().unwrap().contains("another site"));
    let delete = client.post(format!("{base}/api/cache/delete")).header("referer", "https://evil.example/page").send().await.unwrap();
    assert_eq!(delete.status().as_u16(), 403, "a cross-site delete, named by its Referer");

    // The "simple" request a browser sends cross-site without a preflight.
    let plain = client.post(format!("{base}/api/query/sql")).header("content-type", "text/plain").body(sql).send().await.unwrap();
    assert_eq!(plain.status().as_u16(), 415);

    let same = client.post(format!("{base}/api/query/sql")).header("origin", format!("http://{host}")).header("content-type", "application/json").body(sql).send().await.unwrap();
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
