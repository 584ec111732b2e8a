//! The learner's path: `start` writes a starter node for a stage in the learner folder
//! (default `learn/`, git-ignored), `check` and `watch` build and grade it (fixtures first,
//! cluster runs once they pass) and remember the result, `progress` lists every stage from
//! those results, `hint` gives the stage's hints one at a time.

pub mod starter;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use anyhow::{Context as _, bail};
use grader::fixtures::Conventions;
use grader::grade::{Part, StageReport};
use grader::manifest::{Manifest, Stage};
use serde::{Deserialize, Serialize};

use crate::grade::{CannotGrade, GradeRequest};
use starter::LearnData;

/// The languages a starter can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lang {
    /// A crate that depends on this checkout's `common` runtime.
    Rust,
    /// One executable file, standard library only.
    Python,
}

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

/// A learner's node for one stage, as found in the learner folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LearnerNode {
    /// Its folder: `<dir>/<stage>`.
    pub dir: PathBuf,
    /// Rust (a `Cargo.toml`) or Python (a `node.py`).
    pub lang: Lang,
}

/// The learner's node for `stage` in `dir`, if one was started.
pub fn find_node(dir: &Path, stage: &str) -> Option<LearnerNode> {
    let folder = dir.join(stage);
    let lang = if folder.join("Cargo.toml").is_file() {
        Lang::Rust
    } else if folder.join("node.py").is_file() {
        Lang::Python
    } else {
        return None;
    };
    Some(LearnerNode { dir: folder, lang })
}

/// The learner folder's default, which suggested commands leave out.
pub const DEFAULT_DIR: &str = "learn";

/// A command to suggest: `cargo xtask <words>`, with `--dir` when the learner uses a folder of
/// their own, so it runs as printed.
pub fn command(words: &str, dir: &Path) -> String {
    if dir == Path::new(DEFAULT_DIR) {
        format!("cargo xtask {words}")
    } else {
        format!(
            "cargo xtask {words} --dir {}",
            grader::config::shell_quote(&dir.display().to_string())
        )
    }
}

/// `to` relative to `from` (both absolute), for a path dependency that survives moving the
/// checkout.
fn relative(from: &Path, to: &Path) -> PathBuf {
    let from: Vec<_> = from.components().collect();
    let to: Vec<_> = to.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut path = PathBuf::new();
    for _ in common..from.len() {
        path.push("..");
    }
    for part in &to[common..] {
        path.push(part);
    }
    path
}

fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    std::path::absolute(path).with_context(|| format!("cannot resolve {}", path.display()))
}

/// What `start` wrote.
#[derive(Debug)]
pub struct Started {
    /// The learner's folder for the stage.
    pub dir: PathBuf,
    /// The file to edit.
    pub main: PathBuf,
    /// The language.
    pub lang: Lang,
    /// With `--from`: the new stage's flags written into the copied node.
    pub flags: FlagsAdded,
}

/// Writes the starter files for `lang` into `folder` (the starter itself, and for Rust the
/// manifest and the workspace's lock file so the same versions are used). Returns the file to
/// edit.
fn write_starter(
    root: &Path,
    stage: &Stage,
    data: &LearnData,
    lang: Lang,
    folder: &Path,
) -> anyhow::Result<PathBuf> {
    let write = |path: &Path, text: &str| {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
    };
    match lang {
        Lang::Rust => {
            let common = relative(&absolute(folder)?, &absolute(&root.join("common"))?);
            write(
                &folder.join("Cargo.toml"),
                &starter::rust_manifest(&stage.name, &common),
            )?;
            let lock = std::fs::read_to_string(root.join("Cargo.lock")).unwrap_or_default();
            if !lock.is_empty() {
                write(&folder.join("Cargo.lock"), &lock)?;
            }
            let main = folder.join("src").join("main.rs");
            write(
                &main,
                &starter::rust_main(&stage.name, &stage.summary, data),
            )?;
            rustfmt(&main);
            Ok(main)
        }
        Lang::Python => {
            let main = folder.join("node.py");
            write(
                &main,
                &starter::python_node(&stage.name, &stage.summary, data),
            )?;
            make_executable(&main)?;
            Ok(main)
        }
    }
}

/// Lays out a written Rust file the way `cargo fmt` would, when rustfmt is installed (the
/// starter compiles either way).
fn rustfmt(path: &Path) {
    let _ = Command::new("rustfmt")
        .args(["--edition", "2024"])
        .arg(path)
        .stderr(std::process::Stdio::null())
        .status();
}

