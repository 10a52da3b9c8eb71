//! Counters and latency histograms, exposed at /metrics in the Prometheus text format.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

#[derive(Default)]
pub struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_us: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|&le| secs <= le) {
            self.buckets[i].fetch_add(1, Relaxed);
        }
        self.count.fetch_add(1, Relaxed);
        self.sum_us.fetch_add(elapsed.as_micros() as u64, Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, label: &str) {
        let mut cumulative = 0;
        for (le, bucket) in BUCKETS.iter().zip(&self.buckets) {
            cumulative += bucket.load(Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{label},le=\"{le}\"}} {cumulative}");
        }
        let count = self.count.load(Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{label},le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "{name}_sum{{{label}}} {}", self.sum_us.load(Relaxed) as f64 / 1e6);
        let _ = writeln!(out, "{name}_count{{{label}}} {count}");
    }
}

#[derive(Default)]
pub struct Metrics {
    pub cache_hits: AtomicU64,
    pub cache_misses: AtomicU64,
    /// Cache lookups that could not use Redis and were answered from MySQL.
    pub cache_fallbacks: AtomicU64,
    pub mysql_queries: AtomicU64,
    pub mysql_errors: AtomicU64,
    pub http_responses_2xx: AtomicU64,
    pub http_responses_4xx: AtomicU64,
    pub http_responses_5xx: AtomicU64,
    pub mysql_latency: Histogram,
    pub hit_latency: Histogram,
    pub miss_latency: Histogram,
}

impl Metrics {
    /// The latency histogram of answers that went `path`.
    pub fn latency(&self, path: crate::stats::Outcome) -> &Histogram {
        use crate::stats::Outcome::*;
        match path {
            Mysql => &self.mysql_latency,
            Hit => &self.hit_latency,
            Miss => &self.miss_latency,
        }
    }

    pub fn count_status(&self, status: u16) {
        match status {
            200..=299 => &self.http_responses_2xx,
            400..=499 => &self.http_responses_4xx,
            500..=599 => &self.http_responses_5xx,
            _ => return,
        }
        .fetch_add(1, Relaxed);
    }

    pub fn render(&self, pool_size: u32, pool_idle: usize, breaker_open: bool, breaker_trips: u64) -> String {
        let mut out = String::with_capacity(4096);
        let counter = |out: &mut String, name: &str, help: &str, value: u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}");
        };
        counter(&mut out, "cachelens_cache_hits_total", "Cache lookups answered from Redis.", self.cache_hits.load(Relaxed));
        counter(
            &mut out,
            "cachelens_cache_misses_total",
            "Cache lookups that found nothing and filled Redis from MySQL.",
            self.cache_misses.load(Relaxed),
        );
        counter(
            &mut out,
            "cachelens_cache_fallbacks_total",
            "Cache lookups answered from MySQL because Redis was unusable.",
            self.cache_fallbacks.load(Relaxed),
        );
        counter(&mut out, "cachelens_mysql_queries_total", "Article queries sent to MySQL.", self.mysql_queries.load(Relaxed));
        counter(&mut out, "cachelens_mysql_errors_total", "Article queries MySQL failed.", self.mysql_errors.load(Relaxed));
        let _ = writeln!(
            out,
            "# HELP cachelens_http_responses_total HTTP responses by status class.\n# TYPE cachelens_http_responses_total counter"
        );
        for (class, n) in [("2xx", &self.http_responses_2xx), ("4xx", &self.http_responses_4xx), ("5xx", &self.http_responses_5xx)] {
            let _ = writeln!(out, "cachelens_http_responses_total{{class=\"{class}\"}} {}", n.load(Relaxed));
        }
        let _ = writeln!(out, "# HELP cachelens_query_duration_seconds Server-side time of a query by path.\n# TYPE cachelens_query_duration_seconds histogram");
        self.mysql_latency.render(&mut out, "cachelens_query_duration_seconds", "path=\"mysql\"");
        self.hit_latency.render(&mut out, "cachelens_query_duration_seconds", "path=\"cache_hit\"");
        self.miss_latency.render(&mut out, "cachelens_query_duration_seconds", "path=\"cache_miss\"");
        let _ = writeln!(out, "# HELP cachelens_db_pool_connections MySQL pool connections.\n# TYPE cachelens_db_pool_connections gauge");
        let _ = writeln!(out, "cachelens_db_pool_connections{{state=\"open\"}} {pool_size}");
        let _ = writeln!(out, "cachelens_db_pool_connections{{state=\"idle\"}} {pool_idle}");
        let _ = writeln!(out, "# HELP cachelens_redis_circuit_open 1 while cache requests skip Redis after repeated failures.\n# TYPE cachelens_redis_circuit_open gauge\ncachelens_redis_circuit_open {}", u8::from(breaker_open));
        counter(&mut out, "cachelens_redis_circuit_trips_total", "Times the Redis circuit opened.", breaker_trips);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_counts_add_up() {
        let h = Histogram::default();
        for us in [100, 700, 700, 3000, 5_000_000] {
            h.observe(Duration::from_micros(us));
        }
        let mut out = String::new();
        h.render(&mut out, "x", "p=\"a\"");
        assert!(out.contains("x_bucket{p=\"a\",le=\"0.0005\"} 1\n"), "{out}");
        assert!(out.contains("x_bucket{p=\"a\",le=\"0.001\"} 3\n"), "{out}");
        assert!(out.contains("x_bucket{p=\"a\",le=\"0.005\"} 4\n"), "{out}");
        assert!(out.contains("x_bucket{p=\"a\",le=\"2.5\"} 4\n"), "{out}");
        assert!(out.contains("x_bucket{p=\"a\",le=\"+Inf\"} 5\n"), "{out}");
        assert!(out.contains("x_count{p=\"a\"} 5\n"), "{out}");
    }
}
