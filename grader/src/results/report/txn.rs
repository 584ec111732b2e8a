//! The transaction workloads' section of the report: each anomaly type found, in words, and
//! for a cycle a small graph of it (its transactions on a ring, an arrow per dependency,
//! coloured by kind and labelled with its key), then the edges in words and each
//! transaction's micro-ops as it completed.

use std::f64::consts::PI;
use std::fmt::Write as _;

use serde_json::Value as Json;

use super::{HistoryLine, escape};

/// How many cycles are drawn in all, and how many of one type.
const DRAWN: usize = 6;
const DRAWN_PER_TYPE: usize = 2;
/// Cycles longer than this are told in words only.
const LONGEST_DRAWN: usize = 12;

/// The colour and dash of an edge kind.
fn stroke(kind: &str) -> (&'static str, &'static str) {
    match kind {
        "ww" => ("#1f63b4", ""),
        "wr" => ("#2a8a2a", ""),
        "rw" => ("#c62828", ""),
        _ => ("#777777", " stroke-dasharray=\"6 4\""),
    }
}

/// The section, or nothing when no anomaly was found.
pub(super) fn section(results: &Json, history: &[HistoryLine]) -> String {
    let workload = &results["workload"];
    let Some(anomalies) = workload["anomalies"].as_object() else {
        return String::new();
    };
    if anomalies.is_empty() {
        return String::new();
    }
    let strings = |field: &str| -> Vec<&str> {
        workload[field]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Json::as_str)
            .collect()
    };
    let (models, not) = (strings("models"), strings("not"));
    let invalid = workload["valid?"] == Json::Bool(false);
    let mut html = format!(
        "<h2>{}</h2><p>Anomalies found: {}. {} The checker's models: {}.</p>",
        if invalid {
            "Why the transactions are not valid"
        } else {
            "Transaction anomalies"
        },
        anomalies
            .iter()
            .map(|(kind, cases)| format!("{} ({})", escape(kind), cases["count"]))
            .collect::<Vec<_>>()
            .join(", "),
        if not.is_empty() {
            String::new()
        } else {
            format!(
                "They rule out {} and every stronger model.",
                escape(&not.join(", "))
            )
        },
        escape(&models.join(", "))
    );
    html.push_str("<p>In the graphs: <span style=\"color:#1f63b4\">ww</span> (wrote the version the next overwrote), <span style=\"color:#2a8a2a\">wr</span> (wrote what the next read), <span style=\"color:#c62828\">rw</span> (read a version the next overwrote), <span style=\"color:#777777\">realtime</span> (completed before the next began).</p>");
    let mut drawn = 0;
    for (kind, cases) in anomalies {
        let examples = cases["examples"].as_array().map_or(&[][..], Vec::as_slice);
        let _ = write!(html, "<h3>{} ({} found)</h3>", escape(kind), cases["count"]);
        let mut drawn_here = 0;
        for example in examples {
            let cycle = example["cycle"].as_array().map_or(&[][..], Vec::as_slice);
            let _ = write!(
                html,
                "<p>{}</p>",
                escape(example["words"].as_str().unwrap_or(""))
            );
            if cycle.is_empty() || drawn >= DRAWN || drawn_here >= DRAWN_PER_TYPE {
                continue;
            }
            drawn += 1;
            drawn_here += 1;
            if cycle.len() <= LONGEST_DRAWN {
                html.push_str(&graph(cycle));
            }
            html.push_str(&steps(cycle, example["ops"].as_array(), history));
        }
    }
    html
}

/// The cycle's edges and its transactions, as a list.
fn steps(cycle: &[Json], ops: Option<&Vec<Json>>, history: &[HistoryLine]) -> String {
    let mut html = String::from("<ol class=\"cycle\">");
    for (at, step) in cycle.iter().enumerate() {
        let text = |field: &str| escape(step[field].as_str().unwrap_or("?"));
        let op = ops.and_then(|ops| ops.get(at));
        let micro_ops = op
            .and_then(|op| op["index"].as_u64())
            .and_then(|index| history.get(index as usize))
            .map(|line| format!(" {}", escape(&line.value.to_string())))
            .unwrap_or_default();
        let who = op
            .map(|op| {
                format!(
                    " (process {}, via {}, {:.3} s)",
                    op["process"],
                    escape(op["node"].as_str().unwrap_or("?")),
                    op["time_s"].as_f64().unwrap_or(0.0)
                )
            })
            .unwrap_or_default();
        let _ = write!(
            html,
            "<li><b>{}</b>{who}{micro_ops}<br>{} <b>-{}-&gt;</b> {}: {} {}</li>",
            text("from"),
            text("from"),
            text("kind"),
            text("to"),
            text("from"),
            text("words"),
        );
    }
    html.push_str("</ol>");
    html
}

