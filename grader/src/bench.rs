//! Benchmarks of the harness's own cost, run by `cargo xtask bench-harness` and `cargo xtask bench-sim`.
//!
//! - **Throughput**: trivial nodes (`chatter-node`) keep messages bouncing with no latency
//!   and no client load, so the harness routes as fast as it can. Reported: messages routed
//!   per second, and the harness's own CPU time per routed message (user + system time of the
//!   harness process, all its threads, from `/proc/self/stat`), from which the rate one core
//!   of harness could sustain follows.
//! - **Wall time**: a full broadcast run (25 nodes, 20 s, rate 100, latency 100 by default)
//!   against its planned time limit + recovery; the difference is what the harness adds.
//! - **Client rate** (`cargo xtask bench-rate`): unique-ids on 3 trivial nodes at a fixed rate
//!   (Fly.io's 1,000 ops/s and more): the rate achieved, and how long operations took from
//!   invocation to completion, which with a trivial node is what the harness and the pipes
//!   add.
//! - **Simulation speed** (`cargo xtask bench-sim`): virtual seconds per wall second of the
//!   simulated cluster, for a node type, at several cluster sizes. The journal is discarded
//!   so that the figure is the simulation's, not the disk's.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde::Serialize;
use serde_json::Value as Json;

use crate::config::TestConfig;
use crate::run::run_process_test;

/// One throughput measurement.
#[derive(Debug, Clone, Serialize)]
pub struct Throughput {
    /// Nodes in the cluster.
    pub nodes: usize,
    /// Messages each node keeps in flight.
    pub tokens_per_node: u64,
    /// Messages routed (sent through the network).
    pub messages: u64,
    /// Seconds of the run (cluster clock).
    pub seconds: f64,
    /// Messages routed per second.
    pub messages_per_second: f64,
    /// The harness's CPU seconds (user + system, all threads).
    pub harness_cpu_seconds: f64,
    /// Harness CPU microseconds per routed message.
    pub cpu_us_per_message: f64,
    /// Messages per second one fully busy core of harness could route.
    pub capacity_per_core: f64,
}

/// One wall-time measurement.
#[derive(Debug, Clone, Serialize)]
pub struct WallTime {
    /// time limit + recovery: the least a run can take.
    pub planned_seconds: f64,
    /// What it took, from starting the nodes to results written.
    pub wall_seconds: f64,
    /// wall − planned.
    pub overhead_seconds: f64,
    /// Messages routed.
    pub messages: u64,
    /// The run's verdict.
    pub valid: serde_json::Value,
}

/// One simulation-speed measurement.
#[derive(Debug, Clone, Serialize)]
pub struct SimSpeed {
    /// Nodes in the cluster.
    pub nodes: usize,
    /// Virtual seconds simulated (setup, time limit, recovery and final reads).
    pub virtual_seconds: f64,
    /// Wall-clock seconds it took.
    pub wall_seconds: f64,
    /// virtual / wall.
    pub speedup: f64,
    /// Messages routed.
    pub messages: u64,
    /// Messages routed per wall-clock second.
    pub messages_per_wall_second: f64,
    /// The run's verdict.
    pub valid: serde_json::Value,
}

/// Simulates `config` with nodes of type `N` and measures how much faster than real time it ran.
pub fn sim_speed<N: common::Node>(
    config: &TestConfig,
    flags: &[String],
) -> anyhow::Result<SimSpeed> {
    let started = Instant::now();
    let report =
        crate::sim::simulate_with_journal::<N>(config, flags, crate::net::Journal::discard())?;
    let wall_seconds = started.elapsed().as_secs_f64();
    let virtual_seconds = report.duration.as_secs_f64();
    let messages = report.net.all.msg_count;
    Ok(SimSpeed {
        nodes: config.node_count,
        virtual_seconds,
        wall_seconds,
        speedup: virtual_seconds / wall_seconds,
        messages,
        messages_per_wall_second: messages as f64 / wall_seconds,
        valid: serde_json::to_value(report.valid).unwrap_or_default(),
    })
}

