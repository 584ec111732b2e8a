//! `cargo xtask compare`: the track's approaches side by side, measured by the harness in the
//! simulation, never written by hand. The broadcast stages run one configuration (the same
//! nodes, rate and latency for all), calm, under partitions and under crash-stop; the CRDT
//! stages run their own graded workloads from `grading.toml`. Prints the tables (or Markdown,
//! for the README, where a test holds the table to a fresh run), and writes JSON and an SVG of
//! messages against latency on request. Seeded, so the same seed gives the same figures.

use std::path::Path;

use grader::config::TestConfig;
use grader::manifest::Manifest;
use grader::plan::Plan;
use plotters::prelude::*;
use serde::Serialize;
use serde_json::Value as Json;

use crate::plot::{draw_error, finish};

/// The broadcast configuration every broadcast stage runs, before the scenario's faults.
pub const BROADCAST: &str =
    "-w broadcast --node-count 10 --rate 20 --latency 20 --time-limit 10 --recovery 5";

/// The scenarios: a name and the flags they add.
pub const SCENARIOS: &[(&str, &str)] = &[
    ("calm", ""),
    ("partitions", "--nemesis partition --nemesis-interval 3"),
    ("crash-stop", "--nemesis crash --nemesis-interval 3"),
];

/// One broadcast stage in one scenario.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BroadcastRow {
    /// The stage.
    pub stage: String,
    /// What it does, from the manifest.
    pub approach: String,
    /// The scenario's name.
    pub scenario: String,
    /// The verdict: `true`, `false` or `unknown`.
    pub valid: String,
    /// Messages between nodes per client operation.
    pub msgs_per_op: f64,
    /// Median time from a broadcast's acknowledgement to every node holding it, ms.
    pub median_ms: Option<f64>,
    /// The same, the slowest value, ms.
    pub max_ms: Option<f64>,
    /// Deliveries of a value the node already had.
    pub duplicates: u64,
    /// Bytes sent between nodes, KiB.
    pub kib: f64,
    /// Acknowledged values missing at the end.
    pub lost: u64,
    /// The common mistakes the grader recognised in the run (by key).
    pub mistakes: Vec<String>,
}

/// One CRDT stage on one of its graded workloads.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CrdtRow {
    /// The stage.
    pub stage: String,
    /// The graded run it repeats.
    pub run: String,
    /// Its workload (and options).
    pub workload: String,
    /// The verdict.
    pub valid: String,
    /// Acknowledged writes or values the final reads do not hold.
    pub lost: Option<u64>,
    /// Concurrent writes kept side by side (version vectors' siblings).
    pub conflicts: Option<u64>,
    /// Removed elements that came back.
    pub resurrected: Option<u64>,
    /// Time from the heal until every node agreed, ms.
    pub converged_ms: Option<u64>,
    /// Messages between nodes per client operation.
    pub msgs_per_op: f64,
}

/// Everything `compare` measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// The seed of every run.
    pub seed: u64,
    /// The broadcast configuration.
    pub broadcast_config: String,
    /// The broadcast stages, stage by stage, each in every scenario.
    pub broadcast: Vec<BroadcastRow>,
    /// The CRDT stages.
    pub crdt: Vec<CrdtRow>,
}

fn verdict(results: &Json) -> String {
    match &results["valid"] {
        Json::Bool(valid) => valid.to_string(),
        other => other.as_str().unwrap_or("?").to_owned(),
    }
}

fn number(results: &Json, pointer: &str) -> Option<f64> {
    results.pointer(pointer).and_then(Json::as_f64)
}

fn count(results: &Json, pointer: &str) -> Option<u64> {
    results.pointer(pointer).and_then(Json::as_u64)
}

