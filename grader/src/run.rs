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
use crate::config::{TestConfig, shell_quote};
use crate::harness::{self, RunReport};
use crate::net::Journal;
use crate::results::{self, RunFacts};

/// The nodes could not be started at all (their executable cannot run, or their flags do not
/// parse): the caller's mistake rather than the harness's, so `grader test` exits 254.
#[derive(Debug)]
pub struct NodeWontStart(pub String);

impl std::fmt::Display for NodeWontStart {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "the nodes could not be started: {}", self.0)
    }
}

impl std::error::Error for NodeWontStart {}

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
    let workload = config.workload.clone();
    let (store, started_at) = results::new_store_dir(store_root, &workload)?;
    let journal_path = store.join("journal.jsonl");
    let journal_file = File::create(&journal_path)
        .with_context(|| format!("cannot create {}", journal_path.display()))?;
    let mut journal = Journal::new(Box::new(BufWriter::with_capacity(1 << 20, journal_file)));
    journal.echo(config.console);
    let logs = store.join("node-logs");
    let mut cluster = match start(&logs) {
        Ok(cluster) => cluster,
        Err(error) => {
            // Nothing ran, so nothing is lost: no half-empty store folder is left behind.
            let _ = std::fs::remove_dir_all(&store);
            return Err(anyhow::Error::new(NodeWontStart(format!("{error:#}"))));
        }
    };
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
    // The page is drawn from what was just written; without it the run still has its results.
    if let Err(error) = results::report::write_report(&store, None) {
        eprintln!("warning: report.html was not written: {error:#}");
    }
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
    run_process_test_as(config, bin, args, store_root, interrupt, "grader test")
}

/// How a checkout of this repository runs `grader test` as it is, for the repeat command of a
/// run graded from `cargo xtask` (where no `grader` command is on the PATH).
pub const GRADER_TEST_IN_CHECKOUT: &str =
    "cargo run --release --quiet -p grader --bin grader -- test";

/// [`run_process_test`], its repeat command starting with `program` (the words that run
/// `grader test`).
pub fn run_process_test_as(
    config: &TestConfig,
    bin: &Path,
    args: &[String],
    store_root: &Path,
    interrupt: Option<&AtomicBool>,
    program: &str,
) -> anyhow::Result<TestRun> {
    let shown = std::path::absolute(bin).unwrap_or_else(|_| bin.to_owned());
    let reproduce = config.reproduce_command(
        &format!(
            "{program} --bin {}",
            shell_quote(&shown.display().to_string())
        ),
        args,
    );
    let ids = config.node_ids();
    run_in_store(
        config,
        store_root,
        reproduce,
        interrupt,
        |logs| ProcessCluster::start(bin, args, &ids, logs, config.seed, config.console.stderr),
        |_, _| Ok(()),
    )
}

/// Runs `job` on every item, each on its own thread, and returns the results in the items'
/// order. For independent runs that mostly wait (real processes) or that tests and benches
/// want side by side: they take the time of the slowest rather than of all together. A job
/// that panics panics the caller.
pub fn side_by_side<T, R, F>(items: impl IntoIterator<Item = T>, job: F) -> Vec<R>
where
    T: Send,
    R: Send,
    F: Fn(T) -> R + Sync,
{
    let job = &job;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .into_iter()
            .map(|item| scope.spawn(move || job(item)))
            .collect();
        handles
            .into_iter()
            .map(|handle| {
                handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::side_by_side;

    #[test]
    fn side_by_side_keeps_the_items_order_and_passes_a_panic_on() {
        // The later items finish first; the results still come back in the items' order.
        let slept = side_by_side([30u64, 20, 10, 0], |millis| {
            std::thread::sleep(std::time::Duration::from_millis(millis));
            millis
        });
        assert_eq!(slept, [30, 20, 10, 0]);
        let panicked = std::panic::catch_unwind(|| {
            side_by_side([1, 2], |item| assert_ne!(item, 2, "item 2 fails"))
        });
        assert!(panicked.is_err());
    }
}
