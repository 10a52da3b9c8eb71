//! One module a page; each holds its components and the server functions they call.

/// `lazy_page!(Route, Page)`: `Route`, the page `Page` as a lazy route, a WASM chunk of its own (see [`crate::app`]).
/// Defined before the page modules, which use it.
macro_rules! lazy_page {
    ($route:ident, $page:ident) => {
        pub struct $route;

        #[leptos_router::lazy_route]
        impl leptos_router::LazyRoute for $route {
            fn data() -> Self {
                $route
            }

            fn view(_this: Self) -> AnyView {
                view! { <$page/> }.into_any()
            }
        }
    };
}

pub mod benchmark;
pub mod cache;
pub mod compare;
pub mod delete;
pub mod home;
pub mod lab;
pub mod mysql;
pub mod results;
pub mod sql;

use leptos::prelude::*;

use crate::compare::{Comparison, RunChoice, RunChoices};
use crate::error::AppError;

/// How every page shows a failure: the message, styled by kind (a refused request is the user's to fix, a
/// service that is down is not), announced to screen readers.
#[component]
pub fn ErrorPanel(error: AppError, #[prop(optional)] id: Option<&'static str>) -> impl IntoView {
    let class = if error.is_unavailable() { "error-panel unavailable" } else { "error-panel" };
    view! { <div class=class role="alert" id=id>{error.to_string()}</div> }
}

/// Deletes a finished run (a benchmark's or a lab's) from the run history: the pages' Delete buttons.
#[server]
pub async fn delete_run(id: u64) -> Result<(), AppError> {
    crate::error::with_status(async {
        let state = crate::server::state::AppState::from_context()?;
        crate::server::http::runs::delete_run(&state, id).await
    })
    .await
}

/// A run's Delete button: asks the server, then `deleted` (the page fetches its list again).
#[component]
pub fn DeleteRun(id: u64, deleted: Callback<()>) -> impl IntoView {
    let problem = RwSignal::new(None::<AppError>);
    let delete = move |_| {
        leptos::task::spawn_local(async move {
            match delete_run(id).await {
                Ok(()) => deleted.run(()),
                Err(e) => problem.set(Some(e)),
            }
        });
    };
    view! {
        <button type="button" class="secondary delete-run" aria-label=format!("delete run {id}") on:click=delete>"Delete"</button>
        {move || problem.get().map(|e| view! { <span class="error" role="alert">{e.to_string()}</span> })}
    }
}

#[server]
pub async fn list_run_choices(kind: String) -> Result<RunChoices, AppError> {
    crate::error::with_status(async {
        let state = crate::server::state::AppState::from_context()?;
        crate::server::http::runs::choices_of_kind(&state, &kind).await
    })
    .await
}

#[server]
pub async fn compare_two_runs(kind: String, a: u64, b: u64) -> Result<Comparison, AppError> {
    crate::error::with_status(async {
        let state = crate::server::state::AppState::from_context()?;
        crate::server::http::runs::compare_of_kind(&state, &kind, a, b).await
    })
    .await
}

/// "Compare with…": two finished runs of `kind` side by side, each metric of both and the difference (B against
/// A). `refresh` changes when a run ends or is deleted. Also says when runs wait in memory for MySQL.
#[component]
pub fn CompareRuns(kind: &'static str, refresh: RwSignal<u32>) -> impl IntoView {
    let choices = Resource::new(move || refresh.get(), move |_| list_run_choices(kind.to_string()));
    let (a, b) = (RwSignal::new(None::<u64>), RwSignal::new(None::<u64>));
    let comparison = RwSignal::new(None::<Result<Comparison, AppError>>);
    let compare = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let listed = choices.get_untracked().and_then(Result::ok).map(|c| c.runs).unwrap_or_default();
        let pick = |chosen: Option<u64>, default: usize| chosen.or(listed.get(default).map(|r| r.id));
        let (Some(a), Some(b)) = (pick(a.get_untracked(), 0), pick(b.get_untracked(), 1)) else { return };
        leptos::task::spawn_local(async move { comparison.set(Some(compare_two_runs(kind.to_string(), a, b).await)) });
    };
    let chosen = |signal: RwSignal<Option<u64>>| move |ev: leptos::ev::Event| signal.set(event_target_value(&ev).parse().ok());
    let options = move |runs: &[RunChoice], default: usize| {
        runs.iter().enumerate().map(|(i, r)| view! { <option value=r.id selected=i == default>{r.label.clone()}</option> }).collect_view()
    };
    view! {
        <h2>"Compare two runs"</h2>
        <Transition fallback=|| ()>
            {move || choices.get().map(|answer| match answer {
                Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                Ok(RunChoices { runs, unsaved }) => view! {
                    {(unsaved > 0).then(|| view! {
                        <p class="banner warn" id=format!("{kind}-unsaved") role="status">
                            {format!("{unsaved} finished run(s) are not saved yet: MySQL cannot be reached. They are kept in this server's memory and written to the run history when MySQL is back.")}
                        </p>
                    })}
                    {if runs.len() < 2 {
                        view! { <p class="muted" id=format!("{kind}-compare-empty")>"Two finished runs are needed to compare."</p> }.into_any()
                    } else {
                        view! {
                            <form class="bench-form compare-form" id=format!("{kind}-compare") on:submit=compare>
                                <label>"Run (A) " <select id=format!("{kind}-compare-a") on:change=chosen(a)>{options(&runs, 0)}</select></label>
                                <label>"Compare with… (B) " <select id=format!("{kind}-compare-b") on:change=chosen(b)>{options(&runs, 1)}</select></label>
                                <button type="submit" id=format!("{kind}-compare-go")>"Compare"</button>
                            </form>
                        }.into_any()
                    }}
                }.into_any(),
            })}
        </Transition>
        {move || comparison.get().map(|answer| match answer {
            Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
            Ok(c) => view! { <ComparisonTable comparison=c/> }.into_any(),
        })}
    }
}

#[component]
fn ComparisonTable(comparison: Comparison) -> impl IntoView {
    let verdict = |better: Option<bool>| match better {
        Some(true) => ("better", " (better)"),
        Some(false) => ("worse", " (worse)"),
        None => ("", ""),
    };
    view! {
        <table class="summary comparison" id=format!("{}-comparison", comparison.kind) data-a=comparison.a data-b=comparison.b>
            <caption>{format!("Run {} (A) against run {} (B)", comparison.a, comparison.b)}</caption>
            <thead><tr><th scope="col">"Of"</th><th scope="col">"Metric"</th><th scope="col">"A"</th><th scope="col">"B"</th><th scope="col">"B against A"</th></tr></thead>
            <tbody>
                {comparison.rows.into_iter().map(|r| {
                    let (class, word) = verdict(r.better);
                    let (group, metric) = (r.group.clone(), r.metric.clone());
                    view! {
                        <tr data-group=group data-metric=metric>
                            <td>{r.group}</td><td>{r.metric}</td><td>{r.a}</td><td>{r.b}</td>
                            <td class=class>{r.change}{word}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}
