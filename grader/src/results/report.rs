//! `report.html`: one self-contained page per run, made from the run's store (`results.json`,
//! `history.jsonl`, `journal.jsonl`), so `grader report STORE_DIR` draws the same page again.
//!
//! The page has no scripts and loads nothing: styles are inline and every chart is an inline
//! SVG drawn with the `plotters` crate (its SVG backend needs no fonts or system libraries; text
//! is left to the browser). Sections: the verdict and why, the configuration and the command
//! that repeats the run; latency of every operation over time, by kind and outcome, and the
//! stable-latency quantiles; messages per second, servers and clients, with partitions, kills,
//! pauses and crashes shaded; convergence after the heal, node by node; a Lamport diagram of
//! chosen windows (by default the first second of the main phase, and the second around the
//! first lost value when there is one); and the workload's own figures.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use plotters::prelude::*;
use serde::Deserialize;
use serde_json::Value as Json;
use serde_json::value::RawValue;

use crate::net::PROBE_PREFIX;

/// At most this many messages are drawn in one Lamport window; the rest are counted.
const LAMPORT_MAX: usize = 400;

/// One line of `history.jsonl`.
#[derive(Debug, Clone, Deserialize)]
struct HistoryLine {
    time_ns: u64,
    process: Json,
    #[serde(rename = "type")]
    kind: String,
    f: String,
    #[serde(default)]
    value: Json,
}

/// One line of `journal.jsonl`, its body left unparsed.
#[derive(Debug, Deserialize)]
struct JournalLine {
    t: u64,
    event: String,
    id: u64,
    src: Option<String>,
    dest: Option<String>,
    body: Option<Box<RawValue>>,
}

/// A message drawn in a Lamport window.
#[derive(Debug, Clone)]
struct Arrow {
    src: String,
    dest: String,
    sent_ns: u64,
    /// When it arrived, or was dropped (`dropped`), if it did either.
    end_ns: Option<u64>,
    dropped: bool,
    kind: String,
}

/// What the journal holds, boiled down to what the page draws.
#[derive(Debug, Default)]
struct Traffic {
    /// Sends per whole second: (servers, clients).
    per_second: BTreeMap<u64, (u64, u64)>,
    /// Per window, its arrows and how many more were left out.
    windows: Vec<(Vec<Arrow>, usize)>,
}

/// A shaded interval of the nemesis: (what, from s, to s).
type Shade = (String, f64, f64);

