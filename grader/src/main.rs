//! The `grader` binary: Maelstrom's `test` command, without the JVM.
//!
//! ```text
//! grader test -w broadcast --bin ./my-node --node-count 5 --time-limit 10 --rate 10
//! ```
//!
//! Exit codes as Maelstrom's: 0 valid, 1 invalid, 2 unknown, 254 bad arguments, 255 the
//! harness's own failure; 130 when interrupted (the results so far are still written).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use grader::harness::{TestConfig, Workload};
use grader::nemesis::{Fault, parse_faults};
use grader::network::{Latency, LatencyDistribution};
use grader::results::{EXIT_BAD_ARGUMENTS, EXIT_INTERNAL};
use grader::topology::Topology;

#[derive(Parser)]
#[command(
    name = "grader",
    version,
    about = "Gossiper's Maelstrom-compatible harness: runs any node binary as a cluster and checks it."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a workload against a cluster of node processes and check the results.
    Test(TestArgs),
}

#[derive(Args)]
struct TestArgs {
    /// The workload to run.
    #[arg(short = 'w', long, default_value = "broadcast", value_parser = parse_workload)]
    workload: Workload,
    /// The node executable; arguments after `--` are passed to it.
    #[arg(long, value_name = "PATH")]
    bin: PathBuf,
    /// How many nodes, named n0, n1, ….
    #[arg(long, default_value_t = 5, value_name = "N")]
    node_count: usize,
    /// Seconds of client operations (the main phase).
    #[arg(long, default_value_t = 60.0, value_name = "SECONDS")]
    time_limit: f64,
    /// Client operations per second across all clients; 0 for none.
    #[arg(long, default_value_t = 5.0, value_name = "OPS")]
    rate: f64,
    /// Worker clients: a number, or `Kn` for K per node (worker t talks to node t mod N).
    #[arg(long, default_value = "1n", value_name = "N|Kn")]
    concurrency: String,
    /// Mean one-way latency between servers, in ms (clients get none).
    #[arg(long, default_value_t = 0.0, value_name = "MS")]
    latency: f64,
    /// How latencies are drawn: constant, uniform or exponential.
    #[arg(long, default_value = "constant", value_parser = parse_distribution)]
    latency_dist: LatencyDistribution,
    /// Faults to inject, comma-separated: partition.
    #[arg(long, value_name = "FAULTS", value_parser = parse_faults_arg)]
    nemesis: Option<FaultList>,
    /// Mean seconds between nemesis actions.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    nemesis_interval: f64,
    /// The topology sent to nodes: grid, line, total, tree (tree2), tree3, tree4.
    #[arg(long, default_value = "grid", value_parser = parse_topology)]
    topology: Topology,
    /// Seed for the harness's randomness (latency, operations, nemesis); random if absent.
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    /// Seconds of quiet after the heal, before the final reads.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    recovery: f64,
    /// Where runs are stored: <store>/<workload>/<timestamp>/, and <store>/latest.
    #[arg(long, default_value = "store", value_name = "DIR")]
    store: PathBuf,
    /// Arguments for the node binary (after `--`).
    #[arg(last = true, value_name = "NODE_ARGS")]
    node_args: Vec<String>,
}

#[derive(Clone)]
struct FaultList(std::collections::BTreeSet<Fault>);

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

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let code = if error.use_stderr() {
                EXIT_BAD_ARGUMENTS
            } else {
                0
            };
            let _ = error.print();
            return ExitCode::from(code);
        }
    };
    match cli.command {
        Command::Test(args) => test(args),
    }
}

fn bad_arguments(message: String) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(EXIT_BAD_ARGUMENTS)
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

fn config_from(args: &TestArgs) -> Result<TestConfig, String> {
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
        init_timeout: grader::harness::INIT_TIMEOUT,
    })
}

fn check_bin(bin: &std::path::Path) -> Result<PathBuf, String> {
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

static INTERRUPTED: OnceLock<Arc<AtomicBool>> = OnceLock::new();

fn test(args: TestArgs) -> ExitCode {
    let config = match config_from(&args) {
        Ok(config) => config,
        Err(message) => return bad_arguments(message),
    };
    let bin = match check_bin(&args.bin) {
        Ok(bin) => bin,
        Err(message) => return bad_arguments(message),
    };
    let flag = INTERRUPTED
        .get_or_init(|| Arc::new(AtomicBool::new(false)))
        .clone();
    let handler_flag = flag.clone();
    if let Err(error) = ctrlc::set_handler(move || handler_flag.store(true, Ordering::SeqCst)) {
        eprintln!("warning: cannot catch Ctrl-C ({error}); interrupting will not save results");
    }
    eprintln!(
        "running {} on {} nodes for {} s (+{} s recovery), seed {}",
        config.workload,
        config.node_count,
        config.time_limit.as_secs_f64(),
        config.recovery.as_secs_f64(),
        config.seed
    );
    match grader::test_run::run_process_test(
        &config,
        &bin,
        &args.node_args,
        &args.store,
        Some(&flag),
    ) {
        Ok(run) => {
            print!("{}", run.summary);
            if run.report.interrupted {
                ExitCode::from(130)
            } else {
                ExitCode::from(run.report.valid.exit_code())
            }
        }
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(EXIT_INTERNAL)
        }
    }
}
