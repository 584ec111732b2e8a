//! `cargo xtask progress`, and what the learner folder remembers: each stage's last grade and
//! the hints shown (`progress.json`), and the table of every stage made from them.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context as _;
use grader::manifest::Manifest;
use serde::{Deserialize, Serialize};

use super::{Lang, command, find_node, starter};

/// What the learner folder remembers: each stage's last grade and the hints shown.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Progress {
    /// Last grade per stage (full name).
    #[serde(default)]
    pub stages: BTreeMap<String, StageResult>,
    /// Hints shown per stage.
    #[serde(default)]
    pub hints: BTreeMap<String, usize>,
}

/// One stage's last grade.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageResult {
    /// Fixtures that passed.
    pub fixtures_passed: usize,
    /// Fixtures graded.
    pub fixtures_total: usize,
    /// Cluster runs that passed (0 when they were not run).
    pub runs_passed: usize,
    /// Whether the cluster runs were run (only once every fixture passes).
    pub runs_graded: bool,
    /// Everything graded passed, cluster runs included.
    pub passed: bool,
    /// The first failure, in a line.
    pub first_failure: Option<String>,
    /// When, in seconds since the Unix epoch.
    pub graded_at: u64,
}

const PROGRESS_FILE: &str = "progress.json";

impl Progress {
    /// The learner folder's progress, empty when nothing was graded yet.
    pub fn load(dir: &Path) -> anyhow::Result<Progress> {
        let path = dir.join(PROGRESS_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).with_context(|| {
                format!(
                    "{} is damaged; delete it (it only remembers grades and hints) and grade again",
                    path.display()
                )
            }),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Progress::default()),
            Err(error) => Err(error).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    /// Writes it back (to a temporary file first, so a crash never leaves half a file).
    pub fn save(&self, dir: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let path = dir.join(PROGRESS_FILE);
        let temporary = dir.join(format!("{PROGRESS_FILE}.new"));
        let text = serde_json::to_string_pretty(self).expect("progress serialises") + "\n";
        std::fs::write(&temporary, text)
            .and_then(|()| std::fs::rename(&temporary, &path))
            .with_context(|| format!("cannot write {}", path.display()))
    }
}

/// One row of `cargo xtask progress`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ProgressRow {
    /// The track it belongs to.
    pub track: String,
    /// Its short name: `stage-01`, `glomers-4`.
    pub short: String,
    /// The exercise's full name (for one another track teaches, its short name).
    pub stage: String,
    /// What it teaches.
    pub topic: String,
    /// For an exercise another track's stage teaches (Glomers 3a–3e): that stage, and the
    /// cluster run that grades what it asks, if one does. Its figures are that stage's.
    pub taught_by: Option<(String, Option<String>)>,
    /// The learner's language, if started.
    pub lang: Option<Lang>,
    /// Fixtures passed at the last grade, if graded.
    pub fixtures_passed: Option<usize>,
    /// The stage's fixtures.
    pub fixtures_total: usize,
    /// Cluster runs passed at the last grade, if they ran.
    pub runs_passed: Option<usize>,
    /// The stage's cluster runs.
    pub runs_total: usize,
    /// `passed`, `failed`, `started` (never graded) or `not started`.
    pub status: String,
    /// The first exercise of its track, in order, not passed yet.
    pub next: bool,
}

