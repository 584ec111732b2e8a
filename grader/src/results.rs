//! Results: `results.json`, the store directory, the one-screen summary and exit codes.
//!
//! A run's store is `<store>/<workload>/<UTC timestamp>/` (with `<store>/latest` and
//! `<store>/<workload>/latest` pointing at it), holding:
//!
//! | file | what |
//! |---|---|
//! | `results.json` | the verdict and every figure (schema in the grader README) |
//! | `history.txt` | one op per line, tab-separated `process type f value error`, as Jepsen writes it |
//! | `history.jsonl` | the same ops as JSON, with times in ns and the node each op went to |
//! | `journal.jsonl` | every message: `send` (with its body), `recv` and `drop` (with the reason) |
//! | `node-logs/<id>.log` | each node's stderr |
//! | `harness.log` | the harness's own notes: phases, partitions, bad lines, crashes |

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use serde::Serialize;

use crate::checker::{SetFullResult, StatsResult, Validity};
use crate::harness::{CrashReport, RunReport, TestConfig};
use crate::network::NetStats;

/// The exit code for bad arguments.
pub const EXIT_BAD_ARGUMENTS: u8 = 254;
/// The exit code for the harness's own failures.
pub const EXIT_INTERNAL: u8 = 255;

/// The wall-clock facts of a run: the only part of `results.json` that differs between two
/// runs of the same seed in virtual time.
#[derive(Debug, Clone, Serialize)]
pub struct RunFacts {
    /// When the run started, UTC, ISO 8601.
    pub started_at: String,
    /// The store directory.
    pub store: String,
    /// Wall-clock seconds from start to results.
    pub wall_seconds: f64,
}

/// `results.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Results<'a> {
    /// true, false or "unknown".
    pub valid: Validity,
    /// Why the run failed to complete normally, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'a str>,
    /// set-full's result.
    pub workload: &'a SetFullResult,
    /// The stats checker.
    pub stats: &'a StatsResult,
    /// Coverage of acknowledged values in the final reads.
    pub coverage: &'a crate::checker::Coverage,
    /// Traffic.
    pub net: &'a NetStats,
    /// Time to agreement after the last fault.
    pub convergence: &'a crate::harness::Convergence,
    /// Nodes that exited during the run, with their last stderr lines.
    pub crashed: &'a [CrashReport],
    /// The settings, seed included.
    pub config: &'a TestConfig,
    /// The command that repeats this run.
    pub reproduce: &'a str,
    /// Seconds on the cluster clock from start to finish.
    pub duration_seconds: f64,
    /// Wall-clock facts.
    pub run: RunFacts,
}

/// A fresh store directory for a run: `<root>/<workload>/<timestamp>/`, made unique.
pub fn new_store_dir(root: &Path, workload: &str) -> anyhow::Result<(PathBuf, String)> {
    let stamp = utc_stamp(SystemTime::now());
    let base = root.join(workload);
    fs::create_dir_all(&base)
        .with_context(|| format!("cannot create the store folder {}", base.display()))?;
    let mut dir = base.join(&stamp);
    let mut suffix = 1;
    while dir.exists() {
        dir = base.join(format!("{stamp}-{suffix}"));
        suffix += 1;
    }
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok((dir, iso8601(SystemTime::now())))
}

/// Points `<root>/latest` and `<root>/<workload>/latest` at `dir`.
pub fn link_latest(root: &Path, workload: &str, dir: &Path) {
    #[cfg(unix)]
    {
        let name = dir.file_name().map(PathBuf::from).unwrap_or_default();
        for (link, target) in [
            (root.join(workload).join("latest"), name.clone()),
            (root.join("latest"), Path::new(workload).join(&name)),
        ] {
            let _ = fs::remove_file(&link);
            let _ = std::os::unix::fs::symlink(target, link);
        }
    }
}

/// `results.json` as a value: the report's figures, the settings and the wall-clock facts.
pub fn results_json(
    report: &RunReport,
    config: &TestConfig,
    reproduce: &str,
    run: RunFacts,
) -> serde_json::Value {
    let results = Results {
        valid: report.valid,
        error: report.error.as_deref(),
        workload: &report.workload,
        stats: &report.stats,
        coverage: &report.coverage,
        net: &report.net,
        convergence: &report.convergence,
        crashed: &report.crashed,
        config,
        reproduce,
        duration_seconds: report.duration.as_secs_f64(),
        run,
    };
    serde_json::to_value(&results).expect("results serialise to JSON")
}

