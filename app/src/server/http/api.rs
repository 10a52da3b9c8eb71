//! The JSON API: the same code paths as the pages, for scripts and the benchmark.
//!
//! `GET /api/query/mysql?term=&limit=`, `GET /api/query/cache?term=&limit=&ttl=`, `POST /api/cache/delete`,
//! `POST /api/query/sql` with `{"sql": "…", "cache": true, "ttl": 60}`.
//! Errors are [`AppError`]s: `{"error": "…"}` with 400 for a bad parameter and 503 when a service is down.

use axum::{
    body::Body,
    extract::{Query, State},
    http::{header, HeaderMap, HeaderValue},
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use bytes::Bytes;
use serde::Deserialize;

use crate::error::{AppError, AppResult};
use crate::model::{validate_ttl, ArticleQuery};
use crate::server::cache::{self, Answer, Rows, Source};
use crate::server::state::AppState;

pub fn routes(state: AppState) -> Router {
    Router::new()
        .route("/api/query/mysql", get(query_mysql))
        .route("/api/query/cache", get(query_cache))
        .route("/api/cache/delete", post(delete_cache))
        .route("/api/query/sql", post(query_sql))
        .with_state(state)
}

/// Numbers arrive as text so a malformed one gets our message instead of axum's.
#[derive(Deserialize)]
struct QueryParams {
    term: Option<String>,
    limit: Option<String>,
    ttl: Option<String>,
}

impl QueryParams {
    fn article_query(&self) -> AppResult<ArticleQuery> {
        let limit = parse_number("limit", self.limit.as_deref())?;
        ArticleQuery::new(self.term.as_deref(), limit)
    }

    fn ttl(&self, default: u64) -> AppResult<u64> {
        validate_ttl(parse_number("ttl", self.ttl.as_deref())?, default)
    }
}

fn parse_number<T: std::str::FromStr>(name: &str, raw: Option<&str>) -> AppResult<Option<T>> {
    raw.map(|r| r.trim().parse::<T>().map_err(|_| AppError::Invalid(format!("{name} must be a whole number, got {r:?}")))).transpose()
}

async fn query_mysql(State(state): State<AppState>, Query(params): Query<QueryParams>) -> Response {
    let answer = async { cache::query_mysql(&state, Source::Articles(&params.article_query()?)).await };
    respond(answer.await, false)
}

async fn query_cache(State(state): State<AppState>, headers: HeaderMap, Query(params): Query<QueryParams>) -> Response {
    let answer = async { cache::query_cache(&state, Source::Articles(&params.article_query()?), params.ttl(state.default_ttl_s)?).await };
    respond(answer.await, accepts_gzip(&headers))
}

/// The body of `POST /api/query/sql`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SqlRequest {
    sql: String,
    #[serde(default = "yes")]
    cache: bool,
    ttl: Option<u64>,
}

fn yes() -> bool {
    true
}

/// A custom SELECT, cached like the default query unless `"cache": false`. The body is parsed here rather
/// than by axum's extractor so every malformed request gets the same `{"error"}` shape.
async fn query_sql(State(state): State<AppState>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let answer = async {
        let request: SqlRequest = serde_json::from_slice(&body)
            .map_err(|e| AppError::Invalid(format!("body must be JSON {{\"sql\": \"…\", \"cache\": true, \"ttl\": 60}}: {e}")))?;
        let guarded = crate::server::query::sql_guard::check(&request.sql, &state.database_name(), crate::model::MAX_LIMIT.into())
            .map_err(|r| AppError::Invalid(r.0))?;
        if request.cache {
            let ttl = validate_ttl(request.ttl, state.default_ttl_s)?;
            cache::query_cache(&state, Source::Sql(&guarded), ttl).await
        } else {
            cache::query_mysql(&state, Source::Sql(&guarded)).await
        }
    };
    respond(answer.await, accepts_gzip(&headers))
}

async fn delete_cache(State(state): State<AppState>) -> AppResult<Json<serde_json::Value>> {
    Ok(Json(serde_json::json!({ "deleted": cache::delete_cached(&state).await? })))
}

/// Whether `Accept-Encoding` takes gzip (`gzip` or `*`, with a q-value above zero).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers.get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(|coding| {
        let mut parts = coding.split(';');
        let name = parts.next().unwrap_or_default().trim();
        let q = parts.find_map(|p| p.trim().strip_prefix("q=")).map_or(Some(1.0), |q| q.trim().parse::<f32>().ok());
        (name.eq_ignore_ascii_case("gzip") || name == "*") && q.is_some_and(|q| q > 0.0)
    })
}

/// The summary, then the rows as they are (JSON from MySQL, or a hit's stored deflate), never parsed. A hit for
/// a gzip client is sent compressed as stored (see [`cache::compressed`]), marked so the compression layer
/// leaves it alone; other answers are plain JSON, which that layer compresses for clients that ask.
fn respond(answer: AppResult<Answer>, gzip: bool) -> Response {
    let answer = match answer {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    let mut head = serde_json::to_vec(&answer.summary()).expect("summaries serialize");
    head.pop(); // the closing brace
    head.extend_from_slice(b",\"rows\":");
    let rows = match (answer.rows, gzip) {
        (Rows::Stored(stored), true) => {
            let body = Chunks(stored.gzip_between(&head, b"}").into());
            let mut response = ([(header::CONTENT_TYPE, "application/json")], Body::new(body)).into_response();
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
            return response;
        }
        (rows, _) => match rows.json() {
            Ok(rows) => rows.json,
            Err(e) => return e.into_response(),
        },
    };
    let body = Chunks([Bytes::from(head), rows, Bytes::from_static(b"}")].into());
    ([(header::CONTENT_TYPE, "application/json")], Body::new(body)).into_response()
}

/// A body of a few byte chunks written one after the other, with its exact length (so hyper sends
/// Content-Length and can write the chunks in one vectored write).
struct Chunks(std::collections::VecDeque<Bytes>);

impl http_body::Body for Chunks {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        std::task::Poll::Ready(self.0.pop_front().map(|chunk| Ok(http_body::Frame::data(chunk))))
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_empty()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.0.iter().map(|c| c.len() as u64).sum())
    }
}