/// Every exercise's row, track by track, from the learner folder and its remembered grades;
/// each track's exercises that another track teaches sit in their place, with that stage's
/// figures.
pub fn progress_rows(
    root: &Path,
    manifest: &Manifest,
    dir: &Path,
) -> anyhow::Result<Vec<ProgressRow>> {
    let progress = Progress::load(dir)?;
    let plan = grader::plan::Plan::load(&root.join("grading.toml"))?;
    let row_of = |stage: &grader::manifest::Stage| {
        let node = find_node(dir, &stage.name);
        let result = progress.stages.get(&stage.name);
        let fixtures_total =
            grader::fixtures::load_scripts(&root.join("fixtures").join(&stage.name))
                .map_or(0, |scripts| scripts.len());
        let status = match (result, &node) {
            (Some(result), _) if result.passed => "passed",
            (Some(_), _) => "failed",
            (None, Some(_)) => "started",
            (None, None) => "not started",
        };
        ProgressRow {
            track: stage.track.clone(),
            short: stage.short_name(),
            stage: stage.name.clone(),
            topic: stage.summary.clone(),
            taught_by: None,
            lang: node.map(|node| node.lang),
            fixtures_passed: result.map(|result| result.fixtures_passed),
            fixtures_total,
            runs_passed: result
                .filter(|result| result.runs_graded)
                .map(|result| result.runs_passed),
            runs_total: plan.runs_for(&stage.name).len(),
            status: status.to_owned(),
            next: false,
        }
    };
    let mut rows = Vec::new();
    for track in &manifest.tracks {
        let mut entries: Vec<((usize, u32, String), ProgressRow)> = Vec::new();
        let mut next_marked = false;
        for stage in manifest.track(&track.name) {
            let mut row = row_of(stage);
            row.next = row.status != "passed" && !next_marked;
            next_marked |= row.next;
            entries.push((track.order_of(&stage.name).unwrap_or_default(), row));
        }
        for elsewhere in &track.elsewhere {
            let Ok(stage) = manifest.resolve(&elsewhere.stage) else {
                continue;
            };
            let row = ProgressRow {
                track: track.name.clone(),
                short: elsewhere.name.clone(),
                stage: elsewhere.name.clone(),
                topic: elsewhere.summary.clone(),
                taught_by: Some((stage.name.clone(), elsewhere.run.clone())),
                next: false,
                ..row_of(stage)
            };
            entries.push((track.order_of(&elsewhere.name).unwrap_or_default(), row));
        }
        entries.sort_by(|left, right| left.0.cmp(&right.0));
        rows.extend(entries.into_iter().map(|(_, row)| row));
    }
    Ok(rows)
}