/// Makes `path` executable, touching it only when it is not yet: a change of mode is an event
/// `watch` would otherwise see on every grade.
fn make_executable(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let mut permissions = std::fs::metadata(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .permissions();
    if permissions.mode() & 0o755 == 0o755 {
        return Ok(());
    }
    permissions.set_mode(permissions.mode() | 0o755);
    std::fs::set_permissions(path, permissions)
        .with_context(|| format!("cannot make {} executable", path.display()))
}

/// Copies a learner's previous stage into `folder`: every file but build output, the Rust
/// package renamed for the new stage.
fn copy_previous(
    previous: &LearnerNode,
    from: &str,
    stage: &str,
    folder: &Path,
) -> anyhow::Result<()> {
    fn copy_tree(source: &Path, target: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(target)
            .with_context(|| format!("cannot create {}", target.display()))?;
        for entry in std::fs::read_dir(source)
            .with_context(|| format!("cannot list {}", source.display()))?
        {
            let entry = entry?;
            let name = entry.file_name();
            if name == "target" || name == "__pycache__" || name == "starter" {
                continue;
            }
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                copy_tree(&path, &target.join(&name))?;
            } else {
                std::fs::copy(&path, target.join(&name))
                    .with_context(|| format!("cannot copy {}", path.display()))?;
            }
        }
        Ok(())
    }
    copy_tree(&previous.dir, folder)?;
    if previous.lang == Lang::Rust {
        let manifest = folder.join("Cargo.toml");
        let text = std::fs::read_to_string(&manifest)?;
        let renamed = text.replace(
            &format!("\"{}\"", starter::package_name(from)),
            &format!("\"{}\"", starter::package_name(stage)),
        );
        std::fs::write(&manifest, renamed)?;
        let main = folder.join("src").join("main.rs");
        if let Ok(text) = std::fs::read_to_string(&main) {
            std::fs::write(
                &main,
                text.replace(&starter::package_name(from), &starter::package_name(stage)),
            )?;
        }
    }
    Ok(())
}

/// `cargo xtask start`: writes a starter for `stage` into `<dir>/<stage>`, or, with `from`,
/// copies the learner's node of that earlier stage there (with the new stage's starter beside
/// it in `starter/`, for its messages).
pub fn start(
    root: &Path,
    manifest: &Manifest,
    stage: &str,
    lang: Option<Lang>,
    dir: &Path,
    from: Option<&str>,
) -> anyhow::Result<Started> {
    let stage = manifest.resolve(stage)?;
    let folder = dir.join(&stage.name);
    if folder.exists() {
        bail!(
            "{} already exists: you started {} before. Carry on editing it, or delete that folder to start again",
            folder.display(),
            stage.name
        );
    }
    let data = LearnData::load(&root.join("stages").join(&stage.name))?;
    let Some(from) = from else {
        let lang = lang.unwrap_or(Lang::Rust);
        let main = write_starter(root, stage, &data, lang, &folder)?;
        return Ok(Started {
            dir: folder,
            main,
            lang,
            flags: FlagsAdded::default(),
        });
    };
    let from_stage = manifest.resolve(from)?;
    let previous = find_node(dir, &from_stage.name).with_context(|| {
        format!(
            "--from {}: there is no node of yours for it in {} (start it first, or leave out --from)",
            from_stage.name,
            dir.display()
        )
    })?;
    if lang.is_some_and(|lang| lang != previous.lang) {
        bail!(
            "--from {} copies a {:?} node; leave out --lang or start without --from",
            from_stage.name,
            previous.lang
        );
    }
    copy_previous(&previous, &from_stage.name, &stage.name, &folder)?;
    let main = match previous.lang {
        Lang::Rust => folder.join("src").join("main.rs"),
        Lang::Python => folder.join("node.py"),
    };
    let old_data = LearnData::load(&root.join("stages").join(&from_stage.name))?;
    let flags = add_new_flags(&main, previous.lang, &old_data, &data)?;
    let fresh = folder.join("starter");
    std::fs::create_dir_all(&fresh)?;
    let text = match previous.lang {
        Lang::Rust => starter::rust_main(&stage.name, &stage.summary, &data),
        Lang::Python => starter::python_node(&stage.name, &stage.summary, &data),
    };
    let name = if previous.lang == Lang::Rust {
        "main.rs"
    } else {
        "node.py"
    };
    std::fs::write(fresh.join(name), text)?;
    Ok(Started {
        dir: folder,
        main,
        lang: previous.lang,
        flags,
    })
}