/// Runs every comparison with `seed`.
pub fn compare(root: &Path, manifest: &Manifest, seed: u64) -> anyhow::Result<Comparison> {
    let mut broadcast = Vec::new();
    let stages = manifest.stages.iter().filter(|stage| {
        stage.workload.as_deref() == Some("broadcast")
            && crate::sim::SIMULATED.contains(&stage.name.as_str())
    });
    for stage in stages {
        for (scenario, flags) in SCENARIOS {
            let config = TestConfig::parse_command(&format!("{BROADCAST} {flags} --seed {seed}"))
                .map_err(anyhow::Error::msg)?;
            let results = crate::sim::simulate_in_memory(&stage.name, &config, &[])?;
            broadcast.push(BroadcastRow {
                stage: stage.name.clone(),
                approach: stage.summary.clone(),
                scenario: (*scenario).to_owned(),
                valid: verdict(&results),
                msgs_per_op: number(&results, "/net/servers/msgs_per_op").unwrap_or(0.0),
                median_ms: number(&results, "/workload/stable_latencies/0.5"),
                max_ms: number(&results, "/workload/stable_latencies/1"),
                duplicates: count(&results, "/net/duplicate_deliveries").unwrap_or(0),
                kib: number(&results, "/net/servers/bytes").unwrap_or(0.0) / 1024.0,
                lost: count(&results, "/workload/lost_count").unwrap_or(0),
                mistakes: results["mistakes"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|mistake| mistake["key"].as_str().map(str::to_owned))
                    .collect(),
            });
        }
    }
    let plan = Plan::load(&root.join("grading.toml"))?;
    let mut crdt = Vec::new();
    let stages = manifest.stages.iter().filter(|stage| {
        matches!(
            stage.workload.as_deref(),
            Some("g-set" | "two-phase-set" | "lww-kv" | "concurrent-writers")
        )
    });
    for stage in stages {
        for run in plan.runs_for(&stage.name) {
            let mut config = plan.config(run)?;
            config.seed = seed;
            let results = crate::sim::simulate_in_memory(&stage.name, &config, &run.node_args)?;
            let workload = match run
                .settings
                .get("workload_options")
                .and_then(|v| v.as_str())
            {
                Some(options) => format!("{} ({options})", config.workload),
                None => config.workload.clone(),
            };
            crdt.push(CrdtRow {
                stage: stage.name.clone(),
                run: run.name.clone(),
                workload,
                valid: verdict(&results),
                lost: count(&results, "/workload/lost_write_count")
                    .or_else(|| count(&results, "/workload/lost_count")),
                conflicts: count(&results, "/workload/conflict_count"),
                resurrected: count(&results, "/workload/resurrected_count"),
                converged_ms: count(&results, "/convergence/after_ms"),
                msgs_per_op: number(&results, "/net/servers/msgs_per_op").unwrap_or(0.0),
            });
        }
    }
    Ok(Comparison {
        seed,
        broadcast_config: BROADCAST.to_owned(),
        broadcast,
        crdt,
    })
}

fn or_dash<T: std::fmt::Display>(value: Option<T>) -> String {
    value.map_or_else(|| "-".to_owned(), |value| value.to_string())
}

/// The broadcast table's columns; those from `FIRST_NUMBER` on are figures.
const BROADCAST_HEAD: [&str; 11] = [
    "stage",
    "approach",
    "scenario",
    "valid",
    "msgs-per-op",
    "median ms",
    "max ms",
    "duplicates",
    "KiB",
    "lost",
    "mistake recognised",
];

/// The CRDT table's columns.
const CRDT_HEAD: [&str; 9] = [
    "stage",
    "run",
    "workload",
    "valid",
    "lost",
    "conflicts kept",
    "resurrected",
    "converged ms",
    "msgs-per-op",
];

/// The first column holding a figure (right-aligned), in both tables.
const FIRST_NUMBER: usize = 4;

fn broadcast_cells(row: &BroadcastRow) -> Vec<String> {
    vec![
        row.stage.clone(),
        row.approach.clone(),
        row.scenario.clone(),
        row.valid.clone(),
        format!("{:.2}", row.msgs_per_op),
        or_dash(row.median_ms.map(f64::round)),
        or_dash(row.max_ms.map(f64::round)),
        row.duplicates.to_string(),
        format!("{:.0}", row.kib),
        row.lost.to_string(),
        if row.mistakes.is_empty() {
            "-".to_owned()
        } else {
            row.mistakes.join(", ")
        },
    ]
}

