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

use clap::{Args, Parser, Subcommand};
use grader::config::{RunArgs, TestConfig, check_bin};
use grader::results::{EXIT_BAD_ARGUMENTS, EXIT_INTERNAL};

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
    #[command(flatten)]
    run: RunArgs,
    /// The node executable; arguments after `--` are passed to it.
    #[arg(long, value_name = "PATH")]
    bin: PathBuf,
    /// Where runs are stored: <store>/<workload>/<timestamp>/, and <store>/latest.
    #[arg(long, default_value = "store", value_name = "DIR")]
    store: PathBuf,
    /// Arguments for the node binary (after `--`).
    #[arg(last = true, value_name = "NODE_ARGS")]
    node_args: Vec<String>,
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

static INTERRUPTED: OnceLock<Arc<AtomicBool>> = OnceLock::new();

fn test(args: TestArgs) -> ExitCode {
    let config = match TestConfig::from_args(&args.run) {
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
    match grader::run::run_process_test(&config, &bin, &args.node_args, &args.store, Some(&flag)) {
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
