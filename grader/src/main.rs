//! The `grader` binary: Maelstrom's `test` command, without the JVM.
//!
//! ```text
//! grader test -w broadcast --bin ./my-node --node-count 5 --time-limit 10 --rate 10
//! ```
//!
//! Exit codes as Maelstrom's: 0 valid, 1 invalid, 2 unknown, 254 bad arguments (including a
//! node that cannot be started), 255 the harness's own failure; 128 + the signal when stopped
//! by SIGINT (130), SIGTERM (143) or SIGHUP (129), after the nodes are stopped and the results
//! so far are written.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

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
    Test(Box<TestArgs>),
    /// Draw a stored run's report.html again (every run writes one), for example with other
    /// windows for its diagram of messages between nodes.
    Report(ReportArgs),
    /// Judge a history with a workload's checker, running nothing: exit 0 valid, 1 invalid,
    /// 2 unknown or unreadable (saying what was wrong).
    Check(CheckArgs),
}

#[derive(Args)]
struct CheckArgs {
    /// The workload whose checker judges the history: lin-kv, kafka, txn-list-append, ….
    #[arg(short = 'w', long)]
    workload: String,
    /// The strict mode of lin-kv (reads of null and failed operations observe what they say;
    /// the default is Knossos's verdict) or of the transaction workloads (a reply's micro-ops
    /// must be the request's, a transaction's appends stay in its order, and transactions of
    /// unknown outcome take part in txn-rw-register's graph; the default is Elle's verdict).
    #[arg(long)]
    strict: bool,
    /// The transaction workloads' consistency models, separated by commas or spaces (default
    /// strict-serializable).
    #[arg(long, value_name = "MODELS")]
    consistency_models: Option<String>,
    /// A run's store folder (such as store/latest), its history.jsonl, Maelstrom's history.edn,
    /// or elle-cli's JSON lines (transaction workloads).
    #[arg(value_name = "PATH")]
    path: PathBuf,
}

#[derive(Args)]
struct ReportArgs {
    /// The run's store folder (it holds results.json, history.jsonl and journal.jsonl), such
    /// as store/latest.
    #[arg(value_name = "STORE_DIR")]
    store: PathBuf,
    /// A window for the diagram of messages between nodes, in seconds from the start:
    /// FROM,TO. May be given several times; replaces the default windows (the first second of
    /// the main phase, and the second around the first lost value).
    #[arg(long = "window", value_name = "FROM,TO", value_parser = parse_window)]
    windows: Vec<(f64, f64)>,
}

/// Parses `FROM,TO` seconds.
fn parse_window(text: &str) -> Result<(f64, f64), String> {
    let (from, to) = text
        .split_once(',')
        .ok_or_else(|| format!("a window is FROM,TO in seconds, such as 2.5,3.5; not `{text}`"))?;
    let number = |part: &str| {
        part.trim()
            .parse::<f64>()
            .ok()
            .filter(|value| value.is_finite() && *value >= 0.0)
            .ok_or_else(|| format!("`{part}` in --window {text} is not a number of seconds"))
    };
    let (from, to) = (number(from)?, number(to)?);
    if to <= from {
        return Err(format!("--window {text} ends before it starts"));
    }
    Ok((from, to))
}

fn report(args: ReportArgs) -> ExitCode {
    let windows = (!args.windows.is_empty()).then_some(args.windows.as_slice());
    match grader::results::report::write_report(&args.store, windows) {
        Ok(path) => {
            println!("wrote {}", path.display());
            ExitCode::SUCCESS
        }
        Err(error) => bad_arguments(format!("{error:#}")),
    }
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
    /// Run the test this many times (each with the next seed), stopping at the first run that
    /// is not valid.
    #[arg(long, default_value_t = 1, value_name = "N")]
    test_count: u32,
    /// Arguments for the node binary (after `--`).
    #[arg(last = true, value_name = "NODE_ARGS")]
    node_args: Vec<String>,
}