/// Writes every file of the store but the journal and node logs (written during the run).
pub fn write_store(
    dir: &Path,
    report: &RunReport,
    results: &serde_json::Value,
) -> anyhow::Result<()> {
    let write = |name: &str,
                 fill: &dyn Fn(&mut BufWriter<File>) -> std::io::Result<()>|
     -> anyhow::Result<()> {
        let path = dir.join(name);
        let mut out = BufWriter::new(
            File::create(&path).with_context(|| format!("cannot create {}", path.display()))?,
        );
        fill(&mut out)
            .and_then(|()| out.flush())
            .with_context(|| format!("cannot write {}", path.display()))
    };
    write("results.json", &|out| {
        serde_json::to_writer_pretty(&mut *out, results)?;
        writeln!(out)
    })?;
    write("history.txt", &|out| report.history.write_text(out))?;
    write("history.jsonl", &|out| report.history.write_jsonl(out))?;
    write("harness.log", &|out| {
        for line in &report.log {
            writeln!(out, "{line}")?;
        }
        Ok(())
    })
}

fn format_latencies(latencies: &std::collections::BTreeMap<String, u64>) -> String {
    if latencies.is_empty() {
        return "none".into();
    }
    ["0", "0.5", "0.95", "0.99", "1"]
        .iter()
        .filter_map(|key| latencies.get(*key).map(|ms| format!("{key}: {ms}")))
        .collect::<Vec<_>>()
        .join(", ")
}

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
    line(
        &mut out,
        format!(
            "ops        {} invoked: {} ok, {} failed, {} indefinite",
            report.history.client_invocations(),
            report.stats.ok_count,
            report.stats.fail_count,
            report.stats.info_count
        ),
    );
    line(
        &mut out,
        format!(
            "values     {} attempted, {} stable, {} lost, {} never read, {} stale",
            workload.attempt_count,
            workload.stable_count,
            workload.lost_count,
            workload.never_read_count,
            workload.stale_count
        ),
    );
    line(
        &mut out,
        format!(
            "latency    stable ms quantiles {}",
            format_latencies(&workload.stable_latencies)
        ),
    );
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
                format!(
                    "not reached; behind: {}",
                    convergence.nodes_behind.join(", ")
                )
            },
            |ms| {
                format!(
                    "{ms} ms after the {} (sampled every {} ms)",
                    convergence.from, convergence.sample_interval_ms
                )
            },
        );
        line(
            &mut out,
            format!(
                "converged  {after}; {} duplicate deliveries",
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
    for detail in workload.lost_details.iter().take(10) {
        let known = detail
            .known_at_ms
            .map_or("never acknowledged".to_owned(), |ms| {
                format!(
                    "acknowledged at {:.3} s (by {})",
                    ms as f64 / 1000.0,
                    detail.known_by.unwrap_or("?")
                )
            });
        let missing = if detail.missing_from_final_reads_of.is_empty() {
            String::new()
        } else {
            format!(
                "; missing from the final reads of {}",
                detail.missing_from_final_reads_of.join(", ")
            )
        };
        line(
            &mut out,
            format!("LOST       {}: {known}{missing}", detail.element),
        );
    }
    if workload.lost_details.len() > 10 {
        line(
            &mut out,
            format!(
                "LOST       … and {} more (see results.json)",
                workload.lost_details.len() - 10
            ),
        );
    }
    for crash in &report.crashed {
        let code = crash
            .exit_code
            .map_or("a signal".to_owned(), |code| format!("exit code {code}"));
        line(
            &mut out,
            format!(
                "CRASHED    {} at {:.3} s ({code})",
                crash.node,
                crash.at_ms as f64 / 1000.0
            ),
        );
        for stderr in crash.stderr_tail.iter().rev().take(5).rev() {
            line(&mut out, format!("             {stderr}"));
        }
    }
    if let Some(error) = &report.error {
        line(&mut out, format!("error      {error}"));
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

/// Seconds since the Unix epoch as `YYYYMMDDTHHMMSS.mmmZ` (UTC).
pub fn utc_stamp(time: SystemTime) -> String {
    let (year, month, day, hour, minute, second, millis) = civil(time);
    format!("{year:04}{month:02}{day:02}T{hour:02}{minute:02}{second:02}.{millis:03}Z")
}

/// The time as ISO 8601, UTC, to the millisecond.
pub fn iso8601(time: SystemTime) -> String {
    let (year, month, day, hour, minute, second, millis) = civil(time);
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{millis:03}Z")
}

/// Splits a time into UTC calendar fields (Howard Hinnant's days-to-civil algorithm).
fn civil(time: SystemTime) -> (i64, u32, u32, u32, u32, u32, u32) {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let seconds = since.as_secs() as i64;
    let days = seconds.div_euclid(86_400);
    let of_day = seconds.rem_euclid(86_400) as u32;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (
        year,
        month,
        day,
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60,
        since.subsec_millis(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_utc_calendar_dates() {
        let time = UNIX_EPOCH + Duration::from_millis(1_795_345_931_123);
        assert_eq!(utc_stamp(time), "20261122T111211.123Z");
        assert_eq!(iso8601(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            iso8601(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00.000Z"
        );
    }
}
