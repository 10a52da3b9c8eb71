//! SVG charts drawn by Leptos itself: rendered on the server (so they show before and without the WASM) and
//! hydrated for tooltips (on hover, or on focus from the keyboard) and legend toggles.
//!
//! Why not a chart library: leptos-chartistry, the maintained Leptos one, renders nothing on the server (it
//! waits for the browser to measure its box), has no legend toggles, and would add chrono and leptos-use to a
//! front end whose size the benchmark budget counts. Two chart kinds cover every figure here.

use leptos::prelude::*;

/// One line of points or one colour of bars; `key` picks its colour class (`s-{key}`) and names it in tests.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub key: &'static str,
    pub label: String,
    pub points: Vec<Point>,
}

/// For bar charts `x` is the index of the category.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    pub x: f64,
    pub y: f64,
    pub tip: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Points joined by a line, x numeric.
    Scatter,
    /// Grouped bars, one group per category.
    Bars,
}

const W: f64 = 720.0;
const H: f64 = 280.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 44.0;

/// The y axis: linear from zero, or logarithmic over whole decades (latencies span several).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Scale {
    log: bool,
    lo: f64,
    hi: f64,
}

impl Scale {
    fn of(values: impl Iterator<Item = f64>, log: bool) -> Self {
        let (mut lo, mut hi) = (f64::MAX, f64::MIN);
        for v in values {
            let v = if log { v.max(1.0) } else { v };
            lo = lo.min(v);
            hi = hi.max(v);
        }
        if lo > hi {
            (lo, hi) = (1.0, 10.0);
        }
        if log {
            let lo = 10f64.powf(lo.log10().floor());
            let hi = 10f64.powf(hi.log10().ceil()).max(lo * 10.0);
            Scale { log, lo, hi }
        } else {
            let step = nice_ceil((hi.max(1.0) / 5.0).max(1.0));
            Scale { log, lo: 0.0, hi: (hi.max(1.0) / step).ceil() * step }
        }
    }

    fn fraction(&self, v: f64) -> f64 {
        if self.log {
            (v.max(self.lo).log10() - self.lo.log10()) / (self.hi.log10() - self.lo.log10())
        } else {
            (v - self.lo) / (self.hi - self.lo)
        }
    }

    fn y(&self, v: f64) -> f64 {
        TOP + (H - TOP - BOTTOM) * (1.0 - self.fraction(v).clamp(0.0, 1.0))
    }

    fn ticks(&self) -> Vec<f64> {
        if self.log {
            let mut ticks = vec![];
            let mut decade = self.lo;
            while decade <= self.hi {
                ticks.extend([1.0, 2.0, 5.0].iter().map(|m| m * decade).filter(|&t| t <= self.hi));
                decade *= 10.0;
            }
            ticks
        } else {
            let step = nice_ceil((self.hi / 5.0).max(1.0));
            (0..).map(|i| i as f64 * step).take_while(|&t| t <= self.hi + step / 2.0).collect()
        }
    }
}

/// 1, 2 or 5 times a power of ten, at least `v`.
fn nice_ceil(v: f64) -> f64 {
    let decade = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * decade).find(|&n| n >= v).unwrap_or(v)
}

fn plot_width() -> f64 {
    W - LEFT - RIGHT
}

