//! Query Cache: the same query cache-aside. A miss reads MySQL and fills Redis; a hit never touches MySQL.

use leptos::prelude::*;

use crate::model::QueryOutcome;
use crate::pages::results::QueryPage;

#[server]
pub async fn query_cache(term: String, limit: u32, ttl: Option<u64>) -> Result<QueryOutcome, ServerFnError> {
    use crate::model::{validate_ttl, ArticleQuery};
    use crate::server::articles::QueryFailure;
    use crate::server::respond::{app_state, query_failed};

    let state = app_state()?;
    let invalid = |e| query_failed(QueryFailure::Invalid(e));
    let query = ArticleQuery::new(Some(&term), Some(limit)).map_err(invalid)?;
    let ttl = validate_ttl(ttl, state.default_ttl_s).map_err(invalid)?;
    let answer = crate::server::cache::query_cache(&state, crate::server::cache::Lookup::Articles(&query), ttl).await.map_err(query_failed)?;
    answer.into_outcome().map_err(query_failed)
}

#[component]
pub fn CachePage() -> impl IntoView {
    view! {
        <QueryPage title="Query Cache" path="/cache" with_ttl=true run=query_cache>
            <p>
                "The first press finds nothing in Redis, runs the query on MySQL and stores the rows with the TTL. "
                "Presses after it are answered from Redis until the entry expires or is deleted."
            </p>
        </QueryPage>
    }
}
