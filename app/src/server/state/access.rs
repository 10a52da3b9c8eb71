//! Who may use the dashboard: the access token, the sessions signed in with it, the failed attempts per
//! client, and the deployment's rules for where requests may come from. Kept in the shared state;
//! `http::access` applies them to every request.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::http::{header, HeaderMap};
use subtle::ConstantTimeEq;

use crate::error::{AppError, AppResult};

pub const COOKIE: &str = "cachelens_session";
/// How long a sign-in lasts.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
/// A shorter token can be guessed or read over a shoulder; 16 random characters are far beyond guessing at
/// [`FAILURES_PER_CLIENT`] a minute.
pub const MIN_TOKEN_CHARS: usize = 16;
/// Failed sign-ins (forms and bearer headers alike) one client address may make per window.
pub const FAILURES_PER_CLIENT: u32 = 5;
/// Failures from all clients together per window before clients that have failed are refused outright. High
/// on purpose: reaching it must take many addresses, and a client that has not failed is never refused, so
/// no attacker can lock the owner out.
const FAILURES_GLOBAL: u32 = 10_000;
const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// Clients remembered at once; beyond it the oldest windows are dropped (memory stays bounded under a flood).
const CLIENTS_TRACKED: usize = 100_000;
/// The header CloudFront adds with the stack's origin secret (the distribution's `customHeaders`).
pub const ORIGIN_HEADER: &str = "x-origin-verify";
/// CloudFront's header naming the viewer's address and port, trusted only on a request that carries the
/// origin secret.
const VIEWER_ADDRESS: &str = "cloudfront-viewer-address";

/// How `serve` was told to admit requests.
#[derive(Clone, Debug, Default)]
pub struct AccessPolicy {
    /// The access token; without one, only the cross-site rules and (with `loopback_port`) the Host rule apply.
    pub token: Option<String>,
    /// Requests must carry this in [`ORIGIN_HEADER`] (loopback peers excepted: SSM port forwarding and the
    /// instance's own checks arrive from 127.0.0.1).
    pub origin_secret: Option<String>,
    /// Without a token on a loopback address: the port, so that only `Host: 127.0.0.1:PORT` (or localhost, or
    /// [::1]) is answered and a DNS-rebinding page naming its own host gets nothing.
    pub loopback_port: Option<u16>,
}

impl AccessPolicy {
    /// The token, refused with a one-line reason when it is too short to stand guard.
    pub fn checked_token(token: &str, from: &str) -> AppResult<String> {
        let chars = token.chars().count();
        if chars < MIN_TOKEN_CHARS {
            return Err(AppError::Invalid(format!(
                "the access token ({from}) has {chars} characters: give at least {MIN_TOKEN_CHARS} (e.g. `openssl rand -hex 16`)"
            )));
        }
        Ok(token.to_string())
    }
}

/// The live rules and their state.
#[derive(Default)]
pub struct Access {
    token: RwLock<Option<String>>,
    origin_secret: Option<String>,
    loopback_port: Option<u16>,
    sessions: Mutex<HashMap<String, Instant>>,
    failures: Mutex<Failures>,
}

#[derive(Default)]
struct Failures {
    clients: HashMap<IpAddr, Window>,
    all: Window,
}

#[derive(Clone, Copy, Default)]
struct Window {
    count: u32,
    start: Option<Instant>,
}

impl Window {
    /// The count in the current window, restarting it when it has passed.
    fn current(&mut self, now: Instant) -> u32 {
        if self.start.is_none_or(|s| now.duration_since(s) > FAILURE_WINDOW) {
            *self = Window { count: 0, start: Some(now) };
        }
        self.count
    }

    fn seconds_left(&self, now: Instant) -> u64 {
        let waited = self.start.map_or(Duration::ZERO, |s| now.duration_since(s));
        FAILURE_WINDOW.saturating_sub(waited).as_secs().max(1)
    }
}

