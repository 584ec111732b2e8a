//! Project automation, run as `cargo xtask <command>`.
//!
//! `cargo xtask grade stage-01` builds the stage's reference node in release, runs its protocol
//! fixtures through the grader and prints a table and a verdict. `--bin PATH` grades any other
//! executable (a learner's node, in any language) against the same recorded snapshots.
//!
//! Exit codes: 0 when everything graded passes, 1 when something failed, 2 when the grader
//! could not run at all (unknown stage, build failure, missing or non-executable binary).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand};
use grader::fixtures::{FixtureOutcome, grade_fixtures};

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    about = "Gossiper's project tasks: build and grade stages."
)]
struct Cli {
    #[command(subcommand)]
    command: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Build a stage and grade it: its protocol fixtures, with a table of results and a verdict.
    ///
    /// Exit code 0: everything passed; 1: something failed; 2: the grader could not run.
    Grade {
        /// The stage(s) to grade: `stage-07`, `07`, `7` or the full name `stage-07-min-fanout`.
        #[arg(required_unless_present = "all", value_name = "STAGE")]
        stages: Vec<String>,
        /// Grade every stage in `stages/`.
        #[arg(long, conflicts_with = "stages")]
        all: bool,
        /// Grade this executable instead of our reference node (needs exactly one stage).
        #[arg(long, value_name = "PATH", conflicts_with = "all")]
        bin: Option<PathBuf>,
        /// Seconds a fixture may run, input to exit, before the node is killed.
        #[arg(long, default_value_t = 5.0, value_name = "SECONDS")]
        timeout: f64,
    },
}

/// A failure of the grader itself (exit 2), as opposed to a failing grade (exit 1).
#[derive(Debug)]
struct CannotGrade(anyhow::Error);

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Task::Grade {
            stages,
            all,
            bin,
            timeout,
        } => match grade(
            &stages,
            all,
            bin.as_deref(),
            Duration::from_secs_f64(timeout.max(0.1)),
        ) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::from(1),
            Err(CannotGrade(error)) => {
                eprintln!("error: {error:#}");
                ExitCode::from(2)
            }
        },
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one folder below the workspace root")
        .to_owned()
}

/// Grades the stages; `Ok(true)` when all passed.
fn grade(
    requested: &[String],
    all: bool,
    bin: Option<&Path>,
    timeout: Duration,
) -> Result<bool, CannotGrade> {
    let root = workspace_root();
    let known = known_stages(&root).map_err(CannotGrade)?;
    let stages = if all {
        known.clone()
    } else {
        requested
            .iter()
            .map(|name| resolve_stage(name, &known))
            .collect::<anyhow::Result<Vec<_>>>()
            .map_err(CannotGrade)?
    };
    let learner_bin = match bin {
        Some(bin) => {
            if stages.len() != 1 {
                return Err(CannotGrade(anyhow::anyhow!(
                    "--bin grades one stage at a time; name exactly one stage"
                )));
            }
            Some(check_executable(bin).map_err(CannotGrade)?)
        }
        None => None,
    };

    let mut all_passed = true;
    for stage in &stages {
        let bin = match &learner_bin {
            Some(bin) => bin.clone(),
            None => build_stage(&root, stage).map_err(CannotGrade)?,
        };
        let fixtures = root.join("fixtures").join(stage);
        let outcomes = grade_fixtures(&bin, &fixtures, timeout).map_err(CannotGrade)?;
        all_passed &= print_report(stage, &bin, &outcomes);
    }
    Ok(all_passed)
}

/// The stage crates, by directory name, sorted.
fn known_stages(root: &Path) -> anyhow::Result<Vec<String>> {
    let dir = root.join("stages");
    let mut stages = Vec::new();
    for entry in
        std::fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))?
    {
        let entry = entry?;
        if entry.path().join("Cargo.toml").is_file()
            && let Some(name) = entry.file_name().to_str()
        {
            stages.push(name.to_owned());
        }
    }
    stages.sort();
    Ok(stages)
}

