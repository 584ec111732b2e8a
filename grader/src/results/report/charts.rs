//! The report page's charts, each an inline SVG drawn with plotters: latency over time,
//! messages per second, convergence node by node, and the Lamport diagram of messages.

use std::collections::{BTreeMap, HashMap};

use plotters::prelude::*;
use serde_json::Value as Json;

use super::{Arrow, HistoryLine, Shade, Traffic, escape, node_ids};

/// A fault's shade, from its registry entry.
pub(super) fn shade_colour(what: &str) -> RGBColor {
    let (red, green, blue) =
        crate::nemesis::Fault::named(what).map_or((90, 90, 90), |fault| fault.entry().shade);
    RGBColor(red, green, blue)
}

/// The drawing area of one chart.
pub(super) type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

/// What drawing a chart returns.
pub(super) type Drawn = Result<(), Box<dyn std::error::Error>>;

/// Draws one chart of `size` pixels into an SVG string, on white; a failure becomes a note on
/// the page instead.
pub(super) fn svg_chart(size: (u32, u32), draw: impl FnOnce(&Area<'_>) -> Drawn) -> String {
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

pub(super) fn draw_failed(error: impl std::fmt::Display) -> String {
    format!(
        "<p class=\"note\">This chart could not be drawn: {}</p>",
        escape(&error.to_string())
    )
}

/// Every operation as a point: x its invocation, y its latency; a series per (f, outcome).
pub(super) fn latency_chart(history: &[HistoryLine], shades: &[Shade], end: f64) -> String {
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
pub(super) fn axis_number(value: f64) -> String {
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
pub(super) fn traffic_chart(traffic: &Traffic, shades: &[Shade], end: f64) -> String {
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
pub(super) fn convergence_chart(results: &Json) -> String {
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
pub(super) fn lamport_chart(results: &Json, arrows: &[Arrow], window: (f64, f64)) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