/// The messages and flags `stage` has that `from` has not, for the `--from` message.
pub fn new_since(
    root: &Path,
    from: &str,
    stage: &str,
) -> anyhow::Result<(Vec<String>, Vec<String>)> {
    let old = LearnData::load(&root.join("stages").join(from))?;
    let new = LearnData::load(&root.join("stages").join(stage))?;
    let messages = new
        .messages
        .iter()
        .filter(|message| !old.messages.iter().any(|other| other.kind == message.kind))
        .map(|message| message.kind.clone())
        .collect();
    let flags = new_flags(&old, &new)
        .map(|flag| format!("--{}", flag.name))
        .collect();
    Ok((messages, flags))
}

/// The flags `new` declares that `old` does not.
fn new_flags<'a>(
    old: &'a LearnData,
    new: &'a LearnData,
) -> impl Iterator<Item = &'a starter::Flag> + 'a {
    new.flags
        .iter()
        .filter(|flag| !old.flags.iter().any(|other| other.name == flag.name))
}

/// What adding a new stage's flags to a copied node did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct FlagsAdded {
    /// The flags written into the node, `--name` each.
    pub added: Vec<String>,
    /// Lines the learner must add by hand, when the node's flags could not be found (it no
    /// longer has the starter's `Flags` struct or `parse_flags`).
    pub by_hand: Option<String>,
}

/// Writes the flags the new stage's grade passes, and the earlier one's did not, into the node
/// copied to `main`: a field each in Rust's `Flags`, a `parser.add_argument` each in Python's
/// `parse_flags`. Without them the copied node would refuse the grade's arguments.
fn add_new_flags(
    main: &Path,
    lang: Lang,
    old: &LearnData,
    new: &LearnData,
) -> anyhow::Result<FlagsAdded> {
    let flags: Vec<&starter::Flag> = new_flags(old, new).collect();
    if flags.is_empty() {
        return Ok(FlagsAdded::default());
    }
    let rust = lang == Lang::Rust;
    let lines: String = flags
        .iter()
        .map(|flag| {
            if rust {
                starter::rust_flag(flag)
            } else {
                starter::python_flag(flag)
            }
        })
        .collect();
    let added = flags
        .iter()
        .map(|flag| format!("--{}", flag.name))
        .collect();
    let text =
        std::fs::read_to_string(main).with_context(|| format!("cannot read {}", main.display()))?;
    let Some(edited) = starter::insert_flags(&text, rust, &lines) else {
        return Ok(FlagsAdded {
            added: Vec::new(),
            by_hand: Some(lines),
        });
    };
    std::fs::write(main, edited).with_context(|| format!("cannot write {}", main.display()))?;
    Ok(FlagsAdded {
        added,
        by_hand: None,
    })
}

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
fn learner_target(root: &Path) -> PathBuf {
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
fn result_of(fixtures: &StageReport, cluster: Option<&StageReport>) -> StageResult {
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
fn learner_stage(
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
fn fixture_lines(stage: &str, fixtures: &StageReport) -> String {
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
fn closing_lines(
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
            "not yet: fix the first failure above; `{}` if you are stuck.\n",
            command(&format!("hint {short}"), next.dir)
        ));
    } else if let Some(following) = next.stage {
        let following = starter::short_name(following);
        out.push_str(&format!(
            "{stage} passed. Next: `{}` (begins from your node; leave out --from for a fresh starter).\n",
            command(&format!("start {following} --from {short}"), next.dir)
        ));
    } else {
        out.push_str(&format!(
            "{stage} passed: that was the last stage. `{}` shows them all.\n",
            command("progress", next.dir)
        ));
    }
    out
}

/// One row of `cargo xtask progress`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ProgressRow {
    /// `01`.
    pub number: u32,
    /// The stage's full name.
    pub stage: String,
    /// What it teaches.
    pub topic: String,
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
    /// The first stage, in order, not passed yet.
    pub next: bool,
}

