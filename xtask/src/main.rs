//! Project automation, run as `cargo xtask <command>`.
//!
//! `cargo xtask grade stage-01` builds the stage's reference node in release, runs its protocol
//! fixtures and its cluster runs (declared in `grading.toml`) through the grader, and prints
//! tables with each run's figures beside its thresholds, and a verdict. `--bin PATH` grades any
//! other executable (a learner's node, in any language) the same way; `--json FILE` writes the
//! tables for scripts.
//!
//! Exit codes: 0 when everything graded passes, 1 when something failed, 2 when the grader
//! could not run at all (unknown stage, build failure, missing or non-executable binary).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

use std::collections::BTreeMap;

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand};
use grader::fixtures::{FixtureOutcome, grade_fixtures};
use grader::plan::{ExpectValid, Plan, RunPlan, short_figure};
use grader::test_run::run_process_test;
use serde::Serialize;
use serde_json::Value as Json;

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    about = "Gossiper's project tasks: build and grade stages."
)]
struct Cli {
    #[command(subcommand)]
    command: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Build a stage and grade it: its protocol fixtures and its cluster runs (grading.toml),
    /// with tables of results and a verdict.
    ///
    /// Exit code 0: everything passed; 1: something failed; 2: the grader could not run.
    Grade {
        /// The stage(s) to grade: `stage-07`, `07`, `7` or the full name `stage-07-min-fanout`.
        #[arg(required_unless_present = "all", value_name = "STAGE")]
        stages: Vec<String>,
        /// Grade every stage in `stages/`.
        #[arg(long, conflicts_with = "stages")]
        all: bool,
        /// Grade this executable instead of our reference node (needs exactly one stage).
        #[arg(long, value_name = "PATH", conflicts_with = "all")]
        bin: Option<PathBuf>,
        /// Seconds a fixture may run, input to exit, before the node is killed.
        #[arg(long, default_value_t = 5.0, value_name = "SECONDS")]
        timeout: f64,
        /// Grade only the protocol fixtures or only the cluster runs.
        #[arg(long, value_name = "PART", value_parser = ["fixtures", "cluster"])]
        only: Option<String>,
        /// Also write the results (stages, fixtures, runs, figures, thresholds) as JSON here.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
    },
    /// Run one of our stages' nodes in the simulated cluster (virtual time, one seed, in
    /// memory), with `grader test`'s flags, and write the same store and results.json.
    ///
    /// Exit code as `grader test`: 0 valid, 1 invalid, 2 unknown; 254 for bad arguments.
    Sim {
        /// The stage whose node to simulate: `stage-01`, `01` or the full name.
        stage: String,
        #[command(flatten)]
        run: grader::cli::RunArgs,
        /// Where runs are stored.
        #[arg(long, default_value = "store", value_name = "DIR")]
        store: PathBuf,
        /// Arguments for the node (its flags), after `--`.
        #[arg(last = true, value_name = "NODE_ARGS")]
        node_args: Vec<String>,
    },
    /// Measure the simulated cluster's speed: virtual seconds per wall second with stage 01's
    /// node at 25, 100 and 1000 nodes (rate 100, latency 100, 20 s + 10 s recovery).
    BenchSim {
        /// Cluster sizes to measure.
        #[arg(long, value_delimiter = ',', default_values_t = [25, 100, 1000])]
        nodes: Vec<usize>,
        /// Operations per second.
        #[arg(long, default_value_t = 100.0)]
        rate: f64,
        /// Seconds of operations.
        #[arg(long, default_value_t = 20.0)]
        time_limit: f64,
    },
    /// Measure the harness's own cost: messages routed per second and CPU per message with
    /// trivial nodes, and the wall time a full 25-node run adds to time limit + recovery.
    BenchHarness {
        /// Nodes for the throughput runs.
        #[arg(long, default_value_t = 25)]
        nodes: usize,
        /// Seconds per throughput run.
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
        /// Time limit of the wall-time run (25 nodes, rate 100, latency 100).
        #[arg(long, default_value_t = 20.0)]
        time_limit: f64,
        /// Recovery of the wall-time run.
        #[arg(long, default_value_t = 10.0)]
        recovery: f64,
    },
}