#[component]
pub fn Chart(
    /// The figure's id; its tooltip is `{id}-tip`.
    #[prop(into)]
    id: String,
    #[prop(into)] caption: String,
    #[prop(into)] series: Signal<Vec<Series>>,
    kind: Kind,
    /// Bar charts: the label of each group.
    #[prop(optional, into)]
    categories: Signal<Vec<String>>,
    log_y: bool,
    /// How tick labels show a y value.
    y_format: fn(f64) -> String,
    #[prop(into)] x_label: String,
) -> impl IntoView {
    let hidden = RwSignal::new(Vec::<&'static str>::new());
    let tip = RwSignal::new(None::<(f64, f64, String)>);
    let visible = Memo::new(move |_| {
        let hidden = hidden.get();
        series.get().into_iter().filter(|s| !hidden.contains(&s.key)).collect::<Vec<_>>()
    });
    let scale = Memo::new(move |_| visible.with(|v| Scale::of(v.iter().flat_map(|s| s.points.iter().map(|p| p.y)), log_y)));
    let tip_id = format!("{id}-tip");
    let aria = caption.clone();

    let legend = move || {
        series
            .get()
            .into_iter()
            .map(|s| {
                let key = s.key;
                let shown = move || !hidden.with(|h| h.contains(&key));
                let toggle = move |_| {
                    hidden.update(|h| match h.iter().position(|k| *k == key) {
                        Some(i) => {
                            h.remove(i);
                        }
                        None => h.push(key),
                    })
                };
                view! {
                    <button type="button" class=format!("legend-item s-{key}") data-series=key
                        aria-pressed=move || shown().to_string() title="Show or hide this series" on:click=toggle>
                        <span class="swatch"></span>{s.label}
                    </button>
                }
            })
            .collect_view()
    };

    let axis = move || {
        let scale = scale.get();
        scale
            .ticks()
            .into_iter()
            .map(|t| {
                let y = scale.y(t);
                view! {
                    <g class="tick">
                        <line x1=px(LEFT) x2=px(W - RIGHT) y1=px(y) y2=px(y)></line>
                        <text x=px(LEFT - 6.0) y=px(y + 4.0) text-anchor="end">{y_format(t)}</text>
                    </g>
                }
            })
            .collect_view()
    };

    let marks = move || match kind {
        Kind::Scatter => scatter(visible.get(), scale.get(), tip).into_any(),
        Kind::Bars => bars(visible.get(), series.with(|s| s.len()), categories.get(), scale.get(), tip).into_any(),
    };

    let tooltip = move || {
        tip.get().map(|(x, y, text)| {
            let width = 7.0 * text.chars().count() as f64 + 14.0;
            let tx = (x + 10.0).min(W - RIGHT - width).max(0.0);
            let ty = (y - 30.0).max(0.0);
            view! {
                <g class="tooltip" id=tip_id.clone() role="tooltip">
                    <rect x=px(tx) y=px(ty) width=px(width) height="22" rx="3"></rect>
                    <text x=px(tx + 7.0) y=px(ty + 15.0)>{text}</text>
                </g>
            }
        })
    };

    view! {
        <figure class="chart" id=id>
            <figcaption>{caption}</figcaption>
            <div class="legend" role="group" aria-label="Series: press to show or hide">{legend}</div>
            <svg viewBox=format!("0 0 {} {}", px(W), px(H)) role="img" aria-label=aria class="plot"
                on:mouseleave=move |_| tip.set(None) on:focusout=move |_| tip.set(None)>
                {axis}
                <line class="axis" x1=px(LEFT) x2=px(W - RIGHT) y1=px(H - BOTTOM) y2=px(H - BOTTOM)></line>
                <text class="axis-label" x=px(LEFT + plot_width() / 2.0) y=px(H - 4.0) text-anchor="middle">{x_label}</text>
                {marks}
                {tooltip}
            </svg>
        </figure>
    }
}

fn scatter(series: Vec<Series>, scale: Scale, tip: RwSignal<Option<(f64, f64, String)>>) -> impl IntoView {
    let (lo, hi) =
        series.iter().flat_map(|s| s.points.iter().map(|p| p.x)).fold((f64::MAX, f64::MIN), |(lo, hi), x| (lo.min(x), hi.max(x)));
    let span = if hi > lo { hi - lo } else { 1.0 };
    let x = move |v: f64| LEFT + 6.0 + (plot_width() - 12.0) * (v - lo) / span;
    let ends = (lo <= hi).then(|| {
        view! {
            <text class="category" x=px(x(lo)) y=px(H - BOTTOM + 16.0) text-anchor="start">{px(lo)}</text>
            <text class="category" x=px(x(hi)) y=px(H - BOTTOM + 16.0) text-anchor="end">{px(hi)}</text>
        }
    });
    let marks = series
        .into_iter()
        .map(|s| {
            let line: String = s.points.iter().map(|p| format!("{},{} ", px(x(p.x)), px(scale.y(p.y)))).collect();
            let dots = s
                .points
                .into_iter()
                .map(|p| {
                    let (cx, cy) = (x(p.x), scale.y(p.y));
                    let show = move || tip.set(Some((cx, cy, p.tip.clone())));
                    view! {
                        <circle class="point" cx=px(cx) cy=px(cy) r="3.5" tabindex="0"
                            on:mouseenter={let show = show.clone(); move |_| show()} on:focus=move |_| show()></circle>
                    }
                })
                .collect_view();
            view! {
                <g class=format!("series s-{}", s.key) data-series=s.key>
                    <polyline points=line fill="none"></polyline>
                    {dots}
                </g>
            }
        })
        .collect_view();
    view! { {ends} {marks} }
}

fn bars(
    series: Vec<Series>,
    all_series: usize,
    categories: Vec<String>,
    scale: Scale,
    tip: RwSignal<Option<(f64, f64, String)>>,
) -> impl IntoView {
    let groups = categories.len().max(1) as f64;
    let group = plot_width() / groups;
    let bar = group * 0.8 / all_series.max(1) as f64;
    // Label at most about eight groups so the text never overlaps.
    let every = categories.len().div_ceil(8).max(1);
    let labels = categories
        .into_iter()
        .enumerate()
        .filter(move |(i, _)| i % every == 0)
        .map(move |(i, label)| {
            let x = LEFT + group * (i as f64 + 0.5);
            view! { <text class="category" x=px(x) y=px(H - BOTTOM + 16.0) text-anchor="middle">{label}</text> }
        })
        .collect_view();
    let marks = series
        .into_iter()
        .enumerate()
        .map(|(slot, s)| {
            let rects = s
                .points
                .into_iter()
                .map(|p| {
                    let x = LEFT + group * p.x + group * 0.1 + bar * slot as f64;
                    let y = scale.y(p.y);
                    let height = (H - BOTTOM - y).max(0.0);
                    let show = move || tip.set(Some((x, y, p.tip.clone())));
                    view! {
                        <rect class="bar" x=px(x) y=px(y) width=px(bar.max(1.0)) height=px(height) tabindex="0"
                            on:mouseenter={let show = show.clone(); move |_| show()} on:focus=move |_| show()></rect>
                    }
                })
                .collect_view();
            view! { <g class=format!("series s-{}", s.key) data-series=s.key>{rects}</g> }
        })
        .collect_view();
    view! { {labels} {marks} }
}

/// Tick labels for microsecond values (ticks are 1, 2 or 5 times a power of ten).
pub fn format_ms_tick(us: f64) -> String {
    let us = us.round() as u64;
    match us {
        1000.. => format!("{} ms", us / 1000),
        100.. => format!("0.{} ms", us / 100),
        10.. => format!("0.0{} ms", us / 10),
        _ => format!("0.00{us} ms"),
    }
}

pub fn format_count_tick(n: f64) -> String {
    px(n).to_string()
}

/// Whole SVG units: coordinates written as integers keep float formatting out of the WASM.
fn px(v: f64) -> i64 {
    v.round() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_scale_spans_whole_decades_and_maps_ends_to_the_plot_edges() {
        let s = Scale::of([150.0, 42_000.0].into_iter(), true);
        assert_eq!((s.lo, s.hi), (100.0, 100_000.0));
        assert_eq!(s.y(100.0), H - BOTTOM);
        assert_eq!(s.y(100_000.0), TOP);
        assert!(s.ticks().contains(&200.0) && s.ticks().contains(&50_000.0));
    }

    #[test]
    fn tick_labels_read_as_milliseconds() {
        let labels: Vec<String> = [5.0, 20.0, 100.0, 500.0, 1000.0, 20_000.0].into_iter().map(format_ms_tick).collect();
        assert_eq!(labels, ["0.005 ms", "0.02 ms", "0.1 ms", "0.5 ms", "1 ms", "20 ms"]);
    }

    #[test]
    fn linear_scale_starts_at_zero_with_round_steps() {
        let s = Scale::of([3.0, 37.0].into_iter(), false);
        assert_eq!((s.lo, s.hi), (0.0, 40.0));
        assert_eq!(s.ticks(), vec![0.0, 10.0, 20.0, 30.0, 40.0]);
        let counts = Scale::of([7.0].into_iter(), false);
        assert_eq!(counts.ticks(), vec![0.0, 2.0, 4.0, 6.0, 8.0]);
        let big = Scale::of([1941.0].into_iter(), false);
        assert_eq!(big.ticks(), vec![0.0, 500.0, 1000.0, 1500.0, 2000.0]);
    }
}

/// One path's counts over a distribution's shared bucket edges.
#[derive(Clone, Debug, PartialEq)]
pub struct Histogram {
    pub key: &'static str,
    pub label: String,
    /// `counts[i]` samples fell at or below `edges[i]` (and above the edge before).
    pub counts: Vec<u64>,
}

/// How often each latency occurred, per path, as bars over shared buckets and as a table (its text
/// alternative). Used by Compare (its recorded runs) and Benchmark (a run's requests); `noun` names a sample.
#[component]
pub fn Distribution(id: &'static str, caption: &'static str, edges: Vec<u64>, paths: Vec<Histogram>, noun: &'static str) -> impl IntoView {
    let categories: Vec<String> = edges.iter().map(|&e| crate::stats::format_us(e).trim_end_matches(" ms").to_string()).collect();
    let series: Vec<Series> = paths
        .iter()
        .map(|h| Series {
            key: h.key,
            label: h.label.clone(),
            points: h
                .counts
                .iter()
                .enumerate()
                .filter(|(_, n)| **n > 0)
                .map(|(i, &n)| Point { x: i as f64, y: n as f64, tip: format!("{}: {n} {noun} ≤ {} ms", h.label, categories[i]) })
                .collect(),
        })
        .collect();
    let rows = categories
        .iter()
        .enumerate()
        .map(|(i, c)| view! { <tr><td>{c.clone()}</td>{paths.iter().map(|h| view! { <td>{h.counts[i]}</td> }).collect_view()}</tr> })
        .collect_view();
    view! {
        <Chart id=id caption=caption series=series kind=Kind::Bars categories=categories.clone() log_y=false
            y_format=format_count_tick x_label="server-side time, ms (each bar: up to that value)"/>
        <details class="text-alternative">
            <summary>"The distribution as a table"</summary>
            <table>
                <thead><tr><th>"Up to (ms)"</th>{paths.iter().map(|h| view! { <th>{h.label.clone()}</th> }).collect_view()}</tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </details>
    }
}
