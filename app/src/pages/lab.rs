//! The strategy lab: one skewed read/write workload under several caching strategies, measured side by side
//! (hit ratio against its prediction, p99, MySQL reads, stale reads), with a TTL sweep to pick a TTL from.
//!
//! Server-rendered and hydrated like the other pages: the form, the live progress (server-sent events) and the
//! finished run's results, whose charts answer hover and legend presses as Compare's do. The page is a lazy
//! route, so the report's decoding and the charts load with the lab's own WASM chunk, not with every page.

use leptos::prelude::*;

use crate::charts::{format_count_tick, format_ms_tick, Chart, Kind, Point, Series};
use crate::error::AppError;
use crate::lab::{LabReport, Strategy, StrategyResult, DISAGREE_POINTS, MAX_CONCURRENCY, MAX_ITEMS, MAX_SECONDS};
use crate::pages::{CompareRuns, DeleteRun, ErrorPanel};
use crate::stats::{format_us, one_decimal, utc_minute};

/// The form as typed: the server parses it, so a field that is not a number is refused by its label in the same
/// answer as a value out of range.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct LabForm {
    pub strategies: Vec<Strategy>,
    pub items: String,
    pub zipf: String,
    pub read_ratio: String,
    pub concurrency: String,
    pub seconds: String,
    pub ttl: String,
    pub ttls: String,
    pub seed: String,
    pub stale_budget: String,
    pub arrival: String,
    pub rate: String,
    pub single_flight: bool,
}

#[server]
pub async fn start_lab(form: LabForm) -> Result<u64, AppError> {
    crate::error::with_status(async {
        let state = crate::server::state::AppState::from_context()?;
        use crate::server::state::runs::Run;
        Ok(state.registry.start::<crate::server::lab::LabRun>(&state, form.spec()?)?.core().id)
    })
    .await
}

#[cfg(feature = "ssr")]
impl LabForm {
    /// The spec, or the first field that does not parse, by its label; the spec's own check names ranges.
    fn spec(&self) -> Result<crate::lab::LabSpec, AppError> {
        fn parse<T: std::str::FromStr>(text: &str, name: &str) -> Result<T, AppError> {
            text.trim().parse::<T>().map_err(|_| AppError::Invalid(format!("{name} must be a number, got {:?}", text.trim())))
        }
        let poisson = self.arrival == "poisson";
        let ttls = if self.ttls.trim().is_empty() {
            None
        } else {
            let parsed: Result<Vec<u64>, _> = self.ttls.split(',').map(|t| t.trim().parse::<u64>()).collect();
            Some(parsed.map_err(|_| {
                AppError::Invalid(format!("TTL sweep must be whole seconds separated by commas, got {:?}", self.ttls.trim()))
            })?)
        };
        Ok(crate::lab::LabSpec {
            strategies: self.strategies.clone(),
            items: parse(&self.items, "items")?,
            zipf: parse(&self.zipf, "Zipf exponent")?,
            read_ratio: parse(&self.read_ratio, "read ratio")?,
            concurrency: parse(&self.concurrency, "concurrency")?,
            seconds: Some(parse(&self.seconds, "seconds per strategy")?),
            operations: None,
            ttl: parse(&self.ttl, "TTL")?,
            ttls,
            refresh_fraction: 0.2,
            seed: parse(&self.seed, "seed")?,
            stale_budget: parse::<f64>(&self.stale_budget, "stale-read budget")? / 100.0,
            arrival: if poisson { crate::lab::Arrival::Poisson } else { crate::lab::Arrival::Closed },
            rate: if poisson { Some(parse(&self.rate, "rate")?) } else { None },
            single_flight: self.single_flight,
        })
    }
}

/// A finished run's report (when one was asked for) and the last runs.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct LabResults {
    pub report: Option<LabReport>,
    pub runs: Vec<LabReport>,
}

#[server]
pub async fn get_lab_results(id: Option<u64>) -> Result<LabResults, AppError> {
    crate::error::with_status(async {
        let state = crate::server::state::AppState::from_context()?;
        use crate::server::http::runs;
        use crate::server::lab::LabRun;
        let report = match id {
            Some(id) => Some(runs::find::<LabRun>(&state, id).await?.report()),
            None => None,
        };
        Ok(LabResults { report, runs: runs::recent::<LabRun>(&state).await? })
    })
    .await
}

#[server]
pub async fn cancel_lab(id: u64) -> Result<(), AppError> {
    crate::server::http::runs::cancel_run::<crate::server::lab::LabRun>(&crate::server::state::AppState::from_context()?, id).await;
    Ok(())
}

