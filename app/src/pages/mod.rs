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
