//! Two runs of one kind side by side: each metric of both and the difference. Shared by the pages (which only
//! show the rows: they arrive formatted, so no float formatting reaches the WASM), the API and the CLI; the
//! metrics and the arithmetic are the server's.

use serde::{Deserialize, Serialize};

/// One metric of both runs, formatted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ComparedRow {
    /// What the metric belongs to: a path (`mysql`), a strategy (`ttl`), or the run.
    pub group: String,
    pub metric: String,
    pub a: String,
    pub b: String,
    /// B against A: `+12 %`, `−3.1 pts`, `=`; empty where either has no value.
    pub change: String,
    /// Whether B is better than A on this metric (`None`: the same, or not comparable).
    pub better: Option<bool>,
}

/// Run `a` (the one shown) against run `b` (the one chosen to compare with).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub kind: String,
    pub a: u64,
    pub b: u64,
    pub rows: Vec<ComparedRow>,
}

/// A finished run as the "compare with…" choice lists it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunChoice {
    pub id: u64,
    pub label: String,
}

/// The finished runs of a kind, newest first, and how many of them wait in memory for MySQL.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunChoices {
    pub runs: Vec<RunChoice>,
    pub unsaved: u32,
}

#[cfg(feature = "ssr")]
pub use metrics::{compare, Metric, Unit};

#[cfg(feature = "ssr")]
mod metrics {
    use super::ComparedRow;

    #[derive(Clone, Copy, Debug, PartialEq)]
    pub enum Unit {
        /// A latency in microseconds.
        Micros,
        /// A share, 0–1, shown in percent; differences in points.
        Share,
        Count,
        PerSecond,
        /// A factor (a speedup).
        Times,
    }

    /// One measured value of a run.
    #[derive(Clone, Debug, PartialEq)]
    pub struct Metric {
        pub group: String,
        pub name: &'static str,
        pub value: Option<f64>,
        pub unit: Unit,
        /// Whether more is better (hit ratio) or worse (latency); `None` where neither (reads done).
        pub more_is_better: Option<bool>,
    }

    impl Metric {
        pub fn new(group: impl Into<String>, name: &'static str, value: Option<f64>, unit: Unit, more_is_better: Option<bool>) -> Self {
            Self { group: group.into(), name, value, unit, more_is_better }
        }
    }

    fn show(value: Option<f64>, unit: Unit) -> String {
        match value {
            None => "–".into(),
            Some(v) => match unit {
                Unit::Micros => crate::stats::format_us(v.round().max(0.0) as u64),
                Unit::Share => format!("{:.1} %", v * 100.0),
                Unit::Count => format!("{v:.0}"),
                Unit::PerSecond => format!("{v:.0}/s"),
                Unit::Times => format!("{v:.1}×"),
            },
        }
    }

    /// Every metric of `a` with the one of the same group and name in `b` (rows only one run has are kept, with
    /// a dash for the other), in `a`'s order, then `b`'s extra rows.
    pub fn compare(a: &[Metric], b: &[Metric]) -> Vec<ComparedRow> {
        let same = |x: &Metric, y: &Metric| x.group == y.group && x.name == y.name;
        let mut rows: Vec<ComparedRow> = a.iter().map(|m| row(m, b.iter().find(|o| same(m, o)))).collect();
        for m in b.iter().filter(|m| !a.iter().any(|o| same(m, o))) {
            let mut r = row(&Metric { value: None, ..m.clone() }, Some(m));
            r.a = "–".into();
            rows.push(r);
        }
        rows
    }

    fn row(a: &Metric, b: Option<&Metric>) -> ComparedRow {
        let b_value = b.and_then(|b| b.value);
        let (change, better) = match (a.value, b_value) {
            (Some(x), Some(y)) => change(x, y, a.unit, a.more_is_better),
            _ => (String::new(), None),
        };
        ComparedRow {
            group: a.group.clone(),
            metric: a.name.to_string(),
            a: show(a.value, a.unit),
            b: show(b_value, a.unit),
            change,
            better,
        }
    }

    fn change(a: f64, b: f64, unit: Unit, more_is_better: Option<bool>) -> (String, Option<bool>) {
        let better = |delta: f64| more_is_better.map(|more| (delta > 0.0) == more);
        if unit == Unit::Share {
            let points = (b - a) * 100.0;
            if points.abs() < 0.05 {
                return ("=".into(), None);
            }
            return (format!("{}{:.1} pts", sign(points), points.abs()), better(points));
        }
        if a == b {
            return ("=".into(), None);
        }
        if a == 0.0 {
            return (format!("{}{}", sign(b - a), show(Some((b - a).abs()), unit)), better(b - a));
        }
        let pct = (b - a) / a.abs() * 100.0;
        if pct.abs() < 0.5 {
            return ("=".into(), None);
        }
        (format!("{}{:.0} %", sign(pct), pct.abs()), better(pct))
    }

    fn sign(x: f64) -> char {
        if x < 0.0 {
            '−'
        } else {
            '+'
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn differences_say_which_way_is_better() {
            let a = [
                Metric::new("mysql", "p50", Some(2000.0), Unit::Micros, Some(false)),
                Metric::new("ttl", "hit ratio", Some(0.80), Unit::Share, Some(true)),
                Metric::new("run", "requests", Some(100.0), Unit::Count, None),
            ];
            let b = [
                Metric::new("mysql", "p50", Some(1500.0), Unit::Micros, Some(false)),
                Metric::new("ttl", "hit ratio", Some(0.75), Unit::Share, Some(true)),
                Metric::new("run", "requests", Some(100.0), Unit::Count, None),
                Metric::new("cache", "p50", Some(300.0), Unit::Micros, Some(false)),
            ];
            let rows = compare(&a, &b);
            assert_eq!((rows[0].change.as_str(), rows[0].better), ("−25 %", Some(true)), "{rows:?}");
            assert_eq!((rows[1].a.as_str(), rows[1].b.as_str()), ("80.0 %", "75.0 %"));
            assert_eq!((rows[1].change.as_str(), rows[1].better), ("−5.0 pts", Some(false)));
            assert_eq!((rows[2].change.as_str(), rows[2].better), ("=", None));
            assert_eq!((rows[3].group.as_str(), rows[3].a.as_str(), rows[3].change.as_str()), ("cache", "–", ""));
            assert_eq!(rows.len(), 4);
        }
    }
}
