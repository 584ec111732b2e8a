//! `cargo xtask check`: build the learner's node, grade its fixtures and, once they all pass,
//! its cluster runs; print a short result with what to do next, and remember it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use anyhow::{Context as _, bail};
use grader::fixtures::Conventions;
use grader::grade::{Part, StageReport};
use grader::manifest::{Manifest, Stage};

use super::progress::{Progress, StageResult};
use super::{Lang, LearnerNode, command, find_node, make_executable, starter};
use crate::grade::{CannotGrade, GradeRequest};

/// Builds the learner's node and returns the executable to grade.
pub fn build(root: &Path, stage: &str, node: &LearnerNode) -> anyhow::Result<PathBuf> {
    match node.lang {
        Lang::Python => {
            let path = node.dir.join("node.py");
            make_executable(&path)?;
            Ok(path)
        }
        Lang::Rust => {
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let target = learner_target(root);
            let status = Command::new(cargo)
                .args(["build", "--release", "--quiet", "--manifest-path"])
                .arg(node.dir.join("Cargo.toml"))
                .arg("--target-dir")
                .arg(&target)
                .status()
                .context("cannot run cargo")?;
            if !status.success() {
                bail!("your node does not build: the compiler's messages are above");
            }
            let bin = target.join("release").join(starter::package_name(stage));
            if !bin.is_file() {
                bail!("cargo built your node but {} is missing", bin.display());
            }
            Ok(bin)
        }
    }
}

/// Where learner crates are built: the workspace's target folder, so they share its compiled
/// dependencies.
pub(super) fn learner_target(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from)
}

/// The stage a learner is on: the first one, in order, that they started and has not passed.
/// When there is none, the error names what to do: the next stage to start, and how to check a
/// passed one again.
pub fn current_stage(manifest: &Manifest, dir: &Path) -> anyhow::Result<String> {
    let progress = Progress::load(dir)?;
    let passed = |name: &str| {
        progress
            .stages
            .get(name)
            .is_some_and(|result| result.passed)
    };
    if let Some(stage) = manifest
        .stages
        .iter()
        .find(|stage| find_node(dir, &stage.name).is_some() && !passed(&stage.name))
    {
        return Ok(stage.name.clone());
    }
    let done: Vec<&Stage> = manifest
        .stages
        .iter()
        .filter(|stage| passed(&stage.name))
        .collect();
    let next = manifest.stages.iter().find(|stage| !passed(&stage.name));
    let Some(last) = done.last() else {
        bail!(
            "no stage in progress in {}: start one with `{}` (`{}` shows them all)",
            dir.display(),
            command(
                &format!("start {}", starter::short_name(&manifest.stages[0].name)),
                dir
            ),
            command("progress", dir)
        );
    };
    let last = starter::short_name(&last.name);
    let again = command(&format!("check {last}"), dir);
    match next {
        Some(next) => bail!(
            "every stage you started in {} has passed, the last {last}. Next: `{}` (or `{}` to begin from your node); `{again}` checks a passed stage again",
            dir.display(),
            command(&format!("start {}", starter::short_name(&next.name)), dir),
            command(
                &format!("start {} --from {last}", starter::short_name(&next.name)),
                dir
            ),
        ),
        None => bail!(
            "every stage has passed; `{again}` checks one again (`{}` lists them)",
            command("progress", dir)
        ),
    }
}

/// The result to remember from a grade: the fixtures' report and, when they all passed, the
/// cluster runs'.
pub(super) fn result_of(fixtures: &StageReport, cluster: Option<&StageReport>) -> StageResult {
    let fixtures_passed = fixtures.fixtures.iter().filter(|row| row.passed).count();
    let first_fixture = fixtures.fixtures.iter().find(|row| !row.passed).map(|row| {
        format!(
            "fixture {}: {}",
            row.name,
            row.detail.lines().next().unwrap_or("")
        )
    });
    let first_run = cluster.and_then(|report| {
        report
            .runs
            .iter()
            .find(|row| !row.passed)
            .map(|row| format!("cluster run {}", row.name))
    });
    StageResult {
        fixtures_passed,
        fixtures_total: fixtures.fixtures.len(),
        runs_passed: cluster.map_or(0, |report| {
            report.runs.iter().filter(|row| row.passed).count()
        }),
        runs_graded: cluster.is_some(),
        passed: fixtures.passed && cluster.is_none_or(|report| report.passed),
        first_failure: first_fixture.or(first_run),
        graded_at: SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs()),
    }
}

/// The stage asked for (default: the current one) and the learner's node for it.
pub(super) fn learner_stage(
    manifest: &Manifest,
    stage: Option<&str>,
    dir: &Path,
) -> anyhow::Result<(String, LearnerNode)> {
    let stage = match stage {
        Some(stage) => manifest.resolve(stage)?.name.clone(),
        None => current_stage(manifest, dir)?,
    };
    let node = find_node(dir, &stage).with_context(|| {
        format!(
            "you have no node for {stage} in {}: start it with `{}`",
            dir.display(),
            command(&format!("start {}", starter::short_name(&stage)), dir)
        )
    })?;
    Ok((stage, node))
}

