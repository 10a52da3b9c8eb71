//! The HTML shell, the router and the navigation bar shared by every page.
//!
//! Every page but Home is a lazy route: in the browser build each is a WASM chunk of its own (split off by
//! `cargo leptos --split`, or `scripts/site.py`'s same step), fetched the first time the page is shown, so the
//! bundle every page loads carries only the shell, the router and Home, and no page pays for another's code.
//! That keeps each page within the front end's 400 KiB (gzip) budget; one bundle of every page was 408 KiB.
//! The server renders them like the others and names their chunks in the page's `<head>` (`modulepreload`), so
//! a page opened directly loads its chunk beside the main WASM instead of after it.

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{Route, Router, Routes, A},
    Lazy, SsrMode, StaticSegment,
};

use crate::pages::{
    benchmark::BenchmarkRoute, cache::CacheRoute, compare::CompareRoute, delete::DeleteRoute, home::HomePage, lab::LabRoute,
    mysql::MysqlRoute, sql::SqlRoute,
};

pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let signed_in = signed_in();

    view! {
        <Stylesheet id="leptos" href="/pkg/cachelens.css"/>
        <Title text="cachelens: MySQL vs Redis cache-aside"/>
        <Router>
            <header class="topbar">
                <span class="brand">"cachelens"</span>
                <nav>
                    <A href="/">"Home"</A>
                    <A href="/mysql">"Query MySQL"</A>
                    <A href="/cache">"Query Cache"</A>
                    <A href="/delete">"Delete Cache"</A>
                    <A href="/sql">"Custom SQL"</A>
                    <A href="/compare">"Compare"</A>
                    <A href="/bench">"Benchmark"</A>
                    <A href="/lab">"Lab"</A>
                </nav>
                // A plain form: signing out works before (and without) the WASM, and the server ends the session.
                <Show when=move || signed_in>
                    <form class="sign-out" method="post" action="/logout">
                        <button type="submit" id="sign-out">"Sign out"</button>
                    </form>
                </Show>
            </header>
            // `crate::hydrate` sets this to "true" once the whole page, a lazy route's chunk included, has been
            // taken over; browser tests wait for it before they click.
            <main data-hydrated="false">
                <Routes fallback=|| view! { <p class="error">"Page not found."</p> }>
                    <Route path=StaticSegment("") view=HomePage/>
                    // Async rendering waits for the query, so a dead MySQL can still turn the page into a 503.
                    <Route path=StaticSegment("mysql") view={Lazy::<MysqlRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=StaticSegment("cache") view={Lazy::<CacheRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=StaticSegment("delete") view={Lazy::<DeleteRoute>::new()}/>
                    <Route path=StaticSegment("sql") view={Lazy::<SqlRoute>::new()}/>
                    <Route path=StaticSegment("compare") view={Lazy::<CompareRoute>::new()}/>
                    <Route path=StaticSegment("bench") view={Lazy::<BenchmarkRoute>::new()}/>
                    <Route path=StaticSegment("lab") view={Lazy::<LabRoute>::new()}/>
                </Routes>
            </main>
        </Router>
    }
}

/// Whether this page is shown to someone signed in with the access token (a server without one has nobody
/// to sign out). The server knows from the request; the browser reads what the server rendered, so hydration
/// sees the same nav.
fn signed_in() -> bool {
    #[cfg(feature = "ssr")]
    {
        let state = use_context::<crate::server::state::AppState>();
        let parts = use_context::<axum::http::request::Parts>();
        matches!((state, parts), (Some(s), Some(p)) if s.access.required() && s.access.allows(&p.headers))
    }
    #[cfg(not(feature = "ssr"))]
    {
        #[cfg(feature = "hydrate")]
        return document().get_element_by_id("sign-out").is_some();
        #[cfg(not(feature = "hydrate"))]
        false
    }
}
