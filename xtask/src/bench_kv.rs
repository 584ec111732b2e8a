//! `cargo xtask bench-kv`: stage 19's gossip KV store across cluster sizes, with and without
//! partitions: real processes at the smaller sizes, the simulation at the larger ones. Prints a
//! table, and writes it as JSON and as two SVG plots (replication time and messages per write
//! against cluster size) under `store/bench-kv/`.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use grader::config::TestConfig;
use plotters::prelude::*;
use serde::{Deserialize, Serialize};

use crate::plot::{draw_error, finish, line_with_dots};
use serde_json::Value as Json;

/// One measured configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Row {
    /// Nodes.
    pub nodes: usize,
    /// `process` or `simulation`.
    pub cluster: String,
    /// With the partition nemesis.
    pub partitions: bool,
    /// The checker's verdict (every write everywhere, reports agree).
    pub valid: bool,
    /// Writes acknowledged.
    pub writes: u64,
    /// ms from a write's acknowledgement until every node had it: median.
    pub replication_median_ms: Option<u64>,
    /// The same, 99th percentile.
    pub replication_p99_ms: Option<u64>,
    /// Server-to-server messages per acknowledged write (the harness's count).
    pub msgs_per_write: f64,
    /// Server-to-server bytes per acknowledged write.
    pub bytes_per_write: f64,
    /// Reads of acknowledged keys that missed them.
    pub stale_read_fraction: f64,
    /// The nodes' own message counts, summed, at their reports.
    pub reported_msgs: u64,
    /// The harness's count of the same messages, summed.
    pub harness_msgs_at_reports: u64,
    /// Nodes whose report agrees with the harness, of all nodes.
    pub reports_agreeing: String,
    /// Wall seconds the run took.
    pub wall_seconds: f64,
}

/// The benchmark's configuration at one size: rate 100 (half writes), latency 50 ms constant,
/// one client per node, 10 s + 5 s recovery, partitions every 2 s when asked, seed 1.
fn config(nodes: usize, partitions: bool, time_limit: f64) -> TestConfig {
    let nemesis = if partitions {
        " --nemesis partition"
    } else {
        ""
    };
    TestConfig::parse_command(&format!(
        "-w kv-bench --node-count {nodes} --time-limit {time_limit} --rate 100 --latency 50 --nemesis-interval 2 --recovery 5 --seed 1{nemesis}"
    ))
    .expect("the benchmark's flags are valid")
}

fn row(nodes: usize, cluster: &'static str, partitions: bool, results: &Json, wall: f64) -> Row {
    let workload = &results["workload"];
    let writes = workload["acknowledged_count"].as_u64().unwrap_or(0);
    let per_write = |total: Option<u64>| total.unwrap_or(0) as f64 / writes.max(1) as f64;
    let reports = workload["reports"].as_array().cloned().unwrap_or_default();
    let sum = |field: &str| {
        reports
            .iter()
            .map(|report| report[field].as_u64().unwrap_or(0))
            .sum()
    };
    let agreeing = reports
        .iter()
        .filter(|report| report["agrees"].as_bool() == Some(true))
        .count();
    Row {
        nodes,
        cluster: cluster.to_owned(),
        partitions,
        valid: results["valid"].as_bool() == Some(true),
        writes,
        replication_median_ms: workload["convergence_ms"]["0.5"].as_u64(),
        replication_p99_ms: workload["convergence_ms"]["0.99"].as_u64(),
        msgs_per_write: per_write(results["net"]["servers"]["msg_count"].as_u64()),
        bytes_per_write: per_write(results["net"]["servers"]["bytes"].as_u64()),
        stale_read_fraction: workload["stale_read_fraction"].as_f64().unwrap_or(0.0),
        reported_msgs: sum("total_gossip_msgs"),
        harness_msgs_at_reports: sum("harness_server_sends"),
        reports_agreeing: format!("{agreeing}/{nodes}"),
        wall_seconds: wall,
    }
}

/// Draws the plots again from the table a previous run wrote (`--plot-only`).
pub fn replot() -> anyhow::Result<()> {
    let out = crate::workspace_root().join("store").join("bench-kv");
    let json_path = out.join("bench-kv.json");
    let rows: Vec<Row> =
        serde_json::from_str(&std::fs::read_to_string(&json_path).with_context(|| {
            format!(
                "cannot read {}: run `cargo xtask bench-kv` first",
                json_path.display()
            )
        })?)?;
    rows.iter().for_each(print_row);
    write_plots(&rows, &out)
}

fn write_plots(rows: &[Row], out: &Path) -> anyhow::Result<()> {
    let replication = out.join("replication.svg");
    let messages = out.join("messages.svg");
    plot(rows, &replication, Figure::Replication)?;
    plot(rows, &messages, Figure::Messages)?;
    println!("wrote {} and {}", replication.display(), messages.display());
    Ok(())
}