/// Writes `report.html` into the run's store folder `store` and returns its path. `windows`
/// (seconds from the start) replaces the default Lamport windows.
pub fn write_report(store: &Path, windows: Option<&[(f64, f64)]>) -> anyhow::Result<PathBuf> {
    let read = |name: &str| -> anyhow::Result<String> {
        let path = store.join(name);
        std::fs::read_to_string(&path).with_context(|| {
            format!(
                "cannot read {}: is {} a run's store folder (it holds results.json, history.jsonl and journal.jsonl)?",
                path.display(),
                store.display()
            )
        })
    };
    let results: Json = serde_json::from_str(&read("results.json")?)
        .with_context(|| format!("{} is not JSON", store.join("results.json").display()))?;
    let history: Vec<HistoryLine> = read("history.jsonl")?
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()
        .with_context(|| format!("{} has a line that is not a history entry", store.display()))?;
    let windows: Vec<(f64, f64)> = match windows {
        Some(windows) => windows.to_vec(),
        None => default_windows(&results, &history),
    };
    let journal = store.join("journal.jsonl");
    let traffic = read_traffic(&journal, &results, &windows)
        .with_context(|| format!("cannot read {}", journal.display()))?;
    let grade: Option<crate::grade::RecordedGrade> =
        match std::fs::read_to_string(store.join(crate::grade::GRADE_FILE)) {
            Ok(text) => Some(serde_json::from_str(&text).with_context(|| {
                format!(
                    "{} is damaged",
                    store.join(crate::grade::GRADE_FILE).display()
                )
            })?),
            Err(_) => None,
        };
    let page = render(&results, &history, &traffic, &windows, grade.as_ref());
    let path = store.join("report.html");
    std::fs::write(&path, page).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

fn node_ids(results: &Json) -> Vec<String> {
    let count = results["config"]["node_count"].as_u64().unwrap_or(0);
    (0..count).map(|n| format!("n{n}")).collect()
}

/// The first second of the main phase (from the first worker operation), and the second
/// around the invocation of the first lost value, if any.
fn default_windows(results: &Json, history: &[HistoryLine]) -> Vec<(f64, f64)> {
    let seconds = |ns: u64| ns as f64 / 1e9;
    let mut windows = Vec::new();
    if let Some(first) = history.iter().find(|line| line.process.is_u64()) {
        let start = seconds(first.time_ns);
        windows.push((start, start + 1.0));
    }
    let lost = results["workload"]["lost"]
        .as_array()
        .and_then(|lost| lost.first())
        .cloned();
    if let Some(value) = lost {
        let invoked = history
            .iter()
            .find(|line| line.kind == "invoke" && line.f != "read" && line.value == value);
        if let Some(line) = invoked {
            let at = seconds(line.time_ns);
            windows.push(((at - 0.5).max(0.0), at + 0.5));
        }
    }
    windows
}

fn read_traffic(path: &Path, results: &Json, windows: &[(f64, f64)]) -> anyhow::Result<Traffic> {
    let nodes = node_ids(results);
    let mut traffic = Traffic {
        windows: vec![(Vec::new(), 0); windows.len()],
        ..Traffic::default()
    };
    // Message id → (window, arrow index), for matching its arrival or drop.
    let mut open: HashMap<u64, (usize, usize)> = HashMap::new();
    let reader = BufReader::new(File::open(path)?);
    for line in reader.lines() {
        let line = line?;
        let Ok(event) = serde_json::from_str::<JournalLine>(&line) else {
            continue;
        };
        match event.event.as_str() {
            "send" => {
                let (Some(src), Some(dest)) = (event.src, event.dest) else {
                    continue;
                };
                if src.starts_with(PROBE_PREFIX) || dest.starts_with(PROBE_PREFIX) {
                    continue;
                }
                // Maelstrom's rule, as the harness counts: nodes and services are servers.
                let servers = !crate::net::is_client(&src) && !crate::net::is_client(&dest);
                let bucket = traffic
                    .per_second
                    .entry(event.t / 1_000_000_000)
                    .or_default();
                if servers {
                    bucket.0 += 1;
                } else {
                    bucket.1 += 1;
                }
                let at = event.t as f64 / 1e9;
                for (index, (from, to)) in windows.iter().enumerate() {
                    if at < *from || at >= *to {
                        continue;
                    }
                    let (arrows, left_out) = &mut traffic.windows[index];
                    if arrows.len() >= LAMPORT_MAX {
                        *left_out += 1;
                        continue;
                    }
                    let kind = event
                        .body
                        .as_ref()
                        .and_then(|body| serde_json::from_str::<Json>(body.get()).ok())
                        .and_then(|body| body["type"].as_str().map(str::to_owned))
                        .unwrap_or_default();
                    let lane = |id: String| {
                        if nodes.contains(&id) || crate::service::NAMES.contains(&id.as_str()) {
                            id
                        } else {
                            "clients".to_owned()
                        }
                    };
                    open.insert(event.id, (index, arrows.len()));
                    arrows.push(Arrow {
                        src: lane(src.clone()),
                        dest: lane(dest.clone()),
                        sent_ns: event.t,
                        end_ns: None,
                        dropped: false,
                        kind,
                    });
                }
            }
            "recv" | "drop" => {
                if let Some((window, index)) = open.remove(&event.id) {
                    let arrow = &mut traffic.windows[window].0[index];
                    arrow.end_ns = Some(event.t);
                    arrow.dropped = event.event == "drop";
                }
            }
            _ => {}
        }
    }
    Ok(traffic)
}

/// The nemesis's intervals from the history: partitions until healed, pauses until resumed,
/// kills until restarted, crashes until the end.
fn shades(history: &[HistoryLine], end: f64) -> Vec<Shade> {
    let mut shades = Vec::new();
    let mut open: BTreeMap<&str, f64> = BTreeMap::new();
    for line in history.iter().filter(|line| line.process == "nemesis") {
        let at = line.time_ns as f64 / 1e9;
        let (starts, ends) = match line.f.as_str() {
            "start_partition" => (Some("partition"), None),
            "stop_partition" => (None, Some("partition")),
            "pause" => (Some("pause"), None),
            "resume" => (None, Some("pause")),
            "kill" => (Some("kill"), None),
            "restart" => (None, Some("kill")),
            "crash" => (Some("crash"), None),
            _ => (None, None),
        };
        if let Some(what) = ends
            && let Some(from) = open.remove(what)
        {
            shades.push((what.to_owned(), from, at));
        }
        if let Some(what) = starts {
            open.entry(what).or_insert(at);
        }
    }
    shades.extend(
        open.into_iter()
            .map(|(what, from)| (what.to_owned(), from, end)),
    );
    shades
}

fn shade_colour(what: &str) -> RGBColor {
    match what {
        "partition" => RGBColor(230, 120, 30),
        "pause" => RGBColor(120, 80, 200),
        "kill" => RGBColor(200, 40, 40),
        _ => RGBColor(90, 90, 90),
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The drawing area of one chart.
type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

/// What drawing a chart returns.
type Drawn = Result<(), Box<dyn std::error::Error>>;

/// Draws one chart of `size` pixels into an SVG string, on white; a failure becomes a note on
/// the page instead.
fn svg_chart(size: (u32, u32), draw: impl FnOnce(&Area<'_>) -> Drawn) -> String {
    let mut svg = String::new();
    let outcome = {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE)
            .map_err(|error| error.to_string())
            .and_then(|()| draw(&root).map_err(|error| error.to_string()))
            .and_then(|()| root.present().map_err(|error| error.to_string()))
    };
    match outcome {
        Ok(()) => svg,
        Err(error) => draw_failed(error),
    }
}

/// Appends a table row: `name` as its heading, `value` as its cell, both escaped.
fn table_row(out: &mut String, name: &str, value: &str) {
    let _ = write!(
        out,
        "<tr><th>{}</th><td>{}</td></tr>",
        escape(name),
        escape(value)
    );
}

fn draw_failed(error: impl std::fmt::Display) -> String {
    format!(
        "<p class=\"note\">This chart could not be drawn: {}</p>",
        escape(&error.to_string())
    )
}

/// Every operation as a point: x its invocation, y its latency; a series per (f, outcome).
fn latency_chart(history: &[HistoryLine], shades: &[Shade], end: f64) -> String {
    let mut invoked: HashMap<String, (u64, String)> = HashMap::new();
    let mut points: BTreeMap<(String, String), Vec<(f64, f64)>> = BTreeMap::new();
    for line in history.iter().filter(|line| line.process.is_u64()) {
        let process = line.process.to_string();
        if line.kind == "invoke" {
            invoked.insert(process, (line.time_ns, line.f.clone()));
        } else if let Some((at, f)) = invoked.remove(&process) {
            let latency = (line.time_ns.saturating_sub(at)) as f64 / 1e6;
            points
                .entry((f, line.kind.clone()))
                .or_default()
                .push((at as f64 / 1e9, latency));
        }
    }
    if points.is_empty() {
        return "<p class=\"note\">No operation completed.</p>".into();
    }
    let max_latency = points
        .values()
        .flatten()
        .map(|(_, latency)| *latency)
        .fold(1.0, f64::max);
    svg_chart((900, 360), |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..end.max(0.1), (0.05..max_latency * 1.5).log_scale())?;
        // Labels are short numbers (axis_number), so the label area holds them beside the
        // axis title.
        draw_shades(&mut chart, shades, 0.05, max_latency * 1.5)?;
        chart
            .configure_mesh()
            .x_desc("invoked at, s")
            .y_desc("latency, ms (log)")
            .y_label_formatter(&|ms| axis_number(*ms))
            .y_labels(8)
            .max_light_lines(2)
            .draw()?;
        for (index, ((f, kind), series)) in points.iter().enumerate() {
            let colour = Palette99::pick(index).to_rgba();
            let label = format!("{f} {kind} ({})", series.len());
            let floor = |(x, y): (f64, f64)| (x, y.max(0.05));
            if kind == "ok" {
                chart
                    .draw_series(
                        series
                            .iter()
                            .map(|point| Circle::new(floor(*point), 2, colour.filled())),
                    )?
                    .label(label)
                    .legend(move |(x, y)| Circle::new((x + 6, y), 3, colour.filled()));
            } else {
                chart
                    .draw_series(
                        series
                            .iter()
                            .map(|point| Cross::new(floor(*point), 4, colour.stroke_width(2))),
                    )?
                    .label(label)
                    .legend(move |(x, y)| Cross::new((x + 6, y), 4, colour.stroke_width(2)));
            }
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperRight)
            .draw()?;
        Ok(())
    })
}

/// An axis label: a few significant digits, no float noise ("0.3", not "0.30000000000000004").
fn axis_number(value: f64) -> String {
    let digits = if value.abs() >= 10.0 {
        0
    } else if value.abs() >= 1.0 {
        1
    } else {
        2
    };
    let text = format!("{value:.digits$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

fn draw_shades<DB: DrawingBackend, X, Y>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<X, Y>>,
    shades: &[Shade],
    low: f64,
    high: f64,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    for (what, from, to) in shades {
        let colour = shade_colour(what);
        chart.draw_series(std::iter::once(Rectangle::new(
            [(*from, low), (*to, high)],
            colour.mix(0.15).filled(),
        )))?;
    }
    Ok(())
}

/// Sends per second, servers and clients, over the nemesis's shaded intervals.
fn traffic_chart(traffic: &Traffic, shades: &[Shade], end: f64) -> String {
    if traffic.per_second.is_empty() {
        return "<p class=\"note\">No message was sent.</p>".into();
    }
    let max = traffic
        .per_second
        .values()
        .map(|(servers, clients)| (*servers).max(*clients))
        .max()
        .unwrap_or(1) as f64
        * 1.15;
    svg_chart((900, 300), |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..end.max(1.0), 0.0..max.max(1.0))?;
        draw_shades(&mut chart, shades, 0.0, max.max(1.0))?;
        chart
            .configure_mesh()
            .x_desc("time, s")
            .y_desc("messages sent per second")
            .draw()?;
        for (label, colour, pick) in [("servers", BLUE, 0usize), ("clients", GREEN, 1)] {
            let colour: RGBAColor = colour.to_rgba();
            let series: Vec<(f64, f64)> = traffic
                .per_second
                .iter()
                .map(|(second, counts)| {
                    let count = if pick == 0 { counts.0 } else { counts.1 };
                    (*second as f64 + 0.5, count as f64)
                })
                .collect();
            chart
                .draw_series(LineSeries::new(series, colour.stroke_width(2)))?
                .label(label)
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 16, y)], colour.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperRight)
            .draw()?;
        Ok(())
    })
}