/// The harness process's CPU time so far (user + system), from `/proc/self/stat`.
pub fn process_cpu_time() -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat")
        .context("cannot read /proc/self/stat (Linux only)")?;
    // Fields after the command name (which is in parentheses and may contain spaces).
    let after = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .context("unexpected /proc/self/stat")?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    let ticks: u64 = fields
        .get(11)
        .zip(fields.get(12))
        .and_then(|(u, s)| Some(u.parse::<u64>().ok()? + s.parse::<u64>().ok()?))
        .context("cannot parse utime/stime")?;
    // /proc reports in USER_HZ, which is 100 on Linux.
    Ok(Duration::from_millis(ticks * 10))
}

/// Routes as many messages as trivial nodes produce for `seconds` and measures the cost.
pub fn throughput(
    chatter: &Path,
    nodes: usize,
    tokens_per_node: u64,
    seconds: f64,
    store: &Path,
) -> anyhow::Result<Throughput> {
    let config = TestConfig::parse_command(&format!(
        "--node-count {nodes} --time-limit {seconds} --rate 0 --recovery 0 --seed 1"
    ))
    .expect("valid flags");
    let cpu_before = process_cpu_time()?;
    let run = run_process_test(
        &config,
        chatter,
        &["--tokens".into(), tokens_per_node.to_string()],
        store,
        None,
    )?;
    let cpu = (process_cpu_time()? - cpu_before).as_secs_f64();
    let messages = run.report.net.all.msg_count;
    let seconds = run.report.duration.as_secs_f64();
    let cpu_us_per_message = cpu * 1e6 / messages.max(1) as f64;
    Ok(Throughput {
        nodes,
        tokens_per_node,
        messages,
        seconds,
        messages_per_second: messages as f64 / seconds,
        harness_cpu_seconds: cpu,
        cpu_us_per_message,
        capacity_per_core: 1e6 / cpu_us_per_message,
    })
}

/// What one unique-ids run at a fixed rate achieved (see [`rate_point`]).
#[derive(Debug, Clone, Serialize)]
pub struct RatePoint {
    /// The rate asked for, operations per second.
    pub rate: f64,
    /// Operations acknowledged per second of the main phase.
    pub achieved: f64,
    /// Operation latency quantiles, microseconds from invocation to completion as the harness
    /// saw them: with a trivial node, the time the harness and the pipes add.
    pub latency_us: [u64; 3],
    /// The run's verdict.
    pub valid: Json,
}

/// Runs unique-ids against `node` (a trivial one) on 3 nodes at `rate` for `seconds` and
/// measures what rate it achieved and how long operations took (median, 99th percentile,
/// max, in µs).
pub fn rate_point(node: &Path, rate: f64, seconds: f64, store: &Path) -> anyhow::Result<RatePoint> {
    let config = TestConfig::parse_command(&format!(
        "-w unique-ids --node-count 3 --time-limit {seconds} --rate {rate} --seed 1"
    ))
    .expect("valid flags");
    let run = run_process_test(&config, node, &["--tokens".into(), "0".into()], store, None)?;
    let ops = run.report.history.ops();
    let mut latencies: Vec<u64> = crate::history::paired(ops)
        .into_iter()
        .filter_map(|(invoke, done)| {
            let done = done.filter(|done| done.kind == crate::history::OpKind::Ok)?;
            Some(done.time_ns.saturating_sub(invoke.time_ns) / 1000)
        })
        .collect();
    latencies.sort_unstable();
    let at = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    Ok(RatePoint {
        rate,
        achieved: latencies.len() as f64 / seconds,
        latency_us: [at(0.5), at(0.99), at(1.0)],
        valid: serde_json::to_value(run.report.valid).unwrap_or_default(),
    })
}

/// Runs one full test and compares its wall time with time limit + recovery.
pub fn wall_time(bin: &Path, config: &TestConfig, store: &Path) -> anyhow::Result<WallTime> {
    let started = Instant::now();
    let run = run_process_test(config, bin, &[], store, None)?;
    let wall_seconds = started.elapsed().as_secs_f64();
    let planned_seconds = (config.time_limit + config.recovery).as_secs_f64();
    Ok(WallTime {
        planned_seconds,
        wall_seconds,
        overhead_seconds: wall_seconds - planned_seconds,
        messages: run.report.net.all.msg_count,
        valid: serde_json::to_value(run.report.valid).unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_is_read_and_grows_with_work() {
        let before = process_cpu_time().unwrap();
        let mut x = 0u64;
        let started = Instant::now();
        while started.elapsed() < Duration::from_millis(60) {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        std::hint::black_box(x);
        assert!(process_cpu_time().unwrap() > before);
    }
}
