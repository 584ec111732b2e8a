//! The lin-kv workload's section of the report: for each key that is not linearizable, a
//! timeline of the operations around the one no order can explain (a lane per process, each
//! operation a bar from invocation to completion, the impossible one in red), in the spirit of
//! Knossos's `linear.svg` and Porcupine's visualisation.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use plotters::prelude::*;
use serde_json::Value as Json;

use super::charts::{axis_number, svg_chart};
use super::{HistoryLine, escape};

/// How many failures get a timeline.
const DRAWN: usize = 3;

/// One bar: its lane, from and to (seconds), its label, and whether it is the stuck one.
#[derive(Debug, Clone, PartialEq)]
struct Bar {
    lane: String,
    from: f64,
    to: f64,
    label: String,
    stuck: bool,
}

/// What an operation did, from its completion's value: `read 3`, `write 1`, `cas 1→2`.
fn label(f: &str, value: &Json, kind: &str) -> String {
    let argument = value.get(1).cloned().unwrap_or(Json::Null);
    let text = match f {
        "cas" => format!(
            "cas {}→{}",
            argument.get(0).cloned().unwrap_or(Json::Null),
            argument.get(1).cloned().unwrap_or(Json::Null)
        ),
        _ => format!("{f} {argument}"),
    };
    if kind == "ok" {
        text
    } else {
        format!("{text} ({kind})")
    }
}

/// The bar of the operation completed at history position `index` (its invocation is the same
/// process's entry before it).
fn bar(history: &[HistoryLine], index: usize, stuck: bool, end: f64) -> Option<Bar> {
    let done = history.get(index)?;
    // An operation that never completed is named by its invocation.
    let invoke = if done.kind == "invoke" {
        done
    } else {
        history[..index]
            .iter()
            .rev()
            .find(|line| line.process == done.process && line.kind == "invoke")?
    };
    let (to, kind) = if done.kind == "invoke" {
        (end, "unknown")
    } else {
        (done.time_ns as f64 / 1e9, done.kind.as_str())
    };
    Some(Bar {
        lane: format!("process {}", done.process),
        from: invoke.time_ns as f64 / 1e9,
        to,
        label: label(&done.f, &done.value, kind),
        stuck,
    })
}

/// The section: a timeline per failure (the first few), or nothing when every key passed.
pub(super) fn section(results: &Json, history: &[HistoryLine], end: f64) -> String {
    let Some(failures) = results["workload"]["failures"].as_array() else {
        return String::new();
    };
    if failures.is_empty() {
        return String::new();
    }
    let mut html = format!(
        "<h2>Why it is not linearizable</h2><p>{} key(s) cannot be put in any order a register allows. For each (the first {DRAWN}), the operation no order explains, in red, with the operations before it that could be ordered and those overlapping it: a lane per process, each operation a bar from its invocation to its completion.</p>",
        failures.len()
    );
    for failure in failures.iter().take(DRAWN) {
        let index = |op: &Json| op["index"].as_u64().map(|index| index as usize);
        let mut bars: Vec<Bar> = Vec::new();
        let mut add = |op: &Json, stuck: bool| {
            if let Some(found) = index(op).and_then(|at| bar(history, at, stuck, end))
                && !bars
                    .iter()
                    .any(|known| known.from == found.from && known.lane == found.lane)
            {
                bars.push(found);
            }
        };
        add(&failure["stuck"], true);
        for op in failure["linearized_tail"].as_array().into_iter().flatten() {
            add(op, false);
        }
        for op in failure["concurrent"].as_array().into_iter().flatten() {
            add(op, false);
        }
        let _ = write!(
            html,
            "<h3>key {}</h3><p>{}</p>{}",
            escape(failure["key"].as_str().unwrap_or("?")),
            escape(failure["words"].as_str().unwrap_or("")),
            timeline(&bars)
        );
    }
    html
}

