//! `cargo xtask bench-tuning`: stage 10's trade-off between messages and latency, mapped in the
//! simulation for both ways of timing batches through a hub (free and aligned rounds) over a
//! range of periods. Prints a table, and writes it as JSON and as an SVG plot of msgs-per-op
//! against max stable latency, with the frontier line and the best public results, under
//! `store/bench-tuning/`.

use std::path::Path;

use anyhow::Context as _;
use plotters::prelude::*;
use serde::Serialize;
use stage_10_tuning::Tuning;

use crate::plot::{draw_error, finish, line_with_dots};

/// One simulated run.
#[derive(Debug, Clone, Serialize)]
pub struct Point {
    /// `free` or `aligned`.
    pub rounds: &'static str,
    /// Hubs (0: straight to everyone).
    pub fanout: usize,
    /// The batching period, ms.
    pub interval_ms: u64,
    /// Server messages per operation (Maelstrom's figure).
    pub msgs_per_op: f64,
    /// Median stable latency, ms.
    pub median_ms: u64,
    /// Max stable latency, ms.
    pub max_ms: u64,
    /// The checker's verdict.
    pub valid: bool,
}

/// The periods swept for each design.
const PERIODS: [u64; 10] = [100, 200, 300, 350, 400, 500, 600, 700, 800, 1000];

/// The frontier: msgs-per-op × (max − 200 ms) ≈ 0.48 s for a star on 25 nodes at 100 ops/s.
const FRONTIER: f64 = 0.48;

/// The best public results (stage 10's README lists them with their sources): msgs-per-op, max
/// ms, label.
const PUBLIC: [(f64, f64, &str); 4] = [
    (11.8, 105.0, "3d: straight to all"),
    (23.4, 207.0, "3d: star, request/reply"),
    (1.92, 1087.0, "3e: star + 500 ms batches"),
    (4.73, 1584.0, "3e: all, 1.5 s batches"),
];

fn run(
    rounds: &'static str,
    fanout: usize,
    interval_ms: u64,
    sync_ms: u64,
) -> anyhow::Result<Point> {
    let config = crate::bench::three_d(25, 20.0, 10.0);
    let args: Vec<String> = [
        "--fanout".to_owned(),
        fanout.to_string(),
        "--gossip-interval-ms".to_owned(),
        interval_ms.to_string(),
        "--sync-ms".to_owned(),
        sync_ms.to_string(),
        "--rounds".to_owned(),
        rounds.to_owned(),
    ]
    .into();
    let run = grader::sim::simulate::<Tuning>(&config, &args)?;
    let latency = |quantile: &str| {
        run.report
            .figure_u64(&format!("/workload/stable_latencies/{quantile}"))
            .unwrap_or(0)
    };
    Ok(Point {
        rounds,
        fanout,
        interval_ms,
        msgs_per_op: run.report.net.servers.msgs_per_op.unwrap_or(0.0),
        median_ms: latency("0.5"),
        max_ms: latency("1"),
        valid: run.report.valid == grader::checker::Validity::Valid,
    })
}

/// Runs the sweep and writes its outputs.
pub fn bench_tuning(sync_ms: u64) -> anyhow::Result<()> {
    let out = crate::workspace_root().join("store").join("bench-tuning");
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    println!(
        "stage-10-tuning in the simulation: 25 nodes, rate 100, latency 100 ms constant, 20 s + 10 s recovery, --sync-ms {sync_ms}, seed 1"
    );
    println!(
        "  rounds   fanout  interval ms  msgs-per-op  median ms  max ms  msgs x (max - 200) s  valid"
    );
    let mut points = Vec::new();
    let designs = [("free", 1), ("aligned", 1), ("aligned", 0)];
    for (rounds, fanout) in designs {
        let periods: &[u64] = if fanout == 0 {
            &[0, 10, 20, 50]
        } else {
            &PERIODS
        };
        for &interval in periods {
            let point = run(rounds, fanout, interval, sync_ms)?;
            println!(
                "  {:<7}  {:>6}  {:>11}  {:>11.2}  {:>9}  {:>6}  {:>20.2}  {}",
                point.rounds,
                point.fanout,
                point.interval_ms,
                point.msgs_per_op,
                point.median_ms,
                point.max_ms,
                point.msgs_per_op * (point.max_ms as f64 - 200.0) / 1000.0,
                point.valid
            );
            points.push(point);
        }
    }
    let json = out.join("frontier.json");
    std::fs::write(&json, serde_json::to_string_pretty(&points)?)?;
    let svg = out.join("frontier.svg");
    plot(&points, &svg)?;
    println!("\nwrote {} and {}", json.display(), svg.display());
    Ok(())
}

/// msgs-per-op (log scale) against max stable latency: each design a line through its periods,
/// the frontier curve, and the public results as crosses.
fn plot(points: &[Point], path: &Path) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (760, 460)).into_drawing_area();
    root.fill(&WHITE).map_err(draw_error)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Stage 10: messages against latency (25 nodes, 100 ops/s, 100 ms)",
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..2100.0, (0.4..30.0).log_scale())
        .map_err(draw_error)?;
    chart
        .configure_mesh()
        .x_desc("max stable latency, ms")
        .y_desc("msgs-per-op (log scale)")
        .light_line_style(WHITE)
        .y_labels(12)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.1}"))
        .draw()
        .map_err(draw_error)?;
    let frontier: Vec<(f64, f64)> = (0..=80)
        .map(|step| 200.0 + 15.0 + f64::from(step) * 23.0)
        .map(|max| (max, FRONTIER * 1000.0 / (max - 200.0)))
        .filter(|(_, y)| *y <= 30.0)
        .collect();
    chart
        .draw_series(LineSeries::new(frontier, BLACK.mix(0.6).stroke_width(1)))
        .map_err(draw_error)?
        .label("frontier: msgs-per-op x (max - 200 ms) = 0.48 s")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 18, y)], BLACK.mix(0.6)));
    let designs: [(&str, usize, RGBColor, &str); 3] = [
        ("free", 1, RED, "old: one hub, free rounds"),
        ("aligned", 1, BLUE, "new: one hub, aligned rounds"),
        ("aligned", 0, GREEN, "one hop, rounds"),
    ];
    for (rounds, fanout, colour, label) in designs {
        let series: Vec<(f64, f64)> = points
            .iter()
            .filter(|point| point.rounds == rounds && point.fanout == fanout)
            .map(|point| (point.max_ms as f64, point.msgs_per_op))
            .collect();
        line_with_dots(&mut chart, &series, colour, label)?;
    }
    chart
        .draw_series(
            PUBLIC
                .iter()
                .map(|(per_op, max, _)| Cross::new((*max, *per_op), 6, BLACK.stroke_width(2))),
        )
        .map_err(draw_error)?
        .label("best public results (3d, 3e)")
        .legend(|(x, y)| Cross::new((x + 9, y), 5, BLACK.stroke_width(2)));
    chart
        .draw_series(PUBLIC.iter().map(|(per_op, max, label)| {
            Text::new(
                label.to_string(),
                (*max + 25.0, *per_op),
                ("sans-serif", 12),
            )
        }))
        .map_err(draw_error)?;
    finish(chart, &root, SeriesLabelPosition::UpperRight)
}
