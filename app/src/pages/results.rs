//! What the Query MySQL and Query Cache pages share: the form, the result panel and the TTL countdown.

use std::future::Future;
use std::time::Duration;

use leptos::prelude::*;
use leptos_router::{components::Form, hooks::use_query_map};

use crate::error::AppError;
use crate::model::{AnswerSummary, QueryOutcome, QueryPath, Versus, DEFAULT_LIMIT, DEFAULT_TERM, MAX_LIMIT, MAX_TTL_S};
use crate::pages::ErrorPanel;
use crate::stats::{format_ms_2, one_decimal};

/// term, limit, ttl as typed, and the run counter: a new press is a new request even with the same fields.
type Request = (String, String, String, String);

/// A query page: the form writes its fields into the URL (so a result can be linked and is rendered on the
/// server too) and the result is fetched whenever the URL's `run` counter changes.
#[component]
pub fn QueryPage<F, Fut>(
    title: &'static str,
    path: &'static str,
    /// Whether the form offers a TTL (the cache path).
    with_ttl: bool,
    run: F,
    children: Children,
) -> impl IntoView
where
    F: Fn(String, u32, Option<u64>) -> Fut + Copy + Send + Sync + 'static,
    Fut: Future<Output = Result<QueryOutcome, AppError>> + Send + 'static,
{
    let params = use_query_map();
    let field = move |name: &str, default: String| params.with_untracked(|p| p.get(name)).unwrap_or(default);
    let request = move || {
        params.with(|p| {
            p.get("run")
                .map(|run| (p.get("term").unwrap_or_default(), p.get("limit").unwrap_or_default(), p.get("ttl").unwrap_or_default(), run))
        })
    };
    let result = Resource::new(request, move |req: Option<Request>| async move {
        let (term, limit, ttl, _run) = req?;
        let limit = match limit.trim() {
            "" => DEFAULT_LIMIT,
            l => match l.parse::<u32>() {
                Ok(l) => l,
                Err(_) => return Some(Err(AppError::Invalid(format!("limit must be a whole number from 1 to {MAX_LIMIT}, got {l:?}")))),
            },
        };
        let ttl = match ttl.trim() {
            "" => None,
            t => match t.parse::<u64>() {
                Ok(t) => Some(t),
                Err(_) => return Some(Err(AppError::Invalid(format!("TTL must be a whole number of seconds, got {t:?}")))),
            },
        };
        Some(run(term, limit, ttl).await)
    });
    let next_run = move || params.with(|p| p.get("run").and_then(|r| r.parse::<u64>().ok()).unwrap_or(0) + 1);

    view! {
        <h1>{title}</h1>
        <div class="explain">{children()}</div>
        <Form method="GET" action=path>
            <label>"Search term " <input name="term" value=field("term", DEFAULT_TERM.into()) maxlength="100"/></label>
            <label>"Rows " <input name="limit" type="number" min="1" max=MAX_LIMIT value=field("limit", DEFAULT_LIMIT.to_string())/></label>
            {with_ttl.then(|| view! {
                <label>"TTL (s) " <input name="ttl" type="number" min="1" max=MAX_TTL_S placeholder="default" value=field("ttl", String::new())/></label>
            })}
            <input type="hidden" name="run" value=move || next_run().to_string()/>
            <button type="submit" id="run-query">{title}</button>
        </Form>
        <Transition fallback=|| view! { <p class="muted">"Running…"</p> }>
            {move || result.get().map(|answer| match answer {
                None => view! { <p class="muted">"Press the button to run the query."</p> }.into_any(),
                Some(Ok(outcome)) => view! { <OutcomeView outcome/> }.into_any(),
                Some(Err(error)) => view! { <ErrorPanel error id="query-error"/> }.into_any(),
            })}
        </Transition>
    }
}

#[component]
fn OutcomeView(outcome: QueryOutcome) -> impl IntoView {
    view! {
        <OutcomeSummary summary=outcome.summary versus=outcome.versus/>
        <table class="rows">
            <thead><tr><th>"OBJECTID"</th><th>"Sentence"</th><th>"Title"</th><th>"Source"</th></tr></thead>
            <tbody>
                {outcome.rows.into_iter().map(|a| view! {
                    <tr><td>{a.object_id}</td><td>{a.sentence}</td><td>{a.title}</td><td>{a.source}</td></tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// Where the answer came from, how long it took, how many rows and how long the cached entry lives.
#[component]
pub fn OutcomeSummary(summary: AnswerSummary, #[prop(default = None)] versus: Option<Versus>) -> impl IntoView {
    let AnswerSummary { source, hit, elapsed_us, ttl_remaining_s, row_count, cache_error } = summary;
    let (class, text) = match (&cache_error, source, hit) {
        (Some(why), _, _) => ("banner warn", format!("Cache unavailable ({why}): answered from MySQL.")),
        (None, QueryPath::Cache, true) => ("banner hit", "Cache hit: served from Redis, MySQL untouched.".to_string()),
        (None, QueryPath::Mysql, false) if ttl_remaining_s.is_some() => {
            ("banner miss", "Cache miss: served from MySQL and stored in Redis.".to_string())
        }
        _ => ("banner mysql", "Served from MySQL.".to_string()),
    };
    let source = match source {
        QueryPath::Mysql => "mysql",
        QueryPath::Cache => "cache",
    };
    view! {
        <div class=class id="banner" role="status" data-hit=hit.to_string() data-source=source>{text}</div>
        <dl class="metrics">
            <dt>"Server time"</dt>
            <dd>
                <span id="elapsed" data-us=elapsed_us>{format_ms_2(elapsed_us)}</span>
                {versus.map(|v| view! { <span class="vs" id="versus">{speedup_text(elapsed_us, v)}</span> })}
            </dd>
            <dt>"Rows"</dt>
            <dd id="row-count">{row_count}</dd>
            <dt>"Cache TTL"</dt>
            <dd id="ttl">{match ttl_remaining_s {
                Some(s) => view! { <TtlCountdown seconds=s/> }.into_any(),
                None => "—".into_any(),
            }}</dd>
        </dl>
    }
}

/// "12.3× faster than the MySQL median (4.10 ms)": this answer against the other path's recent median.
fn speedup_text(elapsed_us: u64, versus: Versus) -> String {
    let median = format_ms_2(versus.median_us);
    let other = versus.path.label();
    let ratio = versus.median_us as f64 / elapsed_us.max(1) as f64;
    if ratio >= 1.0 {
        format!("{}× faster than the {other} median ({median})", one_decimal(ratio))
    } else {
        format!("{}× slower than the {other} median ({median})", one_decimal(1.0 / ratio))
    }
}

/// Counts the entry's remaining lifetime down in the browser, one second at a time.
#[component]
fn TtlCountdown(seconds: u64) -> impl IntoView {
    let left = RwSignal::new(seconds);
    Effect::new(move |_| {
        let tick = move || {
            left.try_update(|s| *s = s.saturating_sub(1));
        };
        if let Ok(handle) = set_interval_with_handle(tick, Duration::from_secs(1)) {
            on_cleanup(move || handle.clear());
        }
    });
    view! {
        <span class="ttl" data-seconds=move || left.get()>
            {move || match left.get() {
                0 => "expired".to_string(),
                s => format!("{s} s left"),
            }}
        </span>
    }
}