/// Every stage's row, from the learner folder and its remembered grades.
pub fn progress_rows(
    root: &Path,
    manifest: &Manifest,
    dir: &Path,
) -> anyhow::Result<Vec<ProgressRow>> {
    let progress = Progress::load(dir)?;
    let plan = grader::plan::Plan::load(&root.join("grading.toml"))?;
    let mut rows = Vec::new();
    let mut next_marked = false;
    for stage in &manifest.stages {
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
        let next = status != "passed" && !next_marked;
        next_marked |= next;
        rows.push(ProgressRow {
            number: stage.number().unwrap_or(0),
            stage: stage.name.clone(),
            topic: stage.summary.clone(),
            lang: node.map(|node| node.lang),
            fixtures_passed: result.map(|result| result.fixtures_passed),
            fixtures_total,
            runs_passed: result
                .filter(|result| result.runs_graded)
                .map(|result| result.runs_passed),
            runs_total: plan.runs_for(&stage.name).len(),
            status: status.to_owned(),
            next,
        });
    }
    Ok(rows)
}

/// The progress table as text.
pub fn render_progress(rows: &[ProgressRow], dir: &Path) -> String {
    let mut out = String::from(
        "    stage                        topic                                              fixtures  cluster runs  status\n",
    );
    for row in rows {
        let fixtures = match row.fixtures_passed {
            Some(passed) => format!("{passed}/{}", row.fixtures_total),
            None => format!("-/{}", row.fixtures_total),
        };
        let runs = match (row.runs_total, row.runs_passed) {
            (0, _) => "none".to_owned(),
            (total, Some(passed)) => format!("{passed}/{total}"),
            (total, None) => format!("-/{total}"),
        };
        let mut topic = row.topic.clone();
        if topic.chars().count() > 50 {
            topic = topic.chars().take(49).collect::<String>() + "…";
        }
        out.push_str(&format!(
            "{} {:<28} {:<50} {:>8}  {:>12}  {}{}\n",
            if row.next { "->" } else { "  " },
            row.stage,
            topic,
            fixtures,
            runs,
            row.status,
            row.lang
                .map_or(String::new(), |lang| format!(" ({lang:?})").to_lowercase()),
        ));
    }
    match rows.iter().find(|row| row.next) {
        Some(row) if row.status == "not started" => out.push_str(&format!(
            "next: {}\n",
            command(&format!("start {}", starter::short_name(&row.stage)), dir)
        )),
        Some(row) => out.push_str(&format!(
            "next: finish {} (`{}`)\n",
            row.stage,
            command("watch", dir)
        )),
        None => out.push_str("every stage passed\n"),
    }
    out
}

/// `cargo xtask hint`: shows one more of the stage's hints each time (all of them once they are
/// used up) and remembers how many were shown. Returns the text.
pub fn hint(root: &Path, manifest: &Manifest, stage: &str, dir: &Path) -> anyhow::Result<String> {
    let stage = manifest.resolve(stage)?;
    let data = LearnData::load(&root.join("stages").join(&stage.name))?;
    let mut progress = Progress::load(dir)?;
    let seen = progress.hints.get(&stage.name).copied().unwrap_or(0);
    let shown = (seen + 1).min(data.hints.len());
    let mut out = String::new();
    for (index, text) in data.hints.iter().take(shown).enumerate() {
        out.push_str(&format!(
            "hint {} of {} for {}:\n  {text}\n",
            index + 1,
            data.hints.len(),
            stage.name
        ));
    }
    if seen >= data.hints.len() {
        out.push_str(&format!(
            "that was the last hint; the reference node's README explains its design: stages/{}/README.md\n",
            stage.name
        ));
    } else if shown < data.hints.len() {
        out.push_str("ask again for a more specific one\n");
    }
    progress.hints.insert(stage.name.clone(), shown);
    progress.save(dir)?;
    Ok(out)
}

/// Whether a changed path (relative to the watched folder) should trigger a regrade: a source
/// or manifest file, not build output.
pub fn is_source_change(path: &Path) -> bool {
    let in_build_output = path
        .components()
        .any(|part| part.as_os_str() == "target" || part.as_os_str() == "__pycache__");
    let source = path
        .extension()
        .is_some_and(|ext| ext == "rs" || ext == "py" || ext == "toml");
    source && !in_build_output
}

