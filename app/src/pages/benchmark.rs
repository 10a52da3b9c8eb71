//! Benchmark: runs the query many times on each path on the server, streams progress, ends with a table and
//! charts, and keeps the last runs for comparison and download.

use leptos::prelude::*;

use crate::bench::{BenchReport, MAX_CONCURRENCY, MAX_ITERATIONS};
use crate::charts::{format_ms_tick, Chart, Distribution, Histogram, Kind, Point, Series};
use crate::error::AppError;
use crate::model::QueryPath;
use crate::pages::{CompareRuns, DeleteRun, ErrorPanel};
use crate::stats::{format_us, log_buckets, one_decimal, utc_minute};

#[server]
pub async fn start_bench(iterations: u32, concurrency: u32, mysql: bool, cache: bool, warmup: u32, ttl: u64) -> Result<u64, AppError> {
    use crate::bench::BenchSpec;

    crate::error::with_status(async {
        let state = crate::server::state::AppState::from_context()?;
        let paths = [(mysql, QueryPath::Mysql), (cache, QueryPath::Cache)].into_iter().filter(|(on, _)| *on).map(|(_, p)| p).collect();
        let spec = BenchSpec { warmup, ttl, ..BenchSpec::new(iterations, concurrency, paths) };
        use crate::server::state::runs::Run;
        Ok(state.registry.start::<crate::server::bench::BenchRun>(&state, spec)?.core().id)
    })
    .await
}

#[server]
pub async fn cancel_bench(id: u64) -> Result<(), AppError> {
    crate::server::http::runs::cancel_run::<crate::server::bench::BenchRun>(&crate::server::state::AppState::from_context()?, id).await;
    Ok(())
}

#[server]
pub async fn list_benches() -> Result<Vec<BenchReport>, AppError> {
    let state = crate::server::state::AppState::from_context()?;
    crate::error::with_status(crate::server::http::runs::recent::<crate::server::bench::BenchRun>(&state)).await
}

lazy_page!(BenchmarkRoute, BenchmarkPage);

#[component]
pub fn BenchmarkPage() -> impl IntoView {
    let iterations = RwSignal::new("2000".to_string());
    let concurrency = RwSignal::new("8".to_string());
    let warmup = RwSignal::new("10".to_string());
    let ttl = RwSignal::new("300".to_string());
    let mysql = RwSignal::new(true);
    let cache = RwSignal::new(true);
    let report = RwSignal::new(None::<BenchReport>);
    let message = RwSignal::new(None::<AppError>);
    let finished_runs = RwSignal::new(0u32);
    let history = Resource::new(move || finished_runs.get(), |_| list_benches());
    let running = move || report.with(|r| r.as_ref().is_some_and(|r| !r.finished()));

    let start = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let parsed = (|| {
            Ok::<_, AppError>((
                whole_number(iterations, "iterations")?,
                whole_number(concurrency, "concurrency")?,
                whole_number(warmup, "warm-up")?,
                whole_number(ttl, "TTL")?,
            ))
        })();
        let (n, c, w, t) = match parsed {
            Ok(v) => v,
            Err(e) => return message.set(Some(e)),
        };
        message.set(None);
        leptos::task::spawn_local(async move {
            match start_bench(n, c, mysql.get_untracked(), cache.get_untracked(), w, t).await {
                Ok(id) => crate::event_stream::mirror_run(
                    &format!("/api/bench/{id}/events"),
                    report,
                    finished_runs,
                    message,
                    BenchReport::finished,
                ),
                Err(e) => message.set(Some(e)),
            }
        });
    };
    let cancel = move |_| {
        if let Some(id) = report.with_untracked(|r| r.as_ref().map(|r| r.id)) {
            leptos::task::spawn_local(async move {
                let _ = cancel_bench(id).await;
            });
        }
    };

    view! {
        <h1>"Benchmark"</h1>
        <div class="explain">
            <p>
                "Runs the default query many times on the server through the same code as the pages, with the given "
                "number of concurrent workers, and records every server-side time in an HDR histogram. MySQL goes "
                "first, then the cache (its warm-up fills Redis, so what is measured are hits)."
            </p>
        </div>
        <form class="bench-form" on:submit=start>
            <label>"Iterations " <input id="bench-iterations" type="number" min="1" max=MAX_ITERATIONS bind:value=iterations/></label>
            <label>"Concurrency " <input id="bench-concurrency" type="number" min="1" max=MAX_CONCURRENCY bind:value=concurrency/></label>
            <label class="check"><input id="bench-mysql" type="checkbox" bind:checked=mysql/> " MySQL"</label>
            <label class="check"><input id="bench-cache" type="checkbox" bind:checked=cache/> " Cache"</label>
            <label>"Warm-up " <input id="bench-warmup" type="number" min="0" bind:value=warmup/></label>
            <label>"TTL (s) " <input id="bench-ttl" type="number" min="1" bind:value=ttl/></label>
            <button type="submit" id="bench-start" disabled=running>"Start"</button>
            <button type="button" id="bench-cancel" class="secondary" disabled=move || !running() on:click=cancel>"Cancel"</button>
        </form>
        {move || message.get().map(|error| view! { <ErrorPanel error id="bench-error"/> })}
        {move || report.get().map(|r| view! { <RunView report=r/> })}
        <h2>"Last runs"</h2>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || history.get().map(|answer| match answer {
                Ok(runs) => view! { <History runs deleted=Callback::new(move |_| finished_runs.update(|n| *n += 1))/> }.into_any(),
                Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
            })}
        </Transition>
        <CompareRuns kind="bench" refresh=finished_runs/>
    }
}

