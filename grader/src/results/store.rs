//! The store: a folder per run, `<store>/<workload>/<UTC timestamp>/`, with `latest` links,
//! and the files written at the end of a run.
//!
//! | file | what |
//! |---|---|
//! | `results.json` | the verdict and every figure (schema in the grader README) |
//! | `history.txt` | one op per line, tab-separated `process :type :f value [error]`, in EDN as Jepsen writes it |
//! | `history.jsonl` | the same ops as JSON, with times in ns and the node each op went to |
//! | `journal.jsonl` | every message: `send` (with its body), `recv` and `drop` (with the reason) |
//! | `node-logs/<id>.log` | each node's stderr |
//! | `harness.log` | the harness's own notes: phases, faults, bad lines, crashes |

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;

use crate::harness::RunReport;

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
