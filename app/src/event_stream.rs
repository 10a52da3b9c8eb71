//! Server-sent events in the browser: a JSON event stream followed until it says it is done.
//!
//! Used by the Benchmark page to mirror a run's reports; in the server build it does nothing (effects and event
//! handlers only run in the browser).

use serde::de::DeserializeOwned;

/// What the caller hears from a stream.
pub enum StreamEvent<T> {
    /// One decoded message; `done` when it came as the stream's final `done` event.
    Item(T),
    /// A message that did not decode, or the connection was lost before the final event.
    Broken(String),
}

/// Follows the stream at `url`; `on_event` returns whether the stream is finished (then it is closed).
#[cfg(feature = "hydrate")]
pub fn follow_json<T: DeserializeOwned + 'static>(url: &str, mut on_event: impl FnMut(StreamEvent<T>) -> bool + 'static) {
    use std::cell::RefCell;
    use std::rc::Rc;
    use wasm_bindgen::{closure::Closure, JsCast};
    use web_sys::{EventSource, MessageEvent};

    let source = match EventSource::new(url) {
        Ok(s) => s,
        Err(_) => {
            on_event(StreamEvent::Broken("the browser could not open the progress stream".into()));
            return;
        }
    };
    let finished = Rc::new(RefCell::new(false));
    let on_event = Rc::new(RefCell::new(on_event));
    let on_message = {
        let (source, finished, on_event) = (source.clone(), finished.clone(), on_event.clone());
        Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            let Some(text) = event.data().as_string() else { return };
            let event = match serde_json::from_str::<T>(&text) {
                Ok(item) => StreamEvent::Item(item),
                Err(e) => StreamEvent::Broken(format!("unreadable progress: {e}")),
            };
            if (on_event.borrow_mut())(event) {
                *finished.borrow_mut() = true;
                source.close();
            }
        })
    };
    source.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    let _ = source.add_event_listener_with_callback("done", on_message.as_ref().unchecked_ref());
    let on_error = {
        let source = source.clone();
        Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
            // The server closes the stream after the final event; anything else is a lost connection.
            if !*finished.borrow() {
                (on_event.borrow_mut())(StreamEvent::Broken("lost the progress stream; the run goes on on the server".into()));
            }
            source.close();
        })
    };
    source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    // The browser owns the stream from here; the handlers live as long as the page.
    on_message.forget();
    on_error.forget();
}

#[cfg(not(feature = "hydrate"))]
pub fn follow_json<T: DeserializeOwned + 'static>(_url: &str, _on_event: impl FnMut(StreamEvent<T>) -> bool + 'static) {}

/// Mirrors the reports of a run's stream (a benchmark's, a lab's) into `report` until `finished` says the run
/// ended, then bumps `finished_runs` (what the page's list of runs reloads on). A stream lost while the run
/// still goes becomes `message`; once the run has ended, a closed stream is expected.
pub fn mirror_run<R: DeserializeOwned + Send + Sync + 'static>(
    url: &str,
    report: leptos::prelude::RwSignal<Option<R>>,
    finished_runs: leptos::prelude::RwSignal<u32>,
    message: leptos::prelude::RwSignal<Option<crate::error::AppError>>,
    finished: fn(&R) -> bool,
) {
    use leptos::prelude::*;
    follow_json::<R>(url, move |event| match event {
        StreamEvent::Item(r) => {
            let done = finished(&r);
            report.set(Some(r));
            if done {
                finished_runs.update(|n| *n += 1);
            }
            done
        }
        StreamEvent::Broken(why) => {
            if report.with_untracked(|r| r.as_ref().is_some_and(|r| !finished(r))) {
                message.set(Some(crate::error::AppError::Internal(why)));
            }
            false
        }
    });
}
