//! Judging one graded run against its plan (the verdict required, each threshold), and keeping
//! that judgement in the run's store (`grade.json`) for its report page.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;
use serde_json::Value as Json;

use super::{RunRow, ThresholdRow, table_figures};
use crate::plan::{ExpectValid, RunPlan};

/// The file in a graded run's store that holds the stage's judgement of it, which
/// `report.html` shows beside Maelstrom's verdict.
pub const GRADE_FILE: &str = "grade.json";

/// What a run's store keeps of its grade.
#[derive(Debug, Serialize, serde::Deserialize)]
pub struct RecordedGrade {
    /// The stage.
    pub stage: String,
    /// The run's name in the plan.
    pub run: String,
    /// Whether the run passed the stage's grade: the verdict required and every threshold.
    pub passed: bool,
    /// The verdict required.
    pub expect_valid: String,
    /// Each threshold, judged: (in words, needs, actual, passed).
    pub thresholds: Vec<(String, String, Option<f64>, bool)>,
}

/// Writes the stage's judgement of a run into its store and draws its page again, so the page
/// does not call a run that failed its stage "valid" without saying so. A failure here costs
/// the page only, never the grade.
pub(super) fn record_grade(stage: &str, row: &RunRow) {
    if row.store.is_empty() {
        return;
    }
    let store = Path::new(&row.store);
    let recorded = RecordedGrade {
        stage: stage.to_owned(),
        run: row.name.clone(),
        passed: row.passed,
        expect_valid: row.expect_valid.clone(),
        thresholds: row
            .thresholds
            .iter()
            .map(|check| {
                (
                    check.words.clone(),
                    check.threshold.clone(),
                    check.actual,
                    check.passed,
                )
            })
            .collect(),
    };
    let text = serde_json::to_string_pretty(&recorded).expect("a grade serialises") + "\n";
    let written = std::fs::write(store.join(GRADE_FILE), text)
        .map_err(anyhow::Error::from)
        .and_then(|()| crate::results::report::write_report(store, None).map(|_| ()));
    if let Err(error) = written {
        eprintln!(
            "warning: {}: the page does not show the stage's grade: {error:#}",
            store.display()
        );
    }
}

/// Judges one run's `results.json` against its plan: the verdict required and each check.
/// `results_of` finds another run's results by name, for relative checks.
pub fn judge_run<'a>(
    run: &RunPlan,
    workload: &str,
    results: &Json,
    store: String,
    reproduce: String,
    results_of: &dyn Fn(&str) -> Option<&'a Json>,
) -> RunRow {
    let expect_valid = run.expect_valid.unwrap_or(ExpectValid::Exactly(true));
    let valid = results["valid"].clone();
    let mut passed = expect_valid.accepts(&valid);
    let thresholds: Vec<ThresholdRow> = run
        .checks
        .iter()
        .map(|check| {
            let baseline = check.of_run.as_deref().and_then(results_of);
            let (actual, ok) = check.judge(results, baseline);
            passed &= ok;
            let mut threshold = check.to_string();
            let mut words = check.in_words();
            if let (Some(times), Some(figure)) = (
                check.times,
                baseline.and_then(|baseline| baseline.pointer(&check.figure)),
            ) && let Some(figure) = figure.as_f64()
            {
                let _ = write!(threshold, " = {}", times * figure);
                let _ = write!(words, " ({})", times * figure);
            }
            ThresholdRow {
                figure: check.figure.clone(),
                threshold,
                words,
                actual,
                passed: ok,
            }
        })
        .collect();
    let figures = table_figures(workload)
        .iter()
        .map(|figure| {
            (
                figure.label.to_owned(),
                results
                    .pointer(figure.pointer)
                    .cloned()
                    .unwrap_or(Json::Null),
            )
        })
        .collect();
    RunRow {
        name: run.name.clone(),
        passed,
        valid,
        expect_valid: expect_valid.to_string(),
        figures,
        thresholds,
        store,
        reproduce,
        error: results["error"].as_str().map(str::to_owned),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use crate::grade::table::render_runs;
    use serde_json::json;

    use super::*;

    /// The labels and values of a run's figures, as a map (for callers that look one up).
    fn figures_by_label(row: &RunRow) -> BTreeMap<&str, &Json> {
        row.figures
            .iter()
            .map(|(label, value)| (label.as_str(), value))
            .collect()
    }

    fn run(text: &str) -> RunPlan {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn a_run_passes_only_with_the_verdict_required_and_every_threshold_met() {
        let results = json!({
            "valid": true,
            "net": {"servers": {"msgs_per_op": 12.5}, "duplicate_deliveries": 0},
            "workload": {"stable_latencies": {"0.5": 80, "1": 150}, "lost_count": 0},
            "convergence": {},
        });
        let plan =
            run("name = \"3d\"\nchecks = [{ figure = \"/net/servers/msgs_per_op\", below = 13 }]");
        let row = judge_run(
            &plan,
            "broadcast",
            &results,
            "s".into(),
            "r".into(),
            &|_| None,
        );
        assert!(row.passed);
        let figures = figures_by_label(&row);
        assert_eq!(figures["median latency ms"], &json!(80));
        assert_eq!(figures["convergence ms"], &Json::Null);
        let strict =
            run("name = \"3d\"\nchecks = [{ figure = \"/net/servers/msgs_per_op\", below = 12 }]");
        assert!(
            !judge_run(
                &strict,
                "broadcast",
                &results,
                "s".into(),
                "r".into(),
                &|_| None
            )
            .passed
        );
        let invalid = run("name = \"x\"\nexpect_valid = false");
        assert!(
            !judge_run(
                &invalid,
                "broadcast",
                &results,
                "s".into(),
                "r".into(),
                &|_| None
            )
            .passed
        );
        let table = {
            let mut out = String::new();
            render_runs(&mut out, &[row]);
            out
        };
        assert!(
            table.contains("msgs/op") && table.contains("median ms") && table.contains("12.500"),
            "{table}"
        );
    }

    #[test]
    fn a_relative_check_holds_a_figure_to_a_multiple_of_another_runs() {
        let results =
            |median: u64| json!({"valid": true, "workload": {"stable_latencies": {"0.5": median}}});
        let hybrid = run(
            "name = \"hybrid\"\nchecks = [{ figure = \"/workload/stable_latencies/0.5\", times = 1.5, of_run = \"plain\" }]",
        );
        let plain = results(200);
        let judge = |median| {
            judge_run(
                &hybrid,
                "broadcast",
                &results(median),
                "s".into(),
                "r".into(),
                &|name| (name == "plain").then_some(&plain),
            )
        };
        let within = judge(300);
        assert!(within.passed);
        assert_eq!(
            within.thresholds[0].threshold,
            "median latency ms ≤ 1.5 × run plain's = 300"
        );
        assert!(!judge(301).passed);
        // Without the other run's results the check cannot pass.
        let alone = judge_run(
            &hybrid,
            "broadcast",
            &results(1),
            "s".into(),
            "r".into(),
            &|_| None,
        );
        assert!(!alone.passed);
    }
}