fn strategy_label(s: Strategy) -> &'static str {
    match s {
        Strategy::None => "none (MySQL only)",
        Strategy::Ttl => "TTL",
        Strategy::Invalidate => "invalidate on write",
        Strategy::WriteThrough => "write-through",
        Strategy::RefreshAhead => "refresh-ahead",
    }
}

/// The form's fields, as typed.
#[derive(Clone, Copy)]
struct Form {
    strategies: [RwSignal<bool>; 5],
    items: RwSignal<String>,
    zipf: RwSignal<String>,
    read_ratio: RwSignal<String>,
    concurrency: RwSignal<String>,
    seconds: RwSignal<String>,
    ttl: RwSignal<String>,
    ttls: RwSignal<String>,
    seed: RwSignal<String>,
    stale_budget: RwSignal<String>,
    arrival: RwSignal<String>,
    rate: RwSignal<String>,
    single_flight: RwSignal<bool>,
}

impl Form {
    fn new() -> Self {
        let text = |s: &str| RwSignal::new(s.to_string());
        Self {
            strategies: std::array::from_fn(|_| RwSignal::new(true)),
            items: text("1000"),
            zipf: text("1.0"),
            read_ratio: text("0.9"),
            concurrency: text("8"),
            seconds: text("10"),
            ttl: text("5"),
            ttls: text(""),
            seed: text("1"),
            stale_budget: text("1"),
            arrival: text("closed"),
            rate: text("2000"),
            single_flight: RwSignal::new(true),
        }
    }

    fn typed(&self) -> LabForm {
        LabForm {
            strategies: Strategy::ALL.into_iter().zip(self.strategies).filter(|(_, on)| on.get_untracked()).map(|(s, _)| s).collect(),
            items: self.items.get_untracked(),
            zipf: self.zipf.get_untracked(),
            read_ratio: self.read_ratio.get_untracked(),
            concurrency: self.concurrency.get_untracked(),
            seconds: self.seconds.get_untracked(),
            ttl: self.ttl.get_untracked(),
            ttls: self.ttls.get_untracked(),
            seed: self.seed.get_untracked(),
            stale_budget: self.stale_budget.get_untracked(),
            arrival: self.arrival.get_untracked(),
            rate: self.rate.get_untracked(),
            single_flight: self.single_flight.get_untracked(),
        }
    }
}

lazy_page!(LabRoute, LabPage);

