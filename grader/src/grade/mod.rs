//! A stage's grade: its protocol fixtures and its cluster runs (from the grading plan) judged,
//! with the tables `cargo xtask grade` prints and the JSON `--json` writes.
//!
//! xtask only parses flags, builds the node with cargo and prints; everything that decides
//! whether a stage passes lives here.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use serde::Serialize;
use serde_json::Value as Json;

use crate::fixtures::{FixtureOutcome, grade_fixtures};
use crate::plan::{Plan, RunPlan};
use crate::run::{GRADER_TEST_IN_CHECKOUT, run_process_test_as};
use crate::workload::{self, Figure};

mod judge;
mod table;

use judge::record_grade;
pub use judge::{GRADE_FILE, RecordedGrade, judge_run};
use table::{render_fixtures, render_runs, render_verdict};

/// The harness's own figures every run shows, whatever its workload: messages per operation
/// first; duplicates and convergence after the workload's figures.
pub const HARNESS_FIGURES: &[Figure] = &[
    Figure {
        pointer: "/net/servers/msgs_per_op",
        label: "servers msgs-per-op",
    },
    Figure {
        pointer: "/net/all/msgs_per_op",
        label: "all msgs-per-op",
    },
    Figure {
        pointer: "/net/duplicate_deliveries",
        label: "duplicate deliveries",
    },
    Figure {
        pointer: "/convergence/after_ms",
        label: "convergence ms",
    },
];

/// Which parts of a stage to grade.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// Fixtures and cluster runs.
    Both,
    /// Only the protocol fixtures.
    Fixtures,
    /// Only the cluster runs.
    Cluster,
}

/// Everything `--json` writes.
#[derive(Debug, Serialize)]
pub struct GradeReport<'a> {
    /// True when every stage passed.
    pub passed: bool,
    /// Each stage's grade.
    pub stages: &'a [StageReport],
}

/// One stage's grade.
#[derive(Debug, Serialize)]
pub struct StageReport {
    /// The stage's crate name.
    pub stage: String,
    /// The binary graded.
    pub bin: String,
    /// True when every fixture and run passed.
    pub passed: bool,
    /// The fixtures.
    pub fixtures: Vec<FixtureRow>,
    /// The cluster runs.
    pub runs: Vec<RunRow>,
}

/// One fixture's outcome.
#[derive(Debug, Serialize)]
pub struct FixtureRow {
    /// The fixture's name.
    pub name: String,
    /// Whether the output matched.
    pub passed: bool,
    /// What differed, or what was checked.
    pub detail: String,
}

/// One cluster run's grade: its figures and each threshold beside them.
#[derive(Debug, Serialize)]
pub struct RunRow {
    /// The run's name in the plan.
    pub name: String,
    /// Whether the verdict and every threshold were as required.
    pub passed: bool,
    /// The run's verdict.
    pub valid: Json,
    /// The verdict required.
    pub expect_valid: String,
    /// The headline figures by label, in table order.
    pub figures: Vec<(String, Json)>,
    /// Each threshold with the figure it bounds.
    pub thresholds: Vec<ThresholdRow>,
    /// The run's store folder.
    pub store: String,
    /// The command that repeats the run.
    pub reproduce: String,
    /// Why the run could not complete normally, if it did not.
    pub error: Option<String>,
}

/// One threshold, judged.
#[derive(Debug, Serialize)]
pub struct ThresholdRow {
    /// The figure's pointer.
    pub figure: String,
    /// The threshold, as text.
    pub threshold: String,
    /// The threshold in words, for a learner.
    pub words: String,
    /// The figure's value, if the results have it.
    pub actual: Option<f64>,
    /// Whether it is within the threshold.
    pub passed: bool,
}

/// How to grade.
#[derive(Debug, Clone)]
pub struct GradeOptions {
    /// Which parts.
    pub part: Part,
    /// How long a fixture may run, input to exit.
    pub timeout: Duration,
    /// Where cluster runs are stored: `<store_root>/<stage>/<run>/`.
    pub store_root: std::path::PathBuf,
    /// How many cluster runs may share the machine. Runs whose checks cap a timing figure
    /// always run alone ([`RunPlan::is_timing_sensitive`]); the others run up to `jobs` at once.
    pub jobs: usize,
    /// How the fixtures compare the node's own `msg_id`s.
    pub conventions: crate::fixtures::Conventions,
    /// Set (by a signal handler) to stop: the run under way stops its nodes and writes its
    /// results, and no further run starts.
    pub interrupt: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
}