/// Horizontal bars: each node's convergence time.
fn convergence_chart(results: &Json) -> String {
    let convergence = &results["convergence"];
    let Some(per_node) = convergence["per_node_ms"]
        .as_object()
        .filter(|m| !m.is_empty())
    else {
        return "<p class=\"note\">No node-by-node convergence was measured in this run.</p>"
            .into();
    };
    let mut nodes: Vec<(String, f64)> = per_node
        .iter()
        .map(|(node, ms)| (node.clone(), ms.as_f64().unwrap_or(0.0)))
        .collect();
    if nodes.iter().all(|(_, ms)| *ms == 0.0) {
        return format!(
            "<p class=\"note converged-at-once\">Converged at once: all {} nodes held everything when it was first checked (0 ms), so there are no bars to draw.</p>",
            nodes.len()
        );
    }
    nodes.sort_by(|a, b| {
        let number = |id: &str| id.trim_start_matches('n').parse::<u64>().unwrap_or(0);
        number(&a.0).cmp(&number(&b.0))
    });
    let max = nodes.iter().map(|(_, ms)| *ms).fold(1.0, f64::max) * 1.1;
    let height = (40 + 18 * nodes.len()).clamp(120, 900) as u32;
    svg_chart((900, height), |root| {
        let count = nodes.len();
        let mut chart = ChartBuilder::on(root)
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..max, -0.5..count as f64 - 0.5)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(count.min(40) * 2 + 1)
            .y_label_formatter(&|y| {
                let index = y.round();
                if (y - index).abs() > 0.01 || index < 0.0 {
                    return String::new();
                }
                nodes
                    .get(index as usize)
                    .map(|(node, _)| node.clone())
                    .unwrap_or_default()
            })
            .x_desc("ms after the heal (or the end of operations) until the node held everything")
            .draw()?;
        chart.draw_series(nodes.iter().enumerate().map(|(index, (_, ms))| {
            Rectangle::new(
                [(0.0, index as f64 - 0.35), (*ms, index as f64 + 0.35)],
                BLUE.mix(0.6).filled(),
            )
        }))?;
        Ok(())
    })
}

