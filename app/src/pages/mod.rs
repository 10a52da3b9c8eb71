//! One module a page; each holds its components and the server functions they call.

pub mod benchmark;
pub mod cache;
pub mod compare;
pub mod delete;
pub mod home;
pub mod mysql;
pub mod results;
pub mod sql;

/// The text of a server function's error, without the framework's wording around it.
pub fn error_text(e: &leptos::prelude::ServerFnError) -> String {
    match e {
        leptos::prelude::ServerFnError::ServerError(m) => m.clone(),
        other => other.to_string(),
    }
}
