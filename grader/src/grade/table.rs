//! The tables `cargo xtask grade` prints: fixtures, cluster runs with their thresholds and a
//! legend of the columns, and the verdict.

use std::fmt::Write as _;

use serde_json::Value as Json;

use super::{HARNESS_FIGURES, RunRow, StageReport};
use crate::workload::{self, Figure};

pub(super) fn render_fixtures(out: &mut String, report: &StageReport) {
    let _ = writeln!(out, "{}  ({})", report.stage, report.bin);
    let width = report
        .fixtures
        .iter()
        .map(|row| row.name.len())
        .max()
        .unwrap_or(7)
        .max(7);
    let _ = writeln!(out, "  {:<width$}  {:<6}  detail", "fixture", "result");
    for row in &report.fixtures {
        let result = if row.passed { "pass" } else { "FAIL" };
        let first = row.detail.lines().next().unwrap_or("");
        let _ = writeln!(out, "  {:<width$}  {result:<6}  {first}", row.name);
    }
    for row in report.fixtures.iter().filter(|row| !row.passed) {
        let _ = writeln!(out, "\n{} failed:", row.name);
        for line in row.detail.lines() {
            let _ = writeln!(out, "  {line}");
        }
    }
}

/// A figure as the table shows it: floats to three places, absent as `-`.
fn show(value: &Json) -> String {
    match value {
        Json::Number(number) => match number.as_f64() {
            Some(float) if number.is_f64() => format!("{float:.3}"),
            _ => number.to_string(),
        },
        Json::Null => "-".into(),
        other => other.to_string(),
    }
}

/// The column heading for a figure's label: short, so the table fits a terminal.
fn heading(label: &str) -> String {
    match label {
        "servers msgs-per-op" => "msgs/op".into(),
        "duplicate deliveries" => "duplicates".into(),
        "convergence ms" => "converged ms".into(),
        "median latency ms" => "median ms".into(),
        "max latency ms" => "max ms".into(),
        other => other.into(),
    }
}

pub(super) fn render_runs(out: &mut String, runs: &[RunRow]) {
    if runs.is_empty() {
        return;
    }
    let width = runs
        .iter()
        .map(|run| run.name.len())
        .max()
        .unwrap_or(3)
        .max(11);
    let _ = writeln!(out);
    let mut header = format!(
        "  {:<width$}  {:<6}  {:<7}",
        "cluster run", "result", "valid"
    );
    let columns: Vec<String> = runs[0]
        .figures
        .iter()
        .map(|(label, _)| heading(label))
        .collect();
    for column in &columns {
        let _ = write!(header, "  {column:>9}");
    }
    let _ = writeln!(out, "{}", header.trim_end());
    for run in runs {
        let result = if run.passed { "pass" } else { "FAIL" };
        let mut line = format!(
            "  {:<width$}  {result:<6}  {:<7}",
            run.name,
            show(&run.valid)
        );
        for ((_, value), column) in run.figures.iter().zip(&columns) {
            let cell = column.len().max(9);
            let _ = write!(line, "  {:>cell$}", show(value));
        }
        let _ = writeln!(out, "{}", line.trim_end());
        if run.expect_valid != "any" && show(&run.valid) != run.expect_valid {
            let _ = writeln!(
                out,
                "  {:<width$}    valid is {}, needs {}",
                "",
                show(&run.valid),
                run.expect_valid
            );
        }
        for threshold in &run.thresholds {
            let actual = threshold
                .actual
                .map_or("missing".to_owned(), |value| format!("{value:.3}"));
            let mark = if threshold.passed { "ok" } else { "FAIL" };
            let _ = writeln!(
                out,
                "  {:<width$}    {mark:<4}  {actual}: {}",
                "", threshold.words
            );
        }
        if let Some(error) = &run.error {
            let _ = writeln!(out, "  {:<width$}    error: {error}", "");
        }
        if !run.store.is_empty() {
            let _ = writeln!(
                out,
                "  {:<width$}    store: {} (its report.html draws the run)",
                "", run.store
            );
        }
        if !run.passed {
            let _ = writeln!(out, "  {:<width$}    repeat: {}", "", run.reproduce);
        }
    }
    render_legend(out, &runs[0].figures);
}

/// What the table's columns mean, in a line each: a learner should not have to guess what
/// "duplicates 34" says about a correct run.
fn render_legend(out: &mut String, figures: &[(String, Json)]) {
    let known: Vec<Figure> = HARNESS_FIGURES
        .iter()
        .copied()
        .chain(
            workload::REGISTRY
                .iter()
                .filter_map(|entry| (entry.make)(&Default::default()).ok())
                .flat_map(|workload| workload.headline_figures().to_vec()),
        )
        .collect();
    let _ = writeln!(out, "  columns:");
    for (label, _) in figures {
        let Some(figure) = known.iter().find(|figure| figure.label == label) else {
            continue;
        };
        let mut words = crate::plan::figure_in_words(figure.pointer);
        if figure.pointer == "/net/duplicate_deliveries" {
            words.push_str(
                ": a protocol that sends a value along several paths (flooding a grid) has many; they cost messages, not correctness",
            );
        }
        let _ = writeln!(out, "    {:<13} {words}", heading(label));
    }
}

pub(super) fn render_verdict(out: &mut String, report: &StageReport) {
    let fixtures_failed = report.fixtures.iter().filter(|row| !row.passed).count();
    let runs_failed = report.runs.iter().filter(|row| !row.passed).count();
    let counts = format!(
        "{} of {} fixtures, {} of {} cluster runs passed",
        report.fixtures.len() - fixtures_failed,
        report.fixtures.len(),
        report.runs.len() - runs_failed,
        report.runs.len()
    );
    let verdict = if report.passed { "PASS" } else { "FAIL" };
    let _ = writeln!(out, "verdict: {verdict} ({counts})\n");
}
