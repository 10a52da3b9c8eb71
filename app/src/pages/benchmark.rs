//! Benchmark: runs the query many times on each path on the server, streams progress, ends with a table and
//! charts, and keeps the last runs for comparison and download.

use leptos::prelude::*;

use crate::bench::{BenchPath, BenchReport, MAX_CONCURRENCY, MAX_ITERATIONS};
use crate::charts::{format_count_tick, format_ms_tick, Chart, Kind, Point, Series};
use crate::pages::error_text;
use crate::stats::{format_us, log_buckets, one_decimal};

#[server]
pub async fn start_bench(
    iterations: u32,
    concurrency: u32,
    mysql: bool,
    cache: bool,
    warmup: u32,
    ttl: u64,
) -> Result<u64, ServerFnError> {
    use crate::bench::BenchSpec;
    use crate::server::respond::{app_state, fail};

    let state = app_state()?;
    let paths = [(mysql, BenchPath::Mysql), (cache, BenchPath::Cache)].into_iter().filter(|(on, _)| *on).map(|(_, p)| p).collect();
    let spec = BenchSpec { warmup, ttl, ..BenchSpec::new(iterations, concurrency, paths) };
    match state.benches.start(&state, spec) {
        Ok(run) => Ok(run.id),
        Err(e) => {
            let (status, why) = crate::server::bench_api::start_error(e);
            Err(fail(status.as_u16(), why))
        }
    }
}

#[server]
pub async fn cancel_bench(id: u64) -> Result<(), ServerFnError> {
    let state = crate::server::respond::app_state()?;
    if let Some(run) = state.benches.get(id) {
        run.cancel();
        run.wait().await;
    }
    Ok(())
}

#[server]
pub async fn list_benches() -> Result<Vec<BenchReport>, ServerFnError> {
    Ok(crate::server::respond::app_state()?.benches.list())
}

#[component]
pub fn BenchmarkPage() -> impl IntoView {
    let iterations = RwSignal::new("2000".to_string());
    let concurrency = RwSignal::new("8".to_string());
    let warmup = RwSignal::new("10".to_string());
    let ttl = RwSignal::new("300".to_string());
    let mysql = RwSignal::new(true);
    let cache = RwSignal::new(true);
    let report = RwSignal::new(None::<BenchReport>);
    let message = RwSignal::new(None::<String>);
    let finished_runs = RwSignal::new(0u32);
    let history = Resource::new(move || finished_runs.get(), |_| list_benches());
    let running = move || report.with(|r| r.as_ref().is_some_and(|r| !r.finished()));

    let start = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let number = |s: RwSignal<String>, name: &str| {
            s.get_untracked().trim().parse::<u64>().map_err(|_| format!("{name} must be a whole number"))
        };
        let parsed = (|| {
            Ok::<_, String>((
                number(iterations, "iterations")? as u32,
                number(concurrency, "concurrency")? as u32,
                number(warmup, "warm-up")? as u32,
                number(ttl, "TTL")?,
            ))
        })();
        let (n, c, w, t) = match parsed {
            Ok(v) => v,
            Err(e) => return message.set(Some(e)),
        };
        message.set(None);
        leptos::task::spawn_local(async move {
            match start_bench(n, c, mysql.get_untracked(), cache.get_untracked(), w, t).await {
                Ok(id) => follow(id, report, finished_runs, message),
                Err(e) => message.set(Some(error_text(&e))),
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
            <label><input id="bench-mysql" type="checkbox" bind:checked=mysql/> " MySQL"</label>
            <label><input id="bench-cache" type="checkbox" bind:checked=cache/> " Cache"</label>
            <label>"Warm-up " <input id="bench-warmup" type="number" min="0" bind:value=warmup/></label>
            <label>"TTL (s) " <input id="bench-ttl" type="number" min="1" bind:value=ttl/></label>
            <button type="submit" id="bench-start" disabled=running>"Start"</button>
            <button type="button" id="bench-cancel" class="secondary" disabled=move || !running() on:click=cancel>"Cancel"</button>
        </form>
        {move || message.get().map(|m| view! { <div class="error-panel" role="alert" id="bench-error">{m}</div> })}
        {move || report.get().map(|r| view! { <RunView report=r/> })}
        <h2>"Last runs"</h2>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || history.get().map(|answer| match answer {
                Ok(runs) => view! { <History runs/> }.into_any(),
                Err(e) => view! { <div class="error-panel" role="alert">{error_text(&e)}</div> }.into_any(),
            })}
        </Transition>
    }
}

/// Subscribes to the run's event stream and mirrors each report into `report` until the run ends.
#[cfg(feature = "hydrate")]
fn follow(id: u64, report: RwSignal<Option<BenchReport>>, finished_runs: RwSignal<u32>, message: RwSignal<Option<String>>) {
    use wasm_bindgen::{closure::Closure, JsCast};
    use web_sys::{EventSource, MessageEvent};

    let source = match EventSource::new(&format!("/api/bench/{id}/events")) {
        Ok(s) => s,
        Err(_) => return message.set(Some("the browser could not open the progress stream".into())),
    };
    let on_report = {
        let source = source.clone();
        Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            let Some(text) = event.data().as_string() else { return };
            match serde_json::from_str::<BenchReport>(&text) {
                Ok(r) => {
                    let done = r.finished();
                    report.set(Some(r));
                    if done {
                        source.close();
                        finished_runs.update(|n| *n += 1);
                    }
                }
                Err(e) => message.set(Some(format!("unreadable progress: {e}"))),
            }
        })
    };
    source.set_onmessage(Some(on_report.as_ref().unchecked_ref()));
    let _ = source.add_event_listener_with_callback("done", on_report.as_ref().unchecked_ref());
    let on_error = {
        let source = source.clone();
        Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
            // The stream closes after the final report; anything else is a lost connection.
            if report.with_untracked(|r| r.as_ref().is_some_and(|r| !r.finished())) {
                message.set(Some("lost the progress stream; the run goes on on the server".into()));
            }
            source.close();
        })
    };
    source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    // The browser owns the stream from here; the handlers live as long as the page.
    on_report.forget();
    on_error.forget();
}

