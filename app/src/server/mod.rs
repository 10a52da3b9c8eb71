//! Server-only code (the `ssr` feature): everything that touches MySQL, Redis, AWS or the OS.
//!
//! # Layout
//!
//! Grouped by layer; a module may use the ones listed below it, never one above:
//!
//! - [`cli`]: the `cachelens` command (one loop follows a run of any kind; `runs` reads the history). Uses
//!   everything beneath.
//! - [`startup`]: the shared state from resolved settings (pools, cachelens's own MySQL users, the secret
//!   watch). Used by `cli` and `http`.
//! - [`http`]: the axum router (pages, server functions, the JSON API, every run kind's endpoints in `runs`,
//!   static files, the CSP). The crate's page modules sit at this level too: both call into the layers below,
//!   never into each other.
//! - [`bench`]: benchmark runs, driven through the cache layer. [`lab`]: the strategy lab's runs, against its
//!   own table and keys (it uses the state, the connections and the cache's key deletion only). Each is a
//!   [`state::runs::Run`]; the state holds them through that trait and never names them.
//! - [`cache`]: cache-aside (the flow, the stored value and its Redis commands, the compressed entry, the fill
//!   lock).
//! - [`query`]: what MySQL is asked (the article search, guarded custom SQL, the MySQL users cachelens sets up).
//! - [`loader`]: `load-data` (CSV, generated rows, the dataset record). Uses only [`connections`].
//! - [`state`]: what every request shares, with the process-wide state the layers above keep there (the
//!   circuit breaker, the single-flight gates, the run registry and the run history, sign-in).
//! - [`config`]: settings from flags, environment, file and AWS. [`connections`], [`metrics`], [`query_log`],
//!   [`clock`], [`redact`]: pools and probes, counters, the comparison page's record, wall-clock time, secrets
//!   out of texts. These use nothing of the server but the shared `crate::model`, `crate::stats` and
//!   `crate::error`.
//!
//! `pub(crate)` is the default; `pub` marks what the integration tests and the binary use.

pub(crate) mod bench;
pub(crate) mod cache;
pub mod cli;
pub(crate) mod clock;
pub mod config;
pub(crate) mod connections;
pub mod http;
pub mod lab;
pub mod loader;
pub(crate) mod metrics;
pub mod query;
pub(crate) mod query_log;
pub(crate) mod redact;
pub mod startup;
pub(crate) mod state;
