//! Query Cache: the same query cache-aside. A miss reads MySQL and fills Redis; a hit never touches MySQL.

use leptos::prelude::*;

use crate::error::AppError;
use crate::model::QueryOutcome;
use crate::pages::results::QueryPage;

#[server]
pub async fn query_cache(term: String, limit: u32, ttl: Option<u64>) -> Result<QueryOutcome, AppError> {
    use crate::model::{validate_ttl, ArticleQuery};
    use crate::server::cache::{self, Source};

    crate::error::with_status(async {
        let state = crate::server::state::AppState::from_context()?;
        let query = ArticleQuery::new(Some(&term), Some(limit))?;
        let ttl = validate_ttl(ttl, state.default_ttl_s)?;
        cache::query_cache(&state, Source::Articles(&query), ttl).await?.into_outcome(&state, crate::stats::Outcome::Mysql)
    })
    .await
}

lazy_page!(CacheRoute, CachePage);

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