fn main() -> ExitCode {
    // Descendants of nodes that escape their process group are re-parented here, not to init,
    // so that they can be reaped.
    grader::procs::become_subreaper();
    let code = run();
    grader::procs::reap_orphans();
    code
}

/// Maelstrom's (and Jepsen's) flags this grader does not take, each with what to do instead.
const UNSUPPORTED: &[(&str, &str)] = &[
    (
        "--nodes-file",
        "name the nodes with --nodes n1,n2,n3, or count them with --node-count N",
    ),
    (
        "--leave-db-running",
        "nodes are always stopped when the run ends; their stderr is kept in the store's node-logs/",
    ),
    (
        "--logging-json",
        "the store is JSON already: results.json, history.jsonl and journal.jsonl",
    ),
    (
        "--ssh-private-key",
        "nodes run as local processes; there is no SSH",
    ),
    (
        "--username",
        "nodes run as local processes; there is no SSH",
    ),
    ("--no-ssh", "nodes run as local processes already"),
];

/// The first Maelstrom flag in `words` this grader does not take, said with what to do.
fn unsupported_flag(words: &[String]) -> Option<String> {
    let node_args = words
        .iter()
        .position(|word| word == "--")
        .unwrap_or(words.len());
    words[..node_args].iter().find_map(|word| {
        let flag = word.split('=').next().unwrap_or(word);
        UNSUPPORTED
            .iter()
            .find(|(name, _)| *name == flag)
            .map(|(name, instead)| format!("Maelstrom's {name} is not supported here: {instead}"))
    })
}

fn run() -> ExitCode {
    let words: Vec<String> = std::env::args().skip(1).collect();
    if let Some(message) = unsupported_flag(&words) {
        return bad_arguments(message);
    }
    if words.first().is_some_and(|word| word == "serve") {
        return bad_arguments(
            "Maelstrom's `serve` is not needed here: every run writes report.html into its store folder (open store/latest/report.html); `grader report STORE_DIR` draws it again".into(),
        );
    }
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
        Command::Test(args) => test(*args),
        Command::Report(args) => report(args),
        Command::Check(args) => check(&args),
    }
}

/// `grader check`: prints what the checker says and exits with its verdict.
fn check(args: &CheckArgs) -> ExitCode {
    match grader::check::check_path(
        &args.workload,
        args.strict,
        args.consistency_models.as_deref(),
        &args.path,
    ) {
        Ok(found) => {
            let checked = &found.checked;
            println!(
                "checked    {} history entries of {} with the {} checker",
                found.entries,
                args.path.display(),
                args.workload
            );
            for line in checked.summary.iter().chain(&checked.anomalies) {
                println!("{line}");
            }
            for reason in &checked.reasons {
                println!("why        {reason}");
            }
            let verdict = match checked.valid {
                grader::checker::Validity::Valid => "valid",
                grader::checker::Validity::Invalid => "invalid",
                grader::checker::Validity::Unknown => "unknown",
            };
            println!("verdict    {verdict}");
            ExitCode::from(grader::check::exit_code(checked.valid))
        }
        // An unreadable history is no verdict: exit 2, as unknown.
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

fn bad_arguments(message: String) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(EXIT_BAD_ARGUMENTS)
}

/// Sets `flag` and records which signal it was when SIGINT, SIGTERM or SIGHUP arrives.
fn catch_signals(flag: Arc<AtomicBool>, which: Arc<AtomicI32>) {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    match signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) {
        Ok(mut signals) => {
            std::thread::spawn(move || {
                for signal in signals.forever() {
                    which.store(signal, Ordering::SeqCst);
                    flag.store(true, Ordering::SeqCst);
                }
            });
        }
        Err(error) => eprintln!(
            "warning: cannot catch signals ({error}); stopping the grader will not save results"
        ),
    }
}