fn timeline(bars: &[Bar]) -> String {
    if bars.is_empty() {
        return "<p class=\"note\">The operations could not be found in the history.</p>".into();
    }
    let lanes: Vec<String> = {
        let mut lanes: BTreeMap<String, ()> = BTreeMap::new();
        for bar in bars {
            lanes.insert(bar.lane.clone(), ());
        }
        lanes.into_keys().collect()
    };
    let from = bars
        .iter()
        .map(|bar| bar.from)
        .fold(f64::INFINITY, f64::min);
    let to = bars
        .iter()
        .map(|bar| bar.to)
        .fold(f64::NEG_INFINITY, f64::max);
    let margin = ((to - from) * 0.05).max(0.001);
    // Room on the left for the lanes' names.
    let left = from - margin - (to - from + 2.0 * margin) * 0.12;
    let height = 60 + 40 * lanes.len() as u32;
    svg_chart((900, height), |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(10)
            .build_cartesian_2d(left..to + margin, 0.0..lanes.len() as f64)?;
        chart
            .configure_mesh()
            .x_desc("time, s")
            .x_label_formatter(&|s| axis_number(*s))
            .y_labels(0)
            .disable_y_mesh()
            .draw()?;
        for (lane, name) in lanes.iter().enumerate() {
            chart.draw_series(std::iter::once(Text::new(
                name.clone(),
                (left, lane as f64 + 0.6),
                ("sans-serif", 13).into_font(),
            )))?;
        }
        for bar in bars {
            let lane = lanes.iter().position(|lane| *lane == bar.lane).unwrap_or(0) as f64;
            let colour = if bar.stuck {
                RGBColor(210, 40, 40)
            } else {
                RGBColor(70, 110, 190)
            };
            chart.draw_series(std::iter::once(Rectangle::new(
                [
                    (bar.from, lane + 0.25),
                    (bar.to.max(bar.from + margin / 20.0), lane + 0.75),
                ],
                colour.mix(0.8).filled(),
            )))?;
            chart.draw_series(std::iter::once(Text::new(
                bar.label.clone(),
                (bar.from, lane + 0.95),
                ("sans-serif", 13).into_font().color(&colour),
            )))?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn line(time_ms: u64, process: u64, kind: &str, f: &str, value: Json) -> HistoryLine {
        HistoryLine {
            time_ns: time_ms * 1_000_000,
            process: json!(process),
            kind: kind.to_owned(),
            f: f.to_owned(),
            value,
            node: None,
        }
    }

    #[test]
    fn a_failure_is_drawn_as_bars_from_invocation_to_completion_the_stuck_one_red() {
        let history = vec![
            line(0, 0, "invoke", "write", json!([0, 1])),
            line(10, 0, "ok", "write", json!([0, 1])),
            line(20, 1, "invoke", "write", json!([0, 2])),
            line(30, 1, "ok", "write", json!([0, 2])),
            line(40, 0, "invoke", "read", json!([0, null])),
            line(50, 0, "ok", "read", json!([0, 1])),
        ];
        let stuck = bar(&history, 5, true, 1.0).unwrap();
        assert_eq!(
            stuck,
            Bar {
                lane: "process 0".into(),
                from: 0.04,
                to: 0.05,
                label: "read 1".into(),
                stuck: true
            }
        );
        assert_eq!(bar(&history, 3, false, 1.0).unwrap().label, "write 2");
        let results = json!({"workload": {"failures": [{
            "key": "0",
            "words": "key 0: no order explains the read",
            "stuck": {"index": 5},
            "linearized_tail": [{"index": 1}, {"index": 3}],
            "concurrent": []
        }]}});
        let page = section(&results, &history, 1.0);
        assert!(
            page.contains("<h3>key 0</h3>") && page.contains("<svg"),
            "{page}"
        );
        assert!(page.contains("read 1") && page.contains("write 2"));
        assert!(section(&json!({"workload": {"failures": []}}), &history, 1.0).is_empty());
    }
}