#[cfg(not(feature = "hydrate"))]
fn follow(_: u64, _: RwSignal<Option<BenchReport>>, _: RwSignal<u32>, _: RwSignal<Option<String>>) {}

fn path_label(path: BenchPath) -> &'static str {
    match path {
        BenchPath::Mysql => "MySQL",
        BenchPath::Cache => "Cache",
    }
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
            label: path_label(path).into(),
            points: [s.p50_us, s.p95_us, s.p99_us, s.max_us]
                .into_iter()
                .enumerate()
                .map(|(i, us)| Point { x: i as f64, y: us as f64, tip: format!("{} {}: {}", path_label(path), percentile_names[i], format_us(us)) })
                .collect(),
        })
        .collect();

    // One set of buckets for every path so their bars line up.
    let edges = log_buckets(report.paths.iter().flat_map(|p| p.distribution.iter().filter(|(_, n)| *n > 0).map(|(v, _)| *v)), 16);
    let categories: Vec<String> = edges.iter().map(|&e| format_us(e).trim_end_matches(" ms").to_string()).collect();
    let distribution: Vec<Series> = report
        .paths
        .iter()
        .map(|p| {
            let mut counts = vec![0u64; edges.len()];
            for &(upper, n) in &p.distribution {
                if let Some(i) = edges.iter().position(|&e| upper <= e).or(edges.len().checked_sub(1)) {
                    counts[i] += n;
                }
            }
            Series {
                key: p.path.key(),
                label: path_label(p.path).into(),
                points: counts
                    .into_iter()
                    .enumerate()
                    .filter(|(_, n)| *n > 0)
                    .map(|(i, n)| Point { x: i as f64, y: n as f64, tip: format!("{}: {n} requests ≤ {} ms", path_label(p.path), categories[i]) })
                    .collect(),
            }
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
            {report.error.clone().map(|e| view! { <div class="error-panel" role="alert">{e}</div> })}
            {report.paths.iter().filter_map(|p| p.last_error.clone().map(|e| (p.path, p.errors, e))).map(|(path, n, e)| view! {
                <p class="banner warn">{format!("{}: {n} requests failed, the last with: {e}", path_label(path))}</p>
            }).collect_view()}
            <Chart id="bench-chart" caption="Latency percentiles per path (log scale)" series=percentiles kind=Kind::Bars
                categories=percentile_categories log_y=true
                y_format=format_ms_tick x_label="percentile"/>
            <Chart id="bench-distribution" caption="Latency distribution per path" series=distribution.clone() kind=Kind::Bars
                categories=categories.clone() log_y=false y_format=format_count_tick x_label="server-side time, ms (each bar: up to that value)"/>
            <details class="text-alternative">
                <summary>"The distribution as a table"</summary>
                <table>
                    <thead><tr><th>"Up to (ms)"</th>{distribution.iter().map(|s| view! { <th>{s.label.clone()}</th> }).collect_view()}</tr></thead>
                    <tbody>
                        {categories.iter().enumerate().map(|(i, c)| view! {
                            <tr><td>{c.clone()}</td>{distribution.iter().map(|s| {
                                let n = s.points.iter().find(|p| p.x as usize == i).map_or(0.0, |p| p.y);
                                view! { <td>{n}</td> }
                            }).collect_view()}</tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </details>
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
                            <td>{path_label(p.path)}</td><td>{s.count}</td><td>{p.errors}</td>
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
fn History(runs: Vec<BenchReport>) -> impl IntoView {
    if runs.is_empty() {
        return view! { <p class="muted" id="bench-history-empty">"No runs yet."</p> }.into_any();
    }
    view! {
        <table class="summary" id="bench-history">
            <thead><tr>
                <th>"Run"</th><th>"State"</th><th>"Iterations"</th><th>"Concurrency"</th><th>"Warm-up"</th><th>"TTL"</th>
                <th>"MySQL p50"</th><th>"Cache p50"</th><th>"Speedup"</th><th>"Export"</th>
            </tr></thead>
            <tbody>
                {runs.into_iter().map(|r| {
                    let p50 = |path| r.paths.iter().find(|p| p.path == path).and_then(|p| p.stats).map(|s| format_us(s.p50_us)).unwrap_or_else(|| "—".into());
                    let id = r.id;
                    view! {
                        <tr>
                            <td>{id}</td><td>{r.state.label()}</td><td>{r.spec.iterations}</td>
                            <td>{r.spec.concurrency}</td><td>{r.spec.warmup}</td><td>{format!("{} s", r.spec.ttl)}</td>
                            <td>{p50(BenchPath::Mysql)}</td><td>{p50(BenchPath::Cache)}</td>
                            <td>{r.speedup().map(|s| format!("{}×", one_decimal(s))).unwrap_or_else(|| "—".into())}</td>
                            <td><a href=format!("/api/bench/{id}/csv")>"CSV"</a>" "<a href=format!("/api/bench/{id}/json")>"JSON"</a></td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}