/// A form field as a whole number of the type the server function takes: anything else, including a number too
/// large for it, is refused with the field's name rather than cut down.
fn whole_number<T: std::str::FromStr>(field: RwSignal<String>, name: &str) -> Result<T, AppError> {
    let text = field.get_untracked();
    text.trim().parse::<T>().map_err(|_| AppError::Invalid(format!("{name} must be a whole number in range, got {:?}", text.trim())))
}

#[component]
fn RunView(report: BenchReport) -> impl IntoView {
    let state = report.state.label();
    let percentile_names = ["p50", "p95", "p99", "max"];
    let percentiles: Vec<Series> = report
        .paths
        .iter()
        .filter_map(|p| p.stats.map(|s| (p.path, s)))
        .map(|(path, s)| Series {
            key: path.key(),
            label: path.label().into(),
            points: [s.p50_us, s.p95_us, s.p99_us, s.max_us]
                .into_iter()
                .enumerate()
                .map(|(i, us)| Point {
                    x: i as f64,
                    y: us as f64,
                    tip: format!("{} {}: {}", path.label(), percentile_names[i], format_us(us)),
                })
                .collect(),
        })
        .collect();

    // One set of buckets for every path so their bars line up.
    let edges = log_buckets(report.paths.iter().flat_map(|p| p.distribution.iter().filter(|(_, n)| *n > 0).map(|(v, _)| *v)), 16);
    let distribution: Vec<Histogram> = report
        .paths
        .iter()
        .map(|p| {
            let mut counts = vec![0u64; edges.len()];
            for &(upper, n) in &p.distribution {
                if let Some(i) = edges.iter().position(|&e| upper <= e).or(edges.len().checked_sub(1)) {
                    counts[i] += n;
                }
            }
            Histogram { key: p.path.key(), label: p.path.label().into(), counts }
        })
        .collect();

    let percentile_categories: Vec<String> = percentile_names.iter().map(|s| s.to_string()).collect();
    let id = report.id;
    view! {
        <section class="bench-run" id="bench-run" data-state=state data-id=id>
            <p>
                <progress id="bench-progress" max=report.total value=report.done></progress>
                " " <span id="bench-progress-text">{format!("{} / {} requests", report.done, report.total)}</span>
                " · " <span id="bench-state">{state}</span>
                " · " {format!("{} s", one_decimal(report.elapsed_ms as f64 / 1000.0))}
            </p>
            {report.error.clone().map(|e| view! { <ErrorPanel error=AppError::Internal(e)/> })}
            {report.paths.iter().filter_map(|p| p.last_error.clone().map(|e| (p.path, p.errors, e))).map(|(path, n, e)| view! {
                <p class="banner warn">{format!("{}: {n} requests failed, the last with: {e}", path.label())}</p>
            }).collect_view()}
            <Chart id="bench-chart" caption="Latency percentiles per path (log scale)" series=percentiles kind=Kind::Bars
                categories=percentile_categories log_y=true
                y_format=format_ms_tick x_label="percentile"/>
            <Distribution id="bench-distribution" caption="Latency distribution per path" edges paths=distribution noun="requests"/>
            <ResultTable report=report.clone()/>
            {report.finished().then(|| view! {
                <p class="exports">
                    <a id="export-csv" href=format!("/api/bench/{id}/csv") download=format!("cachelens-bench-{id}.csv")>"Download CSV"</a>
                    " · "
                    <a id="export-json" href=format!("/api/bench/{id}/json") download=format!("cachelens-bench-{id}.json")>"Download JSON"</a>
                </p>
            })}
        </section>
    }
}