/// A failure of the grader itself (exit 2), as opposed to a failing grade (exit 1).
#[derive(Debug)]
struct CannotGrade(anyhow::Error);

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Task::Grade {
            stages,
            all,
            bin,
            timeout,
            only,
            json,
        } => match grade(
            &stages,
            all,
            bin.as_deref(),
            Duration::from_secs_f64(timeout.max(0.1)),
            only.as_deref(),
            json.as_deref(),
        ) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::from(1),
            Err(CannotGrade(error)) => {
                eprintln!("error: {error:#}");
                ExitCode::from(2)
            }
        },
        Task::Sim {
            stage,
            run,
            store,
            node_args,
        } => sim(&stage, &run, &store, &node_args),
        Task::BenchSim {
            nodes,
            rate,
            time_limit,
        } => match bench_sim(&nodes, rate, time_limit) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("error: {error:#}");
                ExitCode::from(2)
            }
        },
        Task::BenchHarness {
            nodes,
            seconds,
            time_limit,
            recovery,
        } => match bench_harness(nodes, seconds, time_limit, recovery) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("error: {error:#}");
                ExitCode::from(2)
            }
        },
    }
}

/// Runs a stage's node in the simulated cluster and prints the summary.
fn sim(stage: &str, run: &grader::cli::RunArgs, store: &Path, node_args: &[String]) -> ExitCode {
    let root = workspace_root();
    let resolved = known_stages(&root).and_then(|known| resolve_stage(stage, &known));
    let (stage, config) = match (resolved, grader::cli::config_from(run)) {
        (Ok(stage), Ok(config)) => (stage, config),
        (Err(error), _) => {
            eprintln!("error: {error:#}");
            return ExitCode::from(grader::results::EXIT_BAD_ARGUMENTS);
        }
        (_, Err(message)) => {
            eprintln!("error: {message}");
            return ExitCode::from(grader::results::EXIT_BAD_ARGUMENTS);
        }
    };
    let reproduce = grader::test_run::reproduce_command(
        &config,
        &format!("cargo xtask sim {stage}"),
        node_args,
    );
    match simulate_stage(&stage, &config, node_args, store, reproduce) {
        Ok(run) => {
            print!("{}", run.summary);
            ExitCode::from(run.report.valid.exit_code())
        }
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(grader::results::EXIT_INTERNAL)
        }
    }
}

/// The stages whose nodes can be simulated: the node type behind each crate name. A new stage
/// adds one line here.
fn simulate_stage(
    stage: &str,
    config: &grader::harness::TestConfig,
    node_args: &[String],
    store: &Path,
    reproduce: String,
) -> anyhow::Result<grader::test_run::TestRun> {
    use grader::sim::simulate_to_store;
    match stage {
        "stage-01-flooding" => {
            simulate_to_store::<stage_01_flooding::Flooding>(config, node_args, store, reproduce)
        }
        "stage-02-flat-tree" => {
            simulate_to_store::<stage_02_flat_tree::FlatTree>(config, node_args, store, reproduce)
        }
        "stage-03-random-gossip" => simulate_to_store::<stage_03_random_gossip::RandomGossip>(
            config, node_args, store, reproduce,
        ),
        "stage-04-batching" => {
            simulate_to_store::<stage_04_batching::Batching>(config, node_args, store, reproduce)
        }
        "stage-05-partition-healing" => simulate_to_store::<
            stage_05_partition_healing::PartitionHealing,
        >(config, node_args, store, reproduce),
        "stage-06-gossip-fanout" => simulate_to_store::<stage_06_gossip_fanout::GossipFanout>(
            config, node_args, store, reproduce,
        ),
        // Stage 07's node answers theory questions, not the broadcast workload: no simulation.
        "stage-08-gossip-timer" => simulate_to_store::<stage_08_gossip_timer::GossipTimer>(
            config, node_args, store, reproduce,
        ),
        "stage-09-anti-entropy" => simulate_to_store::<stage_09_anti_entropy::AntiEntropy>(
            config, node_args, store, reproduce,
        ),
        "stage-10-tuning" => {
            simulate_to_store::<stage_10_tuning::Tuning>(config, node_args, store, reproduce)
        }
        other => bail!("{other} has no node registered for simulation in xtask's simulate_stage"),
    }
}

