//! The kafka workload's section of the report: per key, its offsets over time, who wrote which
//! offset when (a send's completion, coloured by node) and who read what (each poll's pairs,
//! hollow, by node), with every anomaly's window shaded over the keys it names.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use plotters::prelude::*;
use serde_json::Value as Json;

use super::charts::{axis_number, svg_chart};
use super::{HistoryLine, escape};

/// How many keys get a chart: those named by anomalies first, then the most written.
const KEYS_DRAWN: usize = 6;

/// One key's points: sends `(s, offset, node)` and polled pairs `(s, offset, node)`.
#[derive(Debug, Default)]
struct KeyPoints {
    sends: Vec<(f64, i64, String)>,
    polled: Vec<(f64, i64, String)>,
}

/// An anomaly's window over one key: its class and the span of its operations, in seconds.
type Window = (String, f64, f64);

fn points(history: &[HistoryLine]) -> BTreeMap<String, KeyPoints> {
    let mut keys: BTreeMap<String, KeyPoints> = BTreeMap::new();
    for line in history.iter().filter(|line| line.kind == "ok") {
        let at = line.time_ns as f64 / 1e9;
        let node = line.node.clone().unwrap_or_default();
        let Some(mop) = line.value.get(0) else {
            continue;
        };
        match line.f.as_str() {
            "send" => {
                let key = mop.get(1).and_then(Json::as_str);
                let offset = mop
                    .get(2)
                    .and_then(|pair| pair.get(0))
                    .and_then(Json::as_i64);
                if let (Some(key), Some(offset)) = (key, offset) {
                    keys.entry(key.to_owned())
                        .or_default()
                        .sends
                        .push((at, offset, node));
                }
            }
            "poll" => {
                for (key, pairs) in mop.get(1).and_then(Json::as_object).into_iter().flatten() {
                    let entry = keys.entry(key.clone()).or_default();
                    for pair in pairs.as_array().into_iter().flatten() {
                        if let Some(offset) = pair.get(0).and_then(Json::as_i64) {
                            entry.polled.push((at, offset, node.clone()));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    keys
}

/// Every anomaly case that names a key and operations, as a window over that key.
fn windows(workload: &Json) -> BTreeMap<String, Vec<Window>> {
    let mut windows: BTreeMap<String, Vec<Window>> = BTreeMap::new();
    for (class, cases) in workload["errors"].as_object().into_iter().flatten() {
        for case in cases["cases"].as_array().into_iter().flatten() {
            let Some(key) = case["key"].as_str() else {
                continue;
            };
            let times: Vec<f64> = case["ops"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|op| op["time_s"].as_f64())
                .collect();
            let (from, to) = times
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(low, high), t| {
                    (low.min(*t), high.max(*t))
                });
            let entry = windows.entry(key.to_owned()).or_default();
            if from.is_finite() {
                entry.push((class.clone(), from, to));
            } else {
                // A case without operations (unseen, duplicates) still names its key.
                entry.push((class.clone(), f64::NAN, f64::NAN));
            }
        }
    }
    windows
}

/// The section: a chart per chosen key, or a note when the run sent nothing.
pub(super) fn section(results: &Json, history: &[HistoryLine], end: f64) -> String {
    let keys = points(history);
    if keys.is_empty() {
        return "<h2>The logs</h2><p class=\"note\">No send or poll completed.</p>".into();
    }
    let windows = windows(&results["workload"]);
    let mut chosen: Vec<&String> = windows
        .keys()
        .filter(|key| keys.contains_key(*key))
        .collect();
    chosen.truncate(KEYS_DRAWN);
    let mut by_sends: Vec<(&String, usize)> = keys
        .iter()
        .filter(|(key, _)| !chosen.contains(key))
        .map(|(key, points)| (key, points.sends.len()))
        .collect();
    by_sends.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    for (key, _) in by_sends {
        if chosen.len() >= KEYS_DRAWN {
            break;
        }
        chosen.push(key);
    }
    let nodes: BTreeSet<&str> = keys
        .values()
        .flat_map(|points| points.sends.iter().chain(&points.polled))
        .map(|(_, _, node)| node.as_str())
        .collect();
    let nodes: Vec<&str> = nodes.into_iter().collect();
    let mut html = format!(
        "<h2>The logs</h2><p>{} keys were written or read; {} are drawn (those an anomaly names first, then the most written). Each chart is one key's log: a filled dot is a send acknowledged at that offset, when it completed; a hollow one is a poll that returned that offset; colours are nodes. Red bands are anomaly windows, from the first to the last operation a case names.</p>",
        keys.len(),
        chosen.len()
    );
    for key in chosen {
        let points = &keys[key];
        let key_windows = windows.get(key).map_or(&[][..], Vec::as_slice);
        let classes: BTreeSet<&str> = key_windows
            .iter()
            .map(|(class, _, _)| class.as_str())
            .collect();
        let _ = write!(
            html,
            "<h3>key {}</h3><p>{} sends, {} polled pairs{}.</p>{}",
            escape(key),
            points.sends.len(),
            points.polled.len(),
            if classes.is_empty() {
                String::new()
            } else {
                format!(
                    "; anomalies: {}",
                    escape(&classes.into_iter().collect::<Vec<_>>().join(", "))
                )
            },
            key_chart(points, key_windows, &nodes, end)
        );
    }
    html
}

fn key_chart(points: &KeyPoints, windows: &[Window], nodes: &[&str], end: f64) -> String {
    let top = points
        .sends
        .iter()
        .chain(&points.polled)
        .map(|(_, offset, _)| *offset)
        .max()
        .unwrap_or(0)
        .max(1) as f64
        + 0.5;
    let colour =
        |node: &str| Palette99::pick(nodes.iter().position(|n| *n == node).unwrap_or(0)).to_rgba();
    svg_chart((900, 220), |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(10)
            .x_label_area_size(32)
            .y_label_area_size(50)
            .build_cartesian_2d(0.0..end.max(0.1), -0.5..top)?;
        let band = RGBColor(220, 40, 40).mix(0.18);
        chart.draw_series(windows.iter().filter(|(_, from, _)| from.is_finite()).map(
            |(_, from, to)| {
                // At least a visible sliver for a case of one operation.
                let width = (end / 300.0).max(0.005);
                Rectangle::new([(*from - width, -0.5), (*to + width, top)], band.filled())
            },
        ))?;
        chart
            .configure_mesh()
            .x_desc("time, s")
            .y_desc("offset")
            .x_label_formatter(&|s| axis_number(*s))
            .y_label_formatter(&|offset| axis_number(*offset))
            .max_light_lines(1)
            .draw()?;
        for node in nodes {
            let sends: Vec<(f64, f64)> = points
                .sends
                .iter()
                .filter(|(_, _, by)| by == node)
                .map(|(at, offset, _)| (*at, *offset as f64))
                .collect();
            let polled: Vec<(f64, f64)> = points
                .polled
                .iter()
                .filter(|(_, _, by)| by == node)
                .map(|(at, offset, _)| (*at, *offset as f64))
                .collect();
            if sends.is_empty() && polled.is_empty() {
                continue;
            }
            let shade = colour(node);
            chart
                .draw_series(
                    polled
                        .iter()
                        .map(|point| Circle::new(*point, 4, shade.stroke_width(1))),
                )?
                .label(format!(
                    "{node}: {} sends, {} polled",
                    sends.len(),
                    polled.len()
                ))
                .legend(move |(x, y)| Circle::new((x + 6, y), 4, shade.filled()));
            chart.draw_series(
                sends
                    .iter()
                    .map(|point| Circle::new(*point, 3, shade.filled())),
            )?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperLeft)
            .draw()?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn line(time_ms: u64, kind: &str, f: &str, node: &str, value: Json) -> HistoryLine {
        HistoryLine {
            time_ns: time_ms * 1_000_000,
            process: json!(0),
            kind: kind.to_owned(),
            f: f.to_owned(),
            value,
            node: Some(node.to_owned()),
        }
    }

    #[test]
    fn keys_with_anomalies_come_first_and_their_windows_are_drawn() {
        let history = vec![
            line(10, "ok", "send", "n0", json!([["send", "1", [0, 5]]])),
            line(20, "ok", "send", "n1", json!([["send", "2", [0, 6]]])),
            line(25, "ok", "send", "n1", json!([["send", "2", [1, 7]]])),
            line(
                30,
                "ok",
                "poll",
                "n0",
                json!([["poll", {"1": [[0, 5]], "2": [[0, 6]]}]]),
            ),
        ];
        let keyed = points(&history);
        assert_eq!(keyed["2"].sends.len(), 2);
        assert_eq!(keyed["1"].polled, [(0.03, 0, "n0".to_owned())]);
        let results = json!({"workload": {"errors": {"lost-write": {"count": 1, "cases": [
            {"key": "1", "ops": [{"time_s": 0.01}, {"time_s": 0.03}]}
        ]}}}});
        let page = section(&results, &history, 0.1);
        let one = page.find("<h3>key 1</h3>").expect("key 1 drawn");
        let two = page.find("<h3>key 2</h3>").expect("key 2 drawn");
        assert!(one < two, "the key an anomaly names comes first");
        assert!(page.contains("anomalies: lost-write"));
        assert!(page.contains("<svg"));
    }
}
