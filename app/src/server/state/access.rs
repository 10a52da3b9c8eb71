//! The access token and the sessions signed in with it, kept in the shared state; `http::access` checks them.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{header, HeaderMap};
use subtle::ConstantTimeEq;

pub const COOKIE: &str = "cachelens_session";
/// How long a sign-in lasts.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
/// Failed sign-ins allowed per window, across all clients (cachelens has one token and few users; a lock-out
/// under attack is the lesser harm).
const FAILURES_ALLOWED: u32 = 5;
const FAILURE_WINDOW: Duration = Duration::from_secs(60);

/// The token and the sessions signed in with it. Without a token only the cross-site rules apply.
#[derive(Default)]
pub struct Access {
    token: Option<String>,
    sessions: Mutex<HashMap<String, Instant>>,
    failures: Mutex<(u32, Option<Instant>)>,
}

impl Access {
    pub fn with_token(token: Option<String>) -> Self {
        Self { token: token.filter(|t| !t.is_empty()), ..Self::default() }
    }

    pub fn required(&self) -> bool {
        self.token.is_some()
    }

    /// Compared in constant time, as digests of one length: neither how much of a guess matched nor how long
    /// the token is shows in how long the answer takes.
    pub fn is_token(&self, given: &str) -> bool {
        use sha2::{Digest, Sha256};
        self.token.as_deref().is_some_and(|t| Sha256::digest(t).ct_eq(&Sha256::digest(given)).into())
    }

    pub fn new_session(&self) -> String {
        let mut id = [0u8; 32];
        getrandom::fill(&mut id).expect("the OS random source");
        let id = hex::encode(id);
        let mut sessions = self.sessions.lock().expect("sessions");
        let now = Instant::now();
        sessions.retain(|_, expires| *expires > now);
        sessions.insert(id.clone(), now + SESSION_TTL);
        id
    }

    fn has_session(&self, id: &str) -> bool {
        self.sessions.lock().expect("sessions").get(id).is_some_and(|expires| *expires > Instant::now())
    }

    pub fn signed_in(&self, headers: &HeaderMap) -> bool {
        let bearer = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
        bearer.is_some_and(|t| self.is_token(t)) || session_cookie(headers).is_some_and(|id| self.has_session(id))
    }

    /// Counts a failed sign-in; `Err` with the seconds to wait once the window's allowance is used up.
    pub fn check_rate(&self, failed_now: bool) -> Result<(), u64> {
        let mut failures = self.failures.lock().expect("failures");
        let now = Instant::now();
        if failures.1.is_none_or(|start| now.duration_since(start) > FAILURE_WINDOW) {
            *failures = (0, Some(now));
        }
        if failures.0 >= FAILURES_ALLOWED {
            let waited = now.duration_since(failures.1.unwrap_or(now));
            return Err(FAILURE_WINDOW.saturating_sub(waited).as_secs().max(1));
        }
        if failed_now {
            failures.0 += 1;
        }
        Ok(())
    }
}

fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(COOKIE).and_then(|rest| rest.strip_prefix('=')))
}