/// The progress table as text, one part per track.
pub fn render_progress(manifest: &Manifest, rows: &[ProgressRow], dir: &Path) -> String {
    let mut out = String::new();
    for track in &manifest.tracks {
        let _ = writeln!(out, "{}", track.title);
        out.push_str(
            "    exercise                     topic                                              fixtures  cluster runs  status\n",
        );
        for row in rows.iter().filter(|row| row.track == track.name) {
            if let Some(subtrack) = manifest
                .subtracks
                .iter()
                .find(|subtrack| subtrack.stages.first() == Some(&row.stage))
            {
                let _ = writeln!(
                    out,
                    "   [{}] {}",
                    subtrack.title,
                    subtrack.concepts.join(", ")
                );
            }
            let mut topic = row.topic.clone();
            if topic.chars().count() > 50 {
                topic = topic.chars().take(49).collect::<String>() + "…";
            }
            if let Some((stage, run)) = &row.taught_by {
                let run = run
                    .as_ref()
                    .map_or(String::new(), |run| format!(" (run {run})"));
                let verb = if row.status == "not started" {
                    "start"
                } else {
                    "check"
                };
                let _ = writeln!(
                    out,
                    "   {:<28} {:<50} = {}{run}: {}, `{}`",
                    row.stage,
                    topic,
                    starter::short_name(stage),
                    row.status,
                    command(&format!("{verb} {}", starter::short_name(stage)), dir),
                );
                continue;
            }
            let fixtures = match row.fixtures_passed {
                Some(passed) => format!("{passed}/{}", row.fixtures_total),
                None => format!("-/{}", row.fixtures_total),
            };
            let runs = match (row.runs_total, row.runs_passed) {
                (0, _) => "none".to_owned(),
                (total, Some(passed)) => format!("{passed}/{total}"),
                (total, None) => format!("-/{total}"),
            };
            let _ = writeln!(
                out,
                "{} {:<28} {:<50} {:>8}  {:>12}  {}{}",
                if row.next { "->" } else { "  " },
                row.stage,
                topic,
                fixtures,
                runs,
                row.status,
                row.lang
                    .map_or(String::new(), |lang| format!(" ({lang:?})").to_lowercase()),
            );
        }
        out.push('\n');
    }
    // What to do next: in each track the learner has begun (the first track when none).
    let begun = |track: &str| {
        rows.iter()
            .any(|row| row.track == track && row.taught_by.is_none() && row.status != "not started")
    };
    let mut tracks: Vec<&str> = manifest
        .tracks
        .iter()
        .map(|track| track.name.as_str())
        .filter(|track| begun(track))
        .collect();
    if tracks.is_empty() {
        tracks.extend(manifest.tracks.first().map(|track| track.name.as_str()));
    }
    for track in &tracks {
        let label = if tracks.len() > 1 {
            format!("next in {track}")
        } else {
            "next".to_owned()
        };
        match rows.iter().find(|row| row.track == *track && row.next) {
            Some(row) if row.status == "not started" => {
                let _ = writeln!(
                    out,
                    "{label}: {}",
                    command(&format!("start {}", row.short), dir)
                );
                if let Some(stage) = manifest.stages.iter().find(|stage| stage.name == row.stage)
                    && !stage.concepts.is_empty()
                {
                    let _ = writeln!(
                        out,
                        "  {} teaches: {}",
                        row.stage,
                        stage.concepts.join("; ")
                    );
                }
            }
            Some(row) => {
                let _ = writeln!(
                    out,
                    "{label}: finish {} (`{}`)",
                    row.stage,
                    command("watch", dir)
                );
            }
            None => {
                let _ = writeln!(out, "{label}: every exercise of the track passed");
            }
        }
        // What is new after the latest stage passed: its questions and its reading.
        let passed = rows
            .iter()
            .filter(|row| row.track == *track && row.taught_by.is_none())
            .take_while(|row| !row.next)
            .filter(|row| row.status.starts_with("passed"))
            .last();
        if let Some(row) = passed {
            let _ = writeln!(
                out,
                "after {}: its interview questions (`cargo xtask interview {}`) and what to read (`cargo xtask reading {}`)",
                row.stage, row.short, row.short
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::learn::DEFAULT_DIR;
    use crate::learn::check::current_stage;
    use crate::learn::testing::{manifest, root};

    fn result(passed: bool, fixtures_passed: usize, runs: Option<usize>) -> StageResult {
        StageResult {
            fixtures_passed,
            fixtures_total: 5,
            runs_passed: runs.unwrap_or(0),
            runs_graded: runs.is_some(),
            passed,
            first_failure: (!passed).then(|| "fixture 01: differs".to_owned()),
            graded_at: 1,
        }
    }

    #[test]
    fn progress_comes_from_the_remembered_grades_and_marks_the_next_stage() {
        let root = root();
        let manifest = manifest();
        let dir = tempfile::tempdir().unwrap();
        for stage in [
            "stage-01-flooding",
            "stage-02-flat-tree",
            "stage-03-random-gossip",
        ] {
            std::fs::create_dir_all(dir.path().join(stage)).unwrap();
            std::fs::write(dir.path().join(stage).join("node.py"), "").unwrap();
        }
        let mut progress = Progress::default();
        progress
            .stages
            .insert("stage-01-flooding".into(), result(true, 5, Some(2)));
        progress
            .stages
            .insert("stage-02-flat-tree".into(), result(false, 2, None));
        progress.save(dir.path()).unwrap();

        let rows = progress_rows(&root, &manifest, dir.path()).unwrap();
        let elsewhere: usize = manifest
            .tracks
            .iter()
            .map(|track| track.elsewhere.len())
            .sum();
        assert_eq!(rows.len(), manifest.stages.len() + elsewhere);
        let status: Vec<&str> = rows.iter().take(4).map(|row| row.status.as_str()).collect();
        assert_eq!(status, ["passed", "failed", "started", "not started"]);
        assert_eq!(
            rows.iter().filter(|row| row.next).count(),
            manifest.tracks.len(),
            "one next per track"
        );
        assert!(rows[1].next, "the first stage not passed is next");
        assert_eq!(rows[0].runs_passed, Some(2));
        assert_eq!(rows[1].fixtures_passed, Some(2));
        assert_eq!(rows[1].runs_passed, None);
        assert_eq!(rows[0].lang, Some(Lang::Python));
        let text = render_progress(&manifest, &rows, dir.path());
        assert!(text.contains("-> stage-02-flat-tree"), "{text}");
        assert!(
            text.contains(&format!(
                "(`cargo xtask watch --dir {}`)",
                dir.path().display()
            )),
            "a learner's own folder is kept in suggested commands: {text}"
        );
        assert!(text.contains("next: finish stage-02-flat-tree"), "{text}");
        // The Glomers track lists its exercises, with 3a–3e as the stages that teach them and
        // their figures: stage 01 passed, so 3a and 3b show it passed.
        let glomers = text
            .split("Gossip Glomers")
            .nth(1)
            .expect("the second track's part");
        assert!(glomers.contains("-> glomers-1-echo"), "{text}");
        let line_3a = glomers
            .lines()
            .find(|line| line.contains("glomers-3a"))
            .unwrap();
        assert!(
            line_3a.contains(
                "= stage-01 (run single-node): passed, `cargo xtask check stage-01 --dir"
            ),
            "{line_3a}"
        );
        let order: Vec<&str> = rows
            .iter()
            .filter(|row| row.track == "glomers")
            .map(|row| row.short.as_str())
            .collect();
        assert_eq!(
            &order[..8],
            [
                "glomers-1",
                "glomers-2",
                "glomers-3a",
                "glomers-3b",
                "glomers-3c",
                "glomers-3d",
                "glomers-3e",
                "glomers-4"
            ]
        );
        assert_eq!(
            current_stage(&manifest, dir.path()).unwrap(),
            "stage-02-flat-tree"
        );

        let empty = tempfile::tempdir().unwrap();
        let rows = progress_rows(&root, &manifest, empty.path()).unwrap();
        assert!(rows[0].next && rows[0].status == "not started");
        assert!(
            render_progress(&manifest, &rows, Path::new(DEFAULT_DIR))
                .contains("next: cargo xtask start stage-01\n")
        );
        assert!(current_stage(&manifest, empty.path()).is_err());

        // Once what was started has passed, `check` without a stage names the next one and
        // how to check a passed one again, with the learner's --dir.
        let passed = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(passed.path().join("stage-01-flooding")).unwrap();
        std::fs::write(passed.path().join("stage-01-flooding/node.py"), "").unwrap();
        let mut progress = Progress::default();
        progress
            .stages
            .insert("stage-01-flooding".into(), result(true, 5, Some(2)));
        progress.save(passed.path()).unwrap();
        let error = current_stage(&manifest, passed.path())
            .unwrap_err()
            .to_string();
        let dir_flag = format!("--dir {}", passed.path().display());
        assert!(
            error.contains(&format!("Next: `cargo xtask start stage-02 {dir_flag}`")),
            "{error}"
        );
        assert!(
            error.contains(&format!(
                "`cargo xtask check stage-01 {dir_flag}` checks a passed stage again"
            )),
            "{error}"
        );
    }

    #[test]
    fn a_damaged_progress_file_is_named_with_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("progress.json"), "{oops").unwrap();
        let error = Progress::load(dir.path()).unwrap_err().to_string();
        assert!(error.contains("damaged; delete it"), "{error}");
    }
}
