//! cachelens: times a MySQL query against the same query served cache-aside from Redis.
//!
//! One crate, two builds: with `ssr` it is the axum server (and the `cachelens` CLI); with `hydrate` it is the
//! WASM that takes over the server-rendered page. Everything that touches MySQL, Redis or the OS lives under
//! [`server`] and is compiled for `ssr` only; the pages and their server functions are shared.

pub mod app;
pub mod bench;
pub mod cache_model;
pub mod charts;
pub mod compare;
pub mod error;
pub mod event_stream;
pub mod lab;
pub mod model;
pub mod pages;
pub mod stats;

#[cfg(feature = "ssr")]
pub mod server;

/// Takes over the server-rendered page. Asynchronously, because a lazy route hydrates only once its chunk has
/// loaded (`hydrate_body` refuses lazy routes); when that is done, `<main>` says so in `data-hydrated`, which
/// browser tests wait for before they click.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    wasm_bindgen_futures::spawn_local(async {
        let document = leptos::prelude::document();
        let Some(body) = document.body() else { return };
        let page = leptos::mount::hydrate_from_async(body, app::App).await;
        if let Ok(Some(main)) = document.query_selector("main") {
            let _ = main.set_attribute("data-hydrated", "true");
        }
        page.forget();
    });
}
