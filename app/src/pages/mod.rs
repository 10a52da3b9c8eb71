//! One module a page; each holds its components and the server functions they call.

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
