//! Load progress: a bar with rows/s and ETA on a terminal, a plain line every few seconds otherwise.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

pub enum Progress {
    Bar(ProgressBar),
    Lines { started: Instant, last: Instant, total_bytes: u64 },
    Silent,
}

const LINE_EVERY: Duration = Duration::from_secs(2);

impl Progress {
    pub fn for_stdout() -> Self {
        if std::io::stdout().is_terminal() {
            Self::Bar(ProgressBar::hidden())
        } else {
            let now = Instant::now();
            Self::Lines { started: now, last: now, total_bytes: 0 }
        }
    }

    pub fn start_bytes(&mut self, total: u64) {
        match self {
            Self::Bar(bar) => {
                *bar = ProgressBar::new(total);
                bar.set_style(
                    ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {msg} ETA {eta}")
                        .expect("valid template"),
                );
            }
            Self::Lines { total_bytes, started, last } => {
                *total_bytes = total;
                *started = Instant::now();
                *last = *started;
            }
            Self::Silent => {}
        }
    }

    pub fn advance(&mut self, rows: u64, bytes: u64) {
        match self {
            Self::Bar(bar) => {
                bar.set_position(bytes);
                let rate = rows as f64 / bar.elapsed().as_secs_f64().max(1e-3);
                bar.set_message(format!("{rows} rows, {rate:.0} rows/s"));
            }
            Self::Lines { started, last, total_bytes } => {
                if last.elapsed() < LINE_EVERY {
                    return;
                }
                *last = Instant::now();
                let secs = started.elapsed().as_secs_f64().max(1e-3);
                let done = bytes as f64 / (*total_bytes).max(1) as f64;
                let eta = if done > 0.0 { secs / done - secs } else { 0.0 };
                println!("loaded {rows} rows ({:.0} rows/s, {:.0}% of the file, ETA {eta:.0} s)", rows as f64 / secs, done * 100.0);
            }
            Self::Silent => {}
        }
    }

    pub fn finish(&mut self, rows: u64) {
        if let Self::Bar(bar) = self {
            bar.finish_with_message(format!("{rows} rows"));
        }
    }
}
