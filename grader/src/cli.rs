//! The flags of a test run, shared by `grader test` and `cargo xtask sim` so that both take the
//! same settings with the same defaults and the same checks.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;

use crate::harness::{INIT_TIMEOUT, TestConfig, Workload};
use crate::nemesis::{Fault, parse_faults};
use crate::network::{Latency, LatencyDistribution};
use crate::topology::Topology;

/// Maelstrom's `test` flags, less `--bin` (Maelstrom's defaults throughout).
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// The workload to run.
    #[arg(short = 'w', long, default_value = "broadcast", value_parser = parse_workload)]
    pub workload: Workload,
    /// How many nodes, named n0, n1, ….
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub node_count: usize,
    /// Seconds of client operations (the main phase).
    #[arg(long, default_value_t = 60.0, value_name = "SECONDS")]
    pub time_limit: f64,
    /// Client operations per second across all clients; 0 for none.
    #[arg(long, default_value_t = 5.0, value_name = "OPS")]
    pub rate: f64,
    /// Worker clients: a number, or `Kn` for K per node (worker t talks to node t mod N).
    #[arg(long, default_value = "1n", value_name = "N|Kn")]
    pub concurrency: String,
    /// Mean one-way latency between servers, in ms (clients get none).
    #[arg(long, default_value_t = 0.0, value_name = "MS")]
    pub latency: f64,
    /// How latencies are drawn: constant, uniform or exponential.
    #[arg(long, default_value = "constant", value_parser = parse_distribution)]
    pub latency_dist: LatencyDistribution,
    /// Faults to inject, comma-separated: partition, kill (kill crashes nodes and restarts them empty).
    #[arg(long, value_name = "FAULTS", value_parser = parse_faults_arg)]
    pub nemesis: Option<FaultList>,
    /// Mean seconds between nemesis actions.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    pub nemesis_interval: f64,
    /// The topology sent to nodes: grid, line, total, tree (tree2), tree3, tree4.
    #[arg(long, default_value = "grid", value_parser = parse_topology)]
    pub topology: Topology,
    /// Seed for the harness's randomness (latency, operations, nemesis); random if absent.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Seconds of quiet after the heal, before the final reads.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    pub recovery: f64,
}

/// A parsed `--nemesis` list.
#[derive(Debug, Clone)]
pub struct FaultList(pub BTreeSet<Fault>);

fn parse_workload(text: &str) -> Result<Workload, String> {
    text.parse()
}

fn parse_distribution(text: &str) -> Result<LatencyDistribution, String> {
    text.parse()
}

fn parse_topology(text: &str) -> Result<Topology, String> {
    text.parse()
}

fn parse_faults_arg(text: &str) -> Result<FaultList, String> {
    parse_faults(text).map(FaultList)
}

fn seconds(value: f64, flag: &str) -> Result<Duration, String> {
    if value.is_finite() && value >= 0.0 {
        Ok(Duration::from_secs_f64(value))
    } else {
        Err(format!(
            "{flag} must be a number of seconds, 0 or more (got {value})"
        ))
    }
}

/// Checks the flags and turns them into a harness configuration.
pub fn config_from(args: &RunArgs) -> Result<TestConfig, String> {
    if args.node_count == 0 {
        return Err("--node-count must be at least 1".into());
    }
    if !(args.rate.is_finite() && args.rate >= 0.0) {
        return Err(format!("--rate must be 0 or more (got {})", args.rate));
    }
    if !(args.latency.is_finite() && args.latency >= 0.0) {
        return Err(format!(
            "--latency must be 0 or more milliseconds (got {})",
            args.latency
        ));
    }
    if args.latency_dist == LatencyDistribution::Exponential && args.latency == 0.0 {
        return Err("--latency-dist exponential needs a mean: pass --latency above 0".into());
    }
    let concurrency = match args.concurrency.strip_suffix('n') {
        Some(per_node) => per_node.parse::<usize>().map(|k| k * args.node_count),
        None => args.concurrency.parse::<usize>(),
    }
    .map_err(|_| {
        format!(
            "--concurrency takes a number (5) or a multiple of the node count (2n), not `{}`",
            args.concurrency
        )
    })?;
    if concurrency == 0 {
        return Err("--concurrency must be at least 1".into());
    }
    let nemesis_interval = seconds(args.nemesis_interval, "--nemesis-interval")?;
    let faults = args.nemesis.clone().map(|list| list.0).unwrap_or_default();
    if !faults.is_empty() && nemesis_interval.is_zero() {
        return Err("--nemesis-interval must be above 0".into());
    }
    Ok(TestConfig {
        workload: args.workload,
        node_count: args.node_count,
        time_limit: seconds(args.time_limit, "--time-limit")?,
        rate: args.rate,
        concurrency,
        latency: Latency {
            mean_ms: args.latency,
            distribution: args.latency_dist,
        },
        faults,
        nemesis_interval,
        topology: args.topology,
        seed: args.seed.unwrap_or_else(rand::random),
        recovery: seconds(args.recovery, "--recovery")?,
        init_timeout: INIT_TIMEOUT,
    })
}

/// Checks that `bin` is an executable file and makes its path absolute.
pub fn check_bin(bin: &Path) -> Result<PathBuf, String> {
    let metadata = std::fs::metadata(bin).map_err(|_| {
        format!(
            "--bin {}: no such file; build your node and pass the path to its executable",
            bin.display()
        )
    })?;
    if !metadata.is_file() {
        return Err(format!("--bin {}: not a file", bin.display()));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if metadata.permissions().mode() & 0o111 == 0 {
            return Err(format!(
                "--bin {}: not executable; run `chmod +x {}` (scripts also need a #! line)",
                bin.display(),
                bin.display()
            ));
        }
    }
    std::path::absolute(bin).map_err(|error| format!("--bin {}: {error}", bin.display()))
}