/// Calls `on_change` once at the start and again after every batch of source changes under
/// `folder` (writes, creations, removals, renames: not reads, which every build does, nor
/// changes of mode, which a Python node's build may make), until
/// `keep_going` says stop. A batch is the events that arrive within 300 ms of each other, as an
/// editor's save often writes several.
pub fn watch_folder(
    folder: &Path,
    mut on_change: impl FnMut(),
    keep_going: impl Fn() -> bool,
) -> anyhow::Result<()> {
    use notify::{EventKind, RecursiveMode, Watcher as _};
    let (sender, receiver) = std::sync::mpsc::channel();
    let mut watcher = notify::recommended_watcher(move |event| {
        let _ = sender.send(event);
    })
    .context("cannot watch files")?;
    watcher
        .watch(folder, RecursiveMode::Recursive)
        .with_context(|| format!("cannot watch {}", folder.display()))?;
    let relevant = |event: &notify::Event| {
        // A change of mode or times (a chmod, a touch) is no edit.
        let edit = match event.kind {
            EventKind::Modify(notify::event::ModifyKind::Metadata(_)) => false,
            EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_) => true,
            _ => false,
        };
        edit && event
            .paths
            .iter()
            .any(|path| is_source_change(path.strip_prefix(folder).unwrap_or(path)))
    };
    on_change();
    while keep_going() {
        match receiver.recv_timeout(Duration::from_millis(500)) {
            Ok(Ok(event)) if relevant(&event) => {
                // Let the rest of the save arrive, then grade once.
                while receiver.recv_timeout(Duration::from_millis(300)).is_ok() {}
                // A save made while this grade runs is graded again afterwards.
                on_change();
            }
            Ok(_) | Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    Ok(())
}

/// `cargo xtask watch`: checks the learner's node of `stage` (default: the current one) now and
/// on every save. Runs until interrupted; `Ok(true)` when the interrupt stopped a grade under
/// way (rather than the watch between grades).
pub fn watch(how: &Checking<'_>, stage: Option<&str>) -> anyhow::Result<bool> {
    let (stage, node) = learner_stage(how.manifest, stage, how.dir)?;
    println!(
        "watching {} (Ctrl-C to stop): every save rebuilds and regrades {stage}",
        node.dir.display()
    );
    let mut stopped_mid_grade = false;
    watch_folder(
        &node.dir,
        || {
            println!("\n--- {stage} ---");
            if let Err(CannotGrade(error)) = check(how, Some(&stage)) {
                println!("cannot grade: {error:#}");
            }
            stopped_mid_grade = crate::grade::interrupted(how.interrupt);
        },
        || !crate::grade::interrupted(how.interrupt),
    )?;
    Ok(stopped_mid_grade)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use grader::fixtures::{Exit, judge, load_scripts, load_snapshot, run_script, snapshot_path};

    use super::*;

    fn root() -> PathBuf {
        crate::workspace_root()
    }

    fn manifest() -> Manifest {
        crate::manifest().unwrap()
    }

    #[test]
    fn every_stage_has_hints_and_declares_every_flag_its_grade_passes() {
        let root = root();
        let plan = grader::plan::Plan::load(&root.join("grading.toml")).unwrap();
        for stage in &manifest().stages {
            let data = LearnData::load(&root.join("stages").join(&stage.name)).unwrap();
            assert!(
                data.hints.len() >= 2,
                "{}: give at least two hints",
                stage.name
            );
            assert!(
                data.messages.iter().any(|message| message.handle.is_some()),
                "{}: a starter needs a request to handle",
                stage.name
            );
            let mut passed: BTreeSet<String> = BTreeSet::new();
            for script in load_scripts(&root.join("fixtures").join(&stage.name)).unwrap() {
                passed.extend(
                    script
                        .args
                        .iter()
                        .filter(|arg| arg.starts_with("--"))
                        .cloned(),
                );
            }
            for run in plan.runs_for(&stage.name) {
                passed.extend(
                    run.node_args
                        .iter()
                        .filter(|arg| arg.starts_with("--"))
                        .cloned(),
                );
            }
            let declared: BTreeSet<String> = data
                .flags
                .iter()
                .map(|flag| format!("--{}", flag.name))
                .collect();
            let missing: Vec<_> = passed.difference(&declared).collect();
            assert!(
                missing.is_empty(),
                "{}: the grade passes {missing:?}, which stages/{}/learn.toml does not declare, so a starter would refuse them",
                stage.name,
                stage.name
            );
        }
    }

    /// Runs a stage's first fixture against `bin`: the starter must fail it, saying which
    /// handler is still to be written.
    fn first_fixture_fails_clearly(root: &Path, stage: &str, bin: &Path, says: &[&str]) {
        let script = load_scripts(&root.join("fixtures").join(stage))
            .unwrap()
            .remove(0);
        let expected = load_snapshot(&snapshot_path(&script)).unwrap();
        let transcript = run_script(bin, &script, Duration::from_secs(10)).unwrap();
        assert_ne!(
            transcript.exit,
            Exit::Code(0),
            "{stage}: the starter must not pass"
        );
        let outcome = judge(&script, &expected, &transcript, Conventions::Track);
        assert!(
            !outcome.passed,
            "{stage}: the starter passed {}",
            script.name
        );
        assert!(
            !outcome.detail.starts_with("output message 1 differs"),
            "{stage}: the starter's init_ok must reach stdout before its first handler fails:\n{}",
            outcome.detail
        );
        assert!(
            says.iter().all(|part| outcome.detail.contains(part)),
            "{stage}: the first failure should say {says:?}:\n{}",
            outcome.detail
        );
    }

    #[test]
    fn every_python_starter_runs_and_fails_its_first_fixture_saying_what_to_write() {
        if Command::new("python3").arg("--version").output().is_err() {
            eprintln!("skipped: python3 is not on PATH");
            return;
        }
        let root = root();
        let dir = tempfile::tempdir().unwrap();
        for stage in &manifest().stages {
            let started = start(
                &root,
                &manifest(),
                &stage.name,
                Some(Lang::Python),
                dir.path(),
                None,
            )
            .unwrap();
            assert_eq!(started.main, dir.path().join(&stage.name).join("node.py"));
            first_fixture_fails_clearly(
                &root,
                &stage.name,
                &started.main,
                &["NotImplementedError"],
            );
        }
    }

    #[test]
    fn every_rust_starter_compiles_and_fails_its_first_fixture_saying_what_to_write() {
        let root = root();
        let dir = tempfile::tempdir().unwrap();
        let stages = manifest().stages;
        // One crate holds every stage's starter as a module (one build, one link); its binary
        // runs the starter its first argument names. Its manifest is a starter's, with the
        // workspace's profiles so the test build's compiled dependencies serve.
        let crate_dir = dir.path().join("all");
        let mut modules = String::new();
        let mut arms = String::new();
        for (index, stage) in stages.iter().enumerate() {
            let started = start(
                &root,
                &manifest(),
                &stage.name,
                Some(Lang::Rust),
                dir.path(),
                None,
            )
            .unwrap();
            let text = std::fs::read_to_string(&started.main).unwrap();
            assert!(text.contains("\nfn main()"), "{}: no main", stage.name);
            let module = format!("starter_{index}");
            std::fs::create_dir_all(crate_dir.join("src")).unwrap();
            std::fs::write(
                crate_dir.join("src").join(format!("{module}.rs")),
                text.replace("\nfn main()", "\npub fn main()"),
            )
            .unwrap();
            modules.push_str(&format!("mod {module};\n"));
            arms.push_str(&format!(
                "        Some(\"{}\") => {module}::main(),\n",
                stage.name
            ));
        }
        std::fs::write(
            crate_dir.join("src/main.rs"),
            format!(
                "{modules}\nfn main() -> std::process::ExitCode {{\n    let stage = std::env::var(\"STARTER\").ok();\n    match stage.as_deref() {{\n{arms}        _ => std::process::ExitCode::from(3),\n    }}\n}}\n"
            ),
        )
        .unwrap();
        let one =
            std::fs::read_to_string(dir.path().join(&stages[0].name).join("Cargo.toml")).unwrap();
        let workspace = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
        let profiles = &workspace[workspace
            .find("[profile.")
            .expect("the workspace has profiles")..];
        let own_profile = one
            .find("[profile.")
            .expect("a starter's manifest sets its profile");
        let common = relative(&crate_dir, &root.join("common"));
        let manifest_text = one[..own_profile]
            .replace(&starter::package_name(&stages[0].name), "all-starters")
            .replace(
                &format!(
                    "path = \"{}\"",
                    relative(&dir.path().join(&stages[0].name), &root.join("common")).display()
                ),
                &format!("path = \"{}\"", common.display()),
            )
            + profiles;
        std::fs::write(crate_dir.join("Cargo.toml"), manifest_text).unwrap();
        std::fs::copy(root.join("Cargo.lock"), crate_dir.join("Cargo.lock")).unwrap();
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let target = learner_target(&root);
        let status = Command::new(cargo)
            .args(["build", "--quiet", "--manifest-path"])
            .arg(crate_dir.join("Cargo.toml"))
            .arg("--target-dir")
            .arg(&target)
            .status()
            .unwrap();
        assert!(status.success(), "a Rust starter does not compile");
        let bin = target.join("debug").join("all-starters");
        for stage in &stages {
            let wrapper = dir.path().join(format!("{}.sh", stage.name));
            std::fs::write(
                &wrapper,
                format!(
                    "#!/bin/sh\nSTARTER={} exec {} \"$@\"\n",
                    stage.name,
                    bin.display()
                ),
            )
            .unwrap();
            make_executable(&wrapper).unwrap();
            first_fixture_fails_clearly(
                &root,
                &stage.name,
                &wrapper,
                &["the node panicked at src/", ": not yet implemented: "],
            );
        }
    }

    #[test]
    fn start_refuses_a_started_stage_and_from_copies_the_previous_node() {
        let root = root();
        let manifest = manifest();
        let dir = tempfile::tempdir().unwrap();
        start(&root, &manifest, "1", Some(Lang::Rust), dir.path(), None).unwrap();
        let again = start(&root, &manifest, "stage-01", None, dir.path(), None).unwrap_err();
        assert!(again.to_string().contains("already exists"), "{again}");

        let main = dir.path().join("stage-01-flooding/src/main.rs");
        std::fs::write(
            &main,
            "// my own work\nfn main() { \"my-stage-01-flooding\"; }\n",
        )
        .unwrap();
        let next = start(&root, &manifest, "2", None, dir.path(), Some("1")).unwrap();
        assert_eq!(next.lang, Lang::Rust);
        let copied = std::fs::read_to_string(next.dir.join("src/main.rs")).unwrap();
        assert!(copied.starts_with("// my own work"), "{copied}");
        assert!(copied.contains("my-stage-02-flat-tree"), "{copied}");
        let cargo_toml = std::fs::read_to_string(next.dir.join("Cargo.toml")).unwrap();
        assert!(
            cargo_toml.contains("name = \"my-stage-02-flat-tree\""),
            "{cargo_toml}"
        );
        assert!(next.dir.join("starter/main.rs").is_file());
        assert_eq!(
            new_since(&root, "stage-01-flooding", "stage-02-flat-tree").unwrap(),
            (Vec::new(), vec!["--branching".to_owned()])
        );

        let missing = start(&root, &manifest, "4", None, dir.path(), Some("3")).unwrap_err();
        assert!(
            missing.to_string().contains("no node of yours"),
            "{missing}"
        );
        let mixed = start(
            &root,
            &manifest,
            "3",
            Some(Lang::Python),
            dir.path(),
            Some("2"),
        );
        assert!(mixed.is_err());
    }

    #[test]
    fn from_adds_the_new_stages_flags_to_the_copied_node_in_both_languages() {
        let root = root();
        let manifest = manifest();
        for lang in [Lang::Rust, Lang::Python] {
            let dir = tempfile::tempdir().unwrap();
            start(&root, &manifest, "1", Some(lang), dir.path(), None).unwrap();
            let next = start(&root, &manifest, "2", None, dir.path(), Some("1")).unwrap();
            assert_eq!(next.flags.added, ["--branching"], "{lang:?}");
            let text = std::fs::read_to_string(&next.main).unwrap();
            match lang {
                Lang::Rust => assert!(
                    text.contains("pub struct Flags {\n    /// Children per node")
                        && text.contains("    pub branching: u64,\n}"),
                    "{text}"
                ),
                Lang::Python => {
                    assert!(
                        text.contains("\"--branching\", type=int, default=4"),
                        "{text}"
                    );
                    if Command::new("python3").arg("--version").output().is_ok() {
                        // The copied node now takes the flag the grade passes (fixture 05).
                        let ran = Command::new(&next.main)
                            .args(["--branching", "2"])
                            .stdin(std::process::Stdio::null())
                            .output()
                            .unwrap();
                        assert!(
                            ran.status.success(),
                            "{}",
                            String::from_utf8_lossy(&ran.stderr)
                        );
                    }
                }
            }
        }
        // A node whose flags are no longer where the starter put them gets the lines to add.
        let dir = tempfile::tempdir().unwrap();
        start(&root, &manifest, "1", Some(Lang::Python), dir.path(), None).unwrap();
        std::fs::write(
            dir.path().join("stage-01-flooding/node.py"),
            "import sys\nsys.exit(0)\n",
        )
        .unwrap();
        let next = start(&root, &manifest, "2", None, dir.path(), Some("1")).unwrap();
        assert!(next.flags.added.is_empty());
        assert!(
            next.flags
                .by_hand
                .as_deref()
                .is_some_and(|lines| lines.contains("parser.add_argument(\"--branching\"")),
            "{:?}",
            next.flags
        );
    }

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
        assert_eq!(rows.len(), manifest.stages.len());
        let status: Vec<&str> = rows.iter().take(4).map(|row| row.status.as_str()).collect();
        assert_eq!(status, ["passed", "failed", "started", "not started"]);
        assert_eq!(rows.iter().filter(|row| row.next).count(), 1);
        assert!(rows[1].next, "the first stage not passed is next");
        assert_eq!(rows[0].runs_passed, Some(2));
        assert_eq!(rows[1].fixtures_passed, Some(2));
        assert_eq!(rows[1].runs_passed, None);
        assert_eq!(rows[0].lang, Some(Lang::Python));
        let text = render_progress(&rows, dir.path());
        assert!(text.contains("-> stage-02-flat-tree"), "{text}");
        assert!(
            text.contains(&format!(
                "(`cargo xtask watch --dir {}`)",
                dir.path().display()
            )),
            "a learner's own folder is kept in suggested commands: {text}"
        );
        assert!(text.contains("next: finish stage-02-flat-tree"), "{text}");
        assert_eq!(
            current_stage(&manifest, dir.path()).unwrap(),
            "stage-02-flat-tree"
        );

        let empty = tempfile::tempdir().unwrap();
        let rows = progress_rows(&root, &manifest, empty.path()).unwrap();
        assert!(rows[0].next && rows[0].status == "not started");
        assert!(
            render_progress(&rows, Path::new(DEFAULT_DIR))
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

    #[test]
    fn hints_come_one_more_at_a_time_until_the_last() {
        let root = root();
        let manifest = manifest();
        let dir = tempfile::tempdir().unwrap();
        let data = LearnData::load(&root.join("stages/stage-01-flooding")).unwrap();
        let total = data.hints.len();
        let first = hint(&root, &manifest, "1", dir.path()).unwrap();
        assert!(first.contains(&format!("hint 1 of {total}")), "{first}");
        assert!(first.contains(&data.hints[0]));
        assert!(!first.contains(&data.hints[1]));
        for shown in 2..=total {
            let text = hint(&root, &manifest, "stage-01", dir.path()).unwrap();
            assert!(text.contains(&data.hints[shown - 1]), "{text}");
        }
        let after = hint(&root, &manifest, "1", dir.path()).unwrap();
        assert!(after.contains("that was the last hint"), "{after}");
        assert_eq!(
            Progress::load(dir.path()).unwrap().hints["stage-01-flooding"],
            total
        );
        assert!(hint(&root, &manifest, "99", dir.path()).is_err());
    }

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
            text.contains("stage-01-flooding passed. Next: `cargo xtask start stage-02 --from stage-01 --dir my-learn`"),
            "{text}"
        );
    }

    #[test]
    fn watching_reruns_on_a_source_change_and_not_on_build_output() {
        assert!(is_source_change(Path::new("learn/stage-01/src/main.rs")));
        assert!(is_source_change(Path::new("learn/stage-01/node.py")));
        assert!(!is_source_change(Path::new(
            "learn/stage-01/target/release/x.rs"
        )));
        assert!(!is_source_change(Path::new(
            "learn/stage-01/__pycache__/node.py"
        )));
        assert!(!is_source_change(Path::new("learn/stage-01/notes.txt")));

        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().to_owned();
        let file = folder.join("node.py");
        std::fs::write(&file, "1").unwrap();
        let node = LearnerNode {
            dir: folder.clone(),
            lang: Lang::Python,
        };
        let runs = std::sync::atomic::AtomicUsize::new(0);
        let edits = std::thread::spawn({
            let file = file.clone();
            let folder = folder.clone();
            move || {
                // Noise first, which must not count, then a save.
                std::thread::sleep(Duration::from_millis(500));
                std::fs::write(folder.join("notes.txt"), "x").unwrap();
                std::thread::sleep(Duration::from_millis(800));
                std::fs::write(&file, "2").unwrap();
            }
        });
        let started = std::time::Instant::now();
        watch_folder(
            &folder,
            || {
                runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                // A build reads the sources, and a Python node's build makes it executable
                // (and a learner may chmod it too): neither is a change.
                std::fs::read_to_string(&file).unwrap();
                build(&root(), "stage-01-flooding", &node).unwrap();
                let mode = std::os::unix::fs::PermissionsExt::from_mode(0o755);
                std::fs::set_permissions(&file, mode).unwrap();
            },
            || started.elapsed() < Duration::from_secs(4),
        )
        .unwrap();
        edits.join().unwrap();
        assert_eq!(
            runs.load(std::sync::atomic::Ordering::SeqCst),
            2,
            "once at the start, once for the save, not for notes, reading or a chmod"
        );
    }
}