/// Node lines down the page, time going down; each message a line from its sender at the
/// send to its receiver at the arrival, with a dot at the receiving end; dropped ones red,
/// ending in a cross; ones still in flight at the window's end run to its edge.
fn lamport_chart(results: &Json, arrows: &[Arrow], window: (f64, f64)) -> String {
    let mut lanes = vec!["clients".to_owned()];
    lanes.extend(node_ids(results));
    // A lane for each service the nodes talked to in this window.
    lanes.extend(
        crate::service::NAMES
            .iter()
            .filter(|service| {
                arrows
                    .iter()
                    .any(|arrow| arrow.src == **service || arrow.dest == **service)
            })
            .map(|service| (*service).to_owned()),
    );
    let lane = |id: &str| lanes.iter().position(|lane| lane == id).unwrap_or(0) as f64;
    let (from_ms, to_ms) = (window.0 * 1000.0, window.1 * 1000.0);
    let width = (120 + 70 * lanes.len()).clamp(400, 1800) as u32;
    // The plot's scale, near enough (the label areas and margins aside), for arrowheads of one
    // size whatever the window.
    let pixels_per_lane = f64::from(width.saturating_sub(90)) / lanes.len().max(1) as f64;
    let pixels_per_ms = 590.0 / (to_ms - from_ms).max(1e-6);
    svg_chart((width, 640), |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(70)
            .build_cartesian_2d(-0.5..lanes.len() as f64 - 0.5, to_ms..from_ms)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(lanes.len())
            .x_label_formatter(&|x| {
                let index = x.round();
                if (x - index).abs() > 0.01 || index < 0.0 {
                    return String::new();
                }
                lanes.get(index as usize).cloned().unwrap_or_default()
            })
            .y_desc("time, ms")
            .draw()?;
        chart.draw_series((0..lanes.len()).map(|index| {
            PathElement::new(
                [(index as f64, from_ms), (index as f64, to_ms)],
                BLACK.mix(0.35).stroke_width(1),
            )
        }))?;
        for arrow in arrows {
            let start = (lane(&arrow.src), arrow.sent_ns as f64 / 1e6);
            let end_ms = arrow
                .end_ns
                .map_or(to_ms, |ns| (ns as f64 / 1e6).min(to_ms));
            let end = (lane(&arrow.dest), end_ms);
            let colour = if arrow.dropped {
                RED.to_rgba()
            } else if arrow.src == "clients" || arrow.dest == "clients" {
                GREEN.mix(0.7)
            } else {
                BLUE.mix(0.7)
            };
            chart.draw_series(std::iter::once(PathElement::new(
                [start, end],
                colour.stroke_width(1),
            )))?;
            if arrows.len() <= 60 && !arrow.kind.is_empty() {
                // Few enough to name each message by its type, at its middle.
                let middle = ((start.0 + end.0) / 2.0, (start.1 + end.1) / 2.0);
                chart.draw_series(std::iter::once(Text::new(
                    arrow.kind.clone(),
                    middle,
                    ("sans-serif", 10).into_font().color(&BLACK.mix(0.7)),
                )))?;
            }
            if arrow.dropped {
                chart.draw_series(std::iter::once(Cross::new(end, 4, RED.stroke_width(2))))?;
            } else if arrow.end_ns.is_some() {
                chart.draw_series(std::iter::once(Circle::new(end, 2, colour.filled())))?;
                // An arrowhead shows the direction even when no time passes on the way (a
                // run at latency 0 draws every message flat).
                let head = arrowhead(start, end, pixels_per_lane, pixels_per_ms);
                for side in head {
                    chart.draw_series(std::iter::once(PathElement::new(
                        [end, side],
                        colour.stroke_width(1),
                    )))?;
                }
            }
        }
        Ok(())
    })
}