#[component]
pub fn LabPage() -> impl IntoView {
    let form = Form::new();
    let report = RwSignal::new(None::<LabReport>);
    let message = RwSignal::new(None::<AppError>);
    let finished_runs = RwSignal::new(0u32);
    // The finished run's results and the last runs; fetched again once a run ends.
    let results = Resource::new(
        move || (finished_runs.get(), report.with(|r| r.as_ref().filter(|r| r.finished()).map(|r| r.id))),
        |(_, id)| get_lab_results(id),
    );
    let running = move || report.with(|r| r.as_ref().is_some_and(|r| !r.finished()));

    let start = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let typed = form.typed();
        message.set(None);
        leptos::task::spawn_local(async move {
            match start_lab(typed).await {
                Ok(id) => {
                    crate::event_stream::mirror_run(&format!("/api/lab/{id}/events"), report, finished_runs, message, LabReport::finished)
                }
                Err(e) => message.set(Some(e)),
            }
        });
    };
    let cancel = move |_| {
        if let Some(id) = report.with_untracked(|r| r.as_ref().map(|r| r.id)) {
            leptos::task::spawn_local(async move {
                let _ = cancel_lab(id).await;
            });
        }
    };
    let field = |id: &'static str, label: &'static str, value: RwSignal<String>, hint: &'static str| {
        view! { <label>{label} " " <input id=id inputmode="decimal" bind:value=value aria-describedby=format!("{id}-hint")/>
        <span class="hint" id=format!("{id}-hint")>{hint}</span></label> }
    };

    view! {
        <h1>"Strategy lab"</h1>
        <div class="explain">
            <p>
                "Runs one workload — reads and writes of items whose popularity follows a Zipf distribution — against "
                "MySQL and Redis under each caching strategy in turn, and measures what each buys: hit ratio (beside "
                "the ratio the workload predicts), read latency, how many reads leave MySQL, and how many reads return "
                "a version that a committed write had already replaced. The lab uses its own table and keys."
            </p>
        </div>
        <form class="bench-form lab-form" on:submit=start>
            <fieldset>
                <legend>"Strategies"</legend>
                {Strategy::ALL.into_iter().zip(form.strategies).map(|(s, on)| view! {
                    <label class="check"><input type="checkbox" id=format!("lab-strategy-{}", s.name()) bind:checked=on/> " " {s.name()}</label>
                }).collect_view()}
            </fieldset>
            {field("lab-items", "Items", form.items, "1 to 1 000 000")}
            {field("lab-zipf", "Zipf exponent", form.zipf, "0 uniform to 1.5")}
            {field("lab-read-ratio", "Read ratio", form.read_ratio, "0 to 1")}
            <label>"Arrivals " <select id="lab-arrival" bind:value=form.arrival aria-describedby="lab-arrival-hint">
                <option value="closed">"closed loop (workers)"</option>
                <option value="poisson">"open loop (Poisson rate)"</option>
            </select><span class="hint" id="lab-arrival-hint">"open loop: the same rate for every strategy"</span></label>
            {field("lab-concurrency", "Concurrency", form.concurrency, "1 to 64 workers, closed loop")}
            {field("lab-rate", "Rate (operations/s)", form.rate, "open loop, 1 to 100 000")}
            <label class="check"><input type="checkbox" id="lab-single-flight" bind:checked=form.single_flight
                aria-describedby="lab-single-flight-hint"/> " Single flight"
                <span class="hint" id="lab-single-flight-hint">"reads of a key being filled wait for that fill"</span></label>
            {field("lab-seconds", "Seconds per strategy", form.seconds, "1 to 600")}
            {field("lab-ttl", "TTL (s)", form.ttl, "entry lifetime")}
            {field("lab-ttls", "TTL sweep (s)", form.ttls, "optional, e.g. 1,2,5,10")}
            {field("lab-seed", "Seed", form.seed, "same seed, same workload")}
            {field("lab-stale-budget", "Stale-read budget (%)", form.stale_budget, "for the recommendation, e.g. 1")}
            <button type="submit" id="lab-start" disabled=running>"Run the lab"</button>
            <button type="button" id="lab-cancel" class="secondary" disabled=move || !running() on:click=cancel>"Cancel"</button>
        </form>
        <p class="muted">{format!("Limits: {MAX_ITEMS} items, {MAX_CONCURRENCY} workers, {MAX_SECONDS} s per strategy.")}</p>
        {move || message.get().map(|error| view! { <ErrorPanel error id="lab-error"/> })}
        {move || report.get().filter(|r| !r.finished()).map(|r| view! { <Progress report=r/> })}
        <Transition fallback=|| view! { <p class="muted" id="lab-loading">"Loading…"</p> }>
            {move || results.get().map(|answer| match answer {
                Ok(LabResults { report, runs }) => view! {
                    {report.map(|report| view! { <LabRunView report/> })}
                    <h2>"Last runs"</h2>
                    <LabHistory runs deleted=Callback::new(move |_| finished_runs.update(|n| *n += 1))/>
                }
                .into_any(),
                Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
            })}
        </Transition>
        <CompareRuns kind="lab" refresh=finished_runs/>
    }
}

/// A run going on: how far it is.
#[component]
fn Progress(report: LabReport) -> impl IntoView {
    let state = report.state.label();
    view! {
        <section class="bench-run" id="lab-run" data-state=state data-id=report.id>
            <ProgressLine done=report.done total=report.total state=state.to_string() phase=report.phase/>
        </section>
    }
}

/// Strategy runs done of all, the run's state and what it is doing: while it goes and once it has ended.
#[component]
fn ProgressLine(done: u64, total: u64, state: String, phase: String) -> impl IntoView {
    view! {
        <p>
            <progress id="lab-progress" max=total value=done aria-label="strategy runs done"></progress>
            " " <span id="lab-progress-text">{format!("{done} / {total} runs")}</span>
            " · " <span id="lab-state">{state}</span>
            " · " <span id="lab-phase">{phase}</span>
        </p>
    }
}

fn pct(v: f64) -> String {
    format!("{} %", one_decimal(v * 100.0))
}

fn pct_tick(v: f64) -> String {
    format!("{} %", v.round() as i64)
}

/// One bar per strategy for `value` of each result.
fn bars(
    results: &[&StrategyResult],
    key: &'static str,
    label: &str,
    value: impl Fn(&StrategyResult) -> Option<f64>,
    tip: impl Fn(f64) -> String,
) -> Series {
    Series {
        key,
        label: label.into(),
        points: results
            .iter()
            .enumerate()
            .filter_map(|(i, r)| value(r).map(|v| Point { x: i as f64, y: v, tip: format!("{}: {}", name(r), tip(v)) }))
            .collect(),
    }
}

