//! The Content-Security-Policy: only this origin, and a page's inline scripts by nonce.

use axum::http::{header, HeaderValue};
use leptos::prelude::*;

/// Only this origin: no CDN, no third party, no inline script. Pages replace it with [`page_csp`], which
/// lets in their own inline scripts by nonce.
pub(super) const CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; \
                   img-src 'self' data:; connect-src 'self' ws://127.0.0.1:*; frame-ancestors 'none'; base-uri 'self'; \
                   form-action 'self'";

/// A server-rendered page's policy: Leptos's hydration bootstrap and streamed resources are inline scripts
/// carrying this response's nonce, and the page compiles the WASM itself.
fn page_csp(nonce: &str) -> String {
    CSP.replacen("script-src 'self'", &format!("script-src 'self' 'nonce-{nonce}'"), 1)
}

/// Called while a page renders: puts the nonce Leptos gave its inline scripts into the page's CSP header.
pub(super) fn set_page_csp() {
    if let (Some(nonce), Some(response)) = (leptos::nonce::use_nonce(), use_context::<leptos_axum::ResponseOptions>()) {
        if let Ok(value) = HeaderValue::from_str(&page_csp(&nonce.to_string())) {
            response.insert_header(header::CONTENT_SECURITY_POLICY, value);
        }
    }
}