/// Prints the simulated cluster's speed at each size.
fn bench_sim(sizes: &[usize], rate: f64, time_limit: f64) -> anyhow::Result<()> {
    println!(
        "simulated cluster: stage-01-flooding on a grid, rate {rate}, latency 100 ms, {time_limit} s + 10 s recovery, seed 1"
    );
    println!("  nodes  virtual s  wall s   speed-up  messages    msgs per wall s  valid");
    for &nodes in sizes {
        let config = grader::harness::TestConfig {
            node_count: nodes,
            concurrency: nodes,
            time_limit: Duration::from_secs_f64(time_limit),
            rate,
            latency: grader::network::Latency {
                mean_ms: 100.0,
                distribution: grader::network::LatencyDistribution::Constant,
            },
            recovery: Duration::from_secs(10),
            seed: 1,
            ..Default::default()
        };
        let speed = grader::bench::sim_speed::<stage_01_flooding::Flooding>(&config, &[])?;
        println!(
            "  {:>5}  {:>9.1}  {:>6.2}  {:>8.0}x  {:>9}  {:>15.0}  {}",
            speed.nodes,
            speed.virtual_seconds,
            speed.wall_seconds,
            speed.speedup,
            speed.messages,
            speed.messages_per_wall_second,
            speed.valid
        );
    }
    Ok(())
}

/// Builds the benchmark nodes and prints the harness's figures.
fn bench_harness(nodes: usize, seconds: f64, time_limit: f64, recovery: f64) -> anyhow::Result<()> {
    let root = workspace_root();
    let chatter = build_binary(&root, "grader", "chatter-node")?;
    let flooding = build_binary(&root, "stage-01-flooding", "stage-01-flooding")?;
    let store = root.join("store").join("bench");
    println!(
        "harness throughput: {nodes} chatter nodes, no latency, no client load, {seconds} s per row"
    );
    println!(
        "  tokens/node  messages  msgs/s    harness CPU s  CPU us/msg  msgs/s per harness core"
    );
    for tokens in [1, 4, 16, 64] {
        let point = grader::bench::throughput(&chatter, nodes, tokens, seconds, &store)?;
        println!(
            "  {:>11}  {:>8}  {:>8.0}  {:>13.2}  {:>10.2}  {:>23.0}",
            point.tokens_per_node,
            point.messages,
            point.messages_per_second,
            point.harness_cpu_seconds,
            point.cpu_us_per_message,
            point.capacity_per_core
        );
    }
    let config = grader::harness::TestConfig {
        node_count: 25,
        concurrency: 25,
        time_limit: Duration::from_secs_f64(time_limit),
        rate: 100.0,
        latency: grader::network::Latency {
            mean_ms: 100.0,
            distribution: grader::network::LatencyDistribution::Constant,
        },
        recovery: Duration::from_secs_f64(recovery),
        seed: 1,
        ..Default::default()
    };
    let wall = grader::bench::wall_time(&flooding, &config, &store)?;
    println!(
        "\nwall time: stage-01-flooding, 25 nodes, rate 100, latency 100, {time_limit} s + {recovery} s recovery"
    );
    println!(
        "  planned {:.2} s, took {:.2} s: the harness added {:.2} s ({} messages, valid {})",
        wall.planned_seconds, wall.wall_seconds, wall.overhead_seconds, wall.messages, wall.valid
    );
    Ok(())
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one folder below the workspace root")
        .to_owned()
}