/// The two ends of an arrowhead's strokes at `end`, for a line from `start` (in lanes and ms),
/// 7 pixels long at 25 degrees either side of the line; none for a line of no length.
fn arrowhead(
    start: (f64, f64),
    end: (f64, f64),
    pixels_per_lane: f64,
    pixels_per_ms: f64,
) -> Vec<(f64, f64)> {
    let dx = (end.0 - start.0) * pixels_per_lane;
    let dy = (end.1 - start.1) * pixels_per_ms;
    let length = dx.hypot(dy);
    if length < 1e-9 {
        return Vec::new();
    }
    let (ux, uy) = (dx / length, dy / length);
    let (sin, cos) = 25f64.to_radians().sin_cos();
    [(cos, sin), (cos, -sin)]
        .into_iter()
        .map(|(c, s)| {
            // The line's direction turned by ±25°, pointing back from the end.
            let back_x = -(ux * c - uy * s) * 7.0;
            let back_y = -(ux * s + uy * c) * 7.0;
            (
                end.0 + back_x / pixels_per_lane,
                end.1 + back_y / pixels_per_ms,
            )
        })
        .collect()
}

/// The quantile maps of the workload section (`stable_latencies`, `remove_latencies`, …).
fn quantile_tables(workload: &Json) -> String {
    let mut html = String::new();
    let Some(fields) = workload.as_object() else {
        return html;
    };
    for (name, value) in fields {
        let Some(map) = value.as_object() else {
            continue;
        };
        let is_quantiles = !map.is_empty()
            && map
                .keys()
                .all(|key| key.parse::<f64>().is_ok_and(|q| (0.0..=1.0).contains(&q)));
        if !is_quantiles {
            continue;
        }
        let _ = write!(
            html,
            "<table class=\"quantiles\"><caption>{} (ms)</caption><tr>",
            escape(name)
        );
        for key in map.keys() {
            let _ = write!(html, "<th>{}</th>", escape(key));
        }
        html.push_str("</tr><tr>");
        for value in map.values() {
            let _ = write!(html, "<td>{value}</td>");
        }
        html.push_str("</tr></table>");
    }
    if html.is_empty() {
        html.push_str("<p class=\"note\">This workload reports no latency quantiles.</p>");
    }
    html
}

