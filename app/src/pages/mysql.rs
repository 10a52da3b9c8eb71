//! Query MySQL: the seed's query straight against the database, timed on the server.

use leptos::prelude::*;

use crate::model::QueryOutcome;
use crate::pages::results::QueryPage;

#[server]
pub async fn query_mysql(term: String, limit: u32) -> Result<QueryOutcome, ServerFnError> {
    use crate::model::ArticleQuery;
    use crate::server::articles::QueryFailure;
    use crate::server::respond::{app_state, query_failed};

    let state = app_state()?;
    let query = ArticleQuery::new(Some(&term), Some(limit)).map_err(|e| query_failed(QueryFailure::Invalid(e)))?;
    let answer = crate::server::cache::query_mysql(&state, crate::server::cache::Lookup::Articles(&query)).await.map_err(query_failed)?;
    answer.into_outcome().map_err(query_failed)
}

#[component]
pub fn MysqlPage() -> impl IntoView {
    view! {
        <QueryPage title="Query MySQL" path="/mysql" with_ttl=false run={|term, limit, _ttl: Option<u64>| query_mysql(term, limit)}>
            <p>"Every press sends the query to MySQL. The time is measured on the server, from sending the query to having every row."</p>
        </QueryPage>
    }
}
