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
    crate::error::answer(async {
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
