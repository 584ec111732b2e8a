//! One `grader test` run against real processes: start the nodes, run the harness, write the
//! store, and summarise. The `grader` binary and `cargo xtask grade` both call this.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use anyhow::Context as _;

use crate::cluster::ProcessCluster;
use crate::harness::{self, RunReport, TestConfig};
use crate::network::{Journal, LatencyDistribution};
use crate::results::{self, Results, RunFacts};

/// What a finished run left behind.
pub struct TestRun {
    /// The report.
    pub report: RunReport,
    /// The store directory.
    pub store: PathBuf,
    /// The one-screen summary.
    pub summary: String,
    /// The command that repeats the run.
    pub reproduce: String,
}

/// Starts `bin` as a cluster, runs the test, writes the store under `store_root`.
///
/// Errors are the harness's own (the store cannot be written, a node cannot be started); a
/// node that misbehaves during the run is part of the report instead.
pub fn run_process_test(
    config: &TestConfig,
    bin: &Path,
    args: &[String],
    store_root: &Path,
    interrupt: Option<&AtomicBool>,
) -> anyhow::Result<TestRun> {
    let wall = Instant::now();
    let workload = config.workload.to_string();
    let (store, started_at) = results::new_store_dir(store_root, &workload)?;
    let journal_path = store.join("journal.jsonl");
    let journal_file = File::create(&journal_path)
        .with_context(|| format!("cannot create {}", journal_path.display()))?;
    let mut journal = Journal::new(Box::new(BufWriter::with_capacity(1 << 20, journal_file)));
    let mut cluster = ProcessCluster::start(
        bin,
        args,
        &harness::node_ids(config),
        &store.join("node-logs"),
        config.seed,
    )?;
    let report = harness::run(config, &mut cluster, &mut journal, interrupt);
    drop(cluster);
    journal
        .finish()
        .with_context(|| format!("cannot write {}", journal_path.display()))?;
    let reproduce = reproduce_command(config, bin, args);
    let results = Results {
        valid: report.valid,
        error: report.error.as_deref(),
        workload: &report.workload,
        stats: &report.stats,
        net: &report.net,
        crashed: &report.crashed,
        config,
        reproduce: &reproduce,
        duration_seconds: report.duration.as_secs_f64(),
        run: RunFacts {
            started_at,
            store: store.display().to_string(),
            wall_seconds: wall.elapsed().as_secs_f64(),
        },
    };
    results::write_store(&store, &report, &results)?;
    results::link_latest(store_root, &workload, &store);
    let summary = results::summary(&report, &results);
    Ok(TestRun {
        report,
        store,
        summary,
        reproduce,
    })
}

/// The exact `grader test` command line for a config (seed included).
pub fn reproduce_command(config: &TestConfig, bin: &Path, args: &[String]) -> String {
    let mut words = vec![
        "grader".to_owned(),
        "test".into(),
        "-w".into(),
        config.workload.to_string(),
        "--bin".into(),
        bin.display().to_string(),
        "--node-count".into(),
        config.node_count.to_string(),
        "--time-limit".into(),
        config.time_limit.as_secs_f64().to_string(),
        "--rate".into(),
        config.rate.to_string(),
        "--concurrency".into(),
        config.concurrency.to_string(),
        "--topology".into(),
        config.topology.to_string(),
    ];
    if config.latency.mean_ms > 0.0 {
        words.extend(["--latency".into(), config.latency.mean_ms.to_string()]);
        if config.latency.distribution != LatencyDistribution::Constant {
            words.extend([
                "--latency-dist".into(),
                config.latency.distribution.to_string(),
            ]);
        }
    }
    if !config.faults.is_empty() {
        let faults: Vec<String> = config.faults.iter().map(ToString::to_string).collect();
        words.extend([
            "--nemesis".into(),
            faults.join(","),
            "--nemesis-interval".into(),
            config.nemesis_interval.as_secs_f64().to_string(),
        ]);
    }
    words.extend([
        "--recovery".into(),
        config.recovery.as_secs_f64().to_string(),
        "--seed".into(),
        config.seed.to_string(),
    ]);
    if !args.is_empty() {
        words.push("--".into());
        words.extend(args.iter().cloned());
    }
    words
        .iter()
        .map(|word| shell_quote(word))
        .collect::<Vec<_>>()
        .join(" ")
}

fn shell_quote(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=,:+".contains(c))
    {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}
