//! The one error type of cachelens, shared by the server and the pages.
//!
//! Each variant is an HTTP outcome; [`AppError::status`] is the only status table in the program. On the server
//! it answers JSON APIs as `{"error": "…"}` (one `IntoResponse`, which logs server errors) and server functions
//! through Leptos's custom error support, so a page branches on the kind, never on message text. Messages are
//! for people and never carry a secret: the conversions from driver errors redact what they quote.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", content = "message", rename_all = "snake_case")]
pub enum AppError {
    /// The request itself is wrong: a parameter out of range, a statement the guard refuses.
    #[error("{0}")]
    Invalid(String),
    /// No access token, or a wrong one, where one is required.
    #[error("{0}")]
    Unauthorized(String),
    /// A request this server refuses whoever sends it (one from another site).
    #[error("{0}")]
    Forbidden(String),
    /// A request for a host this server does not answer for (a loopback-only server asked by another name).
    #[error("{0}")]
    Misdirected(String),
    #[error("{0}")]
    NotFound(String),
    /// The request collides with work in progress (another benchmark run).
    #[error("{0}")]
    Conflict(String),
    /// A request body over the limit the server takes.
    #[error("{0}")]
    TooLarge(String),
    /// Too many failed attempts from one client: wait, then try again.
    #[error("{0}")]
    TooManyRequests(String),
    /// A body in a format the endpoint does not take.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// MySQL could not answer: cachelens cannot serve without it.
    #[error("MySQL is unavailable: {0}")]
    DatabaseDown(String),
    /// MySQL turned cachelens's login down (its password rotated, say): worth re-reading the credentials.
    #[error("MySQL refused the login: {0}")]
    DatabaseLoginRefused(String),
    /// Redis could not answer where nothing else can stand in for it (deleting the cache).
    #[error("{0}")]
    CacheDown(String),
    /// AWS (CloudFormation, Secrets Manager) did not answer: the network, throttling, an outage.
    #[error("{0}")]
    AwsDown(String),
    /// Something cachelens itself got wrong.
    #[error("{0}")]
    Internal(String),
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn status(&self) -> u16 {
        match self {
            Self::Invalid(_) => 400,
            Self::Unauthorized(_) => 401,
            Self::Forbidden(_) => 403,
            Self::NotFound(_) => 404,
            Self::Conflict(_) => 409,
            Self::TooLarge(_) => 413,
            Self::UnsupportedMediaType(_) => 415,
            Self::Misdirected(_) => 421,
            Self::TooManyRequests(_) => 429,
            Self::Internal(_) => 500,
            Self::DatabaseDown(_) | Self::DatabaseLoginRefused(_) | Self::CacheDown(_) | Self::AwsDown(_) => 503,
        }
    }

    /// The error a framework's plain-text rejection (axum's extractors, the body limit) stands for, so every
    /// API answer has one shape; `None` for statuses the app never answers with.
    pub fn from_rejection(status: u16, text: String) -> Option<Self> {
        Some(match status {
            400 | 422 => Self::Invalid(text),
            404 => Self::NotFound(text),
            409 => Self::Conflict(text),
            413 => Self::TooLarge(text),
            _ => return None,
        })
    }

    /// The same kind of error, its message preceded by `what` (the step that failed).
    pub fn context(mut self, what: impl std::fmt::Display) -> Self {
        let message = self.message_mut();
        *message = format!("{what}: {message}");
        self
    }

    fn message_mut(&mut self) -> &mut String {
        match self {
            Self::Invalid(m)
            | Self::Unauthorized(m)
            | Self::Forbidden(m)
            | Self::Misdirected(m)
            | Self::NotFound(m)
            | Self::Conflict(m)
            | Self::TooLarge(m)
            | Self::TooManyRequests(m)
            | Self::UnsupportedMediaType(m)
            | Self::DatabaseDown(m)
            | Self::DatabaseLoginRefused(m)
            | Self::CacheDown(m)
            | Self::AwsDown(m)
            | Self::Internal(m) => m,
        }
    }

    /// A service, not the request, is at fault: worth a retry later.
    pub fn is_unavailable(&self) -> bool {
        self.status() == 503
    }
}

/// Framework failures (a call that never reached the server, arguments that did not decode) as app errors.
impl leptos::server_fn::error::FromServerFnError for AppError {
    type Encoder = leptos::server_fn::codec::JsonEncoding;