/// The percentile table: the text alternative of the percentile chart, and the result itself.
#[component]
fn ResultTable(report: BenchReport) -> impl IntoView {
    view! {
        <table class="summary" id=if report.finished() { "bench-results" } else { "bench-live" }>
            <caption>"Server-side time per request"</caption>
            <thead><tr><th>"Path"</th><th>"Requests"</th><th>"Errors"</th><th>"p50"</th><th>"p95"</th><th>"p99"</th><th>"max"</th><th>"mean"</th></tr></thead>
            <tbody>
                {report.paths.iter().map(|p| {
                    let s = p.stats.unwrap_or_default();
                    view! {
                        <tr data-path=p.path.key()>
                            <td>{p.path.label()}</td><td>{s.count}</td><td>{p.errors}</td>
                            <td data-us=s.p50_us>{format_us(s.p50_us)}</td><td>{format_us(s.p95_us)}</td>
                            <td>{format_us(s.p99_us)}</td><td>{format_us(s.max_us)}</td><td>{format_us(s.mean_us)}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
        {report.speedup().map(|r| view! {
            <p class="speedup" id="bench-speedup">{format!("Speedup: the cache's median is {}× faster than MySQL's.", one_decimal(r))}</p>
        })}
    }
}

#[component]
fn History(runs: Vec<BenchReport>, deleted: Callback<()>) -> impl IntoView {
    if runs.is_empty() {
        return view! { <p class="muted" id="bench-history-empty">"No runs yet."</p> }.into_any();
    }
    view! {
        <table class="summary" id="bench-history">
            <thead><tr>
                <th>"Started"</th><th>"State"</th><th>"Iterations"</th><th>"Concurrency"</th><th>"Warm-up"</th><th>"TTL"</th>
                <th>"MySQL p50"</th><th>"Cache p50"</th><th>"Speedup"</th><th>"Export"</th><th>"Delete"</th>
            </tr></thead>
            <tbody>
                {runs.into_iter().map(|r| {
                    let p50 = |path| r.paths.iter().find(|p| p.path == path).and_then(|p| p.stats).map(|s| format_us(s.p50_us)).unwrap_or_else(|| "—".into());
                    let id = r.id;
                    view! {
                        <tr>
                            <td title=format!("run {id}")>{utc_minute(r.started_at_ms)}</td><td>{r.state.label()}</td><td>{r.spec.iterations}</td>
                            <td>{r.spec.concurrency}</td><td>{r.spec.warmup}</td><td>{format!("{} s", r.spec.ttl)}</td>
                            <td>{p50(QueryPath::Mysql)}</td><td>{p50(QueryPath::Cache)}</td>
                            <td>{r.speedup().map(|s| format!("{}×", one_decimal(s))).unwrap_or_else(|| "—".into())}</td>
                            <td><a href=format!("/api/bench/{id}/csv")>"CSV"</a>" "<a href=format!("/api/bench/{id}/json")>"JSON"</a></td>
                            <td><DeleteRun id deleted/></td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}
