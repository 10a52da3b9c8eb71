//! The HTML shell, the router and the navigation bar shared by every page.

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{Route, Router, Routes, A},
    SsrMode, StaticSegment,
};

use crate::pages::{
    benchmark::BenchmarkPage, cache::CachePage, compare::ComparePage, delete::DeletePage, home::HomePage, lab::LabPage, mysql::MysqlPage,
    sql::SqlPage,
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
    // Effects only run in the browser, so this flips once the WASM has taken over the page. Browser tests
    // wait for it before clicking, and users never see a button that does nothing yet.
    let (hydrated, set_hydrated) = signal(false);
    Effect::new(move |_| set_hydrated.set(true));

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
            </header>
            <main data-hydrated=move || hydrated.get().to_string()>
                <Routes fallback=|| view! { <p class="error">"Page not found."</p> }>
                    <Route path=StaticSegment("") view=HomePage/>
                    // Async rendering waits for the query, so a dead MySQL can still turn the page into a 503.
                    <Route path=StaticSegment("mysql") view=MysqlPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("cache") view=CachePage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("delete") view=DeletePage/>
                    <Route path=StaticSegment("sql") view=SqlPage/>
                    <Route path=StaticSegment("compare") view=ComparePage/>
                    <Route path=StaticSegment("bench") view=BenchmarkPage/>
                    <Route path=StaticSegment("lab") view=LabPage/>
                </Routes>
            </main>
        </Router>
    }
}
