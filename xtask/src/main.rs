//! Project automation, run as `cargo xtask <command>`: flags and dispatch only.
//!
//! `cargo xtask grade stage-01` builds the stage's reference node in release, runs its protocol
//! fixtures and its cluster runs (declared in `grading.toml`) through the grader library, and
//! prints tables with each run's figures beside its thresholds, and a verdict. `--bin PATH`
//! grades any other executable (a learner's node, in any language) the same way; `--json FILE`
//! writes the tables for scripts.
//!
//! Exit codes: 0 when everything graded passes, 1 when something failed, 2 when the grader
//! could not run at all (unknown stage, build failure, missing or non-executable binary).

mod bench;
mod bench_kv;
mod bench_tuning;
mod check_report;
mod compare;
mod grade;
mod learn;
mod plot;
mod sim;
#[cfg(test)]
mod tidy;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use clap::{Parser, Subcommand};
use grader::fixtures::Conventions;
use grader::grade::Part;
use grader::manifest::Manifest;

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    about = "Gossiper's project tasks: build, grade, simulate and benchmark the stages and the Glomers track's exercises."
)]
struct Cli {
    #[command(subcommand)]
    command: Task,
}

/// What `check` and `watch` grade, and how.
#[derive(clap::Args)]
struct CheckArgs {
    /// The stage or exercise: `stage-01`, `1`, `glomers-4` (default: the first one you started
    /// and have not passed).
    stage: Option<String>,
    /// The learner folder.
    #[arg(long, default_value = learn::DEFAULT_DIR, value_name = "DIR")]
    dir: PathBuf,
    /// How fixtures compare your node's own msg_ids (see `grade --help`).
    #[arg(long, value_enum, default_value_t = Conventions::Track)]
    conventions: Conventions,
    /// Seconds a fixture may run before the node is killed.
    #[arg(long, default_value_t = 5.0, value_name = "SECONDS")]
    timeout: f64,
}

impl CheckArgs {
    fn checking<'a>(
        &'a self,
        root: &'a Path,
        manifest: &'a Manifest,
        interrupt: Option<&'a Arc<AtomicBool>>,
    ) -> learn::Checking<'a> {
        learn::Checking {
            root,
            manifest,
            dir: &self.dir,
            conventions: self.conventions,
            timeout: Duration::from_secs_f64(self.timeout.max(0.1)),
            interrupt,
        }
    }
}

