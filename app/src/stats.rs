//! Latency records and their summaries, shared by the server (which measures) and the browser (which charts).

use serde::{Deserialize, Serialize};

/// How a query was answered: straight from MySQL, or cache-aside as a miss (MySQL, then a fill) or a hit. The
/// comparison page, the metrics and the speedup keep their figures per outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Query MySQL, straight to the database.
    Mysql,
    /// Query Cache that found nothing and filled Redis from MySQL.
    Miss,
    /// Query Cache answered from Redis.
    Hit,
}

impl Outcome {
    pub const ALL: [Outcome; 3] = [Outcome::Mysql, Outcome::Miss, Outcome::Hit];

    pub fn label(self) -> &'static str {
        match self {
            Outcome::Mysql => "MySQL",
            Outcome::Miss => "Cache miss",
            Outcome::Hit => "Cache hit",
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            Outcome::Mysql => "mysql",
            Outcome::Miss => "miss",
            Outcome::Hit => "hit",
        }
    }
}

/// One query as the comparison page records it, timed on the server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryRecord {
    /// Increases by one per recorded run, across paths.
    pub seq: u64,
    /// Unix time of the run, in milliseconds.
    pub at_ms: u64,
    pub path: Outcome,
    pub elapsed_us: u64,
}

/// The figures every latency table shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    pub count: u64,
    pub p50_us: u64,
    pub p95_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
    pub mean_us: u64,
}

