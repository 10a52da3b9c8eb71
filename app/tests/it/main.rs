//! Integration tests against the real MariaDB and Redis that `scripts/services` starts (DATABASE_URL,
//! REDIS_URL). Tests that must break a service get one of their own: a private redis-server they can kill, or a
//! TCP proxy in front of MariaDB they can cut.

mod access;
mod assets;
mod aws_config;
mod bench;
mod cache_flow;
mod compressed_hits;
mod custom_sql;
mod faults;
mod lab;
mod loader;
mod mysql_users;
mod observability;
mod redis_topologies;
mod run_history;
mod status;
mod support;