/// The cycle drawn: transactions on a ring in cycle order, an arrow for each step.
fn graph(cycle: &[Json]) -> String {
    let n = cycle.len();
    let radius = 70.0 + 18.0 * n as f64;
    let (width, height) = (2.0 * radius + 220.0, 2.0 * radius + 80.0);
    let (cx, cy) = (width / 2.0, height / 2.0);
    let node = 22.0;
    let at = |i: usize| {
        let angle = -PI / 2.0 + 2.0 * PI * i as f64 / n as f64;
        (cx + radius * angle.cos(), cy + radius * angle.sin())
    };
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"cycle-graph\" width=\"{width:.0}\" height=\"{height:.0}\" viewBox=\"0 0 {width:.0} {height:.0}\" font-family=\"sans-serif\" font-size=\"12\"><defs>"
    );
    for kind in ["ww", "wr", "rw", "realtime"] {
        let _ = write!(
            svg,
            "<marker id=\"arrow-{kind}\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"8\" markerHeight=\"8\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"{}\"/></marker>",
            stroke(kind).0
        );
    }
    svg.push_str("</defs>");
    for (i, step) in cycle.iter().enumerate() {
        let kind = step["kind"].as_str().unwrap_or("realtime");
        let (colour, dash) = stroke(kind);
        let ((x1, y1), (x2, y2)) = (at(i), at((i + 1) % n));
        // Each edge bends outward from the ring's centre, so the two edges of a two-cycle
        // stay apart.
        let (mx, my) = ((x1 + x2) / 2.0, (y1 + y2) / 2.0);
        let (ox, oy) = (mx - cx, my - cy);
        let out = (ox * ox + oy * oy).sqrt();
        let (ux, uy) = if out < 1.0 {
            // The chord passes through the centre (a two-cycle): bend to its side.
            let (dx, dy) = (x2 - x1, y2 - y1);
            let len = (dx * dx + dy * dy).sqrt().max(1.0);
            (dy / len, -dx / len)
        } else {
            (ox / out, oy / out)
        };
        let bend = 28.0;
        let (qx, qy) = (mx + ux * bend, my + uy * bend);
        // Start and end on the nodes' rims, heading to and from the control point.
        let trim = |(px, py): (f64, f64)| {
            let (dx, dy) = (qx - px, qy - py);
            let len = (dx * dx + dy * dy).sqrt().max(1.0);
            (px + dx / len * node, py + dy / len * node)
        };
        let ((sx, sy), (ex, ey)) = (trim((x1, y1)), trim((x2, y2)));
        let _ = write!(
            svg,
            "<path d=\"M{sx:.1},{sy:.1} Q{qx:.1},{qy:.1} {ex:.1},{ey:.1}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\"{dash} marker-end=\"url(#arrow-{kind})\"/>"
        );
        let label = match step["key"].as_str() {
            Some(key) => format!("{kind} key {key}"),
            None => kind.to_owned(),
        };
        let (lx, ly) = (mx + ux * (bend + 14.0), my + uy * (bend + 14.0));
        let _ = write!(
            svg,
            "<text x=\"{lx:.1}\" y=\"{ly:.1}\" text-anchor=\"middle\" dominant-baseline=\"middle\" fill=\"{colour}\">{}</text>",
            escape(&label)
        );
    }
    for (i, step) in cycle.iter().enumerate() {
        let (x, y) = at(i);
        let _ = write!(
            svg,
            "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"{node}\" fill=\"#ffffff\" stroke=\"#333333\" stroke-width=\"1.5\"/><text x=\"{x:.1}\" y=\"{y:.1}\" text-anchor=\"middle\" dominant-baseline=\"central\" font-weight=\"bold\">{}</text>",
            escape(step["from"].as_str().unwrap_or("?"))
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn line(value: Json) -> HistoryLine {
        HistoryLine {
            time_ns: 0,
            process: json!(0),
            kind: "ok".into(),
            f: "txn".into(),
            value,
            node: Some("n0".into()),
        }
    }

    #[test]
    fn a_cycle_is_drawn_as_a_ring_with_an_arrow_and_a_label_per_edge_and_its_steps_listed() {
        let results = json!({"workload": {
            "valid?": false,
            "models": ["serializable"],
            "not": ["repeatable-read"],
            "anomalies": {
                "G2-item": {"count": 1, "examples": [{
                    "words": "2 transactions in a cycle",
                    "ops": [
                        {"index": 0, "process": 0, "node": "n0", "f": "txn", "time_s": 0.1},
                        {"index": 1, "process": 1, "node": "n1", "f": "txn", "time_s": 0.2},
                    ],
                    "cycle": [
                        {"from": "T0", "kind": "rw", "to": "T1", "key": "1", "words": "read key 1 as []"},
                        {"from": "T1", "kind": "rw", "to": "T0", "key": "2", "words": "read key 2 as []"},
                    ],
                }]},
                "G1a": {"count": 3, "examples": [{"words": "an aborted write <was> seen", "ops": []}]},
            },
        }});
        let history = [
            line(json!([["r", 1, []], ["append", 2, 1]])),
            line(json!([["r", 2, []], ["append", 1, 1]])),
        ];
        let html = section(&results, &history);
        assert!(
            html.contains("Why the transactions are not valid"),
            "{html}"
        );
        assert!(html.contains("G2-item (1), G1a (3)") || html.contains("G1a (3), G2-item (1)"));
        assert!(html.contains("rule out repeatable-read"));
        assert_eq!(html.matches("<svg").count(), 1, "one cycle, one graph");
        assert_eq!(html.matches("<circle").count(), 2);
        assert_eq!(html.matches("marker-end=").count(), 2, "an arrow per edge");
        assert!(html.contains(">rw key 1</text>") && html.contains(">rw key 2</text>"));
        assert!(
            html.contains("[[&quot;r&quot;,1,[]],[&quot;append&quot;,2,1]]")
                || html.contains("[[\"r\",1,[]],[\"append\",2,1]]")
        );
        assert!(html.contains("T0 <b>-rw-&gt;</b> T1: T0 read key 1 as []"));
        // Words from the run are escaped; cases without a cycle are told, not drawn.
        assert!(html.contains("an aborted write &lt;was&gt; seen"));
        // The two edges of a two-cycle bend to opposite sides, so they do not overlap.
        let paths: Vec<&str> = html
            .match_indices(" Q")
            .map(|(at, _)| &html[at..at + 12])
            .collect();
        assert_eq!(paths.len(), 2);
        assert_ne!(paths[0], paths[1]);
    }

    #[test]
    fn nothing_found_draws_nothing() {
        let results = json!({"workload": {"valid?": true, "anomalies": {}}});
        assert_eq!(section(&results, &[]), "");
    }
}
