//! Types that cross the wire between the server and the browser, and the limits on what users may ask.

use serde::{Deserialize, Serialize};

use crate::error::{AppError, AppResult};

pub const DEFAULT_TERM: &str = "delta";
pub const DEFAULT_LIMIT: u32 = 500;
pub const MAX_LIMIT: u32 = 5000;
pub const MAX_TERM_CHARS: usize = 100;
pub const MAX_TTL_S: u64 = 86_400;
/// Seconds the server lets one custom SQL statement run.
pub const CUSTOM_SQL_TIME_LIMIT_S: u64 = 5;

/// The seed's query, with the search term and the row limit as bound parameters.
pub const ARTICLE_SQL: &str =
    "select SQL_NO_CACHE OBJECTID, Sentence, Title, Source from articles where Sentence like ? order by OBJECTID limit ?";

/// The default query exactly as the seed wrote it, shown on the Home page.
pub const SEED_SQL: &str =
    "select SQL_NO_CACHE OBJECTID, Sentence, Title, Source from articles where Sentence like '%delta%' order by OBJECTID limit 500";

/// A validated search: a literal substring of `Sentence` and how many rows to return.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ArticleQuery {
    pub term: String,
    pub limit: u32,
}

impl ArticleQuery {
    /// Checks what a user typed; the error says what to change.
    pub fn new(term: Option<&str>, limit: Option<u32>) -> AppResult<Self> {
        let term = term.unwrap_or(DEFAULT_TERM).trim();
        if term.is_empty() {
            return Err(AppError::Invalid("the search term is empty".into()));
        }
        if term.chars().count() > MAX_TERM_CHARS {
            return Err(AppError::Invalid(format!("the search term is longer than {MAX_TERM_CHARS} characters")));
        }
        if term.chars().any(char::is_control) {
            return Err(AppError::Invalid("the search term contains control characters".into()));
        }
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(AppError::Invalid(format!("limit must be between 1 and {MAX_LIMIT}, got {limit}")));
        }
        Ok(Self { term: term.to_string(), limit })
    }

    /// The LIKE pattern: the term matched literally, wherever it occurs.
    pub fn like_pattern(&self) -> String {
        let mut p = String::with_capacity(self.term.len() + 2);
        p.push('%');
        for c in self.term.chars() {
            if matches!(c, '%' | '_' | '\\') {
                p.push('\\');
            }
            p.push(c);
        }
        p.push('%');
        p
    }
}

/// A requested TTL, or the server's default when none was asked for.
pub fn validate_ttl(ttl: Option<u64>, default: u64) -> AppResult<u64> {
    let ttl = ttl.unwrap_or(default);
    if (1..=MAX_TTL_S).contains(&ttl) {
        Ok(ttl)
    } else {
        Err(AppError::Invalid(format!("ttl must be between 1 and {MAX_TTL_S} seconds, got {ttl}")))
    }
}

/// One row of the seed's query, named as the seed's columns are.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Article {
    #[serde(rename = "OBJECTID")]
    pub object_id: i32,
    #[serde(rename = "Sentence")]
    pub sentence: String,
    #[serde(rename = "Title")]
    pub title: String,
    #[serde(rename = "Source")]
    pub source: String,
}

/// Which way a query is asked: straight to MySQL, or cache-aside through Redis. The API's `source` (where the
/// rows came from), the benchmark's paths and `cachelens bench --path` all name it. How a cache-aside query
/// was then answered (a miss or a hit) is a [`crate::stats::Outcome`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum QueryPath {
    Mysql,
    Cache,
}

impl QueryPath {
    pub fn key(self) -> &'static str {
        match self {
            QueryPath::Mysql => "mysql",
            QueryPath::Cache => "cache",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            QueryPath::Mysql => "MySQL",
            QueryPath::Cache => "Cache",
        }
    }
}

/// Where an answer came from and what it cost: what every result shows above its rows, and the JSON API's
/// fields besides `rows`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AnswerSummary {
    pub source: QueryPath,
    pub hit: bool,
    /// Server-side time for the whole path (cache lookup, database query, cache fill), in microseconds.
    pub elapsed_us: u64,
    /// Seconds the cached entry has left; `None` when nothing is cached (the MySQL path, or Redis down).
    pub ttl_remaining_s: Option<u64>,
    pub row_count: usize,
    /// Why the cache could not be used, when it could not: the answer then came from MySQL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_error: Option<String>,
}

/// What the Query MySQL and Query Cache pages show.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QueryOutcome {
    pub summary: AnswerSummary,
    pub rows: Vec<Article>,
    /// The other path's recent median, when it has one, for the speedup next to the server time.
    pub versus: Option<Versus>,
}

/// A path's median over its latest recorded answers.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Versus {
    pub path: crate::stats::Outcome,
    pub median_us: u64,
}

/// What the Custom SQL page shows: rows of any shape, as text.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SqlOutcome {
    /// The statement as it ran: comments gone, LIMIT added or capped.
    pub sql: String,
    pub summary: AnswerSummary,
    pub columns: Vec<String>,
    /// Cells as text; `None` is SQL NULL.
    pub rows: Vec<Vec<Option<String>>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_seeds_query() {
        let q = ArticleQuery::new(None, None).unwrap();
        assert_eq!((q.term.as_str(), q.limit), ("delta", 500));
        assert_eq!(q.like_pattern(), "%delta%");
    }

    #[test]
    fn wildcards_in_the_term_are_literal() {
        let q = ArticleQuery::new(Some("50%_a\\b"), Some(3)).unwrap();
        assert_eq!(q.like_pattern(), "%50\\%\\_a\\\\b%");
    }

    #[test]
    fn bad_input_is_refused_with_a_reason() {
        assert!(ArticleQuery::new(Some("  "), None).unwrap_err().to_string().contains("empty"));
        assert!(ArticleQuery::new(Some("x"), Some(0)).unwrap_err().to_string().contains("between 1 and"));
        assert!(ArticleQuery::new(Some("x"), Some(MAX_LIMIT + 1)).unwrap_err().to_string().contains("between 1 and"));
        assert!(ArticleQuery::new(Some(&"y".repeat(101)), None).unwrap_err().to_string().contains("longer"));
        assert!(ArticleQuery::new(Some("a\u{0}b"), None).unwrap_err().to_string().contains("control"));
        assert!(validate_ttl(Some(0), 60).is_err());
        assert_eq!(validate_ttl(None, 90), Ok(90));
        assert_eq!(validate_ttl(Some(5), 90), Ok(5));
    }
}

/// One round trip to a backing service.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Probe {
    pub up: bool,
    /// Round-trip time of the probe in microseconds, when it answered.
    pub rtt_us: Option<u64>,
    /// What went wrong, worded for a person; empty when up.
    pub detail: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServiceStatus {
    pub mysql: Probe,
    pub redis: Probe,
    /// How many status checks this server has answered, so a refresh visibly reaches the server.
    pub check: u64,
}
