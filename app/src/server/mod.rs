//! Server-only code (the `ssr` feature): everything that touches MySQL, Redis, AWS or the OS.
//!
//! # Layout
//!
//! Grouped by layer; a module may use the ones listed below it, never one above:
//!
//! - [`cli`]: the `cachelens` command. Uses everything beneath.
//! - [`http`]: the axum router (pages, server functions, the JSON and benchmark APIs, static files, the CSP).
//!   The pages (`crate::pages`) sit at this level too: both call into the layers below, never into each other.
//! - [`bench`]: benchmark runs, driven through the cache layer.
//! - [`cache`]: cache-aside (the flow, the stored value, single flight, the fill lock, the circuit breaker).
//! - [`query`]: what MySQL is asked (the article search, guarded custom SQL, the SELECT-only user).
//! - [`loader`]: `load-data` (CSV, generated rows, the dataset record). Uses only [`connections`].
//! - [`state`]: what every request shares. Uses [`connections`], [`metrics`], [`run_log`], [`config`] and the
//!   leaf types of `cache` and `bench` it holds (the breaker, the single-flight map, the run registry).
//! - [`config`]: settings from flags, environment, file and AWS. [`connections`], [`metrics`], [`run_log`]:
//!   pools and probes, counters, the comparison record. These use nothing of the server but the shared
//!   `crate::model`, `crate::stats` and `crate::error`.
//!
//! `pub(crate)` is the default; `pub` marks what the integration tests and the binary use.

pub mod bench;
pub mod cache;
pub mod cli;
pub mod config;
pub mod connections;
pub mod http;
pub mod loader;
pub mod metrics;
pub mod query;
pub mod run_log;
pub mod state;