/// Nearest-rank percentiles of `samples` (the smallest value with at least p % of samples at or below it).
pub fn percentiles(samples: &[u64]) -> Option<Percentiles> {
    if samples.is_empty() {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let rank = |p: f64| {
        let n = sorted.len();
        let r = ((p / 100.0) * n as f64).ceil() as usize;
        sorted[r.clamp(1, n) - 1]
    };
    let sum: u128 = sorted.iter().map(|&v| v as u128).sum();
    Some(Percentiles {
        count: sorted.len() as u64,
        p50_us: rank(50.0),
        p95_us: rank(95.0),
        p99_us: rank(99.0),
        max_us: *sorted.last().expect("not empty"),
        mean_us: (sum / sorted.len() as u128) as u64,
    })
}

/// How many times faster `fast` is than `slow`, by median.
pub fn speedup(slow: &Percentiles, fast: &Percentiles) -> Option<f64> {
    (fast.p50_us > 0).then(|| slow.p50_us as f64 / fast.p50_us as f64)
}

/// Log-spaced bucket edges (µs) covering every sample, shared by all series so their bars line up.
pub fn log_buckets(samples: impl Iterator<Item = u64>, buckets: usize) -> Vec<u64> {
    let (mut lo, mut hi) = (u64::MAX, 0u64);
    for s in samples {
        lo = lo.min(s.max(1));
        hi = hi.max(s.max(1));
    }
    if hi == 0 {
        return vec![];
    }
    let (l, h) = ((lo as f64).ln(), ((hi + 1) as f64).ln());
    let step = ((h - l) / buckets as f64).max(1e-9);
    let mut edges: Vec<u64> = (1..=buckets).map(|i| (l + step * i as f64).exp().ceil() as u64).collect();
    edges.dedup();
    if let Some(last) = edges.last_mut() {
        *last = (*last).max(hi);
    }
    edges
}

/// Counts of `samples` per bucket, a bucket holding values up to and including its edge.
pub fn bucket_counts(samples: &[u64], edges: &[u64]) -> Vec<u64> {
    let mut counts = vec![0; edges.len()];
    for &s in samples {
        if let Some(i) = edges.iter().position(|&e| s <= e).or(edges.len().checked_sub(1)) {
            counts[i] += 1;
        }
    }
    counts
}

/// Microseconds as milliseconds: two decimals below 10 ms, one above. Integer arithmetic only, so the WASM
/// carries no float formatting.
pub fn format_us(us: u64) -> String {
    if us >= 10_000 {
        let tenths = (us + 50) / 100;
        format!("{}.{} ms", tenths / 10, tenths % 10)
    } else {
        format_ms_2(us)
    }
}

/// Microseconds as milliseconds with two decimals.
pub fn format_ms_2(us: u64) -> String {
    let hundredths = (us + 5) / 10;
    format!("{}.{:02} ms", hundredths / 100, hundredths % 100)
}

/// A ratio or a count of thousandths with one decimal, e.g. 36.6.
pub fn one_decimal(value: f64) -> String {
    let tenths = (value * 10.0).round().max(0.0) as u64;
    format!("{}.{}", tenths / 10, tenths % 10)
}

/// A moment as `YYYY-MM-DD HH:MM UTC`, the same on the server and in the browser (no time-zone data in the WASM).
pub fn utc_minute(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Days to a civil date (H. Hinnant's algorithm): eras of 400 years, years starting in March.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02} UTC", rem / 3600, rem % 3600 / 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_a_uniform_distribution_are_exact() {
        let samples: Vec<u64> = (1..=1000).rev().collect();
        let p = percentiles(&samples).unwrap();
        assert_eq!((p.count, p.p50_us, p.p95_us, p.p99_us, p.max_us, p.mean_us), (1000, 500, 950, 990, 1000, 500));
    }

    #[test]
    fn percentiles_of_a_skewed_distribution_follow_the_tail() {
        // 90 fast answers and 10 slow ones: the median is fast, p95 and p99 are slow.
        let samples: Vec<u64> = std::iter::repeat_n(100, 90).chain(std::iter::repeat_n(10_000, 10)).collect();
        let p = percentiles(&samples).unwrap();
        assert_eq!((p.p50_us, p.p95_us, p.p99_us, p.max_us), (100, 10_000, 10_000, 10_000));
        assert_eq!(p.mean_us, (90 * 100 + 10 * 10_000) / 100);
    }

    #[test]
    fn small_and_empty_samples() {
        assert_eq!(percentiles(&[]), None);
        let one = percentiles(&[7]).unwrap();
        assert_eq!((one.p50_us, one.p99_us, one.max_us), (7, 7, 7));
        let two = percentiles(&[1, 9]).unwrap();
        assert_eq!((two.p50_us, two.p95_us), (1, 9));
    }

    #[test]
    fn speedup_is_the_ratio_of_medians() {
        let slow = Percentiles { p50_us: 3000, ..Default::default() };
        let fast = Percentiles { p50_us: 200, ..Default::default() };
        assert_eq!(speedup(&slow, &fast), Some(15.0));
        assert_eq!(speedup(&slow, &Percentiles::default()), None);
    }

    #[test]
    fn durations_and_ratios_format_without_floats() {
        assert_eq!(format_us(304), "0.30 ms");
        assert_eq!(format_us(9_996), "10.00 ms");
        assert_eq!(format_us(12_345), "12.3 ms");
        assert_eq!(format_ms_2(1_005), "1.01 ms");
        assert_eq!(one_decimal(36.64), "36.6");
        assert_eq!(one_decimal(0.96), "1.0");
    }

    #[test]
    fn buckets_cover_every_sample_once() {
        let samples = [90, 100, 150, 1000, 5000, 20_000, 20_000];
        let edges = log_buckets(samples.iter().copied(), 8);
        assert!(edges.windows(2).all(|w| w[0] < w[1]), "{edges:?}");
        assert!(*edges.last().unwrap() >= 20_000);
        let counts = bucket_counts(&samples, &edges);
        assert_eq!(counts.iter().sum::<u64>(), samples.len() as u64);
        assert_eq!(*counts.last().unwrap(), 2);
    }

    #[test]
    fn moments_in_utc() {
        assert_eq!(utc_minute(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc_minute(951_782_400_000), "2000-02-29 00:00 UTC");
        assert_eq!(utc_minute(1_796_335_500_999), "2026-12-03 22:05 UTC");
    }
}
