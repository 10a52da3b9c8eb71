//! cachelens: times a MySQL query against the same query served cache-aside from Redis.
//!
//! One crate, two builds: with `ssr` it is the axum server (and the `cachelens` CLI); with `hydrate` it is the
//! WASM that takes over the server-rendered page. Everything that touches MySQL, Redis or the OS lives under
//! [`server`] and is compiled for `ssr` only; the pages and their server functions are shared.

pub mod app;
pub mod bench;
pub mod charts;
pub mod error;
pub mod event_stream;
pub mod lab;
pub mod model;
pub mod pages;
pub mod stats;

#[cfg(feature = "ssr")]
pub mod server;

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