/// A progress bar on a terminal: elapsed of the planned time (main phase and recovery), the
/// phase, operations completed and what the nemesis holds, redrawn five times a second.
struct ProgressDisplay {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl ProgressDisplay {
    fn start(planned: std::time::Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let tenths = (planned.as_secs_f64() * 10.0).ceil() as u64;
            let bar = indicatif::ProgressBar::new(tenths.max(1));
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "[{elapsed_precise}] {bar:30.cyan/blue} {percent:>3}% of the planned time · {msg}",
            ) {
                bar.set_style(style);
            }
            let started = std::time::Instant::now();
            while !flag.load(Ordering::Relaxed) {
                let elapsed = (started.elapsed().as_secs_f64() * 10.0) as u64;
                bar.set_position(elapsed.min(tenths));
                bar.set_message(grader::harness::progress::snapshot().line());
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
            bar.finish_and_clear();
        });
        Self { stop, thread }
    }

    fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
    }
}

fn test(args: TestArgs) -> ExitCode {
    let config = match TestConfig::from_args(&args.run) {
        Ok(config) => config,
        Err(message) => return bad_arguments(message),
    };
    if args.test_count == 0 {
        return bad_arguments("--test-count must be at least 1".into());
    }
    let flag = Arc::new(AtomicBool::new(false));
    let which = Arc::new(AtomicI32::new(0));
    catch_signals(flag.clone(), which.clone());
    let mut code = ExitCode::SUCCESS;
    for round in 0..args.test_count {
        let mut config = config.clone();
        config.seed = config.seed.wrapping_add(u64::from(round));
        if args.test_count > 1 {
            eprintln!("test {} of {}", round + 1, args.test_count);
        }
        let (exit, valid) = test_once(&args, &config, (&flag, &which));
        code = exit;
        if !valid {
            if args.test_count > 1 && !flag.load(Ordering::SeqCst) {
                eprintln!(
                    "stopped at test {} of {}: it was not valid",
                    round + 1,
                    args.test_count
                );
            }
            break;
        }
    }
    code
}

/// One run of `grader test`: its exit code, and whether it was valid. `flag` is set when a
/// signal asks the run to stop, and `which` says which signal it was.
fn test_once(
    args: &TestArgs,
    config: &TestConfig,
    (flag, which): (&AtomicBool, &AtomicI32),
) -> (ExitCode, bool) {
    let fail = |code: ExitCode| (code, false);
    let bin = match check_bin(&args.bin) {
        Ok(bin) => bin,
        Err(message) => return fail(bad_arguments(message)),
    };
    let final_phase = grader::workload::build(&config.workload, &config.workload_options)
        .is_ok_and(|workload| workload.declaration().final_phase);
    let recovery = if final_phase {
        config.recovery
    } else {
        std::time::Duration::ZERO
    };
    eprintln!(
        "running {} on {} nodes for {} s{}, seed {}",
        config.workload,
        config.node_count,
        config.time_limit.as_secs_f64(),
        if final_phase {
            format!(" (+{} s recovery)", recovery.as_secs_f64())
        } else {
            String::new()
        },
        config.seed
    );
    let display = std::io::stderr()
        .is_terminal()
        .then(|| ProgressDisplay::start(config.time_limit + recovery));
    let outcome =
        grader::run::run_process_test(config, &bin, &args.node_args, &args.store, Some(flag));
    if let Some(display) = display {
        display.stop();
    }
    match outcome {
        Ok(run) => {
            print!("{}", run.summary);
            if run.report.interrupted {
                let signal = which.load(Ordering::SeqCst);
                eprintln!(
                    "stopped by signal {signal}: the nodes were stopped and the results so far are in {}",
                    run.store.display()
                );
                fail(ExitCode::from(u8::try_from(128 + signal).unwrap_or(130)))
            } else {
                let valid = run.report.valid == grader::checker::Validity::Valid;
                (ExitCode::from(run.report.valid.exit_code()), valid)
            }
        }
        Err(error) if error.downcast_ref::<grader::run::NodeWontStart>().is_some() => {
            fail(bad_arguments(format!("{error:#}")))
        }
        Err(error) => {
            eprintln!("error: {error:#}");
            fail(ExitCode::from(EXIT_INTERNAL))
        }
    }
}