/// The workload's scalar figures as a table, and its lists (lost values and the like) each
/// in a collapsible block.
fn workload_figures(workload: &Json) -> String {
    let Some(fields) = workload.as_object() else {
        return "<p class=\"note\">No workload section.</p>".into();
    };
    let mut table = String::from("<table class=\"figures\">");
    let mut lists = String::new();
    for (name, value) in fields {
        match value {
            Json::Array(items) if items.is_empty() => {
                table_row(&mut table, name, "none");
            }
            Json::Array(_) | Json::Object(_) => {
                let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
                if text.len() > 6000 {
                    let cut = (0..=6000)
                        .rev()
                        .find(|i| text.is_char_boundary(*i))
                        .unwrap_or(0);
                    text.truncate(cut);
                    text.push_str("\n… (cut; results.json has it all)");
                }
                let _ = write!(
                    lists,
                    "<details><summary>{}</summary><pre>{}</pre></details>",
                    escape(name),
                    escape(&text)
                );
            }
            other => table_row(&mut table, name, &other.to_string()),
        }
    }
    table.push_str("</table>");
    table + &lists
}

fn render(
    results: &Json,
    history: &[HistoryLine],
    traffic: &Traffic,
    windows: &[(f64, f64)],
    grade: Option<&crate::grade::RecordedGrade>,
) -> String {
    let end = history
        .iter()
        .map(|line| line.time_ns)
        .max()
        .unwrap_or(0)
        .max(traffic.per_second.keys().max().copied().unwrap_or(0) * 1_000_000_000)
        as f64
        / 1e9;
    let shades = shades(history, end);
    let (verdict, class) = match &results["valid"] {
        Json::Bool(true) => ("valid", "valid"),
        Json::Bool(false) => ("invalid", "invalid"),
        _ => ("unknown", "unknown"),
    };
    let config = &results["config"];
    let workload_name = config["workload"].as_str().unwrap_or("?");
    let mut html = String::new();
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{} run: {verdict}</title><style>{STYLE}</style></head><body>",
        escape(workload_name)
    );
    let _ = write!(
        html,
        "<h1>{} run <span class=\"verdict {class}\" title=\"Maelstrom's verdict\">{}{verdict}</span>",
        escape(workload_name),
        if grade.is_some() { "Maelstrom: " } else { "" }
    );
    if let Some(grade) = grade {
        let (word, class) = if grade.passed {
            ("passes", "valid")
        } else {
            ("fails", "invalid")
        };
        let _ = write!(
            html,
            " <span class=\"verdict {class} grade\">{word} {}</span>",
            escape(&grade.stage)
        );
    }
    html.push_str("</h1>");
    let reasons: Vec<&str> = results["reasons"]
        .as_array()
        .map(|reasons| reasons.iter().filter_map(Json::as_str).collect())
        .unwrap_or_default();
    if let Some(grade) = grade {
        html.push_str(&grade_section(grade, verdict, reasons.is_empty()));
    }
    if reasons.is_empty() {
        if grade.is_none() {
            html.push_str("<p>Every check passed.</p>");
        }
    } else {
        html.push_str("<h2>Why</h2><ul class=\"reasons\">");
        for reason in reasons {
            let _ = write!(html, "<li>{}</li>", escape(reason));
        }
        html.push_str("</ul>");
    }
    let _ = write!(
        html,
        "<h2>Configuration</h2><p>Repeat it with:</p><pre class=\"command\">{}</pre><table class=\"figures\">",
        escape(results["reproduce"].as_str().unwrap_or(""))
    );
    if let Some(fields) = config.as_object() {
        for (name, value) in fields {
            table_row(&mut html, name, &value.to_string());
        }
    }
    html.push_str("</table>");
    let legend = shades_legend(&shades);
    let _ = write!(
        html,
        "<h2>Latency</h2><p>Every operation: when it was invoked and how long it took; dots completed ok, crosses failed or are unknown.{legend}</p>{}{}",
        latency_chart(history, &shades, end),
        quantile_tables(&results["workload"])
    );
    let net = &results["net"]["servers"];
    let _ = write!(
        html,
        "<h2>Messages</h2><p>Messages sent per second (the harness's probes left out). Servers sent {} messages in all, {} per operation.{legend}</p>{}",
        net["msg_count"],
        net["msgs_per_op"]
            .as_f64()
            .map_or("-".into(), |v| format!("{v:.2}")),
        traffic_chart(traffic, &shades, end)
    );
    let convergence = &results["convergence"];
    let _ = write!(
        html,
        "<h2>Convergence</h2><p>From {}: {} ms until every node held everything ({} of {} nodes converged).</p>{}",
        escape(convergence["from"].as_str().unwrap_or("-")),
        convergence["after_ms"]
            .as_u64()
            .map_or("never".into(), |ms| {
                if ms == 0 {
                    "0 (converged at once)".to_owned()
                } else {
                    ms.to_string()
                }
            }),
        convergence["nodes_converged"],
        config["node_count"],
        convergence_chart(results)
    );
    html.push_str("<h2>Messages between nodes</h2>");
    for ((arrows, left_out), window) in traffic.windows.iter().zip(windows) {
        let _ = write!(
            html,
            "<h3>{:.3} s to {:.3} s</h3><p>Time runs down; a line per node, one for all clients and one for each service the nodes used. Blue: between servers (nodes and services); green: to or from a client; red with a cross: dropped. {} messages drawn{}.</p>{}",
            window.0,
            window.1,
            arrows.len(),
            if *left_out > 0 {
                format!(", {left_out} more in this window left out")
            } else {
                String::new()
            },
            lamport_chart(results, arrows, *window)
        );
    }
    let _ = write!(
        html,
        "<h2>The workload's figures</h2>{}",
        workload_figures(&results["workload"])
    );
    html.push_str("</body></html>\n");
    html
}