/// Accepts `stage-07`, `07`, `7` or the full crate name.
fn resolve_stage(name: &str, known: &[String]) -> anyhow::Result<String> {
    let number = name.strip_prefix("stage-").unwrap_or(name);
    let number = number.split('-').next().unwrap_or(number);
    let matched = known.iter().find(|stage| {
        *stage == name
            || number
                .parse::<u32>()
                .is_ok_and(|wanted| stage_number(stage) == Some(wanted))
    });
    match matched {
        Some(stage) => Ok(stage.clone()),
        None => bail!(
            "no stage called `{name}`; the stages are: {} (name one as `stage-01`, `01` or in full)",
            known.join(", ")
        ),
    }
}

fn stage_number(stage: &str) -> Option<u32> {
    stage
        .strip_prefix("stage-")?
        .split('-')
        .next()?
        .parse()
        .ok()
}

fn check_executable(bin: &Path) -> anyhow::Result<PathBuf> {
    let metadata = std::fs::metadata(bin).map_err(|_| {
        anyhow::anyhow!(
            "{} does not exist; build your node first and pass the path to its executable",
            bin.display()
        )
    })?;
    if !metadata.is_file() {
        bail!(
            "{} is not a file; pass the path to your node's executable",
            bin.display()
        );
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if metadata.permissions().mode() & 0o111 == 0 {
            bail!(
                "{} is not executable; run `chmod +x {}` (scripts also need a #! line)",
                bin.display(),
                bin.display()
            );
        }
    }
    std::path::absolute(bin).with_context(|| format!("cannot resolve {}", bin.display()))
}

/// Builds the stage's binary in release and returns its path.
fn build_stage(root: &Path, stage: &str) -> anyhow::Result<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    eprintln!("building {stage} (release)...");
    let status = Command::new(cargo)
        .current_dir(root)
        .args(["build", "--release", "--quiet", "--package", stage])
        .status()
        .context("cannot run cargo")?;
    if !status.success() {
        bail!(
            "building {stage} failed (the compiler's messages are above); fix them and grade again"
        );
    }
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let bin = target.join("release").join(stage);
    if !bin.is_file() {
        bail!("cargo built {stage} but {} is missing", bin.display());
    }
    Ok(bin)
}

/// Prints the table and verdict for one stage; true when every fixture passed.
fn print_report(stage: &str, bin: &Path, outcomes: &[FixtureOutcome]) -> bool {
    println!("{stage}  ({})", bin.display());
    let width = outcomes
        .iter()
        .map(|outcome| outcome.name.len())
        .max()
        .unwrap_or(7)
        .max(7);
    println!("  {:<width$}  {:<6}  detail", "fixture", "result");
    for outcome in outcomes {
        let result = if outcome.passed { "pass" } else { "FAIL" };
        let first = outcome.detail.lines().next().unwrap_or("");
        println!("  {:<width$}  {result:<6}  {first}", outcome.name);
    }
    let failed: Vec<&FixtureOutcome> = outcomes.iter().filter(|outcome| !outcome.passed).collect();
    for outcome in &failed {
        println!("\n{} failed:", outcome.name);
        for line in outcome.detail.lines() {
            println!("  {line}");
        }
    }
    if failed.is_empty() {
        println!(
            "verdict: PASS ({} of {} fixtures)\n",
            outcomes.len(),
            outcomes.len()
        );
    } else {
        println!(
            "verdict: FAIL ({} of {} fixtures failed)\n",
            failed.len(),
            outcomes.len()
        );
    }
    failed.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_resolve_by_number_short_name_or_full_name() {
        let known = vec![
            "stage-01-flooding".to_owned(),
            "stage-07-min-fanout".to_owned(),
        ];
        for name in ["stage-07", "07", "7", "stage-07-min-fanout"] {
            assert_eq!(
                resolve_stage(name, &known).unwrap(),
                "stage-07-min-fanout",
                "{name}"
            );
        }
        let error = resolve_stage("stage-99", &known).unwrap_err().to_string();
        assert!(error.contains("stage-01-flooding"), "{error}");
    }
}
