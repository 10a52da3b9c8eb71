//! Server-only code: the CLI, connections to MySQL and Redis, the cache, the data loader and the HTTP router.

pub mod api;
pub mod assets;
pub mod articles;
pub mod aws;
pub mod bench_api;
pub mod bench_runner;
pub mod breaker;
pub mod cache;
pub mod cli;
pub mod connections;
pub mod csv_load;
pub mod custom_sql;
pub mod dataset;
pub mod generate;
pub mod http;
pub mod metrics;
pub mod progress;
pub mod readonly_user;
pub mod respond;
pub mod run_log;
pub mod settings;
pub mod sql_guard;
pub mod state;