/// The stage's judgement of the run: its verdict in a sentence, then every threshold with the
/// figure it bounds, the failed ones marked.
fn grade_section(grade: &crate::grade::RecordedGrade, verdict: &str, no_reasons: bool) -> String {
    let failed: Vec<&(String, String, Option<f64>, bool)> = grade
        .thresholds
        .iter()
        .filter(|(_, _, _, passed)| !passed)
        .collect();
    let mut html = String::new();
    let summary = match (grade.passed, no_reasons) {
        (true, _) => format!(
            "This run is part of {}'s grade (run <code>{}</code>) and passes it: Maelstrom's verdict is {verdict}, as it needs to be ({}), and every threshold holds.",
            escape(&grade.stage),
            escape(&grade.run),
            escape(&grade.expect_valid)
        ),
        (false, true) if !failed.is_empty() => format!(
            "Maelstrom's checks passed, but this run fails {}'s grade (run <code>{}</code>): {} of its {} thresholds failed.",
            escape(&grade.stage),
            escape(&grade.run),
            failed.len(),
            grade.thresholds.len()
        ),
        (false, _) => format!(
            "This run fails {}'s grade (run <code>{}</code>): the grade needs Maelstrom's verdict to be {} and it is {verdict}{}.",
            escape(&grade.stage),
            escape(&grade.run),
            escape(&grade.expect_valid),
            if failed.is_empty() {
                String::new()
            } else {
                format!(", and {} of its thresholds failed", failed.len())
            }
        ),
    };
    let _ = write!(
        html,
        "<h2>The stage's grade</h2><p class=\"grade-summary\">{summary}</p>"
    );
    if !grade.thresholds.is_empty() {
        html.push_str(
            "<table class=\"thresholds\"><tr><th>check</th><th>needs</th><th>measured</th><th>result</th></tr>",
        );
        for (words, needs, actual, passed) in &grade.thresholds {
            let _ = write!(
                html,
                "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                if *passed { "ok" } else { "failed" },
                escape(words),
                escape(needs),
                actual.map_or("missing".to_owned(), |value| format!("{value:.3}")),
                if *passed { "ok" } else { "FAIL" }
            );
        }
        html.push_str("</table>");
    }
    html
}

