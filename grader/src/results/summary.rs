//! The one-screen summary printed at the end of a run, ending in Maelstrom's verdict banner.

use crate::checker::Validity;
use crate::config::TestConfig;
use crate::harness::RunReport;

/// The one-screen summary printed at the end of a run.
pub fn summary(report: &RunReport, config: &TestConfig, reproduce: &str, store: &str) -> String {
    let mut out = String::new();
    let workload = &report.workload;
    let net = &report.net;
    let line = |out: &mut String, text: String| {
        out.push_str(&text);
        out.push('\n');
    };
    line(&mut out, format!("store      {store}"));
    let invoked = report.history.client_invocations();
    let stats = &report.stats;
    let open = invoked.saturating_sub(stats.ok_count + stats.fail_count + stats.info_count);
    line(
        &mut out,
        format!(
            "ops        {invoked} invoked: {} ok, {} failed, {} indefinite{}",
            stats.ok_count,
            stats.fail_count,
            stats.info_count,
            if open > 0 {
                format!(", {open} still open when the run stopped")
            } else {
                String::new()
            }
        ),
    );
    if let Some(availability) = &report.availability {
        line(
            &mut out,
            format!(
                "available  {:.1}% of operations succeeded ({} of {}); --availability asks for {:.1}%",
                availability.ok_fraction * 100.0,
                availability.ok_count,
                availability.invoke_count,
                availability.required * 100.0
            ),
        );
    }
    for text in &workload.summary {
        line(&mut out, text.clone());
    }
    let per_op = |value: Option<f64>| value.map_or("-".to_owned(), |v| format!("{v:.3}"));
    line(
        &mut out,
        format!(
            "messages   servers {} ({} bytes, {} msgs-per-op), all {} ({} msgs-per-op)",
            net.servers.msg_count,
            net.servers.bytes,
            per_op(net.servers.msgs_per_op),
            net.all.msg_count,
            per_op(net.all.msgs_per_op)
        ),
    );
    let convergence = &report.convergence;
    if !convergence.from.is_empty() {
        let after = convergence.after_ms.map_or_else(
            || {
                if convergence.nodes_behind.is_empty() {
                    "not measured".to_owned()
                } else {
                    format!(
                        "not reached; behind: {}",
                        convergence.nodes_behind.join(", ")
                    )
                }
            },
            |ms| {
                format!(
                    "{ms} ms after the {} (sampled every {} ms)",
                    convergence.from, convergence.sample_interval_ms
                )
            },
        );
        let mut survivors = if convergence.nodes_crashed.is_empty() {
            String::new()
        } else {
            format!(
                " (survivors only: {} crashed for good)",
                convergence.nodes_crashed.join(", ")
            )
        };
        if !convergence.nodes_not_probed.is_empty() {
            survivors.push_str(&format!(
                " (not probed, as they keep their state in a service: {})",
                convergence.nodes_not_probed.join(", ")
            ));
        }
        line(
            &mut out,
            format!(
                "converged  {after}{survivors}; {} duplicate deliveries",
                net.duplicate_deliveries
            ),
        );
    }
    if !net.dropped.is_empty() || net.invalid_lines > 0 || net.unknown_destinations > 0 {
        let dropped: Vec<String> = net
            .dropped
            .iter()
            .map(|(why, count)| format!("{count} {why}"))
            .collect();
        line(
            &mut out,
            format!(
                "dropped    {}; {} invalid stdout lines, {} to unknown destinations",
                if dropped.is_empty() {
                    "none".into()
                } else {
                    dropped.join(", ")
                },
                net.invalid_lines,
                net.unknown_destinations
            ),
        );
    }
    for text in &workload.anomalies {
        line(&mut out, text.clone());
    }
    for crash in &report.crashed {
        let label = if crash.closed_stdout {
            "STOPPED"
        } else {
            "CRASHED"
        };
        line(
            &mut out,
            format!(
                "{label:<10} {} at {:.3} s: it {}",
                crash.node,
                crash.at_ms as f64 / 1000.0,
                crash.how
            ),
        );
        for stderr in crash.stderr_tail.iter().rev().take(5).rev() {
            line(&mut out, format!("             {stderr}"));
        }
    }
    for warning in &report.warnings {
        line(&mut out, format!("WARNING    {warning}"));
    }
    for reason in &report.reasons {
        line(&mut out, format!("why        {reason}"));
    }
    let banner = match report.valid {
        Validity::Valid => "Everything looks good! ヽ(‘ー`)ノ",
        Validity::Invalid => "Analysis invalid! (ﾉಥ益ಥ）ﾉ ┻━┻",
        Validity::Unknown => "Errors occurred during analysis, but no anomalies found. ಠ~ಠ",
    };
    line(&mut out, String::new());
    line(&mut out, banner.to_owned());
    if report.valid != Validity::Valid {
        line(
            &mut out,
            format!("seed {}; to repeat this run: {}", config.seed, reproduce),
        );
    }
    out
}