/// Where the learner's nodes are and how `check` and `watch` grade them.
#[derive(Debug, Clone, Copy)]
pub struct Checking<'a> {
    /// The workspace.
    pub root: &'a Path,
    /// The stages.
    pub manifest: &'a Manifest,
    /// The learner folder.
    pub dir: &'a Path,
    /// How fixtures compare the node's own `msg_id`s.
    pub conventions: Conventions,
    /// How long a fixture may run.
    pub timeout: Duration,
    /// Set when a signal asks the grade to stop.
    pub interrupt: Option<&'a std::sync::Arc<std::sync::atomic::AtomicBool>>,
}

/// `cargo xtask check`: builds the learner's node for `stage`, grades its fixtures and, when
/// they all pass, its cluster runs; prints a short result and remembers it. `Ok(true)` when the
/// stage passed.
pub fn check(how: &Checking<'_>, stage: Option<&str>) -> Result<bool, CannotGrade> {
    let Checking {
        root,
        manifest,
        dir,
        conventions,
        timeout,
        interrupt,
    } = *how;
    let (stage, node) = learner_stage(manifest, stage, dir)?;
    let bin = match build(root, &stage, &node) {
        Ok(bin) => bin,
        Err(error) => {
            println!("{stage}: {error:#}");
            return Ok(false);
        }
    };
    let request = |part| GradeRequest {
        stages: std::slice::from_ref(&stage),
        all: false,
        bin: Some(&bin),
        timeout,
        part,
        json: None,
        jobs: 1,
        conventions,
        interrupt: interrupt.cloned(),
    };
    let fixtures = crate::grade::grade_reports(&request(Part::Fixtures))?.remove(0);
    print!("{}", fixture_lines(&stage, &fixtures));
    let has_runs = manifest.resolve(&stage)?.cluster_runs;
    let cluster = if fixtures.passed && has_runs {
        Some(crate::grade::grade_reports(&request(Part::Cluster))?.remove(0))
    } else {
        None
    };
    if crate::grade::interrupted(interrupt) {
        // An interrupted grade is no result: print what ran, remember nothing.
        if let Some(report) = &cluster {
            print!("{}", report.render_runs());
        }
        return Ok(false);
    }
    let result = result_of(&fixtures, cluster.as_ref());
    let following = manifest
        .stages
        .iter()
        .skip_while(|other| other.name != stage)
        .nth(1)
        .map(|other| other.name.as_str());
    let next = Next {
        dir,
        stage: following,
    };
    print!(
        "{}",
        closing_lines(&stage, &fixtures, cluster.as_ref(), &result, &next)
    );
    let mut progress = Progress::load(dir)?;
    progress.stages.insert(stage.clone(), result.clone());
    progress.save(dir)?;
    Ok(result.passed)
}

/// What `check` and `watch` print: every fixture in a line (the first failure with its
/// details), the cluster runs' table when they ran, and what to do next.
#[cfg(test)]
fn short_report(
    stage: &str,
    fixtures: &StageReport,
    cluster: Option<&StageReport>,
    result: &StageResult,
    next: &Next<'_>,
) -> String {
    fixture_lines(stage, fixtures) + &closing_lines(stage, fixtures, cluster, result, next)
}

/// Every fixture, a line each, the first failure with its details below it.
pub(super) fn fixture_lines(stage: &str, fixtures: &StageReport) -> String {
    let passed = fixtures.fixtures.iter().filter(|row| row.passed).count();
    let mut out = format!("{stage}: fixtures {passed}/{}\n", fixtures.fixtures.len());
    let mut explained = false;
    for row in &fixtures.fixtures {
        if row.passed {
            out.push_str(&format!("  pass  {}\n", row.name));
        } else if explained {
            let first = row.detail.lines().next().unwrap_or("");
            out.push_str(&format!("  FAIL  {}  ({first})\n", row.name));
        } else {
            out.push_str(&format!("  FAIL  {}\n", row.name));
            for line in row.detail.lines() {
                out.push_str(&format!("        {line}\n"));
            }
            explained = true;
        }
    }
    out
}

/// What `check` suggests next: the learner folder (for the commands' `--dir`) and the stage
/// after the one checked.
#[derive(Debug, Clone, Copy)]
pub struct Next<'a> {
    /// The learner folder.
    pub dir: &'a Path,
    /// The next stage in the manifest, if any.
    pub stage: Option<&'a str>,
}