fn crdt_cells(row: &CrdtRow) -> Vec<String> {
    vec![
        row.stage.clone(),
        row.run.clone(),
        row.workload.clone(),
        row.valid.clone(),
        or_dash(row.lost),
        or_dash(row.conflicts),
        or_dash(row.resurrected),
        or_dash(row.converged_ms),
        format!("{:.2}", row.msgs_per_op),
    ]
}

/// One table: Markdown (`| a | b |`, figures right-aligned), or aligned columns for a terminal.
fn render(head: &[&str], rows: &[Vec<String>], markdown: bool) -> String {
    let mut out = String::new();
    if markdown {
        let line = |cells: &[String]| format!("| {} |\n", cells.join(" | "));
        out.push_str(&line(
            &head.iter().map(|h| (*h).to_owned()).collect::<Vec<_>>(),
        ));
        let rule: Vec<String> = (0..head.len())
            .map(|at| if at < FIRST_NUMBER { "---" } else { "---:" }.to_owned())
            .collect();
        out.push_str(&format!("|{}|\n", rule.join("|")));
        for row in rows {
            out.push_str(&line(row));
        }
        return out;
    }
    let widths: Vec<usize> = (0..head.len())
        .map(|at| {
            rows.iter()
                .map(|row| row[at].chars().count())
                .chain([head[at].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(at, (cell, width))| {
                if at < FIRST_NUMBER {
                    format!("{cell:<width$}")
                } else {
                    format!("{cell:>width$}")
                }
            })
            .collect();
        format!("  {}\n", padded.join("  ").trim_end())
    };
    out.push_str(&line(head.to_vec()));
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

/// The comparison as text: Markdown tables (what the README shows) or a terminal's columns.
pub fn render_comparison(comparison: &Comparison, markdown: bool) -> String {
    let broadcast: Vec<Vec<String>> = comparison.broadcast.iter().map(broadcast_cells).collect();
    let crdt: Vec<Vec<String>> = comparison.crdt.iter().map(crdt_cells).collect();
    let gap = if markdown { "\n" } else { "" };
    format!(
        "Broadcast, `{} --seed {}`, in the simulation; latency is Maelstrom's stable latency, from a broadcast's acknowledgement until every read shows it (reads are sparse at this rate, so a fast protocol reads 0):\n{gap}{}{gap}The CRDT stages on their own graded runs (`grading.toml`, seed {}):\n{gap}{}",
        comparison.broadcast_config,
        comparison.seed,
        render(&BROADCAST_HEAD, &broadcast, markdown),
        comparison.seed,
        render(&CRDT_HEAD, &crdt, markdown),
    )
}

/// The comparison as Markdown tables (what the README shows).
pub fn markdown(comparison: &Comparison) -> String {
    render_comparison(comparison, true)
}

/// The comparison as the terminal shows it.
pub fn table(comparison: &Comparison) -> String {
    render_comparison(comparison, false)
}

/// Draws messages per operation against median latency, one colour per scenario, each point a
/// broadcast stage labelled by its number.
pub fn plot(comparison: &Comparison, path: &Path) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (760, 460)).into_drawing_area();
    root.fill(&WHITE).map_err(draw_error)?;
    let points: Vec<(&BroadcastRow, f64)> = comparison
        .broadcast
        .iter()
        .filter_map(|row| Some((row, row.median_ms?)))
        .collect();
    let max_x = points
        .iter()
        .map(|(row, _)| row.msgs_per_op)
        .fold(1.0, f64::max)
        * 1.1;
    let max_y = points.iter().map(|(_, ms)| *ms).fold(1.0, f64::max) * 1.1;
    let mut chart = ChartBuilder::on(&root)
        .caption("Broadcast: messages against latency", ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..max_x, 0.0..max_y)
        .map_err(draw_error)?;
    chart
        .configure_mesh()
        .x_desc("messages between nodes per operation")
        .y_desc("median stable latency, ms")
        .draw()
        .map_err(draw_error)?;
    let colours = [BLUE, RED, GREEN];
    for ((scenario, _), colour) in SCENARIOS.iter().zip(colours) {
        let here: Vec<(f64, f64, String)> = points
            .iter()
            .filter(|(row, _)| row.scenario == *scenario)
            .map(|(row, ms)| {
                let number = row.stage.get(6..8).unwrap_or("?").to_owned();
                (row.msgs_per_op, *ms, number)
            })
            .collect();
        chart
            .draw_series(
                here.iter()
                    .map(|(x, y, _)| Circle::new((*x, *y), 4, colour.filled())),
            )
            .map_err(draw_error)?
            .label(*scenario)
            .legend(move |(x, y)| Circle::new((x + 8, y), 4, colour.filled()));
        chart
            .draw_series(here.iter().map(|(x, y, label)| {
                Text::new(label.clone(), (*x, *y), ("sans-serif", 12).into_font())
            }))
            .map_err(draw_error)?;
    }
    finish(chart, &root, SeriesLabelPosition::UpperRight)
}

/// The README's comparison block: between these markers, exactly what `markdown` prints.
pub const README_BEGIN: &str = "<!-- compare: begin -->";
/// Its end.
pub const README_END: &str = "<!-- compare: end -->";

/// Fails, saying what to do, unless README.md's comparison block is `comparison`'s Markdown.
pub fn check_readme(root: &Path, comparison: &Comparison) -> anyhow::Result<()> {
    let readme = std::fs::read_to_string(root.join("README.md"))?;
    let shown = readme_block(&readme).ok_or_else(|| {
        anyhow::anyhow!("README.md has no block between {README_BEGIN} and {README_END}")
    })?;
    let fresh = markdown(comparison);
    anyhow::ensure!(
        shown == fresh.trim_matches('\n'),
        "README.md's comparison differs from a fresh run: paste `cargo xtask compare --markdown` between its markers"
    );
    Ok(())
}

/// The block between the markers in `readme`, if both are there.
pub fn readme_block(readme: &str) -> Option<&str> {
    let start = readme.find(README_BEGIN)? + README_BEGIN.len();
    let end = readme[start..].find(README_END)? + start;
    Some(readme[start..end].trim_matches('\n'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readmes_comparison_is_what_a_fresh_run_measures() {
        let root = crate::workspace_root();
        let manifest = crate::manifest().unwrap();
        let comparison = compare(&root, &manifest, 1).unwrap();
        // Every broadcast stage in every scenario, and the CRDT stages' graded runs.
        assert!(comparison.broadcast.len() >= 3 * 10);
        // The recognised mistakes: never on a valid run of a reference node, and never
        // re-sending is named where a reference node that sends once meets partitions.
        for row in &comparison.broadcast {
            assert!(
                row.valid != "true" || row.mistakes.is_empty(),
                "{} {}: a valid run named {:?}",
                row.stage,
                row.scenario,
                row.mistakes
            );
        }
        assert!(
            comparison
                .broadcast
                .iter()
                .any(|row| row.stage == "stage-01-flooding"
                    && row.scenario == "partitions"
                    && row.mistakes == ["never-resend"])
        );
        assert!(comparison.crdt.iter().any(|row| row.run == "vv"));
        if let Err(error) = check_readme(&root, &comparison) {
            panic!("{error:#}:\n{}", markdown(&comparison));
        }
        let svg = tempfile::NamedTempFile::new().unwrap();
        plot(&comparison, svg.path()).unwrap();
        let drawn = std::fs::read_to_string(svg.path()).unwrap();
        assert!(
            drawn.contains("<svg") && drawn.contains("partitions"),
            "{drawn}"
        );
    }
}
