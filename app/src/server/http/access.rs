//! Who may use the dashboard, and from where: the middleware every request passes, and the sign-in pages.
//!
//! In order:
//! - **Only through the stack's CloudFront** (`serve --origin-secret`): a request without the secret header
//!   is refused (403), unless it comes from loopback (SSM port forwarding, the instance's own checks).
//! - **Only by a loopback name** when no token is set: `Host` must be 127.0.0.1, localhost or [::1] with the
//!   server's port (421 otherwise), so a DNS-rebinding page that names its own host reaches nothing.
//! - **No cross-site writes**, token or not: a POST whose `Origin` (or, absent it, `Referer`) names another host
//!   or `null` is refused (403), and the JSON APIs take only `application/json` bodies (415), so a page
//!   elsewhere cannot drive this one with a "simple" request that browsers send without asking.
//! - **An access token** (`serve --access-token`): every page and API answer but the health checks, the
//!   sign-in and sign-out pages and the static files then needs `Authorization: Bearer TOKEN` or the session
//!   cookie `/login` sets. Pages without either redirect to `/login`; APIs answer 401 JSON. Failed sign-ins and
//!   failed bearers count against the client's address; five a minute lock that address out (429).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::{
    extract::{ConnectInfo, Form, Query, Request, State},
    http::{header, HeaderMap, HeaderValue, Method, StatusCode},
    middleware::Next,
    response::{Html, IntoResponse, Redirect, Response},
    routing::{get, post},
    Extension, Router,
};

use crate::error::AppError;
use crate::server::state::access::{is_loopback_host, Access, COOKIE, SESSION_TTL};
use crate::server::state::AppState;

/// Paths anyone may fetch: health checks for load balancers, signing in and out, and the static files the
/// sign-in page needs.
const OPEN: [&str; 5] = ["/healthz", "/readyz", "/login", "/logout", "/favicon.svg"];

/// The peer's address; a router served without connect info (none in this program) counts as one client.
fn peer(request: &Request) -> IpAddr {
    request.extensions().get::<ConnectInfo<SocketAddr>>().map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip())
}

/// The address failures count against, found once by [`guard`] for the handlers after it.
#[derive(Clone, Copy)]
struct Client(IpAddr);

/// The rules above, in order: the middleware every request passes.
pub async fn guard(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let access = &state.access;
    let peer = peer(&request);
    let client = access.client_of(peer, request.headers());
    request.extensions_mut().insert(Client(client));
    if access.origin_rule() && !peer.is_loopback() && !access.came_through_origin(request.headers()) {
        return AppError::Forbidden("this server answers only through its CloudFront distribution".into()).into_response();
    }
    if let (false, Some(port)) = (access.required(), access.loopback_port()) {
        let host = request.headers().get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
        if !is_loopback_host(host, port) {
            return AppError::Misdirected(format!(
                "without an access token cachelens answers only http://127.0.0.1:{port} (or localhost, or [::1]); this request named `{host}`"
            ))
            .into_response();
        }
    }
    if let Err(e) = same_site(&request) {
        return e.into_response();
    }
    let path = request.uri().path();
    if !access.required() || OPEN.contains(&path) || path.starts_with("/pkg/") || access.allows(request.headers()) {
        return next.run(request).await;
    }
    if Access::bearer(request.headers()).is_some() {
        // A wrong bearer is a guess like a wrong form: counted, and refused once the client has used its share.
        if let Err(wait) = access.check_rate(client) {
            return too_many(
                AppError::TooManyRequests(format!("too many failed attempts from this address: wait {wait} s")).into_response(),
                wait,
            );
        }
        access.record_failure(client);
    }
    if path.starts_with("/api/") || path == "/metrics" || request.method() != Method::GET {
        return AppError::Unauthorized("sign in at /login, or send Authorization: Bearer <access token>".into()).into_response();
    }
    let next_path = request.uri().path_and_query().map_or("/", |p| p.as_str());
    Redirect::to(&format!("/login?next={}", percent_encoding::utf8_percent_encode(next_path, percent_encoding::NON_ALPHANUMERIC)))
        .into_response()
}

fn too_many(mut response: Response, wait: u64) -> Response {
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait));
    response
}

/// A state-changing request must come from this site: its `Origin` (or `Referer`) names this host or nothing.
/// `Origin: null` (a sandboxed frame, a page whose policy hides its origin) is another site. The JSON APIs
/// take JSON only, so a cross-site form or `text/plain` post cannot reach them either way.
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
    Router::new().route("/login", get(login_page).post(sign_in)).route("/logout", post(sign_out)).with_state(state)
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

async fn sign_in(
    State(state): State<AppState>,
    Extension(Client(client)): Extension<Client>,
    headers: HeaderMap,
    Form(form): Form<SignIn>,
) -> Response {
    let access = &state.access;
    if let Err(wait) = access.check_rate(client) {
        let page = (
            StatusCode::TOO_MANY_REQUESTS,
            Html(login_html(form.next.as_deref(), Some("Too many failed sign-ins from this address: wait a minute and try again."))),
        );
        return too_many(page.into_response(), wait);
    }
    if !access.is_token(form.token.trim()) {
        access.record_failure(client);
        return (StatusCode::UNAUTHORIZED, Html(login_html(form.next.as_deref(), Some("That is not the access token.")))).into_response();
    }
    let cookie = format!(
        "{COOKIE}={}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{}",
        access.new_session(),
        SESSION_TTL.as_secs(),
        secure_suffix(&headers)
    );
    with_cookie(Redirect::to(safe_next(form.next.as_deref())).into_response(), &cookie)
}

/// Ends the session on the server (its id is forgotten) and in the browser (the cookie is cleared).
async fn sign_out(State(state): State<AppState>, headers: HeaderMap) -> Response {
    state.access.end_session(&headers);
    let cookie = format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0{}", secure_suffix(&headers));
    with_cookie(Redirect::to("/login").into_response(), &cookie)
}

/// The header of a load balancer, or CloudFront's (the stack's origin request policy forwards it). A client
/// that fakes either only makes its own cookie stricter.
fn secure_suffix(headers: &HeaderMap) -> &'static str {
    let https = ["x-forwarded-proto", "cloudfront-forwarded-proto"]
        .iter()
        .any(|name| headers.get(*name).is_some_and(|p| p.as_bytes().eq_ignore_ascii_case(b"https")));
    if https {
        "; Secure"
    } else {
        ""
    }
}

fn with_cookie(mut response: Response, cookie: &str) -> Response {
    response.headers_mut().insert(header::SET_COOKIE, HeaderValue::from_str(cookie).expect("a valid cookie"));
    response
}

/// Only a path on this site: `next` must not send a signed-in user elsewhere. A browser drops tabs and line
/// breaks from a URL (`/\t/evil.example` becomes `//evil.example`), and CR/LF cannot go into a header at all.
fn safe_next(next: Option<&str>) -> &str {
    next.filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') && !n.chars().any(char::is_control)).unwrap_or("/")
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

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_stays_on_the_site() {
        assert_eq!(safe_next(Some("/compare?x=1")), "/compare?x=1");
        for away in ["//evil.example/", "/\t/evil.example", "/\\evil.example", "/a\r\nSet-Cookie: x=1", "https://evil.example", "/\u{7f}"] {
            assert_eq!(safe_next(Some(away)), "/", "{away:?}");
        }
        assert_eq!(safe_next(None), "/");
    }
}
