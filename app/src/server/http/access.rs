//! Who may use the dashboard, and from where.
//!
//! - **No cross-site writes**, token or not: a POST whose `Origin` (or, absent it, `Referer`) names another host
//!   is refused (403), and the JSON APIs take only `application/json` bodies (415), so a page elsewhere cannot
//!   drive this one with a "simple" request that browsers send without asking.
//! - **An access token** (`serve --access-token`): every page and API answer but the health checks, the login
//!   page and the static files then needs `Authorization: Bearer TOKEN` or the session cookie `/login` sets.
//!   Pages without either redirect to `/login`; APIs answer 401 JSON.

use axum::{
    extract::{Form, Query, Request, State},
    http::{header, HeaderMap, HeaderValue, Method, StatusCode},
    middleware::Next,
    response::{Html, IntoResponse, Redirect, Response},
    routing::get,
    Router,
};
use crate::error::AppError;
use crate::server::state::access::{COOKIE, SESSION_TTL};
use crate::server::state::AppState;

/// Paths anyone may fetch: health checks for load balancers, the sign-in page, and the static files it needs.
const OPEN: [&str; 4] = ["/healthz", "/readyz", "/login", "/favicon.svg"];

/// The cross-site rules, then the token: the middleware every request passes.
pub async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if let Err(e) = same_site(&request) {
        return e.into_response();
    }
    let path = request.uri().path();
    if !state.access.required() || OPEN.contains(&path) || path.starts_with("/pkg/") || state.access.signed_in(request.headers()) {
        return next.run(request).await;
    }
    if path.starts_with("/api/") || path == "/metrics" || request.method() != Method::GET {
        return AppError::Unauthorized("sign in at /login, or send Authorization: Bearer <access token>".into()).into_response();
    }
    let next_path = request.uri().path_and_query().map_or("/", |p| p.as_str());
    Redirect::to(&format!("/login?next={}", percent_encoding::utf8_percent_encode(next_path, percent_encoding::NON_ALPHANUMERIC)))
        .into_response()
}

/// A state-changing request must come from this site: its `Origin` (or `Referer`) names this host or nothing.
/// The JSON APIs take JSON only, so a cross-site form or `text/plain` post cannot reach them either way.
fn same_site(request: &Request) -> Result<(), AppError> {
    if request.method() == Method::GET || request.method() == Method::HEAD || request.method() == Method::OPTIONS {
        return Ok(());
    }
    let headers = request.headers();
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
    let claimed = headers.get(header::ORIGIN).or_else(|| headers.get(header::REFERER)).and_then(|v| v.to_str().ok());
    if let Some(claimed) = claimed {
        let claimed_host = url::Url::parse(claimed).ok().and_then(|u| {
            u.host_str().map(|h| match u.port() {
                Some(port) => format!("{h}:{port}"),
                None => h.to_string(),
            })
        });
        if claimed_host.as_deref() != Some(host) {
            return Err(AppError::Forbidden("cross-site request refused: it came from another site".into()));
        }
    }
    let json_api = matches!(request.uri().path(), "/api/query/sql" | "/api/bench" | "/api/lab");
    let is_json = headers.get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if json_api && !is_json {
        return Err(AppError::UnsupportedMediaType("send the body as Content-Type: application/json".into()));
    }
    Ok(())
}

pub fn routes(state: AppState) -> Router {
    Router::new().route("/login", get(login_page).post(sign_in)).with_state(state)
}

#[derive(serde::Deserialize)]
struct NextPath {
    next: Option<String>,
}

#[derive(serde::Deserialize)]
struct SignIn {
    token: String,
    next: Option<String>,
}

async fn login_page(Query(q): Query<NextPath>) -> Html<String> {
    Html(login_html(q.next.as_deref(), None))
}

async fn sign_in(State(state): State<AppState>, headers: HeaderMap, Form(form): Form<SignIn>) -> Response {
    let access = &state.access;
    if let Err(wait) = access.check_rate(false) {
        let mut page = (StatusCode::TOO_MANY_REQUESTS, Html(login_html(form.next.as_deref(), Some("Too many failed sign-ins: wait a minute and try again.")))).into_response();
        page.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait));
        return page;
    }
    if !access.is_token(form.token.trim()) {
        let _ = access.check_rate(true);
        return (StatusCode::UNAUTHORIZED, Html(login_html(form.next.as_deref(), Some("That is not the access token.")))).into_response();
    }
    // The header of a load balancer, or CloudFront's (the stack's origin request policy forwards it). A client
    // that fakes either only makes its own cookie stricter.
    let secure = ["x-forwarded-proto", "cloudfront-forwarded-proto"]
        .iter()
        .any(|name| headers.get(*name).is_some_and(|p| p.as_bytes().eq_ignore_ascii_case(b"https")));
    let cookie = format!(
        "{COOKIE}={}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{}",
        access.new_session(),
        SESSION_TTL.as_secs(),
        if secure { "; Secure" } else { "" }
    );
    let mut answer = Redirect::to(safe_next(form.next.as_deref())).into_response();
    answer.headers_mut().insert(header::SET_COOKIE, HeaderValue::from_str(&cookie).expect("a valid cookie"));
    answer
}

/// Only a path on this site: `next` must not send a signed-in user elsewhere.
fn safe_next(next: Option<&str>) -> &str {
    next.filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.contains('\\')).unwrap_or("/")
}

fn login_html(next: Option<&str>, problem: Option<&str>) -> String {
    let escape = |s: &str| s.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;").replace('>', "&gt;");
    let next = escape(safe_next(next));
    let problem = problem.map(|p| format!(r#"<div class="error-panel" role="alert">{}</div>"#, escape(p))).unwrap_or_default();
    format!(
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · cachelens</title><link rel="stylesheet" href="/pkg/cachelens.css"><link rel="icon" href="/favicon.svg" type="image/svg+xml"></head>
<body><header class="topbar"><span class="brand">cachelens</span></header><main>
<h1>Sign in</h1><p>This cachelens asks for the access token it was started with (<code>--access-token</code>, <code>CACHELENS_ACCESS_TOKEN</code> or its secret).</p>
{problem}<form method="post" action="/login"><input type="hidden" name="next" value="{next}">
<label for="token">Access token <input id="token" name="token" type="password" autocomplete="current-password" required autofocus></label>
<button type="submit" id="sign-in">Sign in</button></form></main></body></html>"#
    )
}
