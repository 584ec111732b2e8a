//! `cargo xtask start`: a starter node for a stage in the learner folder, or, with `--from`,
//! the learner's node of an earlier stage copied there with the new stage's flags added.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};
use grader::manifest::{Manifest, Stage};

use super::starter::{self, LearnData};
use super::{Lang, LearnerNode, find_node, make_executable};

/// `to` relative to `from` (both absolute), for a path dependency that survives moving the
/// checkout.
pub(super) fn relative(from: &Path, to: &Path) -> PathBuf {
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

pub(super) fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
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
            write(&main, &starter::rust_main(stage, data))?;
            rustfmt(&main);
            Ok(main)
        }
        Lang::Python => {
            let main = folder.join("node.py");
            write(&main, &starter::python_node(stage, data))?;
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
    let data = LearnData::load(&root.join(&stage.dir))?;
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
    let old_data = LearnData::load(&root.join(&from_stage.dir))?;
    let flags = add_new_flags(&main, previous.lang, &old_data, &data)?;
    let fresh = folder.join("starter");
    std::fs::create_dir_all(&fresh)?;
    let text = match previous.lang {
        Lang::Rust => starter::rust_main(stage, &data),
        Lang::Python => starter::python_node(stage, &data),
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
    from: &Stage,
    stage: &Stage,
) -> anyhow::Result<(Vec<String>, Vec<String>)> {
    let old = LearnData::load(&root.join(&from.dir))?;
    let new = LearnData::load(&root.join(&stage.dir))?;
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
pub(super) fn new_flags<'a>(
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::time::Duration;

    use grader::fixtures::{
        Conventions, Exit, judge, load_scripts, load_snapshot, run_script, snapshot_path,
    };

    use super::*;
    use crate::learn::check::learner_target;
    use crate::learn::testing::{manifest, root};

    #[test]
    fn every_stage_has_hints_and_declares_every_flag_its_grade_passes() {
        let root = root();
        let plan = grader::plan::Plan::load(&root.join("grading.toml")).unwrap();
        for stage in &manifest().stages {
            let data = LearnData::load(&root.join(&stage.dir)).unwrap();
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
                "{}: the grade passes {missing:?}, which {}/learn.toml does not declare, so a starter would refuse them",
                stage.name,
                stage.dir
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
            new_since(
                &root,
                manifest.resolve("1").unwrap(),
                manifest.resolve("2").unwrap()
            )
            .unwrap(),
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
}
