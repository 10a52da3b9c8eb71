//! Custom SQL: any read-only SELECT, checked by the guard, cached like the default query.

use leptos::prelude::*;

use crate::error::AppError;
use crate::model::{SqlOutcome, MAX_LIMIT, MAX_TTL_S};
use crate::pages::results::OutcomeSummary;
use crate::pages::ErrorPanel;

/// `cache` is the checkbox's "on" when ticked; `ttl` is text so an empty field means the default.
#[server]
pub async fn run_sql(sql: String, cache: Option<String>, ttl: Option<String>) -> Result<SqlOutcome, AppError> {
    crate::error::with_status(sql_outcome(sql, cache.is_some(), ttl)).await
}

#[cfg(feature = "ssr")]
async fn sql_outcome(sql: String, cache: bool, ttl: Option<String>) -> Result<SqlOutcome, AppError> {
    use crate::model::validate_ttl;
    use crate::server::cache::{query_cache, query_mysql, Source};
    use crate::server::query::sql_guard::check;

    let state = crate::server::state::AppState::from_context()?;
    let guarded = check(&sql, &state.database_name(), MAX_LIMIT.into()).map_err(|r| AppError::Invalid(r.0))?;
    let ttl = match ttl.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(t) => Some(t.parse::<u64>().map_err(|_| AppError::Invalid(format!("TTL must be a whole number of seconds, got {t:?}")))?),
    };
    let answer = if cache {
        let ttl = validate_ttl(ttl, state.default_ttl_s)?;
        query_cache(&state, Source::Sql(&guarded), ttl).await
    } else {
        query_mysql(&state, Source::Sql(&guarded)).await
    }?;
    let objects: Vec<indexmap::IndexMap<String, serde_json::Value>> =
        serde_json::from_slice(&answer.rows.json()?.json).map_err(|e| AppError::Internal(format!("query failed: {e}")))?;
    let columns: Vec<String> = objects.first().map(|o| o.keys().cloned().collect()).unwrap_or_default();
    let rows = objects
        .into_iter()
        .map(|o| {
            o.into_values()
                .map(|v| match v {
                    serde_json::Value::Null => None,
                    serde_json::Value::String(s) => Some(s),
                    other => Some(other.to_string()),
                })
                .collect()
        })
        .collect();
    Ok(SqlOutcome { sql: guarded.sql, summary: answer.summary(), columns, rows })
}

lazy_page!(SqlRoute, SqlPage);

#[component]
pub fn SqlPage() -> impl IntoView {
    let run = ServerAction::<RunSql>::new();
    view! {
        <h1>"Custom SQL"</h1>
        <div class="explain">
            <p>
                "One read-only SELECT against the articles database (WITH, UNION and subqueries welcome). It runs in a "
                "READ ONLY transaction with a " {crate::model::CUSTOM_SQL_TIME_LIMIT_S} " s time limit and at most "
                {MAX_LIMIT} " rows; anything else is refused with the reason."
            </p>
        </div>
        <ActionForm action=run>
            <label for="sql">"SELECT statement"</label>
            <textarea name="sql" id="sql" rows="5" cols="80" spellcheck="false" maxlength="10000">
                "select Source, count(*) as n from articles group by Source order by n desc"
            </textarea>
            <div class="form-row">
                <label class="check"><input type="checkbox" name="cache" checked/> " Cache in Redis"</label>
                <label>"TTL (s) " <input name="ttl" type="number" min="1" max=MAX_TTL_S placeholder="default"/></label>
                <button type="submit" id="run-sql">"Run"</button>
            </div>
        </ActionForm>
        {move || run.pending().get().then(|| view! { <p class="muted">"Running…"</p> })}
        {move || run.value().get().map(|answer| match answer {
            Ok(outcome) => view! { <SqlResult outcome/> }.into_any(),
            Err(e) => view! { <ErrorPanel error=e id="query-error"/> }.into_any(),
        })}
    }
}

#[component]
fn SqlResult(outcome: SqlOutcome) -> impl IntoView {
    view! {
        <OutcomeSummary summary=outcome.summary/>
        <p class="muted">"Ran: " <code id="ran-sql">{outcome.sql}</code></p>
        <table class="rows">
            <thead><tr>{outcome.columns.into_iter().map(|c| view! { <th>{c}</th> }).collect_view()}</tr></thead>
            <tbody>
                {outcome.rows.into_iter().map(|row| view! {
                    <tr>{row.into_iter().map(|cell| match cell {
                        Some(text) => view! { <td>{text}</td> }.into_any(),
                        None => view! { <td class="null">"NULL"</td> }.into_any(),
                    }).collect_view()}</tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}
