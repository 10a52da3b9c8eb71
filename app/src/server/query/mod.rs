//! What MySQL is asked: the seed's article search, a custom SELECT through its guard, and the SELECT-only user
//! custom SQL runs as. Knows nothing of HTTP or the cache.

pub(crate) mod articles;
pub(crate) mod custom_sql;
pub(crate) mod mysql_users;
pub mod sql_guard;