/// Grades the stages; `Ok(true)` when all passed.
fn grade(
    requested: &[String],
    all: bool,
    bin: Option<&Path>,
    timeout: Duration,
    only: Option<&str>,
    json: Option<&Path>,
) -> Result<bool, CannotGrade> {
    let root = workspace_root();
    let known = known_stages(&root).map_err(CannotGrade)?;
    let plan = Plan::load(&root.join("grading.toml")).map_err(CannotGrade)?;
    let stages = if all {
        known.clone()
    } else {
        requested
            .iter()
            .map(|name| resolve_stage(name, &known))
            .collect::<anyhow::Result<Vec<_>>>()
            .map_err(CannotGrade)?
    };
    let learner_bin = match bin {
        Some(bin) => {
            if stages.len() != 1 {
                return Err(CannotGrade(anyhow::anyhow!(
                    "--bin grades one stage at a time; name exactly one stage"
                )));
            }
            Some(check_executable(bin).map_err(CannotGrade)?)
        }
        None => None,
    };

    let mut reports = Vec::new();
    for stage in &stages {
        let bin = match &learner_bin {
            Some(bin) => bin.clone(),
            None => build_stage(&root, stage).map_err(CannotGrade)?,
        };
        let fixtures = root.join("fixtures").join(stage);
        let outcomes = if only == Some("cluster") {
            Vec::new()
        } else {
            grade_fixtures(&bin, &fixtures, timeout).map_err(CannotGrade)?
        };
        print_fixtures(stage, &bin, &outcomes);
        let planned = if only == Some("fixtures") {
            &[]
        } else {
            plan.runs_for(stage)
        };
        let runs = planned
            .iter()
            .map(|run| grade_run(&root, stage, &bin, run))
            .collect::<anyhow::Result<Vec<_>>>()
            .map_err(CannotGrade)?;
        print_runs(&runs);
        let report = StageReport::new(stage, &bin, &outcomes, runs);
        print_verdict(&report);
        reports.push(report);
    }
    let passed = reports.iter().all(|report| report.passed);
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(&GradeReport {
            passed,
            stages: &reports,
        })
        .expect("reports serialise");
        std::fs::write(path, text + "\n")
            .with_context(|| format!("cannot write {}", path.display()))
            .map_err(CannotGrade)?;
    }
    Ok(passed)
}

/// Everything `--json` writes.
#[derive(Serialize)]
struct GradeReport<'a> {
    passed: bool,
    stages: &'a [StageReport],
}

/// One stage's grade.
#[derive(Serialize)]
struct StageReport {
    stage: String,
    bin: String,
    passed: bool,
    fixtures: Vec<FixtureRow>,
    runs: Vec<RunRow>,
}

#[derive(Serialize)]
struct FixtureRow {
    name: String,
    passed: bool,
    detail: String,
}

/// One cluster run's grade: its figures and each threshold beside them.
#[derive(Serialize)]
struct RunRow {
    name: String,
    passed: bool,
    valid: Json,
    expect_valid: String,
    figures: BTreeMap<String, Json>,
    thresholds: Vec<ThresholdRow>,
    store: String,
    reproduce: String,
    error: Option<String>,
}

#[derive(Serialize)]
struct ThresholdRow {
    figure: String,
    threshold: String,
    actual: Option<f64>,
    passed: bool,
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
}

/// The figures every run reports, by their pointers into results.json.
const HEADLINE_FIGURES: [&str; 7] = [
    "/net/servers/msgs_per_op",
    "/workload/stable_latencies/0.5",
    "/workload/stable_latencies/1",
    "/workload/lost_count",
    "/workload/attempt_count",
    "/net/duplicate_deliveries",
    "/convergence/after_ms",
];