/// Runs the benchmark and writes its outputs.
pub fn bench_kv(
    process_sizes: &[usize],
    sim_sizes: &[usize],
    time_limit: f64,
) -> anyhow::Result<()> {
    let root = crate::workspace_root();
    let out = root.join("store").join("bench-kv");
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let bin = crate::grade::build_binary(&root, "stage-19-kv-bench", "stage-19-kv-bench")?;
    println!(
        "kv-bench: stage-19-kv-bench, rate 100 (half writes, each a new key), latency 50 ms, one client per node, {time_limit} s + 5 s recovery, partitions every 2 s where marked, seed 1"
    );
    println!(
        "  nodes  cluster     partitions  valid  writes  repl median ms  repl p99 ms  msgs/write  bytes/write  stale reads  reports agree (node = harness)  wall s"
    );
    let mut rows = Vec::new();
    let runs = process_sizes
        .iter()
        .map(|n| (*n, "process"))
        .chain(sim_sizes.iter().map(|n| (*n, "simulation")));
    for (nodes, cluster) in runs {
        for partitions in [false, true] {
            let config = config(nodes, partitions, time_limit);
            let started = std::time::Instant::now();
            let run = if cluster == "process" {
                grader::run::run_process_test(&config, &bin, &[], &out, None)?
            } else {
                let reproduce = config.reproduce_command("cargo xtask sim stage-19", &[]);
                grader::sim::simulate_to_store::<stage_19_kv_bench::KvBench>(
                    &config,
                    &[],
                    &out,
                    reproduce,
                )?
            };
            let written = run.store.join("results.json");
            let results: Json = serde_json::from_str(
                &std::fs::read_to_string(&written)
                    .with_context(|| format!("reading {}", written.display()))?,
            )?;
            let row = row(
                nodes,
                cluster,
                partitions,
                &results,
                started.elapsed().as_secs_f64(),
            );
            print_row(&row);
            rows.push(row);
        }
    }
    let json_path = out.join("bench-kv.json");
    std::fs::write(&json_path, serde_json::to_string_pretty(&rows)?)?;
    println!("\nwrote {}", json_path.display());
    write_plots(&rows, &out)
}

fn print_row(row: &Row) {
    let ms = |value: Option<u64>| value.map_or("-".to_owned(), |v| v.to_string());
    println!(
        "  {:>5}  {:<10}  {:<10}  {:<5}  {:>6}  {:>14}  {:>11}  {:>10.1}  {:>11.0}  {:>11.3}  {:>7} ({} = {})  {:>6.1}",
        row.nodes,
        row.cluster,
        if row.partitions { "yes" } else { "no" },
        row.valid,
        row.writes,
        ms(row.replication_median_ms),
        ms(row.replication_p99_ms),
        row.msgs_per_write,
        row.bytes_per_write,
        row.stale_read_fraction,
        row.reports_agreeing,
        row.reported_msgs,
        row.harness_msgs_at_reports,
        row.wall_seconds
    );
}

/// Which plot.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Figure {
    /// Replication time (median and p99) against nodes.
    Replication,
    /// Messages per write against nodes.
    Messages,
}

/// Draws one plot: x is the cluster size (log scale); runs with partitions are drawn dashed
/// on a shaded band, so the two series read apart in one glance.
fn plot(rows: &[Row], path: &Path, figure: Figure) -> anyhow::Result<()> {
    let path: PathBuf = path.to_owned();
    let root = SVGBackend::new(&path, (720, 420)).into_drawing_area();
    root.fill(&WHITE).map_err(draw_error)?;
    let max_n = rows.iter().map(|row| row.nodes).max().unwrap_or(10) as f64;
    let value = |row: &Row, p99: bool| -> Option<f64> {
        match figure {
            Figure::Replication if p99 => row.replication_p99_ms.map(|v| v as f64),
            Figure::Replication => row.replication_median_ms.map(|v| v as f64),
            Figure::Messages => Some(row.msgs_per_write),
        }
    };
    let max_y = rows
        .iter()
        .filter_map(|row| value(row, true))
        .fold(1.0, f64::max)
        * 1.15;
    let (title, y_label) = match figure {
        Figure::Replication => (
            "Write acknowledged -> on every replica",
            "ms (median solid, p99 thin)",
        ),
        Figure::Messages => ("Gossip messages per write", "server messages / write"),
    };
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d((4.0..max_n * 1.2).log_scale(), 0.0..max_y)
        .map_err(draw_error)?;
    chart
        .configure_mesh()
        .x_desc("nodes (log scale)")
        .y_desc(y_label)
        .x_label_formatter(&|n| format!("{n:.0}"))
        .draw()
        .map_err(draw_error)?;
    if figure == Figure::Replication {
        // Rumor spreading with fanout 2: about log3(n) + ln(n)/2 rounds (Pittel's estimate,
        // with 1 + fanout as the growth factor), each about 100 ms (half a 100 ms round's wait
        // plus 50 ms latency).
        let theory: Vec<(f64, f64)> = (0..=60)
            .map(|step| {
                let n = 5.0 * (max_n * 1.2 / 5.0).powf(f64::from(step) / 60.0);
                (n, 100.0 * (n.ln() / 3f64.ln() + n.ln() / 2.0))
            })
            .collect();
        chart
            .draw_series(LineSeries::new(theory, BLACK.mix(0.5).stroke_width(1)))
            .map_err(draw_error)?
            .label("theory: (log3 n + ln n / 2) x 100 ms")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 18, y)], BLACK.mix(0.5)));
    }
    for partitions in [false, true] {
        let colour = if partitions { RED } else { BLUE };
        let label = if partitions {
            "with partitions"
        } else {
            "no faults"
        };
        let series: Vec<(f64, f64)> = rows
            .iter()
            .filter(|row| row.partitions == partitions)
            .filter_map(|row| Some((row.nodes as f64, value(row, false)?)))
            .collect();
        if partitions {
            // The shaded band under the partition series.
            chart
                .draw_series(AreaSeries::new(series.clone(), 0.0, colour.mix(0.08)))
                .map_err(draw_error)?;
        }
        line_with_dots(&mut chart, &series, colour, label)?;
        if figure == Figure::Replication {
            let p99: Vec<(f64, f64)> = rows
                .iter()
                .filter(|row| row.partitions == partitions)
                .filter_map(|row| Some((row.nodes as f64, value(row, true)?)))
                .collect();
            chart
                .draw_series(LineSeries::new(p99, colour.mix(0.6).stroke_width(1)))
                .map_err(draw_error)?;
        }
    }
    finish(chart, &root, SeriesLabelPosition::UpperLeft)
}