fn name(r: &StrategyResult) -> &'static str {
    r.strategy.map(strategy_label).unwrap_or("?")
}

#[component]
fn LabRunView(report: LabReport) -> impl IntoView {
    let state = report.state.label().to_string();
    let state_attr = state.clone();
    let (results, swept) = report.ordered();
    let swept: Vec<StrategyResult> = swept.into_iter().cloned().collect();
    let categories: Vec<String> = results.iter().map(|r| name(r).to_string()).collect();
    let hit = vec![
        bars(&results, "measured", "measured", |r| Some(r.hit_ratio * 100.0), |v| format!("{} % measured", one_decimal(v))),
        bars(
            &results,
            "predicted",
            "predicted",
            |r| r.predicted_hit_ratio.map(|p| p * 100.0),
            |v| format!("{} % predicted", one_decimal(v)),
        ),
    ];
    let p99 = vec![bars(&results, "p99", "read p99", |r| Some(r.read_p99_us as f64), |v| format_us(v as u64))];
    let mysql = vec![bars(&results, "mysql", "MySQL reads/s", |r| Some(r.mysql_reads_per_s), |v| format!("{} reads/s", v.round() as i64))];
    let stale = vec![bars(&results, "stale", "stale reads", |r| Some(r.stale_fraction * 100.0), |v| format!("{} % stale", one_decimal(v)))];
    // The sweep: one line per swept strategy, TTL on x.
    let sweep_series = |value: fn(&StrategyResult) -> f64, unit: &'static str| -> Vec<Series> {
        [Strategy::Ttl, Strategy::RefreshAhead]
            .into_iter()
            .map(|s| Series {
                key: if s == Strategy::Ttl { "ttl" } else { "refresh" },
                label: strategy_label(s).into(),
                points: report
                    .sweep
                    .iter()
                    .filter_map(|p| {
                        p.results.get(s.name()).map(|r| Point {
                            x: p.ttl as f64,
                            y: value(r),
                            tip: format!("{} at TTL {} s: {} {unit}", strategy_label(s), p.ttl, one_decimal(value(r))),
                        })
                    })
                    .collect(),
            })
            .filter(|series| !series.points.is_empty())
            .collect()
    };
    let sweep_hit = sweep_series(|r| r.hit_ratio * 100.0, "% hits");
    let sweep_stale = sweep_series(|r| r.stale_fraction * 100.0, "% stale");
    let has_sweep = !report.sweep.is_empty();
    let off: Vec<&str> = results.iter().filter(|r| r.prediction_off).map(|r| name(r)).collect();
    let id = report.id;
    let finished = report.finished();
    view! {
        <section class="bench-run" id="lab-run" data-state=state_attr data-id=id>
            <ProgressLine done=report.done total=report.total state=state phase=report.phase.clone()/>
            {report.error.clone().map(|e| view! { <ErrorPanel error=AppError::Internal(e) id="lab-run-error"/> })}
            {(!off.is_empty()).then(|| view! {
                <p class="banner warn" id="lab-prediction-off">
                    {format!("Predicted and measured hit ratios differ by more than {} points for: {}.", DISAGREE_POINTS as u32, off.join(", "))}
                </p>
            })}
            <p class="muted" id="lab-arrival-ran">{format!("Arrivals and fills: {}.", report.spec.setup_words())}</p>
            {report.recommendation.clone().map(|words| view! { <p class="recommendation" id="lab-recommendation">{words}</p> })}
            {(!results.is_empty()).then(|| view! {
                <LabTable results=results.iter().map(|r| (*r).clone()).collect() id="lab-results"/>
                <Chart id="lab-hit-chart" caption="Hit ratio, measured and predicted" series=hit kind=Kind::Bars
                    categories=categories.clone() log_y=false y_format=pct_tick x_label="strategy"/>
                <Chart id="lab-p99-chart" caption="Read latency, p99 (log scale)" series=p99 kind=Kind::Bars
                    categories=categories.clone() log_y=true y_format=format_ms_tick x_label="strategy"/>
                <Chart id="lab-mysql-chart" caption="MySQL reads per second" series=mysql kind=Kind::Bars
                    categories=categories.clone() log_y=false y_format=format_count_tick x_label="strategy"/>
                <Chart id="lab-stale-chart" caption="Stale reads (share of reads)" series=stale kind=Kind::Bars
                    categories=categories log_y=false y_format=pct_tick x_label="strategy"/>
            })}
            {has_sweep.then(|| view! {
                <h2>"TTL sweep"</h2>
                <Chart id="lab-sweep-hit" caption="Hit ratio against TTL" series=sweep_hit kind=Kind::Scatter
                    log_y=false y_format=pct_tick x_label="TTL (s)"/>
                <Chart id="lab-sweep-stale" caption="Stale reads against TTL" series=sweep_stale kind=Kind::Scatter
                    log_y=false y_format=pct_tick x_label="TTL (s)"/>
                <LabTable results=swept id="lab-sweep"/>
            })}
            {finished.then(|| view! {
                <p class="exports">
                    <a id="lab-export-csv" href=format!("/api/lab/{id}/csv") download=format!("cachelens-lab-{id}.csv")>"Download CSV"</a>
                    " · "
                    <a id="lab-export-json" href=format!("/api/lab/{id}/json") download=format!("cachelens-lab-{id}.json")>"Download JSON"</a>
                </p>
            })}
        </section>
    }
}