fn grade_run(root: &Path, stage: &str, bin: &Path, run: &RunPlan) -> anyhow::Result<RunRow> {
    let config = run.config()?;
    eprintln!(
        "{stage}: cluster run `{}` ({} nodes, {} s + {} s recovery)...",
        run.name,
        config.node_count,
        config.time_limit.as_secs_f64(),
        config.recovery.as_secs_f64()
    );
    let store_root = root.join("store").join("grade").join(stage).join(&run.name);
    let done = run_process_test(&config, bin, &run.node_args, &store_root, None)
        .with_context(|| format!("{stage}: cluster run `{}` could not run", run.name))?;
    let results_path = done.store.join("results.json");
    let results: Json = serde_json::from_str(&std::fs::read_to_string(&results_path)?)
        .with_context(|| format!("cannot read {}", results_path.display()))?;
    let expect_valid = run.expect_valid.unwrap_or(ExpectValid::Exactly(true));
    let valid = results["valid"].clone();
    let mut passed = expect_valid.accepts(&valid);
    let thresholds: Vec<ThresholdRow> = run
        .checks
        .iter()
        .map(|check| {
            let (actual, ok) = check.judge(&results);
            passed &= ok;
            ThresholdRow {
                figure: check.figure.clone(),
                threshold: check.to_string(),
                actual,
                passed: ok,
            }
        })
        .collect();
    let figures = HEADLINE_FIGURES
        .iter()
        .map(|pointer| {
            (
                short_figure(pointer),
                results.pointer(pointer).cloned().unwrap_or(Json::Null),
            )
        })
        .collect();
    Ok(RunRow {
        name: run.name.clone(),
        passed,
        valid,
        expect_valid: expect_valid.to_string(),
        figures,
        thresholds,
        store: done.store.display().to_string(),
        reproduce: done.reproduce,
        error: done.report.error.clone(),
    })
}

/// The stage crates, by directory name, sorted.
fn known_stages(root: &Path) -> anyhow::Result<Vec<String>> {
    let dir = root.join("stages");
    let mut stages = Vec::new();
    for entry in
        std::fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))?
    {
        let entry = entry?;
        if entry.path().join("Cargo.toml").is_file()
            && let Some(name) = entry.file_name().to_str()
        {
            stages.push(name.to_owned());
        }
    }
    stages.sort();
    Ok(stages)
}

/// Accepts `stage-07`, `07`, `7` or the full crate name.
fn resolve_stage(name: &str, known: &[String]) -> anyhow::Result<String> {
    let number = name.strip_prefix("stage-").unwrap_or(name);
    let number = number.split('-').next().unwrap_or(number);
    let matched = known.iter().find(|stage| {
        *stage == name
            || number
                .parse::<u32>()
                .is_ok_and(|wanted| stage_number(stage) == Some(wanted))
    });
    match matched {
        Some(stage) => Ok(stage.clone()),
        None => bail!(
            "no stage called `{name}`; the stages are: {} (name one as `stage-01`, `01` or in full)",
            known.join(", ")
        ),
    }
}

fn stage_number(stage: &str) -> Option<u32> {
    stage
        .strip_prefix("stage-")?
        .split('-')
        .next()?
        .parse()
        .ok()
}

fn check_executable(bin: &Path) -> anyhow::Result<PathBuf> {
    let metadata = std::fs::metadata(bin).map_err(|_| {
        anyhow::anyhow!(
            "{} does not exist; build your node first and pass the path to its executable",
            bin.display()
        )
    })?;
    if !metadata.is_file() {
        bail!(
            "{} is not a file; pass the path to your node's executable",
            bin.display()
        );
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if metadata.permissions().mode() & 0o111 == 0 {
            bail!(
                "{} is not executable; run `chmod +x {}` (scripts also need a #! line)",
                bin.display(),
                bin.display()
            );
        }
    }
    std::path::absolute(bin).with_context(|| format!("cannot resolve {}", bin.display()))
}

/// Builds the stage's binary in release and returns its path.
fn build_stage(root: &Path, stage: &str) -> anyhow::Result<PathBuf> {
    build_binary(root, stage, stage)
}

/// Builds one binary of a package in release and returns its path.
fn build_binary(root: &Path, package: &str, binary: &str) -> anyhow::Result<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    eprintln!("building {binary} (release)...");
    let status = Command::new(cargo)
        .current_dir(root)
        .args([
            "build",
            "--release",
            "--quiet",
            "--package",
            package,
            "--bin",
            binary,
        ])
        .status()
        .context("cannot run cargo")?;
    if !status.success() {
        bail!(
            "building {binary} failed (the compiler's messages are above); fix them and try again"
        );
    }
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let bin = target.join("release").join(binary);
    if !bin.is_file() {
        bail!("cargo built {binary} but {} is missing", bin.display());
    }
    Ok(bin)
}