/// The cluster runs' table when they ran, and what to do next.
pub(super) fn closing_lines(
    stage: &str,
    fixtures: &StageReport,
    cluster: Option<&StageReport>,
    result: &StageResult,
    next: &Next<'_>,
) -> String {
    let mut out = String::new();
    match cluster {
        Some(report) => {
            let passed = report.runs.iter().filter(|row| row.passed).count();
            out.push_str(&format!(
                "{stage}: cluster runs {passed}/{}",
                report.runs.len()
            ));
            out.push_str(&report.render_runs());
            out.push('\n');
        }
        None if fixtures.passed => {}
        None => out.push_str("  cluster runs wait until every fixture passes\n"),
    }
    let short = starter::short_name(stage);
    if !result.passed {
        out.push_str(&format!(
            "not yet: fix the first failure above; `{}` if you are stuck, `cargo xtask mistakes {short}` for the mistakes that bite here.\n",
            command(&format!("hint {short}"), next.dir)
        ));
    } else if let Some(following) = next.stage {
        let following = starter::short_name(following);
        out.push_str(&format!(
            "{stage} passed. Next: `{}` (begins from your node; leave out --from for a fresh starter).\n",
            command(&format!("start {following} --from {short}"), next.dir)
        ));
        out.push_str(&format!(
            "To go deeper first: `cargo xtask reading {short}` (what to read beside this stage, and why).\n"
        ));
    } else {
        out.push_str(&format!(
            "{stage} passed: that was the last stage. `{}` shows them all.\n",
            command("progress", next.dir)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(fixtures: &[bool], runs: Option<&[bool]>) -> (StageReport, Option<StageReport>) {
        let row = |(index, passed): (usize, &bool)| grader::grade::FixtureRow {
            name: format!("0{index}-fixture"),
            passed: *passed,
            detail: if *passed {
                "ok".into()
            } else {
                "output message 2 differs\nmore".into()
            },
        };
        let fixtures = StageReport {
            stage: "stage-01-flooding".into(),
            bin: "node".into(),
            passed: fixtures.iter().all(|passed| *passed),
            fixtures: fixtures.iter().enumerate().map(row).collect(),
            runs: Vec::new(),
        };
        let cluster = runs.map(|runs| StageReport {
            stage: "stage-01-flooding".into(),
            bin: "node".into(),
            passed: runs.iter().all(|passed| *passed),
            fixtures: Vec::new(),
            runs: runs
                .iter()
                .enumerate()
                .map(|(index, passed)| grader::grade::RunRow {
                    name: format!("run-{index}"),
                    passed: *passed,
                    valid: serde_json::json!(*passed),
                    expect_valid: "true".into(),
                    figures: Vec::new(),
                    thresholds: Vec::new(),
                    store: String::new(),
                    reproduce: String::new(),
                    error: None,
                })
                .collect(),
        });
        (fixtures, cluster)
    }

    #[test]
    fn a_check_remembers_fixtures_first_then_cluster_runs() {
        let (fixtures, _) = report(&[true, false, false], None);
        let failed = result_of(&fixtures, None);
        assert_eq!((failed.fixtures_passed, failed.fixtures_total), (1, 3));
        assert!(!failed.passed && !failed.runs_graded);
        assert_eq!(
            failed.first_failure.as_deref(),
            Some("fixture 01-fixture: output message 2 differs")
        );
        let next = Next {
            dir: Path::new("my-learn"),
            stage: Some("stage-02-flat-tree"),
        };
        let text = short_report("stage-01-flooding", &fixtures, None, &failed, &next);
        assert!(
            text.contains("  FAIL  01-fixture\n        output message 2 differs\n        more\n"),
            "{text}"
        );
        assert!(
            text.contains("  FAIL  02-fixture  (output message 2 differs)\n"),
            "every fixture is listed, the first failure in full: {text}"
        );
        assert!(
            !text.contains("more\n  FAIL  02-fixture\n        "),
            "{text}"
        );
        assert!(text.contains("cluster runs wait"), "{text}");
        assert!(
            text.contains("`cargo xtask hint stage-01 --dir my-learn`"),
            "{text}"
        );

        let (fixtures, cluster) = report(&[true, true], Some(&[true, false]));
        let partial = result_of(&fixtures, cluster.as_ref());
        assert!(!partial.passed && partial.runs_graded);
        assert_eq!(partial.runs_passed, 1);
        assert_eq!(partial.first_failure.as_deref(), Some("cluster run run-1"));

        let (fixtures, cluster) = report(&[true], Some(&[true]));
        let passed = result_of(&fixtures, cluster.as_ref());
        assert!(passed.passed);
        let text = short_report(
            "stage-01-flooding",
            &fixtures,
            cluster.as_ref(),
            &passed,
            &next,
        );
        assert!(
            text.contains("stage-01-flooding passed. Next: `cargo xtask start stage-02 --from stage-01 --dir my-learn`")
                && text.contains("`cargo xtask reading stage-01`"),
            "{text}"
        );
    }
}
