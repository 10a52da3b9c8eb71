//! Turning failures into answers: a status code for the page or API response and a message for the person.

use leptos::prelude::*;

use crate::server::articles::QueryFailure;

/// For server functions: sets the HTTP status of the response being built (the server-rendered page or the
/// server function call) and hands back an error whose text is the message alone.
pub fn fail(status: u16, message: String) -> ServerFnError {
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        if let Ok(code) = axum::http::StatusCode::from_u16(status) {
            response.set_status(code);
        }
    }
    ServerFnError::ServerError(message)
}

pub fn query_failed(failure: QueryFailure) -> ServerFnError {
    fail(failure.status(), failure.message())
}

pub fn app_state() -> Result<crate::server::state::AppState, ServerFnError> {
    use_context().ok_or_else(|| ServerFnError::ServerError("server state is missing".into()))
}
