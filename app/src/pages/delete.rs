//! Delete Cache: removes the entries cachelens wrote, and only those.

use leptos::prelude::*;

use crate::error::AppError;
use crate::pages::ErrorPanel;

#[server]
pub async fn delete_cache() -> Result<u64, AppError> {
    crate::error::with_status(async {
        let state = crate::server::state::AppState::from_context()?;
        crate::server::cache::delete_cached(&state).await
    })
    .await
}

lazy_page!(DeleteRoute, DeletePage);

#[component]
pub fn DeletePage() -> impl IntoView {
    let delete = ServerAction::<DeleteCache>::new();
    view! {
        <h1>"Delete Cache"</h1>
        <div class="explain">
            <p>
                "Removes every key cachelens stored, found with SCAN and removed with UNLINK. Unlike the seed's "
                "FLUSHALL it leaves everything else in a shared Redis alone. The next Query Cache is a miss."
            </p>
        </div>
        <ActionForm action=delete>
            <button type="submit" id="delete-cache">"Delete Cache"</button>
        </ActionForm>
        {move || delete.value().get().map(|answer| match answer {
            Ok(n) => view! { <p class="banner ok" id="deleted" data-deleted=n>{format!("Deleted {n} cached entries.")}</p> }.into_any(),
            Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
        })}
    }
}
