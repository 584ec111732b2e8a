//! `cargo xtask grade`: resolve the stages, build their nodes with cargo, call the grader
//! library ([`grader::grade`]) and print what it reports.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context as _, bail};
use grader::grade::{GradeOptions, GradeReport, Part, StageToGrade, grade_stages};
use grader::plan::Plan;

/// A failure of the grader itself (exit 2), as opposed to a failing grade (exit 1).
#[derive(Debug)]
pub struct CannotGrade(pub anyhow::Error);

impl From<anyhow::Error> for CannotGrade {
    fn from(error: anyhow::Error) -> Self {
        CannotGrade(error)
    }
}

/// What to grade and how.
pub struct GradeRequest<'a> {
    /// Stage names as the user wrote them.
    pub stages: &'a [String],
    /// Every stage instead.
    pub all: bool,
    /// A learner's executable instead of our reference node.
    pub bin: Option<&'a Path>,
    /// How long a fixture may run.
    pub timeout: Duration,
    /// Which parts.
    pub part: Part,
    /// Where to write the report as JSON.
    pub json: Option<&'a Path>,
    /// How many cluster runs that are not timing-sensitive may run at once.
    pub jobs: usize,
    /// How fixtures compare the node's own `msg_id`s.
    pub conventions: grader::fixtures::Conventions,
    /// Set when a signal asks the grade to stop (see [`catch_interrupts`]).
    pub interrupt: Option<Arc<AtomicBool>>,
}

/// Catches SIGINT, SIGTERM and SIGHUP into a flag: a grade then stops the run under way (its
/// nodes stopped, its results written) and starts no other. Without it a Ctrl-C would end
/// xtask at once and leave a run's store folder half written.
pub fn catch_interrupts() -> Option<Arc<AtomicBool>> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let flag = Arc::new(AtomicBool::new(false));
    for signal in [SIGINT, SIGTERM, SIGHUP] {
        if let Err(error) = signal_hook::flag::register(signal, Arc::clone(&flag)) {
            eprintln!("warning: cannot catch signals ({error}); a Ctrl-C will not save results");
            return None;
        }
    }
    Some(flag)
}

/// True when `flag` was set by a signal.
pub fn interrupted(flag: Option<&Arc<AtomicBool>>) -> bool {
    flag.is_some_and(|flag| flag.load(Ordering::SeqCst))
}

/// Grades the stages and prints their tables; `Ok(true)` when all passed.
pub fn grade(request: &GradeRequest<'_>) -> Result<bool, CannotGrade> {
    let reports = grade_reports(request)?;
    for report in &reports {
        print!("{}", report.render());
    }
    let passed = reports.iter().all(|report| report.passed);
    if let Some(path) = request.json {
        let text = serde_json::to_string_pretty(&GradeReport {
            passed,
            stages: &reports,
        })
        .expect("reports serialise");
        std::fs::write(path, text + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(passed)
}

/// Builds what is needed and grades the stages, without printing their tables.
pub fn grade_reports(
    request: &GradeRequest<'_>,
) -> Result<Vec<grader::grade::StageReport>, CannotGrade> {
    let root = crate::workspace_root();
    let manifest = crate::manifest()?;
    let plan = Plan::load(&root.join("grading.toml"))?;
    let stages = if request.all {
        manifest.names()
    } else {
        request
            .stages
            .iter()
            .map(|name| Ok(manifest.resolve(name)?.name.clone()))
            .collect::<anyhow::Result<Vec<_>>>()?
    };
    let learner_bin = match request.bin {
        Some(bin) => {
            if stages.len() != 1 {
                return Err(CannotGrade(anyhow::anyhow!(
                    "--bin grades one stage at a time; name exactly one stage"
                )));
            }
            Some(grader::config::check_bin(bin).map_err(anyhow::Error::msg)?)
        }
        None => None,
    };
    let options = GradeOptions {
        part: request.part,
        timeout: request.timeout,
        store_root: root.join("store").join("grade"),
        jobs: request.jobs,
        conventions: request.conventions,
        interrupt: request.interrupt.clone(),
    };
    let mut to_grade = Vec::new();
    for stage in &stages {
        let bin = match &learner_bin {
            Some(bin) => bin.clone(),
            None => build_binary(&root, stage, stage)?,
        };
        // Baseline runs use other stages' reference nodes, built here too.
        let mut baselines = std::collections::BTreeMap::new();
        if request.part != Part::Fixtures {
            for other in plan
                .runs_for(stage)
                .iter()
                .filter_map(|run| run.bin_stage.as_ref())
            {
                let other = manifest.resolve(other)?.name.clone();
                if let std::collections::btree_map::Entry::Vacant(entry) = baselines.entry(other) {
                    let built = build_binary(&root, entry.key(), entry.key())?;
                    entry.insert(built);
                }
            }
        }
        to_grade.push(StageToGrade {
            stage: stage.clone(),
            bin,
            fixtures_dir: root.join("fixtures").join(stage),
            baselines,
        });
    }
    Ok(grade_stages(&to_grade, &plan, &options, &|line| {
        eprintln!("{line}")
    })?)
}

/// Builds one binary of a package in release and returns its path.
pub fn build_binary(root: &Path, package: &str, binary: &str) -> anyhow::Result<PathBuf> {
    build_release(root, package, "--bin", binary)
}

/// Builds one example of a package in release (the benchmarks' `chatter-node`) and returns its
/// path.
pub fn build_example(root: &Path, package: &str, example: &str) -> anyhow::Result<PathBuf> {
    build_release(root, package, "--example", example)
}

/// `cargo build --release --package PACKAGE KIND NAME`, and where the executable landed.
fn build_release(root: &Path, package: &str, kind: &str, name: &str) -> anyhow::Result<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    eprintln!("building {name} (release)...");
    let status = Command::new(cargo)
        .current_dir(root)
        .args([
            "build",
            "--release",
            "--quiet",
            "--package",
            package,
            kind,
            name,
        ])
        .status()
        .context("cannot run cargo")?;
    if !status.success() {
        bail!("building {name} failed (the compiler's messages are above); fix them and try again");
    }
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let release = target.join("release");
    let built = match kind {
        "--example" => release.join("examples").join(name),
        _ => release.join(name),
    };
    if !built.is_file() {
        bail!("cargo built {name} but {} is missing", built.display());
    }
    Ok(built)
}
