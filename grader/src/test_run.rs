//! One test run written to a store: start a cluster, run the harness, write `results.json`,
//! the history, the journal and the node logs, and summarise. `grader test` runs node
//! processes this way; `cargo xtask sim` runs the simulated cluster through the same code.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use anyhow::Context as _;

use crate::cluster::{Cluster, ProcessCluster};
use crate::harness::{self, RunReport, TestConfig};
use crate::network::{Journal, LatencyDistribution};
use crate::results::{self, RunFacts};

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

/// Runs `config` on the cluster `start` builds (given the folder for node logs), then calls
/// `finish` (to write what the cluster kept in memory) and writes the store under `store_root`.
pub fn run_in_store<C: Cluster>(
    config: &TestConfig,
    store_root: &Path,
    reproduce: String,
    interrupt: Option<&AtomicBool>,
    start: impl FnOnce(&Path) -> anyhow::Result<C>,
    finish: impl FnOnce(&C, &Path) -> anyhow::Result<()>,
) -> anyhow::Result<TestRun> {
    let wall = Instant::now();
    let workload = config.workload.to_string();
    let (store, started_at) = results::new_store_dir(store_root, &workload)?;
    let journal_path = store.join("journal.jsonl");
    let journal_file = File::create(&journal_path)
        .with_context(|| format!("cannot create {}", journal_path.display()))?;
    let mut journal = Journal::new(Box::new(BufWriter::with_capacity(1 << 20, journal_file)));
    let logs = store.join("node-logs");
    let mut cluster = start(&logs)?;
    let report = harness::run(config, &mut cluster, &mut journal, interrupt);
    finish(&cluster, &logs)?;
    drop(cluster);
    journal
        .finish()
        .with_context(|| format!("cannot write {}", journal_path.display()))?;
    let facts = RunFacts {
        started_at,
        store: store.display().to_string(),
        wall_seconds: wall.elapsed().as_secs_f64(),
    };
    let results = results::results_json(&report, config, &reproduce, facts);
    results::write_store(&store, &report, &results)?;
    results::link_latest(store_root, &workload, &store);
    let summary = results::summary(&report, config, &reproduce, &store.display().to_string());
    Ok(TestRun {
        report,
        store,
        summary,
        reproduce,
    })
}

/// Starts `bin` as a cluster of processes, runs the test, writes the store under `store_root`.
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
    let reproduce = reproduce_command(
        config,
        &format!(
            "grader test --bin {}",
            shell_quote(&bin.display().to_string())
        ),
        args,
    );
    let ids = harness::node_ids(config);
    run_in_store(
        config,
        store_root,
        reproduce,
        interrupt,
        |logs| ProcessCluster::start(bin, args, &ids, logs, config.seed),
        |_, _| Ok(()),
    )
}

/// The command line that repeats a run: `program` (such as `grader test --bin X`) followed by
/// every setting of `config`, seed included, and the node's arguments after `--`.
pub fn reproduce_command(config: &TestConfig, program: &str, args: &[String]) -> String {
    let mut words = vec![
        "-w".to_owned(),
        config.workload.to_string(),
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
    let settings: Vec<String> = words.iter().map(|word| shell_quote(word)).collect();
    format!("{program} {}", settings.join(" "))
}

/// Quotes a word for a POSIX shell when it needs it.
pub fn shell_quote(word: &str) -> String {
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