fn shades_legend(shades: &[Shade]) -> String {
    let mut kinds: Vec<&str> = shades.iter().map(|(what, _, _)| what.as_str()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    if kinds.is_empty() {
        return String::new();
    }
    let mut legend = String::from(" Shaded:");
    for kind in kinds {
        let RGBColor(r, g, b) = shade_colour(kind);
        let _ = write!(
            legend,
            " <span class=\"swatch\" style=\"background: rgba({r},{g},{b},0.25)\">{kind}</span>"
        );
    }
    legend.push('.');
    legend
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1000px;padding:0 1em;color:#222}\
h1{font-size:1.6em}h2{margin-top:1.6em;border-bottom:1px solid #ddd}\
.verdict{padding:.1em .5em;border-radius:.3em;color:#fff;font-size:.8em}\
.valid{background:#2a7a2a}.invalid{background:#b22}.unknown{background:#886}\
.reasons li{color:#922;margin:.3em 0}\
.thresholds tr.failed td{background:#fbe3e3;color:#922;font-weight:600}\
pre{background:#f6f6f6;padding:.6em;overflow-x:auto;font-size:.85em}\
table{border-collapse:collapse;margin:.6em 0}th,td{border:1px solid #ddd;padding:.2em .6em;text-align:left;font-size:.9em}\
.note{color:#666;font-style:italic}.swatch{padding:0 .4em;border-radius:.2em}\
svg{max-width:100%;height:auto;display:block;margin:.5em 0}";

#[cfg(test)]
mod tests {
    use super::*;

    fn line(time_ms: u64, process: Json, kind: &str, f: &str) -> HistoryLine {
        HistoryLine {
            time_ns: time_ms * 1_000_000,
            process,
            kind: kind.into(),
            f: f.into(),
            value: Json::Null,
        }
    }

    #[test]
    fn nemesis_intervals_close_on_their_ends_or_at_the_end_of_the_run() {
        let history = vec![
            line(1000, "nemesis".into(), "info", "start_partition"),
            line(2000, "nemesis".into(), "info", "pause"),
            line(3000, "nemesis".into(), "info", "stop_partition"),
            line(4000, "nemesis".into(), "info", "crash"),
        ];
        let shades = shades(&history, 9.0);
        assert_eq!(
            shades,
            [
                ("partition".to_owned(), 1.0, 3.0),
                ("crash".to_owned(), 4.0, 9.0),
                ("pause".to_owned(), 2.0, 9.0),
            ]
        );
    }

    #[test]
    fn text_from_the_run_is_escaped_and_quantile_maps_become_tables() {
        let workload = serde_json::json!({
            "stable_latencies": {"0": 1, "0.5": 20, "1": 90},
            "lost": [],
            "note": "<script>",
        });
        let figures = workload_figures(&workload);
        assert!(figures.contains("&lt;script&gt;") && !figures.contains("<script>"));
        assert!(quantile_tables(&workload).contains("<caption>stable_latencies (ms)</caption>"));
    }

    #[test]
    fn axis_labels_are_short_numbers_without_float_noise() {
        assert_eq!(axis_number(0.300_000_000_000_000_04), "0.3");
        assert_eq!(axis_number(0.05), "0.05");
        assert_eq!(axis_number(2.5), "2.5");
        assert_eq!(axis_number(100.0), "100");
        assert_eq!(axis_number(1.0), "1");
    }

    #[test]
    fn a_run_that_converged_at_once_says_so_rather_than_drawing_nothing() {
        let results = serde_json::json!({"convergence": {"per_node_ms": {"n0": 0, "n1": 0}}});
        let chart = convergence_chart(&results);
        assert!(chart.contains("Converged at once"), "{chart}");
        assert!(!chart.contains("<svg"), "{chart}");
        let slow = serde_json::json!({"convergence": {"per_node_ms": {"n0": 0, "n1": 300}}});
        assert!(convergence_chart(&slow).contains("<svg"));
    }

    #[test]
    fn a_message_that_takes_no_time_still_shows_its_direction() {
        // From lane 0 to lane 2 at the same instant: the head's strokes point back towards
        // lane 0, one above the line and one below it.
        let head = arrowhead((0.0, 100.0), (2.0, 100.0), 70.0, 0.6);
        assert_eq!(head.len(), 2);
        assert!(head.iter().all(|(x, _)| *x < 2.0 && *x > 1.8), "{head:?}");
        assert!(head[0].1 != head[1].1, "{head:?}");
        let back = arrowhead((2.0, 100.0), (0.0, 100.0), 70.0, 0.6);
        assert!(back.iter().all(|(x, _)| *x > 0.0), "{back:?}");
        assert!(arrowhead((1.0, 5.0), (1.0, 5.0), 70.0, 0.6).is_empty());
    }

    fn graded(passed: bool, thresholds: Vec<(String, String, Option<f64>, bool)>) -> String {
        let results = serde_json::json!({"valid": true, "reasons": [], "config": {"workload": "broadcast", "node_count": 1}});
        let grade = crate::grade::RecordedGrade {
            stage: "stage-04-batching".into(),
            run: "3e".into(),
            passed,
            expect_valid: "true".into(),
            thresholds,
        };
        render(&results, &[], &Traffic::default(), &[], Some(&grade))
    }

    #[test]
    fn a_run_that_fails_its_stage_says_so_beside_maelstroms_verdict() {
        let page = graded(
            false,
            vec![
                (
                    "values read that no client ever sent must be 0".into(),
                    "workload.unexpected_count = 0".into(),
                    Some(0.0),
                    true,
                ),
                (
                    "messages between nodes per client operation must be below 20".into(),
                    "servers msgs-per-op < 20".into(),
                    Some(27.9),
                    false,
                ),
            ],
        );
        assert!(page.contains("Maelstrom: valid"), "{page}");
        assert!(page.contains("fails stage-04-batching"), "{page}");
        assert!(!page.contains("Every check passed"), "{page}");
        assert!(
            page.contains("Maelstrom's checks passed, but this run fails stage-04-batching's grade (run <code>3e</code>): 1 of its 2 thresholds failed."),
            "{page}"
        );
        assert!(
            page.contains("<tr class=\"failed\"><td>messages between nodes per client operation must be below 20</td><td>servers msgs-per-op &lt; 20</td><td>27.900</td><td>FAIL</td></tr>"),
            "{page}"
        );
        let passing = graded(true, Vec::new());
        assert!(passing.contains("passes stage-04-batching"), "{passing}");
        assert!(!passing.contains("fails"), "{passing}");
    }
}
