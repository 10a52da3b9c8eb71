//! Query MySQL: the seed's query straight against the database, timed on the server.

use leptos::prelude::*;

use crate::error::AppError;
use crate::model::QueryOutcome;
use crate::pages::results::QueryPage;

#[server]
pub async fn query_mysql(term: String, limit: u32) -> Result<QueryOutcome, AppError> {
    use crate::model::ArticleQuery;
    use crate::server::cache::{self, Source};

    crate::error::with_status(async {
        let state = crate::server::state::AppState::from_context()?;
        let query = ArticleQuery::new(Some(&term), Some(limit))?;
        cache::query_mysql(&state, Source::Articles(&query)).await?.into_outcome(&state, crate::stats::Outcome::Hit)
    })
    .await
}

lazy_page!(MysqlRoute, MysqlPage);

#[component]
pub fn MysqlPage() -> impl IntoView {
    view! {
        <QueryPage title="Query MySQL" path="/mysql" with_ttl=false run={|term, limit, _ttl: Option<u64>| query_mysql(term, limit)}>
            <p>"Every press sends the query to MySQL. The time is measured on the server, from sending the query to having every row."</p>
        </QueryPage>
    }
}