/// The results table: the text alternative of the charts, and the result itself.
#[component]
fn LabTable(results: Vec<StrategyResult>, id: &'static str) -> impl IntoView {
    view! {
        <div class="table-scroll">
        <table class="summary" id=id>
            <caption>"Per strategy"</caption>
            <thead><tr>
                <th>"Strategy"</th><th>"TTL"</th><th>"Reads"</th><th>"Writes"</th><th>"Hit ratio"</th><th>"Predicted"</th>
                <th>"Stale reads"</th><th>"Staleness p50 / p99 " <span class="muted">"(of stale reads)"</span></th><th>"Read p50 / p95 / p99"</th><th>"MySQL reads/s"</th><th>"Reads kept from MySQL"</th>
            </tr></thead>
            <tbody>
                {results.into_iter().map(|r| view! {
                    <tr data-strategy=r.strategy.map(Strategy::name).unwrap_or_default()>
                        <td>{name(&r)}</td><td>{format!("{} s", r.ttl)}</td><td>{r.reads}</td><td>{r.writes}</td>
                        <td class="hit-ratio">{pct(r.hit_ratio)}</td>
                        <td>{r.predicted_hit_ratio.map(pct).unwrap_or_else(|| "—".into())}{r.prediction_off.then_some(" ⚠")}</td>
                        <td>{format!("{} ({})", r.stale_reads, pct(r.stale_fraction))}
                            {r.predicted_stale_fraction.map(|p| view! { <span class="predicted">{format!(", predicted {}", pct(p))}</span> })}</td>
                        <td>{format!("{} / {} ms", one_decimal(r.staleness_p50_ms), one_decimal(r.staleness_p99_ms))}</td>
                        <td>{format!("{} / {} / {}", format_us(r.read_p50_us), format_us(r.read_p95_us), format_us(r.read_p99_us))}</td>
                        <td>{r.mysql_reads_per_s.round() as i64}</td>
                        <td>{r.offload.map(pct).unwrap_or_else(|| "—".into())}
                            {r.predicted_offload.map(|p| view! { <span class="predicted">{format!(", predicted {}", pct(p))}</span> })}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
        </div>
    }
}

#[component]
fn LabHistory(runs: Vec<LabReport>, deleted: Callback<()>) -> impl IntoView {
    if runs.is_empty() {
        return view! { <p class="muted" id="lab-history-empty">"No lab runs yet."</p> }.into_any();
    }
    view! {
        <table class="summary" id="lab-history">
            <thead><tr><th>"Started"</th><th>"State"</th><th>"Strategies"</th><th>"Items"</th><th>"Zipf"</th><th>"Read ratio"</th><th>"TTL"</th><th>"Export"</th><th>"Delete"</th></tr></thead>
            <tbody>
                {runs.into_iter().map(|r| {
                    let id = r.id;
                    view! {
                        <tr>
                            <td title=format!("run {id}")>{utc_minute(r.started_at_ms)}</td><td>{r.state.label()}</td>
                            <td>{r.spec.strategies.iter().map(|s| s.name()).collect::<Vec<_>>().join(", ")}</td>
                            <td>{r.spec.items}</td><td>{one_decimal(r.spec.zipf)}</td><td>{pct(r.spec.read_ratio)}</td><td>{format!("{} s", r.spec.ttl)}</td>
                            <td><a href=format!("/api/lab/{id}/csv")>"CSV"</a>" "<a href=format!("/api/lab/{id}/json")>"JSON"</a></td>
                            <td><DeleteRun id deleted/></td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}
