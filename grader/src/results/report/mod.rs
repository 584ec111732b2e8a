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
//! first lost value when there is one); for kafka, each key's offsets over time with its
//! anomalies' windows; for lin-kv, a timeline of each key that is not linearizable; for the
//! transaction workloads, each anomaly with its cycles drawn as graphs; and the workload's own
//! figures.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use plotters::prelude::*;
use serde::Deserialize;
use serde_json::Value as Json;

use crate::net::{JournalEvent, PROBE_PREFIX};

mod charts;
mod kafka;
mod lin_kv;
mod txn;

use charts::{convergence_chart, lamport_chart, latency_chart, shade_colour, traffic_chart};

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
    #[serde(default)]
    node: Option<String>,
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
        let Some(event) = JournalEvent::parse(&line) else {
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

/// The nemesis's intervals from the history, each fault's as its registry entry opens and
/// closes them: partitions until healed, pauses until resumed, kills until restarted, crashes
/// until the end.
fn shades(history: &[HistoryLine], end: f64) -> Vec<Shade> {
    let mut shades = Vec::new();
    let mut open: BTreeMap<&str, f64> = BTreeMap::new();
    for line in history.iter().filter(|line| line.process == "nemesis") {
        let at = line.time_ns as f64 / 1e9;
        let opened = |entry: &&crate::nemesis::FaultEntry| entry.window.0 == line.f;
        let closed = |entry: &&crate::nemesis::FaultEntry| entry.window.1 == Some(line.f.as_str());
        let starts = crate::nemesis::REGISTRY
            .iter()
            .find(opened)
            .map(|entry| entry.name);
        let ends = crate::nemesis::REGISTRY
            .iter()
            .find(closed)
            .map(|entry| entry.name);
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

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
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
    if workload_name == "kafka" {
        html.push_str(&kafka::section(results, history, end));
    }
    if workload_name == "lin-kv" {
        html.push_str(&lin_kv::section(results, history, end));
    }
    if workload_name.starts_with("txn-") {
        html.push_str(&txn::section(results, history));
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
            node: None,
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
