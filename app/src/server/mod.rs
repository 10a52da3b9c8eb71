//! Server-only code: the CLI, connections to MySQL and Redis, and the HTTP router.

pub mod api;
pub mod articles;
pub mod cache;
pub mod cli;
pub mod connections;
pub mod http;
pub mod respond;
pub mod state;