impl GradeOptions {
    /// True once an interrupt asked the grade to stop.
    pub fn interrupted(&self) -> bool {
        self.interrupt
            .as_ref()
            .is_some_and(|flag| flag.load(std::sync::atomic::Ordering::SeqCst))
    }
}

/// One stage to grade: its name, the binary, its fixture folder.
#[derive(Debug, Clone)]
pub struct StageToGrade {
    /// The stage's crate name.
    pub stage: String,
    /// The executable to grade.
    pub bin: std::path::PathBuf,
    /// Its fixtures.
    pub fixtures_dir: std::path::PathBuf,
    /// The reference binaries of other stages its baseline runs use (`bin_stage`), by stage.
    pub baselines: BTreeMap<String, std::path::PathBuf>,
}

/// A cluster run that completed: where it is stored and what it measured.
struct RunDone {
    results: Json,
    workload: String,
    store: String,
    reproduce: String,
}

/// Grades several stages: each one's fixtures, then every cluster run of all of them, the runs
/// that are not timing-sensitive up to `options.jobs` at a time and then the timing-sensitive
/// ones alone. Reports come back in the stages' order, each run in its plan's order.
pub fn grade_stages(
    stages: &[StageToGrade],
    plan: &Plan,
    options: &GradeOptions,
    progress: &(dyn Fn(&str) + Sync),
) -> anyhow::Result<Vec<StageReport>> {
    let mut fixtures = Vec::new();
    for stage in stages {
        fixtures.push(if options.part == Part::Cluster {
            Vec::new()
        } else {
            grade_fixtures(
                &stage.bin,
                &stage.fixtures_dir,
                options.timeout,
                options.conventions,
            )?
        });
    }
    // Every run, by (stage, run) position, shared ones first.
    let mut queue: Vec<(usize, usize)> = Vec::new();
    if options.part != Part::Fixtures {
        for (index, stage) in stages.iter().enumerate() {
            queue.extend((0..plan.runs_for(&stage.stage).len()).map(|run| (index, run)));
        }
    }
    let sensitive =
        |&(stage, run): &(usize, usize)| plan.is_timing_sensitive(&stages[stage].stage, run);
    let (alone, shared): (Vec<_>, Vec<_>) = queue.into_iter().partition(sensitive);
    let grade_one = |(stage, run): (usize, usize)| {
        if options.interrupted() {
            return None;
        }
        let entry = &stages[stage];
        let planned = &plan.runs_for(&entry.stage)[run];
        let store_root = options.store_root.join(&entry.stage);
        let done = match &planned.bin_stage {
            None => Ok(&entry.bin),
            Some(other) => entry.baselines.get(other).ok_or_else(|| {
                anyhow::anyhow!(
                    "{}: run `{}` runs {other}'s node, whose binary was not built",
                    entry.stage,
                    planned.name
                )
            }),
        }
        .and_then(|bin| {
            grade_run(
                plan,
                &entry.stage,
                bin,
                planned,
                &store_root,
                options,
                progress,
            )
        });
        Some(((stage, run), done))
    };
    let mut done: BTreeMap<(usize, usize), anyhow::Result<RunDone>> = BTreeMap::new();
    let pending = std::sync::Mutex::new(shared.into_iter());
    let finished = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..options.jobs.max(1) {
            scope.spawn(|| {
                loop {
                    let next = pending.lock().expect("not poisoned").next();
                    let Some(position) = next else { break };
                    if let Some(done) = grade_one(position) {
                        finished.lock().expect("not poisoned").push(done);
                    }
                }
            });
        }
    });
    done.extend(finished.into_inner().expect("not poisoned"));
    done.extend(alone.into_iter().filter_map(grade_one));
    let mut reports = Vec::new();
    for (index, (stage, outcomes)) in stages.iter().zip(fixtures).enumerate() {
        let planned = plan.runs_for(&stage.stage);
        let mut completed = Vec::new();
        for (run, planned) in planned.iter().enumerate() {
            if let Some(result) = done.remove(&(index, run)) {
                completed.push((planned, result?));
            }
        }
        // Relative checks read the other run's results, so the stage is judged once every run
        // is done.
        let results_of = |name: &str| {
            completed
                .iter()
                .find(|(run, _)| run.name == name)
                .map(|(_, done)| &done.results)
        };
        let runs = completed
            .iter()
            .map(|(run, done)| {
                let row = judge_run(
                    run,
                    &done.workload,
                    &done.results,
                    done.store.clone(),
                    done.reproduce.clone(),
                    &results_of,
                );
                record_grade(&stage.stage, &row);
                row
            })
            .collect();
        reports.push(StageReport::new(&stage.stage, &stage.bin, &outcomes, runs));
    }
    Ok(reports)
}