    fn from_server_fn_error(e: leptos::server_fn::error::ServerFnErrorErr) -> Self {
        use leptos::server_fn::error::ServerFnErrorErr::*;
        match e {
            Args(m) | MissingArg(m) => Self::Invalid(m),
            Request(m) => Self::Internal(format!("the server could not be reached: {m}")),
            other => Self::Internal(other.to_string()),
        }
    }
}

#[cfg(feature = "ssr")]
pub use http::with_status;

#[cfg(feature = "ssr")]
mod http {
    use super::AppError;
    use axum::http::StatusCode;
    use axum::response::{IntoResponse, Response};

    impl AppError {
        fn status_code(&self) -> StatusCode {
            StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
        }

        /// For server functions: sets the status of the response being built (the rendered page or the server
        /// function's answer) and hands the error on.
        pub fn in_response(self) -> Self {
            if let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
                response.set_status(self.status_code());
            }
            self
        }
    }

    /// A server function's body, its error's status set on the response.
    pub async fn with_status<T>(body: impl std::future::Future<Output = Result<T, AppError>>) -> Result<T, AppError> {
        body.await.map_err(AppError::in_response)
    }

    impl IntoResponse for AppError {
        fn into_response(self) -> Response {
            if self.status() >= 500 {
                tracing::warn!(status = self.status(), "{self}");
            }
            (self.status_code(), axum::Json(serde_json::json!({ "error": self.to_string() }))).into_response()
        }
    }

    /// sqlx's errors by what they mean for the request; the text is redacted of connection details.
    impl From<sqlx::Error> for AppError {
        fn from(e: sqlx::Error) -> Self {
            use sqlx::Error::*;
            match &e {
                // The server answered but refused the statement: a missing table is a setup problem the user can fix.
                Database(db) if db.code().as_deref() == Some("42S02") => {
                    Self::DatabaseDown("the articles table does not exist yet: run `cachelens load-data`".into())
                }
                // SQLSTATE 28000 is MySQL's access denied (1045): on connect, a password that no longer holds.
                Database(db) if db.code().as_deref() == Some("28000") => Self::DatabaseLoginRefused(crate::server::redact::redact_error(e)),
                Io(_) | Tls(_) | Protocol(_) | PoolTimedOut | PoolClosed | WorkerCrashed | Database(_) => {
                    Self::DatabaseDown(crate::server::redact::redact_error(e))
                }
                _ => Self::Internal(format!("query failed: {}", crate::server::redact::redact_error(e))),
            }
        }
    }

    impl From<fred::error::Error> for AppError {
        fn from(e: fred::error::Error) -> Self {
            Self::CacheDown(format!("Redis: {}", e.details()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_status_and_survives_the_wire() {
        let all = [
            (AppError::Invalid("bad".into()), 400),
            (AppError::NotFound("gone".into()), 404),
            (AppError::Conflict("busy".into()), 409),
            (AppError::TooLarge("big".into()), 413),
            (AppError::Unauthorized("who".into()), 401),
            (AppError::Forbidden("no".into()), 403),
            (AppError::UnsupportedMediaType("json".into()), 415),
            (AppError::Misdirected("host".into()), 421),
            (AppError::TooManyRequests("wait".into()), 429),
            (AppError::DatabaseDown("down".into()), 503),
            (AppError::CacheDown("down".into()), 503),
            (AppError::AwsDown("down".into()), 503),
            (AppError::Internal("oops".into()), 500),
        ];
        for (e, status) in all {
            assert_eq!(e.status(), status, "{e:?}");
            let wire = serde_json::to_string(&e).unwrap();
            assert_eq!(serde_json::from_str::<AppError>(&wire).unwrap(), e, "{wire}");
        }
        assert_eq!(AppError::DatabaseDown("x".into()).to_string(), "MySQL is unavailable: x");
        for status in [400, 404, 409, 413] {
            assert_eq!(AppError::from_rejection(status, "why".into()).map(|e| e.status()), Some(status));
        }
        assert_eq!(AppError::from_rejection(405, "why".into()), None);
    }

    #[test]
    fn context_keeps_the_kind() {
        let e = AppError::CacheDown("Redis: connection refused".into()).context("SET");
        assert_eq!((e.status(), e.to_string()), (503, "SET: Redis: connection refused".to_string()));
        let e = AppError::DatabaseDown("gone".into()).context("read");
        assert_eq!(e.to_string(), "MySQL is unavailable: read: gone");
    }
}
