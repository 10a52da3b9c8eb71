//! Compare: every query the pages and the API answered, per path, as a timeline, a distribution and a table.

use leptos::prelude::*;

use crate::charts::{format_ms_tick, Chart, Distribution, Histogram, Kind, Point, Series};
use crate::error::AppError;
use crate::pages::ErrorPanel;
use crate::stats::{bucket_counts, format_us, log_buckets, one_decimal, percentiles, speedup, Outcome, QueryRecord};

#[server]
pub async fn run_history() -> Result<Vec<QueryRecord>, AppError> {
    /// The runs the page charts, oldest first.
    const SHOWN: usize = 1000;
    let state = crate::server::state::AppState::from_context()?;
    Ok(state.query_log.as_ref().map(|r| r.latest(SHOWN)).unwrap_or_default())
}

/// Runs the default query `n` times on each path (MySQL, then cache), so the page has something to compare.
#[server]
pub async fn run_sample(n: u32) -> Result<(), AppError> {
    use crate::model::ArticleQuery;
    use crate::server::cache::{query_cache, query_mysql, Source};

    crate::error::with_status(async {
        if !(1..=100).contains(&n) {
            return Err(AppError::Invalid(format!("n must be between 1 and 100, got {n}")));
        }
        let state = crate::server::state::AppState::from_context()?;
        let query = ArticleQuery::new(None, None)?;
        for _ in 0..n {
            query_mysql(&state, Source::Articles(&query)).await?;
            query_cache(&state, Source::Articles(&query), state.default_ttl_s).await?;
        }
        Ok(())
    })
    .await
}

#[server]
pub async fn clear_history() -> Result<(), AppError> {
    let state = crate::server::state::AppState::from_context()?;
    if let Some(runs) = &state.query_log {
        runs.clear();
    }
    Ok(())
}

lazy_page!(CompareRoute, ComparePage);

#[component]
pub fn ComparePage() -> impl IntoView {
    let sample = ServerAction::<RunSample>::new();
    let clear = ServerAction::<ClearHistory>::new();
    let history = Resource::new(move || (sample.version().get(), clear.version().get()), |_| run_history());
    view! {
        <h1>"Compare MySQL and the cache"</h1>
        <div class="explain">
            <p>
                "Every query answered by Query MySQL, Query Cache, Custom SQL and the JSON API is recorded with its "
                "server-side time. Hover a point or bar for its value; press a legend entry to hide or show a path."
            </p>
        </div>
        <div class="form-row">
            <ActionForm action=sample>
                <input type="hidden" name="n" value="10"/>
                <button type="submit" id="run-sample">"Run 10 of each"</button>
            </ActionForm>
            <ActionForm action=clear>
                <button type="submit" id="clear-history" class="secondary">"Clear"</button>
            </ActionForm>
        </div>
        {move || sample.value().get().and_then(|r| r.err()).map(|error| view! { <ErrorPanel error/> })}
        <Transition fallback=|| view! { <p class="muted">"Loading runs…"</p> }>
            {move || history.get().map(|answer| match answer {
                Ok(runs) if runs.is_empty() => view! {
                    <p class="muted" id="no-runs">"No runs yet: run some queries, or press Run 10 of each."</p>
                }.into_any(),
                Ok(runs) => view! { <Comparison runs/> }.into_any(),
                Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
            })}
        </Transition>
    }
}

#[component]
fn Comparison(runs: Vec<QueryRecord>) -> impl IntoView {
    let samples = |path: Outcome| runs.iter().filter(|r| r.path == path).map(|r| r.elapsed_us).collect::<Vec<_>>();
    let per_path: Vec<(Outcome, Vec<u64>)> = Outcome::ALL.iter().map(|&p| (p, samples(p))).filter(|(_, s)| !s.is_empty()).collect();
    let stats: Vec<_> = per_path.iter().filter_map(|(p, s)| percentiles(s).map(|st| (*p, st))).collect();
    let stat = |path| stats.iter().find(|(p, _)| *p == path).map(|(_, s)| *s);
    let ratio = stat(Outcome::Mysql).zip(stat(Outcome::Hit)).and_then(|(m, h)| speedup(&m, &h));

    let timeline: Vec<Series> = per_path
        .iter()
        .map(|(path, _)| Series {
            key: path.key(),
            label: path.label().into(),
            points: runs
                .iter()
                .filter(|r| r.path == *path)
                .map(|r| Point {
                    x: r.seq as f64,
                    y: r.elapsed_us as f64,
                    tip: format!("run {} · {} · {}", r.seq, path.label(), format_us(r.elapsed_us)),
                })
                .collect(),
        })
        .collect();

    let edges = log_buckets(runs.iter().map(|r| r.elapsed_us), 16);
    let distribution: Vec<Histogram> = per_path
        .iter()
        .map(|(path, samples)| Histogram { key: path.key(), label: path.label().into(), counts: bucket_counts(samples, &edges) })
        .collect();

    view! {
        <table class="summary" id="summary">
            <caption>"Server-side time per path"</caption>
            <thead><tr><th>"Path"</th><th>"Runs"</th><th>"p50"</th><th>"p95"</th><th>"p99"</th><th>"max"</th></tr></thead>
            <tbody>
                {stats.iter().map(|(path, s)| view! {
                    <tr data-path=path.key()>
                        <td>{path.label()}</td><td>{s.count}</td><td data-us=s.p50_us>{format_us(s.p50_us)}</td>
                        <td>{format_us(s.p95_us)}</td><td>{format_us(s.p99_us)}</td><td>{format_us(s.max_us)}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
        <p class="speedup" id="speedup">{match ratio {
            Some(r) => format!("Speedup: a cache hit's median is {}× faster than MySQL's (MySQL p50 ÷ hit p50).", one_decimal(r)),
            None => "Speedup: needs both MySQL runs and cache hits.".to_string(),
        }}</p>
        <Chart id="timeline" caption="Every run in order (log scale)" series=timeline kind=Kind::Scatter log_y=true
            y_format=format_ms_tick x_label="run number"/>
        <Distribution id="distribution" caption="How often each latency occurred" edges paths=distribution noun="runs"/>
        <details class="text-alternative">
            <summary>"Every run as a table"</summary>
            <table id="runs-table">
                <thead><tr><th>"Run"</th><th>"Path"</th><th>"Time"</th></tr></thead>
                <tbody>
                    {runs.iter().rev().map(|r| view! {
                        <tr><td>{r.seq}</td><td>{r.path.label()}</td><td>{format_us(r.elapsed_us)}</td></tr>
                    }).collect_view()}
                </tbody>
            </table>
        </details>
    }
}