#[derive(Subcommand)]
enum Task {
    /// Build a stage or a Glomers exercise and grade it: its protocol fixtures and its cluster
    /// runs (grading.toml), with tables of results and a verdict.
    ///
    /// Exit code 0: everything passed; 1: something failed; 2: the grader could not run.
    Grade {
        /// What to grade: a stage as `stage-07`, `07`, `7` or `stage-07-min-fanout`; a Glomers
        /// exercise as `glomers-4`, `guide-4` or its full name (`glomers-3d` is stage 10).
        #[arg(required_unless_present = "all", value_name = "STAGE")]
        stages: Vec<String>,
        /// Grade every stage and exercise in the manifest (stages/stages.toml).
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
        /// Cluster runs that may share the machine at once (default: one per core). Runs whose
        /// checks cap a latency or the convergence time always run alone; the others
        /// (validity, message counts, coverage) run up to this many side by side.
        #[arg(long, value_name = "N")]
        jobs: Option<usize>,
        /// How fixtures compare the node's own msg_ids: `track` (by value, one counter from 0
        /// at init_ok) or `maelstrom` (present and unique per node, any values; init_ok may
        /// leave it out), for nodes written with Maelstrom's own libraries.
        #[arg(long, value_enum, default_value_t = Conventions::Track)]
        conventions: Conventions,
    },
    /// Start a stage or exercise as a learner: write a starter node (its messages, its flags, a
    /// `todo!` per handler) into the learner folder, outside the reference crates.
    Start {
        /// The stage or exercise: `stage-01`, `01`, `1`, `glomers-4`, `guide-4` or the full name.
        stage: String,
        /// The starter's language: a Rust crate on this checkout's runtime, or one Python file
        /// with a tiny runtime (standard library only).
        #[arg(long, value_enum)]
        lang: Option<learn::Lang>,
        /// The learner folder.
        #[arg(long, default_value = learn::DEFAULT_DIR, value_name = "DIR")]
        dir: PathBuf,
        /// Begin from your node of an earlier stage (copied), with the new stage's starter
        /// beside it in starter/.
        #[arg(long, value_name = "STAGE")]
        from: Option<String>,
    },
    /// Build and grade your node of a stage once: fixtures first, cluster runs once every
    /// fixture passes. Remembers the result for `progress`.
    ///
    /// Exit code 0: the stage passed; 1: not yet; 2: could not grade.
    Check(CheckArgs),
    /// Check your node of a stage now and again on every save, until Ctrl-C.
    Watch(CheckArgs),
    /// Every stage and exercise, track by track, with your last results (from the learner
    /// folder), and the next one to do.
    Progress {
        /// The learner folder.
        #[arg(long, default_value = learn::DEFAULT_DIR, value_name = "DIR")]
        dir: PathBuf,
        /// Print the rows as JSON instead.
        #[arg(long)]
        json: bool,
    },
    /// Further reading: papers and write-ups beside the stages they deepen, each with why it
    /// matters there (all stages, or one).
    Reading {
        /// The stage or exercise: `stage-13`, `13`, `glomers-5c` or the full name (default:
        /// every stage in order).
        stage: Option<String>,
    },
    /// Interview questions on what the track builds, by subtrack (naive-broadcast,
    /// gossip-protocol, epidemic-algorithms, topology-aware-gossip, crdts) or by stage; a model
    /// answer, pointing at what you built and measured, and the follow-up come only with
    /// `--answer N`.
    Interview {
        /// A subtrack's name or a stage or exercise (`stage-05`, `guide-6`); default: what there
        /// is.
        which: Option<String>,
        /// Show question N's model answer and follow-up.
        #[arg(long, value_name = "N")]
        answer: Option<usize>,
    },
    /// Common mistakes, each with what you see, its root cause and the fix: the track's top
    /// five, those that bite in one stage, or one by its key (the grader's reasons name a
    /// mistake it recognises in a failed run by that key).
    Mistakes {
        /// A stage or exercise (`stage-05`, `5`, `glomers-5b`) or a mistake's key
        /// (`never-resend`); default: the track's top five.
        which: Option<String>,
    },
    /// The hints of a stage or exercise, one more each time you ask, from general to specific.
    Hint {
        /// The stage or exercise: `stage-01`, `glomers-4`, ….
        stage: String,
        /// The learner folder (it remembers how many hints you have seen).
        #[arg(long, default_value = learn::DEFAULT_DIR, value_name = "DIR")]
        dir: PathBuf,
    },
    /// Run one of our stages' nodes in the simulated cluster (virtual time, one seed, in
    /// memory), with `grader test`'s flags, and write the same store and results.json.
    ///
    /// Exit code as `grader test`: 0 valid, 1 invalid, 2 unknown; 254 for bad arguments.
    Sim {
        /// The stage or exercise whose node to simulate: `stage-01`, `01`, `glomers-4` or the
        /// full name.
        stage: String,
        #[command(flatten)]
        run: Box<grader::config::RunArgs>,
        /// Where runs are stored.
        #[arg(long, default_value = "store", value_name = "DIR")]
        store: PathBuf,
        /// Arguments for the node (its flags), after `--`.
        #[arg(last = true, value_name = "NODE_ARGS")]
        node_args: Vec<String>,
    },
    /// Measure the simulated cluster's speed: virtual seconds per wall second with stage 01's
    /// node at several sizes (rate 100, latency 100, 20 s + 10 s recovery).
    BenchSim {
        /// Cluster sizes to measure: `--nodes 25 100` or `--nodes 25,100`.
        #[arg(long, value_delimiter = ',', num_args = 1.., default_values_t = [25, 100, 1000])]
        nodes: Vec<usize>,
        /// Operations per second.
        #[arg(long, default_value_t = 100.0)]
        rate: f64,
        /// Seconds of operations.
        #[arg(long, default_value_t = 20.0)]
        time_limit: f64,
    },
    /// Benchmark stage 19's gossip KV store across cluster sizes, with and without partitions:
    /// real processes at the smaller sizes, the simulation at the larger ones. Prints a table
    /// and writes store/bench-kv/bench-kv.json, replication.svg and messages.svg.
    BenchKv {
        /// Sizes run as real processes.
        #[arg(long, value_delimiter = ',', num_args = 1.., default_values_t = [5, 10, 25, 50])]
        processes: Vec<usize>,
        /// Sizes run in the simulation.
        #[arg(long, value_delimiter = ',', num_args = 0.., default_values_t = [100, 500, 1000])]
        simulated: Vec<usize>,
        /// Seconds of operations per run.
        #[arg(long, default_value_t = 10.0)]
        time_limit: f64,
        /// Run nothing: draw the plots again from the last run's bench-kv.json.
        #[arg(long)]
        plot_only: bool,
    },
    /// Map stage 10's trade-off in the simulation: msgs-per-op, median and max latency for free
    /// and aligned rounds through one hub, and one hop in rounds, over a range of periods (25 nodes, rate 100, latency
    /// 100 ms). Prints a table and writes store/bench-tuning/frontier.json and frontier.svg.
    BenchTuning {
        /// Anti-entropy interval handed to every run.
        #[arg(long, default_value_t = 5000)]
        sync_ms: u64,
    },
    /// Check report.html in a real browser: make two simulated runs' pages (stage 05 under
    /// partitions; Glomers 6b judged serializable, with its cycles drawn) and render them in
    /// headless Chromium (`$CHROMIUM`, or `chromium` on the PATH); fails unless every section,
    /// chart and cycle graph rendered and nothing was logged to the console.
    CheckReport {
        /// Also copy the screenshot here (the README keeps one).
        #[arg(long, value_name = "PNG")]
        keep_screenshot: Option<PathBuf>,
    },
    /// The track's approaches side by side, measured in the simulation: every broadcast stage
    /// on one configuration (10 nodes, rate 20, latency 20 ms), calm, with partitions and with
    /// crash-stop (msgs-per-op, latency to every node, duplicates, bytes, lost values, the
    /// verdict); and the CRDT stages on their graded workloads (lost writes, conflicts kept,
    /// resurrections, convergence). Deterministic per seed.
    Compare {
        /// The seed of every run.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Print Markdown tables (as the README shows them) instead of the terminal's.
        #[arg(long)]
        markdown: bool,
        /// Also write every row as JSON here.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
        /// Also draw messages against latency, one colour per scenario, as SVG here.
        #[arg(long, value_name = "FILE")]
        svg: Option<PathBuf>,
        /// Check that README.md's comparison block is what this run measures (exit 1 if not).
        #[arg(long)]
        check: bool,
    },
    /// Compare Glomers 5b's and 5c's reference nodes side by side: Fly.io's 5b/5c command (2
    /// nodes, 2n clients, rate 1000), real processes, seeds 1.. alternating between the two;
    /// prints each run's verdict, messages between nodes per operation and send and poll
    /// latency, then each node's spread.
    BenchKafka {
        /// Runs per node.
        #[arg(long, default_value_t = 3)]
        runs: u64,
        /// Seconds per run.
        #[arg(long, default_value_t = 20.0)]
        seconds: f64,
        /// Mean message latency, ms (Fly.io's command leaves Maelstrom's default, 0).
        #[arg(long, default_value_t = 0)]
        latency: u64,
    },
    /// Measure a checker: time to check valid histories of growing length, several runs each;
    /// prints each run, the spread, and the time per 1,000 operations (flat if linear). kafka:
    /// 10,000 to 160,000 operations (a 20 s Maelstrom run at rate 1000 is about 20,000);
    /// lin-kv: one key at 5, 10, 20 and 50 concurrent processes, 1,000 to 100,000 operations,
    /// then the longest length spread over 1, 4 and 16 keys (searched in parallel);
    /// txn-list-append: 10,000 to 1,000,000 transactions, as serializable and as
    /// strict-serializable.
    /// With `--histories DIR`: the workload's checker on every history file in DIR instead
    /// (read, parsed and judged in this process, as `grader check` does), for histories from
    /// elsewhere, such as Jepsen's or Maelstrom's.
    BenchChecker {
        /// Which checker: kafka, lin-kv or txn-list-append.
        #[arg(long, default_value = "kafka")]
        workload: String,
        /// Operations per history (default: the workload's list above).
        #[arg(long, value_delimiter = ',')]
        operations: Vec<usize>,
        /// Runs per length.
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// A folder of history files (`*.jsonl` or `*.edn`) to time instead.
        #[arg(long, value_name = "DIR")]
        histories: Option<PathBuf>,
    },
    /// Measure the client rate the harness sustains: unique-ids on 3 trivial nodes at 1,000,
    /// 5,000 and 10,000 operations per second, several runs each; prints the rate achieved
    /// and operation latency (median, 99th percentile, max) per run and their spread.
    BenchRate {
        /// The rates asked for, operations per second.
        #[arg(long, value_delimiter = ',', default_values_t = [1000.0, 5000.0, 10000.0])]
        rates: Vec<f64>,
        /// Runs per rate.
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Seconds per run.
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
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

fn main() -> ExitCode {
    // Descendants of graded nodes that escape their process group are re-parented here, not to
    // init, so that they can be reaped once grading is done.
    grader::procs::become_subreaper();
    let code = dispatch(Cli::parse());
    grader::procs::reap_orphans();
    code
}

fn dispatch(cli: Cli) -> ExitCode {
    match cli.command {
        Task::Grade {
            stages,
            all,
            bin,
            timeout,
            only,
            json,
            jobs,
            conventions,
        } => {
            let part = match only.as_deref() {
                Some("fixtures") => Part::Fixtures,
                Some("cluster") => Part::Cluster,
                _ => Part::Both,
            };
            let request = grade::GradeRequest {
                stages: &stages,
                all,
                bin: bin.as_deref(),
                timeout: Duration::from_secs_f64(timeout.max(0.1)),
                part,
                json: json.as_deref(),
                jobs: jobs.unwrap_or_else(|| {
                    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
                }),
                conventions,
                interrupt: grade::catch_interrupts(),
            };
            let graded = grade::grade(&request);
            stopped_by_signal(request.interrupt.as_ref()).unwrap_or_else(|| verdict(graded))
        }
        Task::Start {
            stage,
            lang,
            dir,
            from,
        } => report(start(&stage, lang, &dir, from.as_deref())),
        Task::Check(args) => {
            let root = workspace_root();
            let interrupt = grade::catch_interrupts();
            let checked = manifest().map_err(grade::CannotGrade).and_then(|manifest| {
                learn::check(
                    &args.checking(&root, &manifest, interrupt.as_ref()),
                    args.stage.as_deref(),
                )
            });
            stopped_by_signal(interrupt.as_ref()).unwrap_or_else(|| verdict(checked))
        }
        Task::Watch(args) => {
            let root = workspace_root();
            let interrupt = grade::catch_interrupts();
            let watched = manifest().and_then(|manifest| {
                learn::watch(
                    &args.checking(&root, &manifest, interrupt.as_ref()),
                    args.stage.as_deref(),
                )
            });
            match watched {
                // Ctrl-C between grades is how a watch ends.
                Ok(false) if grade::interrupted(interrupt.as_ref()) => {
                    eprintln!("stopped watching");
                    ExitCode::from(130)
                }
                Ok(_) => stopped_by_signal(interrupt.as_ref()).unwrap_or(ExitCode::SUCCESS),
                Err(error) => report(Err(error)),
            }
        }
        Task::Progress { dir, json } => report(manifest().and_then(|manifest| {
            let rows = learn::progress_rows(&workspace_root(), &manifest, &dir)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                print!("{}", learn::render_progress(&manifest, &rows, &dir));
            }
            Ok(())
        })),
        Task::Reading { stage } => report(manifest().and_then(|manifest| {
            print!(
                "{}",
                learn::reading::reading(&workspace_root(), &manifest, stage.as_deref())?
            );
            Ok(())
        })),
        Task::Interview { which, answer } => report(manifest().and_then(|manifest| {
            print!(
                "{}",
                learn::interview::interview(
                    &workspace_root(),
                    &manifest,
                    which.as_deref(),
                    answer
                )?
            );
            Ok(())
        })),
        Task::Mistakes { which } => report(manifest().and_then(|manifest| {
            print!(
                "{}",
                learn::mistakes::mistakes(&workspace_root(), &manifest, which.as_deref())?
            );
            Ok(())
        })),
        Task::Hint { stage, dir } => report(manifest().and_then(|manifest| {
            print!(
                "{}",
                learn::hint(&workspace_root(), &manifest, &stage, &dir)?
            );
            Ok(())
        })),
        Task::Sim {
            stage,
            run,
            store,
            node_args,
        } => sim::sim(&stage, &run, &store, &node_args),
        Task::BenchSim {
            nodes,
            rate,
            time_limit,
        } => report(bench::bench_sim(&nodes, rate, time_limit)),
        Task::BenchKv {
            plot_only: true, ..
        } => report(bench_kv::replot()),
        Task::BenchKv {
            processes,
            simulated,
            time_limit,
            plot_only: false,
        } => report(bench_kv::bench_kv(&processes, &simulated, time_limit)),
        Task::BenchTuning { sync_ms } => report(bench_tuning::bench_tuning(sync_ms)),
        Task::CheckReport { keep_screenshot } => {
            report(check_report::check_report(keep_screenshot.as_deref()))
        }
        Task::BenchHarness {
            nodes,
            seconds,
            time_limit,
            recovery,
        } => report(bench::bench_harness(nodes, seconds, time_limit, recovery)),
        Task::BenchRate {
            rates,
            runs,
            seconds,
        } => report(bench::bench_rate(&rates, runs, seconds)),
        Task::BenchKafka {
            runs,
            seconds,
            latency,
        } => report(bench::bench_kafka(runs, seconds, latency)),
        Task::Compare {
            seed,
            markdown,
            json,
            svg,
            check,
        } => report(manifest().and_then(|manifest| {
            let comparison = compare::compare(&workspace_root(), &manifest, seed)?;
            if check {
                compare::check_readme(&workspace_root(), &comparison)?;
                println!("README.md's comparison is what this run measures");
                return Ok(());
            }
            if markdown {
                print!("{}", compare::markdown(&comparison));
            } else {
                print!("{}", compare::table(&comparison));
            }
            if let Some(path) = json {
                std::fs::write(&path, serde_json::to_string_pretty(&comparison)? + "\n")?;
                println!("wrote {}", path.display());
            }
            if let Some(path) = svg {
                compare::plot(&comparison, &path)?;
                println!("wrote {}", path.display());
            }
            Ok(())
        })),
        Task::BenchChecker {
            workload,
            operations,
            runs,
            histories: Some(dir),
        } => report(if operations.is_empty() {
            bench::bench_history_files(&workload, &dir, runs)
        } else {
            Err(anyhow::anyhow!(
                "--operations sizes generated histories; with --histories the files' own lengths count: pass one or the other"
            ))
        }),
        Task::BenchChecker {
            workload,
            operations,
            runs,
            histories: None,
        } => match workload.as_str() {
            "kafka" => {
                bench::bench_checker(&operations, runs);
                ExitCode::SUCCESS
            }
            "lin-kv" => {
                bench::bench_lin_kv(&operations, runs);
                ExitCode::SUCCESS
            }
            "txn-list-append" => {
                bench::bench_txn(&operations, runs);
                ExitCode::SUCCESS
            }
            other => report(Err(anyhow::anyhow!(
                "bench-checker measures kafka, lin-kv or txn-list-append, not `{other}`"
            ))),
        },
    }
}

/// `cargo xtask start`, with what to do next.
fn start(
    stage: &str,
    lang: Option<learn::Lang>,
    dir: &Path,
    from: Option<&str>,
) -> anyhow::Result<()> {
    let root = workspace_root();
    let manifest = manifest()?;
    let started = learn::start(&root, &manifest, stage, lang, dir, from)?;
    let name = started
        .dir
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    println!("wrote {} ({:?})", started.main.display(), started.lang);
    if let Some(from) = from {
        let from = manifest.resolve(from)?;
        let (messages, flags) = learn::new_since(&root, from, manifest.resolve(&name)?)?;
        let from = &from.name;
        println!(
            "copied your {from} node; the new stage's starter is in {}/starter/ for reference",
            started.dir.display()
        );
        if !messages.is_empty() {
            println!("new messages to handle: {}", messages.join(", "));
        }
        if !started.flags.added.is_empty() {
            println!(
                "new flags the grade passes, added to your node's flags: {}",
                started.flags.added.join(" ")
            );
        } else if let Some(lines) = &started.flags.by_hand {
            println!(
                "new flags the grade passes: {} (your node's flags were not where the starter puts them; add these lines to them):\n{lines}",
                flags.join(" ")
            );
        }
    }
    let short = learn::starter::short_name(&name);
    println!("the exercise: {}/README.md", manifest.resolve(&name)?.dir);
    println!(
        "next: edit {}, then `{}` (regrades on every save) or `{}`",
        started.main.display(),
        learn::command("watch", dir),
        learn::command(&format!("check {short}"), dir)
    );
    println!("stuck? `{}`", learn::command(&format!("hint {short}"), dir));
    Ok(())
}

/// After a Ctrl-C (or SIGTERM, SIGHUP): says so and gives the exit code 130, as a shell does.
fn stopped_by_signal(interrupt: Option<&Arc<AtomicBool>>) -> Option<ExitCode> {
    grade::interrupted(interrupt).then(|| {
        eprintln!(
            "interrupted: the nodes are stopped; a run that was under way wrote its results to its store (above); nothing was remembered for `progress`"
        );
        ExitCode::from(130)
    })
}

/// A grade's exit code: 0 passed, 1 failed, 2 (with the error printed) could not grade.
fn verdict(graded: Result<bool, grade::CannotGrade>) -> ExitCode {
    match graded {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(grade::CannotGrade(error)) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// Exit 0, or print the error and exit 2.
fn report(outcome: anyhow::Result<()>) -> ExitCode {
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// The workspace root (xtask lives one folder below it).
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one folder below the workspace root")
        .to_owned()
}

/// The stage manifest, `stages/stages.toml`.
fn manifest() -> anyhow::Result<Manifest> {
    Manifest::load(&workspace_root().join("stages").join("stages.toml"))
}
