//! The axum router: Leptos pages and server functions, static files and the JSON endpoints, each module with
//! its own routes, merged here; the one place requests enter.

mod access;
pub(crate) mod api;
pub(crate) mod assets;
mod csp;
pub(crate) mod runs;

use axum::{
    extract::{Request, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tower_http::compression::{CompressionLayer, CompressionLevel};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::app::{shell, App};
use crate::error::{AppError, AppResult};
use crate::server::config::{Resolved, ServeArgs};
/// How `serve` admits requests; also what tests serve the router with.
pub use crate::server::state::access::AccessPolicy;
use crate::server::state::AppState;

pub async fn serve(args: ServeArgs, resolved: Resolved) -> AppResult<()> {
    let token = access_token(&args, &resolved).await?;
    if token.is_none() && !args.addr.ip().is_loopback() && !args.allow_anonymous {
        return Err(AppError::Invalid(format!(
            "refusing to serve {} without an access token: it carries a SQL box and a load generator; give --access-token (CACHELENS_ACCESS_TOKEN), or --allow-anonymous",
            args.addr
        )));
    }
    let origin_secret = match (&args.origin_secret, &args.origin_secret_secret) {
        (Some(given), _) => Some(given.clone()),
        (None, Some(secret)) => Some(read_secret_token(&resolved, secret).await?),
        (None, None) => None,
    };
    let mut state = crate::server::startup::connect(&resolved).await?;
    let options = leptos_options(&args)?;

    use axum::serve::ListenerExt;
    // Pages stream in several writes; without TCP_NODELAY, Nagle's algorithm and delayed ACKs hold the
    // later ones back by about 40 ms.
    let listener =
        tokio::net::TcpListener::bind(args.addr).await.map_err(|e| AppError::Invalid(format!("cannot listen on {}: {e}", args.addr)))?;
    let bound = listener.local_addr().map_err(|e| AppError::Internal(format!("the listening address: {e}")))?;
    // Without a token the Host rule keeps DNS-rebinding pages out; --allow-anonymous is the user's own front.
    let loopback_port = (token.is_none() && !args.allow_anonymous).then_some(bound.port());
    state.set_access(AccessPolicy { token: token.clone(), origin_secret, loopback_port });
    if let (Some(secret), true) = (&args.access_token_secret, resolved.tuning.db_secret_refresh > 0) {
        let period = std::time::Duration::from_secs(resolved.tuning.db_secret_refresh);
        tokio::spawn(reread_token_every(period, secret.clone(), resolved.clone(), state.clone()));
    }
    tracing::info!("cachelens listening on http://{bound}");
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, router(state, options).into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| AppError::Internal(format!("server stopped: {e}")))
}

/// The token's secret, read again on the database secret's timer: a changed token ends every session signed
/// in with the old one. A failed read keeps the token in force and is tried again at the next tick.
async fn reread_token_every(period: std::time::Duration, secret: String, resolved: Resolved, state: AppState) {
    let mut tick = tokio::time::interval(period);
    tick.tick().await;
    loop {
        tick.tick().await;
        match read_secret_token(&resolved, &secret).await.and_then(|t| AccessPolicy::checked_token(&t, &secret)) {
            Ok(token) => {
                if state.access.replace_token(token) {
                    tracing::info!(secret = %secret, "the access token changed in its secret: every session signed in with the old one ended");
                }
            }
            Err(e) => tracing::warn!(secret = %secret, "re-reading the access token failed (the current one stays): {e}"),
        }
    }
}

pub fn router(state: AppState, options: LeptosOptions) -> Router {
    let routes = generate_route_list(App);
    let api = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state.clone())
        .merge(crate::server::http::api::routes(state.clone()))
        .merge(runs::routes::<crate::server::bench::BenchRun>(state.clone()))
        .merge(runs::routes::<crate::server::lab::LabRun>(state.clone()))
        .merge(runs::history_routes(state.clone()))
        .merge(access::routes(state.clone()));
    let pkg_dir = std::path::Path::new(&*options.site_root).join(&*options.site_pkg_dir);
    let pages = Router::new()
        .nest_service(&format!("/{}", options.site_pkg_dir), crate::server::http::assets::pkg_routes(pkg_dir))
        .leptos_routes_with_context(
            &options,
            routes,
            {
                let state = state.clone();
                move || provide_context(state.clone())
            },
            {
                let options = options.clone();
                move || page(options.clone())
            },
        )
        .fallback(leptos_axum::file_and_error_handler(page))
        .with_state(options);
    api.merge(pages)
        .layer(axum::middleware::from_fn_with_state(state.clone(), access::guard))
        .layer(axum::middleware::from_fn_with_state(state, count_responses))
        // Pages and JSON for clients that ask: the 500-row page and answer shrink about fivefold, at the fastest
        // level because a hit's whole budget is a fraction of a millisecond. Server-sent events stay as they are
        // (the default predicate), and /pkg files already carry their encoding.
        .layer(CompressionLayer::new().quality(CompressionLevel::Fastest))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(64 * 1024))
        // Outside the body limit, so its 413 gets the JSON shape too.
        .layer(axum::middleware::from_fn(json_api_rejections))
        .layer(SetResponseHeaderLayer::if_not_present(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .layer(SetResponseHeaderLayer::if_not_present(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        // A page's own requests keep their Origin, which the same-site check reads (with `no-referrer` Chromium
        // sends `Origin: null` and every sign-in was refused); other sites learn nothing of where a link was.
        .layer(SetResponseHeaderLayer::if_not_present(header::REFERRER_POLICY, HeaderValue::from_static("same-origin")))
        .layer(SetResponseHeaderLayer::if_not_present(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(csp::CSP)))
}

/// A page: the app's shell, with the policy that lets in its inline scripts by this response's nonce.
fn page(options: LeptosOptions) -> impl IntoView {
    csp::set_page_csp();
    shell(options)
}

/// Under /api every error is `{"error": "…"}`: axum's extractor rejections and the body limit answer plain text,
/// which this rewrites through [`AppError`] with the same status.
async fn json_api_rejections(request: Request, next: Next) -> Response {
    let api = request.uri().path().starts_with("/api/");
    let response = next.run(request).await;
    let is_json = response.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !api || is_json || !(response.status().is_client_error() || response.status().is_server_error()) {
        return response;
    }
    let status = response.status();
    let (parts, body) = response.into_parts();
    let Ok(body) = axum::body::to_bytes(body, 4096).await else {
        return AppError::Internal("the error could not be read".into()).into_response();
    };
    let text = match String::from_utf8_lossy(&body).trim() {
        "" => status.to_string(),
        text => text.to_string(),
    };
    match AppError::from_rejection(status.as_u16(), text) {
        Some(e) => e.into_response(),
        // A status the app never answers with itself (405, say): passed on as it came.
        None => Response::from_parts(parts, axum::body::Body::from(body)),
    }
}

/// Counts every response for /metrics and logs it: server errors always, the rest at debug level. The path is
/// logged without its query string, which may hold what a user searched for.
async fn count_responses(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let (method, path) = (request.method().clone(), request.uri().path().to_string());
    let response = next.run(request).await;
    let status = response.status().as_u16();
    state.metrics.count_status(status);
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    if status >= 500 {
        tracing::warn!(%method, %path, status, elapsed_ms, "request failed");
    } else {
        tracing::debug!(%method, %path, status, elapsed_ms, "request");
    }
    response
}

/// Ready when MySQL answers: without Redis cachelens still serves, without MySQL it cannot.
async fn readyz(State(state): State<AppState>, headers: HeaderMap) -> (StatusCode, Json<serde_json::Value>) {
    let (mysql, redis) = state.probe().await;
    let code = if mysql.up { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let answer = serde_json::json!({ "ready": mysql.up, "mysql": mysql, "redis": redis });
    (code, Json(for_caller(&state, &headers, answer)))
}

/// The health answers in full (error texts, round trips, the secret's id and age) for a signed-in caller or a
/// server without a token; anyone else learns only up or down per service.
fn for_caller(state: &AppState, headers: &HeaderMap, mut answer: serde_json::Value) -> serde_json::Value {
    if state.access.allows(headers) {
        return answer;
    }
    if let Some(fields) = answer.as_object_mut() {
        fields.retain(|k, _| k != "db_secret");
        for service in ["mysql", "redis"] {
            if let Some(probe) = fields.get_mut(service) {
                *probe = serde_json::json!({ "up": probe["up"] });
            }
        }
    }
    answer
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let body = state.metrics.render(state.db.size(), state.db.num_idle(), state.breaker.is_open(), state.breaker.trips());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}

/// Liveness plus what each backing service says; 200 whenever the process can answer, because a dead Redis
/// or MySQL is something the app degrades around, not a reason to restart it.
async fn healthz(State(state): State<AppState>, headers: HeaderMap) -> Json<serde_json::Value> {
    let (mysql, redis) = state.probe().await;
    let mut answer = serde_json::json!({ "status": "ok", "mysql": mysql, "redis": redis });
    if let Some(watch) = &state.db_secret {
        let read_at = watch.last_read().await;
        let unix_s = read_at.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default();
        let age_s = read_at.elapsed().map(|d| d.as_secs()).unwrap_or_default();
        answer["db_secret"] = serde_json::json!({ "id": watch.secret_id(), "read_at_unix_s": unix_s, "age_s": age_s });
    }
    Json(for_caller(&state, &headers, answer))
}

/// The access token: given, or read from its Secrets Manager secret (the deployment's); too short a one is
/// refused.
async fn access_token(args: &ServeArgs, resolved: &Resolved) -> AppResult<Option<String>> {
    if let Some(token) = args.access_token.as_deref().filter(|t| !t.is_empty()) {
        return AccessPolicy::checked_token(token, "--access-token").map(Some);
    }
    let Some(secret) = &args.access_token_secret else { return Ok(None) };
    let token = read_secret_token(resolved, secret).await?;
    AccessPolicy::checked_token(&token, &format!("secret {secret}")).map(Some)
}

async fn read_secret_token(resolved: &Resolved, secret: &str) -> AppResult<String> {
    let sdk = crate::server::config::aws::load_sdk_config(resolved.region.as_ref().map(|r| r.value.clone())).await?;
    let text = crate::server::config::aws::secret_string(&sdk, secret).await?;
    crate::server::config::aws::parse_token_secret(secret, &text)
}

/// Under `cargo leptos watch` the LEPTOS_* variables describe the build; run alone, the binary uses its flags.
fn leptos_options(args: &ServeArgs) -> AppResult<LeptosOptions> {
    let mut options = if std::env::var_os("LEPTOS_OUTPUT_NAME").is_some() {
        get_configuration(None).map_err(|e| AppError::Invalid(format!("bad LEPTOS_* environment: {e}")))?.leptos_options
    } else {
        LeptosOptions::builder().output_name("cachelens").site_root(args.site_root.as_str()).build()
    };
    options.site_addr = args.addr;
    Ok(options)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
