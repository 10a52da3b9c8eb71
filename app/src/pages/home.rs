//! Home: what cachelens measures, and whether MySQL and Redis answer right now.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::model::{Probe, ServiceStatus};
use crate::pages::ErrorPanel;

/// What `cachelens load-data` last put into the articles table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dataset {
    pub rows: u64,
    /// The file's name (not its path on the server).
    pub source: String,
    pub loaded_at: String,
}

#[server]
pub async fn dataset_info() -> Result<Option<Dataset>, AppError> {
    crate::error::with_status(async {
        let state = crate::server::state::AppState::from_context()?;
        let record = state.db_retry(|db| async move { Ok(crate::server::loader::dataset::read_record(&db).await?) }).await?;
        Ok(record.map(|r| Dataset {
            rows: r.row_count,
            source: std::path::Path::new(&r.source).file_name().map_or(r.source.clone(), |n| n.to_string_lossy().into_owned()),
            loaded_at: r.loaded_at,
        }))
    })
    .await
}

#[server]
pub async fn check_services() -> Result<ServiceStatus, AppError> {
    Ok(crate::server::state::AppState::from_context()?.status().await)
}

#[component]
pub fn HomePage() -> impl IntoView {
    let refresh = RwSignal::new(0u32);
    let status = Resource::new(move || refresh.get(), |_| check_services());
    let dataset = Resource::new(move || refresh.get(), |_| dataset_info());

    view! {
        <section class="intro">
            <h1>"How much does a cache accelerate MySQL?"</h1>
            <p>
                "cachelens runs the same query against MySQL and, cache-aside, against Redis, and times both on "
                "the server. The first cache query finds nothing and populates Redis from MySQL; the ones after "
                "it are served from Redis until the entry expires."
            </p>
            <ol>
                <li><a href="/mysql">"Query MySQL"</a>" runs the query on the database every time."</li>
                <li><a href="/cache">"Query Cache"</a>" looks in Redis first. The first press is a miss and "
                    "populates the cache; the next presses are hits."</li>
                <li><a href="/delete">"Delete Cache"</a>" removes cachelens's entries, so the next cache query is a miss again."</li>
            </ol>
            <p>"The query, as the original sample wrote it (cachelens binds the term and the limit as parameters):"</p>
            <pre class="sql">{crate::model::SEED_SQL}</pre>
            <p id="lab-intro">
                "A hit being faster is the easy part; which TTL, which invalidation and how many stale reads you accept "
                "is the decision. The "<a href="/lab">"strategy lab"</a>" runs one read/write workload under five caching "
                "strategies and shows hit ratio (against its prediction), latency, MySQL offload and stale reads side by side."
            </p>
        </section>
        <section class="dataset">
            <h2>"Dataset"</h2>
            <Transition fallback=|| view! { <p class="muted">"Reading the dataset…"</p> }>
                {move || dataset.get().map(|answer| match answer {
                    Ok(Some(d)) => view! {
                        <p id="dataset">
                            <strong>{d.rows}</strong>" articles from "<code>{d.source}</code>", loaded "{d.loaded_at}" UTC."
                        </p>
                    }.into_any(),
                    Ok(None) => view! {
                        <p class="warn">"No articles loaded yet: run "<code>"cachelens load-data"</code>"."</p>
                    }.into_any(),
                    Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                })}
            </Transition>
        </section>
        <section class="status">
            <h2>"Services"</h2>
            <button id="refresh-status" on:click=move |_| refresh.update(|n| *n += 1)>"Refresh status"</button>
            <Transition fallback=|| view! { <p>"Checking services…"</p> }>
                {move || status.get().map(|answer| match answer {
                    Ok(s) => view! { <StatusTable status=s/> }.into_any(),
                    Err(e) => view! { <p class="error">"Status check failed: " {e.to_string()}</p> }.into_any(),
                })}
            </Transition>
        </section>
    }
}

#[component]
fn StatusTable(status: ServiceStatus) -> impl IntoView {
    let row = |name: &'static str, p: Probe| {
        let state = if p.up { "up" } else { "down" };
        view! {
            <tr data-service=name>
                <th>{name}</th>
                <td class=format!("state {state}")>{state}</td>
                <td class="rtt">{p.rtt_us.map(crate::stats::format_ms_2).unwrap_or_else(|| "—".into())}</td>
                <td class="detail">{p.detail}</td>
            </tr>
        }
    };
    view! {
        <table class="services">
            <thead><tr><th>"Service"</th><th>"State"</th><th>"Round trip"</th><th>"Detail"</th></tr></thead>
            <tbody>
                {row("MySQL", status.mysql)}
                {row("Redis", status.redis)}
            </tbody>
        </table>
        <p class="muted">"Status check #" <span id="check-number">{status.check}</span></p>
    }
}