/// Prints the fixture table for one stage.
fn print_fixtures(stage: &str, bin: &Path, outcomes: &[FixtureOutcome]) {
    println!("{stage}  ({})", bin.display());
    let width = outcomes
        .iter()
        .map(|outcome| outcome.name.len())
        .max()
        .unwrap_or(7)
        .max(7);
    println!("  {:<width$}  {:<6}  detail", "fixture", "result");
    for outcome in outcomes {
        let result = if outcome.passed { "pass" } else { "FAIL" };
        let first = outcome.detail.lines().next().unwrap_or("");
        println!("  {:<width$}  {result:<6}  {first}", outcome.name);
    }
    for outcome in outcomes.iter().filter(|outcome| !outcome.passed) {
        println!("\n{} failed:", outcome.name);
        for line in outcome.detail.lines() {
            println!("  {line}");
        }
    }
}

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

/// Prints the cluster-run table: each run's figures, then its thresholds with the actual value.
fn print_runs(runs: &[RunRow]) {
    if runs.is_empty() {
        return;
    }
    let width = runs
        .iter()
        .map(|run| run.name.len())
        .max()
        .unwrap_or(3)
        .max(11);
    println!();
    println!(
        "  {:<width$}  {:<6}  {:<7}  {:>9}  {:>10}  {:>8}  {:>5}  {:>10}  {:>12}",
        "cluster run",
        "result",
        "valid",
        "msgs/op",
        "median ms",
        "max ms",
        "lost",
        "duplicates",
        "converged ms"
    );
    for run in runs {
        let result = if run.passed { "pass" } else { "FAIL" };
        let figure = |name: &str| show(run.figures.get(name).unwrap_or(&Json::Null));
        println!(
            "  {:<width$}  {result:<6}  {:<7}  {:>9}  {:>10}  {:>8}  {:>5}  {:>10}  {:>12}",
            run.name,
            show(&run.valid),
            figure("servers msgs-per-op"),
            figure("median latency ms"),
            figure("max latency ms"),
            figure("lost"),
            figure("duplicate deliveries"),
            figure("convergence ms"),
        );
        if run.expect_valid != "any" && show(&run.valid) != run.expect_valid {
            println!(
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
            println!(
                "  {:<width$}    {actual} (needs {})  {mark}",
                "", threshold.threshold
            );
        }
        if let Some(error) = &run.error {
            println!("  {:<width$}    error: {error}", "");
        }
        if !run.passed {
            println!("  {:<width$}    store: {}", "", run.store);
            println!("  {:<width$}    repeat: {}", "", run.reproduce);
        }
    }
}

fn print_verdict(report: &StageReport) {
    let fixtures_failed = report.fixtures.iter().filter(|row| !row.passed).count();
    let runs_failed = report.runs.iter().filter(|row| !row.passed).count();
    let counts = format!(
        "{} of {} fixtures, {} of {} cluster runs passed",
        report.fixtures.len() - fixtures_failed,
        report.fixtures.len(),
        report.runs.len() - runs_failed,
        report.runs.len()
    );
    if report.passed {
        println!("verdict: PASS ({counts})\n");
    } else {
        println!("verdict: FAIL ({counts})\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_resolve_by_number_short_name_or_full_name() {
        let known = vec![
            "stage-01-flooding".to_owned(),
            "stage-07-min-fanout".to_owned(),
        ];
        for name in ["stage-07", "07", "7", "stage-07-min-fanout"] {
            assert_eq!(
                resolve_stage(name, &known).unwrap(),
                "stage-07-min-fanout",
                "{name}"
            );
        }
        let error = resolve_stage("stage-99", &known).unwrap_err().to_string();
        assert!(error.contains("stage-01-flooding"), "{error}");
    }
}