/// Grades one stage: `bin` against the fixtures in `fixtures_dir` and the stage's runs in
/// `plan`, each run as real processes. `progress` hears a line before each run.
pub fn grade_stage(
    stage: &str,
    bin: &Path,
    fixtures_dir: &Path,
    plan: &Plan,
    options: &GradeOptions,
    progress: &(dyn Fn(&str) + Sync),
) -> anyhow::Result<StageReport> {
    let one = StageToGrade {
        stage: stage.to_owned(),
        bin: bin.to_owned(),
        fixtures_dir: fixtures_dir.to_owned(),
        baselines: BTreeMap::new(),
    };
    let mut reports = grade_stages(&[one], plan, options, progress)?;
    Ok(reports.remove(0))
}

impl StageReport {
    fn new(stage: &str, bin: &Path, outcomes: &[FixtureOutcome], runs: Vec<RunRow>) -> Self {
        let fixtures: Vec<FixtureRow> = outcomes
            .iter()
            .map(|outcome| FixtureRow {
                name: outcome.name.clone(),
                passed: outcome.passed,
                detail: outcome.detail.clone(),
            })
            .collect();
        let passed = fixtures.iter().all(|row| row.passed) && runs.iter().all(|row| row.passed);
        Self {
            stage: stage.to_owned(),
            bin: bin.display().to_string(),
            passed,
            fixtures,
            runs,
        }
    }

    /// The stage's tables and verdict, as `cargo xtask grade` prints them.
    pub fn render(&self) -> String {
        let mut out = String::new();
        render_fixtures(&mut out, self);
        render_runs(&mut out, &self.runs);
        render_verdict(&mut out, self);
        out
    }

    /// The cluster runs' table alone (each run's figures with its thresholds).
    pub fn render_runs(&self) -> String {
        let mut out = String::new();
        render_runs(&mut out, &self.runs);
        out
    }
}

/// The figures a run of `workload` shows: the harness's msgs-per-op, the workload's headline
/// figures, then duplicates (for a workload that tracks values) and convergence (for one the
/// harness probes): only the figures a workload has.
pub fn table_figures(workload: &str) -> Vec<Figure> {
    let Ok(mut workload) = workload::by_name(workload) else {
        return Vec::new();
    };
    let own = workload.headline_figures().to_vec();
    let harness = |pointer: &str| {
        *HARNESS_FIGURES
            .iter()
            .find(|figure| figure.pointer == pointer)
            .expect("a harness figure")
    };
    let mut figures = vec![harness("/net/servers/msgs_per_op")];
    figures.extend(own);
    if workload.tracks_values().is_some() {
        figures.push(harness("/net/duplicate_deliveries"));
    }
    if workload.probes().is_some() {
        figures.push(harness("/convergence/after_ms"));
    }
    figures
}

fn grade_run(
    plan: &Plan,
    stage: &str,
    bin: &Path,
    run: &RunPlan,
    store_root: &Path,
    options: &GradeOptions,
    progress: &(dyn Fn(&str) + Sync),
) -> anyhow::Result<RunDone> {
    let config = plan.config(run)?;
    progress(&format!(
        "{stage}: cluster run `{}` ({} node{}, {} s + {} s recovery)...",
        run.name,
        config.node_count,
        if config.node_count == 1 { "" } else { "s" },
        config.time_limit.as_secs_f64(),
        config.recovery.as_secs_f64()
    ));
    let done = run_process_test_as(
        &config,
        bin,
        &run.node_args,
        &store_root.join(&run.name),
        options.interrupt.as_deref(),
        GRADER_TEST_IN_CHECKOUT,
    )
    .with_context(|| format!("{stage}: cluster run `{}` could not run", run.name))?;
    let results_path = done.store.join("results.json");
    let results: Json = serde_json::from_str(&std::fs::read_to_string(&results_path)?)
        .with_context(|| format!("cannot read {}", results_path.display()))?;
    Ok(RunDone {
        results,
        workload: config.workload,
        store: done.store.display().to_string(),
        reproduce: done.reproduce,
    })
}