impl Access {
    pub fn new(policy: AccessPolicy) -> Self {
        Self {
            token: RwLock::new(policy.token.filter(|t| !t.is_empty())),
            origin_secret: policy.origin_secret.filter(|s| !s.is_empty()),
            loopback_port: policy.loopback_port,
            ..Self::default()
        }
    }

    pub fn required(&self) -> bool {
        self.token.read().expect("token").is_some()
    }

    /// A new token (its secret was rotated): every session signed in with the old one ends.
    pub fn replace_token(&self, token: String) -> bool {
        let mut current = self.token.write().expect("token");
        if current.as_deref() == Some(token.as_str()) {
            return false;
        }
        *current = Some(token);
        self.sessions.lock().expect("sessions").clear();
        true
    }

    /// Compared in constant time, as digests of one length: neither how much of a guess matched nor how long
    /// the token is shows in how long the answer takes.
    pub fn is_token(&self, given: &str) -> bool {
        use sha2::{Digest, Sha256};
        self.token.read().expect("token").as_deref().is_some_and(|t| Sha256::digest(t).ct_eq(&Sha256::digest(given)).into())
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

    /// Forgets the request's session, if it has one: the id is worthless from here on.
    pub fn end_session(&self, headers: &HeaderMap) {
        if let Some(id) = session_cookie(headers) {
            self.sessions.lock().expect("sessions").remove(id);
        }
    }

    fn has_session(&self, id: &str) -> bool {
        self.sessions.lock().expect("sessions").get(id).is_some_and(|expires| *expires > Instant::now())
    }

    /// The bearer header as sent, if any.
    pub fn bearer(headers: &HeaderMap) -> Option<&str> {
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "))
    }

    /// A token is required and this request has it (as a bearer) or a live session; or none is required.
    pub fn allows(&self, headers: &HeaderMap) -> bool {
        !self.required()
            || Self::bearer(headers).is_some_and(|t| self.is_token(t))
            || session_cookie(headers).is_some_and(|id| self.has_session(id))
    }

    /// `Err` with the seconds to wait when `client` has used up its failures (or all clients together have
    /// and this one has failed too).
    pub fn check_rate(&self, client: IpAddr) -> Result<(), u64> {
        let mut f = self.failures.lock().expect("failures");
        let now = Instant::now();
        let all = f.all.current(now);
        let Some(window) = f.clients.get_mut(&client) else { return Ok(()) };
        let mine = window.current(now);
        if mine >= FAILURES_PER_CLIENT || (all >= FAILURES_GLOBAL && mine > 0) {
            return Err(window.seconds_left(now));
        }
        Ok(())
    }

    /// Counts a failed sign-in or bearer from `client`.
    pub fn record_failure(&self, client: IpAddr) {
        let mut f = self.failures.lock().expect("failures");
        let now = Instant::now();
        f.all.current(now);
        f.all.count = f.all.count.saturating_add(1);
        if f.clients.len() >= CLIENTS_TRACKED && !f.clients.contains_key(&client) {
            f.clients.retain(|_, w| w.start.is_some_and(|s| now.duration_since(s) <= FAILURE_WINDOW));
            if f.clients.len() >= CLIENTS_TRACKED {
                f.clients.clear();
            }
        }
        let window = f.clients.entry(client).or_default();
        window.current(now);
        window.count = window.count.saturating_add(1);
    }

    /// Whether the request came through the stack's CloudFront distribution (or no such rule is set).
    pub fn came_through_origin(&self, headers: &HeaderMap) -> bool {
        let Some(secret) = &self.origin_secret else { return true };
        headers.get(ORIGIN_HEADER).is_some_and(|v| v.as_bytes().ct_eq(secret.as_bytes()).into())
    }

    pub fn origin_rule(&self) -> bool {
        self.origin_secret.is_some()
    }

    /// The client a request counts against: the peer, or behind CloudFront (origin secret configured and
    /// matched) the viewer CloudFront names.
    pub fn client_of(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if self.origin_secret.is_some() && self.came_through_origin(headers) {
            let viewer = headers.get(VIEWER_ADDRESS).and_then(|v| v.to_str().ok()).and_then(viewer_ip);
            if let Some(ip) = viewer {
                return ip;
            }
        }
        peer
    }

    /// `Some(port)` when the Host must name loopback with that port.
    pub fn loopback_port(&self) -> Option<u16> {
        self.loopback_port
    }
}

/// `198.51.100.7:46532` or `2001:db8::1:46532` (CloudFront writes IPv6 without brackets): the address.
fn viewer_ip(value: &str) -> Option<IpAddr> {
    let (ip, port) = value.trim().rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    ip.trim_start_matches('[').trim_end_matches(']').parse().ok()
}

/// Whether `host` (a Host header) is 127.0.0.1, localhost or [::1] with `port` (or none, for port 80).
pub fn is_loopback_host(host: &str, port: u16) -> bool {
    let (name, given_port) = match host.rsplit_once(':') {
        Some((name, p)) if !name.is_empty() && !p.contains(']') => (name, p.parse::<u16>().ok()),
        _ => (host, Some(80)),
    };
    let loopback = name.eq_ignore_ascii_case("localhost") || name == "127.0.0.1" || name == "[::1]";
    loopback && given_port == Some(port)
}

fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(COOKIE).and_then(|rest| rest.strip_prefix('=')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_need_their_port() {
        for ok in ["127.0.0.1:8008", "localhost:8008", "LOCALHOST:8008", "[::1]:8008"] {
            assert!(is_loopback_host(ok, 8008), "{ok}");
        }
        for refused in ["127.0.0.1:9000", "evil.example:8008", "evil.example", "127.0.0.1", "[::1]", "127.0.0.1.evil.example:8008", ""] {
            assert!(!is_loopback_host(refused, 8008), "{refused}");
        }
        assert!(is_loopback_host("localhost", 80));
    }

    #[test]
    fn viewer_addresses_of_both_families() {
        assert_eq!(viewer_ip("198.51.100.7:46532"), "198.51.100.7".parse().ok());
        assert_eq!(viewer_ip("2001:db8::1:46532"), "2001:db8::1".parse().ok());
        assert_eq!(viewer_ip("nonsense"), None);
    }

    #[test]
    fn failures_lock_out_their_client_only() {
        let access = Access::new(AccessPolicy { token: Some("a".repeat(20)), ..AccessPolicy::default() });
        let (attacker, owner): (IpAddr, IpAddr) = ("203.0.113.9".parse().unwrap(), "198.51.100.1".parse().unwrap());
        for _ in 0..FAILURES_PER_CLIENT {
            assert!(access.check_rate(attacker).is_ok());
            access.record_failure(attacker);
        }
        assert!(access.check_rate(attacker).is_err());
        assert!(access.check_rate(owner).is_ok(), "another client is not locked out");
    }

    #[test]
    fn a_new_token_ends_the_old_sessions() {
        let access = Access::new(AccessPolicy { token: Some("first-token-0123456789".into()), ..AccessPolicy::default() });
        let id = access.new_session();
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, format!("{COOKIE}={id}").parse().unwrap());
        assert!(access.allows(&headers));
        assert!(!access.replace_token("first-token-0123456789".into()), "the same token changes nothing");
        assert!(access.allows(&headers));
        assert!(access.replace_token("second-token-0123456789".into()));
        assert!(!access.allows(&headers));
        assert!(access.is_token("second-token-0123456789") && !access.is_token("first-token-0123456789"));
    }

    #[test]
    fn short_tokens_are_refused_in_one_line() {
        let e = AccessPolicy::checked_token("short", "--access-token").unwrap_err().to_string();
        assert!(e.contains("5 characters") && e.contains("at least 16") && !e.contains('\n'), "{e}");
        assert!(AccessPolicy::checked_token(&"x".repeat(16), "--access-token").is_ok());
    }
}
