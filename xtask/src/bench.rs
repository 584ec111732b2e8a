//! `cargo xtask bench-sim` and `bench-harness`: the simulation's and the harness's own speed,
//! the checkers' and the Kafka nodes', printed as tables a README can quote.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use grader::config::TestConfig;

/// The 3d-style configuration the benchmarks use: rate 100, latency 100 ms, seed 1.
pub(crate) fn three_d(nodes: usize, time_limit: f64, recovery: f64) -> TestConfig {
    three_d_at(nodes, time_limit, recovery, 100.0)
}

/// [`three_d`] at another rate.
fn three_d_at(nodes: usize, time_limit: f64, recovery: f64, rate: f64) -> TestConfig {
    TestConfig::parse_command(&format!(
        "--node-count {nodes} --time-limit {time_limit} --rate {rate} --latency 100 --recovery {recovery} --seed 1"
    ))
    .expect("the benchmark's flags are valid")
}

/// The machine, for a benchmark's heading: its cores (as this process may use them).
fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZeroUsize::get);
    format!("{cores} core{}", if cores == 1 { "" } else { "s" })
}

/// Prints the simulated cluster's speed at each size.
pub fn bench_sim(sizes: &[usize], rate: f64, time_limit: f64) -> anyhow::Result<()> {
    println!(
        "simulated cluster: stage-01-flooding on a grid, rate {rate}, latency 100 ms, {time_limit} s + 10 s recovery, seed 1; {}",
        machine()
    );
    println!("  nodes  virtual s  wall s   speed-up  messages    msgs per wall s  valid");
    for &nodes in sizes {
        let config = three_d_at(nodes, time_limit, 10.0, rate);
        let speed = grader::bench::sim_speed::<stage_01_flooding::Flooding>(&config, &[])?;
        println!(
            "  {:>5}  {:>9.1}  {:>6.2}  {:>8.1}x  {:>9}  {:>15.0}  {}",
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
pub fn bench_harness(
    nodes: usize,
    seconds: f64,
    time_limit: f64,
    recovery: f64,
) -> anyhow::Result<()> {
    let root = crate::workspace_root();
    let chatter = crate::grade::build_example(&root, "grader", "chatter-node")?;
    let flooding = crate::grade::build_binary(&root, "stage-01-flooding", "stage-01-flooding")?;
    let store = root.join("store").join("bench");
    println!(
        "harness throughput: {nodes} chatter nodes, no latency, no client load, {seconds} s per row; {}",
        machine()
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
    let config = three_d(25, time_limit, recovery);
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

/// Prints the client rate the harness sustains with trivial nodes, run by run, and the spread.
pub fn bench_rate(rates: &[f64], runs: usize, seconds: f64) -> anyhow::Result<()> {
    let root = crate::workspace_root();
    let chatter = crate::grade::build_example(&root, "grader", "chatter-node")?;
    let store = root.join("store").join("bench-rate");
    println!(
        "client rate: unique-ids on 3 trivial nodes (chatter-node), 3 workers (1n), {seconds} s per run; {}",
        machine()
    );
    println!("  asked/s  run  achieved/s  latency µs p50  p99     max  valid");
    for &rate in rates {
        let mut achieved = Vec::new();
        let mut medians = Vec::new();
        for run in 1..=runs {
            let point = grader::bench::rate_point(&chatter, rate, seconds, &store)?;
            println!(
                "  {:>7.0}  {:>3}  {:>10.0}  {:>14}  {:>5}  {:>6}  {}",
                rate,
                run,
                point.achieved,
                point.latency_us[0],
                point.latency_us[1],
                point.latency_us[2],
                point.valid
            );
            achieved.push(point.achieved);
            medians.push(point.latency_us[0] as f64);
        }
        let spread = |values: &[f64]| {
            let low = values.iter().copied().fold(f64::INFINITY, f64::min);
            let high = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            format!("{low:.0} to {high:.0}")
        };
        println!(
            "  {:>7.0}  all  achieved {} ops/s; median latency {} µs",
            rate,
            spread(&achieved),
            spread(&medians)
        );
    }
    Ok(())
}

/// `cargo xtask bench-checker`: the kafka checker on valid histories of each length (4
/// processes, Maelstrom's shape), `runs` times each, in this process.
pub fn bench_checker(operations: &[usize], runs: usize) {
    let operations = if operations.is_empty() {
        &[10_000, 20_000, 40_000, 80_000, 160_000][..]
    } else {
        operations
    };
    println!(
        "kafka checker: valid histories from a correct log, 4 processes, Maelstrom's key shape; {}",
        machine()
    );
    println!("  operations  entries  polled pairs  run   ms     ms per 1,000 ops  peak MiB");
    for &count in operations {
        let history = grader::checker::kafka::synthetic::history(count, 4, 1);
        let mut times = Vec::new();
        for run in 1..=runs {
            let started = std::time::Instant::now();
            let result = grader::checker::kafka::check(&history);
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            assert_eq!(
                result.valid,
                grader::checker::Validity::Valid,
                "a synthetic history must be valid"
            );
            println!(
                "  {:>10}  {:>7}  {:>12}  {:>3}  {:>6.1}  {:>16.2}  {:>8}",
                count,
                history.len(),
                result.polled_pairs,
                run,
                ms,
                ms / count as f64 * 1000.0,
                peak_rss_mib().map_or_else(|| "?".to_owned(), |mib| format!("{mib:.0}"))
            );
            times.push(ms);
        }
        times.sort_by(f64::total_cmp);
        println!(
            "  {:>10}  all  {:.1} to {:.1} ms, median {:.1} ms ({:.2} ms per 1,000 ops)",
            count,
            times[0],
            times[times.len() - 1],
            times[times.len() / 2],
            times[times.len() / 2] / count as f64 * 1000.0
        );
    }
}

/// This process's peak resident memory (`VmHWM`), in MiB.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// `cargo xtask bench-kafka`: Glomers 5b's and 5c's reference nodes on Fly.io's command, side
/// by side (alternating, so both see the machine in the same state), `runs` seeds each.
pub fn bench_kafka(runs: u64, seconds: f64, latency: u64) -> anyhow::Result<()> {
    let root = crate::workspace_root();
    let nodes = [("5b", "glomers-5b-kafka"), ("5c", "glomers-5c-kafka")];
    let mut bins = Vec::new();
    for (_, package) in nodes {
        bins.push(crate::grade::build_binary(&root, package, package)?);
    }
    let store = root.join("store").join("bench-kafka");
    println!(
        "kafka: Fly.io's 5b/5c command (2 nodes, 2n clients, rate 1000, {seconds} s, latency {latency} ms), real processes; {}",
        machine()
    );
    println!("  node  seed  valid  msgs/op  send ms p50   p99  poll ms p50   p99");
    let mut figures: Vec<Vec<[f64; 5]>> = vec![Vec::new(); nodes.len()];
    for seed in 1..=runs {
        for (index, (name, _)) in nodes.iter().enumerate() {
            let config = TestConfig::parse_command(&format!(
                "-w kafka --node-count 2 --concurrency 2n --time-limit {seconds} --rate 1000 --latency {latency} --seed {seed}"
            ))
            .map_err(|error| anyhow::anyhow!(error))?;
            let run = grader::run::run_process_test(&config, &bins[index], &[], &store, None)?;
            let report = &run.report;
            let latency = |f: &str, q: &str| {
                report
                    .stats
                    .by_f
                    .get(f)
                    .and_then(|counts| counts.latency_us.get(q))
                    .map_or(f64::NAN, |us| *us as f64 / 1000.0)
            };
            let row = [
                report.net.servers.msgs_per_op.unwrap_or(f64::NAN),
                latency("send", "0.5"),
                latency("send", "0.99"),
                latency("poll", "0.5"),
                latency("poll", "0.99"),
            ];
            println!(
                "  {name:>4}  {seed:>4}  {:>5}  {:>7.3}  {:>11.1}  {:>4.1}  {:>11.1}  {:>4.1}",
                serde_json::to_value(report.valid).unwrap_or_default(),
                row[0],
                row[1],
                row[2],
                row[3],
                row[4]
            );
            figures[index].push(row);
        }
    }
    for (index, (name, _)) in nodes.iter().enumerate() {
        let spread = |column: usize| {
            let values: Vec<f64> = figures[index].iter().map(|row| row[column]).collect();
            let low = values.iter().copied().fold(f64::INFINITY, f64::min);
            let high = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            format!("{low:.3} to {high:.3}")
        };
        println!(
            "  {name}: msgs/op {}; send p50 {} ms, p99 {} ms; poll p50 {} ms, p99 {} ms",
            spread(0),
            spread(1),
            spread(2),
            spread(3),
            spread(4)
        );
    }
    Ok(())
}

/// `cargo xtask bench-checker --workload lin-kv`: the linearizability checker (Knossos's mode)
/// on linearizable single-key histories at 5, 10, 20 and 50 concurrent processes.
pub fn bench_lin_kv(operations: &[usize], runs: usize) {
    let operations = if operations.is_empty() {
        &[1_000, 10_000, 100_000][..]
    } else {
        operations
    };
    println!(
        "lin-kv checker: linearizable histories of one key, operations overlapping as concurrency allows; {}",
        machine()
    );
    println!("  processes  operations  run  verdict      ms  ms per 1,000 ops  peak MiB");
    for processes in [5u64, 10, 20, 50] {
        for &count in operations {
            let history = grader::checker::linearizable::synthetic::history(count, processes, 1, 1);
            let spread = time_lin_kv(&history, runs, |run, verdict, ms| {
                println!(
                    "  {processes:>9}  {count:>10}  {run:>3}  {verdict:>7}  {ms:>8.1}  {:>16.2}  {:>8}",
                    ms / count as f64 * 1000.0,
                    peak_rss_mib().map_or_else(|| "?".to_owned(), |mib| format!("{mib:.0}"))
                );
            });
            println!("  {processes:>9}  {count:>10}  all  {spread}");
        }
    }
    // Over keys: the same number of operations spread over more keys, each searched on its own
    // (one thread per core).
    let total = operations.iter().copied().max().unwrap_or(100_000);
    println!(
        "lin-kv checker over keys: {total} operations, 10 processes per key, keys searched in parallel"
    );
    println!("       keys  run  verdict      ms");
    for keys in [1u64, 4, 16] {
        let history = grader::checker::linearizable::synthetic::history(total, 10, keys, 1);
        let spread = time_lin_kv(&history, runs, |run, verdict, ms| {
            println!("  {keys:>9}  {run:>3}  {verdict:>7}  {ms:>6.1}");
        });
        println!("  {keys:>9}  all  {spread}");
    }
}

/// Checks `history` `runs` times in Knossos's mode, calling `row` with each run's number,
/// verdict and milliseconds; returns the spread in words.
fn time_lin_kv(
    history: &[grader::history::Op],
    runs: usize,
    mut row: impl FnMut(usize, String, f64),
) -> String {
    let mut times = Vec::new();
    for run in 1..=runs {
        let started = std::time::Instant::now();
        let result = grader::checker::linearizable::check(
            history,
            grader::checker::linearizable::Mode::Knossos,
            grader::checker::linearizable::DEFAULT_BUDGET,
        );
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        let verdict = serde_json::to_value(result.valid).unwrap_or_default();
        row(run, verdict.to_string(), ms);
        times.push(ms);
    }
    times.sort_by(f64::total_cmp);
    format!(
        "{:.1} to {:.1} ms, median {:.1} ms",
        times[0],
        times[times.len() - 1],
        times[times.len() / 2]
    )
}

/// `cargo xtask bench-checker --histories DIR`: the workload's checker on every history file in
/// `dir`, `runs` times over; prints each run's total, the median and slowest file, the verdicts
/// and the spread over runs.
pub fn bench_history_files(workload: &str, dir: &Path, runs: usize) -> anyhow::Result<()> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| {
            path.extension()
                .is_some_and(|extension| extension == "jsonl" || extension == "edn")
        })
        .collect();
    files.sort();
    anyhow::ensure!(
        !files.is_empty(),
        "{} holds no history files (*.jsonl or *.edn)",
        dir.display()
    );
    println!(
        "{workload} checker on the {} history files in {}; {}",
        files.len(),
        dir.display(),
        machine()
    );
    println!("  run  total ms  median file ms  slowest file ms  valid  invalid  unknown");
    let mut totals = Vec::new();
    for run in 1..=runs {
        let mut times = Vec::new();
        let mut verdicts = std::collections::BTreeMap::<String, usize>::new();
        for file in &files {
            let started = std::time::Instant::now();
            let checked = grader::check::check_path(workload, false, None, file)
                .map_err(|error| anyhow::anyhow!("{}: {error}", file.display()))?;
            times.push(started.elapsed().as_secs_f64() * 1000.0);
            let verdict = serde_json::to_value(checked.checked.valid)?;
            *verdicts.entry(verdict.to_string()).or_default() += 1;
        }
        let total: f64 = times.iter().sum();
        times.sort_by(f64::total_cmp);
        let count = |verdict: &str| verdicts.get(verdict).copied().unwrap_or(0);
        println!(
            "  {run:>3}  {total:>8.1}  {:>14.2}  {:>15.2}  {:>5}  {:>7}  {:>7}",
            times[times.len() / 2],
            times[times.len() - 1],
            count("true"),
            count("false"),
            count("\"unknown\"")
        );
        totals.push(total);
    }
    totals.sort_by(f64::total_cmp);
    println!(
        "  all  {:.1} to {:.1} ms in total, median {:.1} ms",
        totals[0],
        totals[totals.len() - 1],
        totals[totals.len() / 2]
    );
    Ok(())
}

/// `cargo xtask bench-checker --workload txn-list-append`: the list-append checker on
/// strict-serializable histories (10 processes, 10 keys) of growing length, checked as
/// serializable and as strict-serializable.
pub fn bench_txn(sizes: &[usize], runs: usize) {
    let sizes = if sizes.is_empty() {
        &[10_000, 100_000, 1_000_000][..]
    } else {
        sizes
    };
    println!(
        "txn-list-append checker: strict-serializable histories, 10 processes, 10 keys; {}",
        machine()
    );
    println!("        txns  model                run  verdict        ms    txns/s  peak MiB");
    for &count in sizes {
        let history = grader::checker::elle::synthetic::history(count, 10, 10, 1);
        for model in ["serializable", "strict-serializable"] {
            let mut times = Vec::new();
            for run in 1..=runs {
                let started = std::time::Instant::now();
                let result = grader::checker::elle::check_list_append(&history, &[model]);
                let ms = started.elapsed().as_secs_f64() * 1000.0;
                let verdict = result.map_or_else(
                    |error| format!("error: {error}"),
                    |result| {
                        serde_json::to_value(result.valid)
                            .unwrap_or_default()
                            .to_string()
                    },
                );
                println!(
                    "  {count:>10}  {model:<19}  {run:>3}  {verdict:>7}  {ms:>8.0}  {:>8.0}  {:>8}",
                    count as f64 / (ms / 1000.0),
                    peak_rss_mib().map_or_else(|| "?".to_owned(), |mib| format!("{mib:.0}"))
                );
                times.push(ms);
            }
            times.sort_by(f64::total_cmp);
            println!(
                "  {count:>10}  {model:<19}  all  {:.0} to {:.0} ms, median {:.0} ms",
                times[0],
                times[times.len() - 1],
                times[times.len() / 2]
            );
        }
    }
}
