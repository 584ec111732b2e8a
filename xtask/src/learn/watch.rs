//! `cargo xtask watch`: check the learner's node now and again on every save, until Ctrl-C.

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;

use super::check::{Checking, check, learner_stage};
use crate::grade::CannotGrade;

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
    use super::*;
    use crate::learn::check::build;
    use crate::learn::testing::root;
    use crate::learn::{Lang, LearnerNode};

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
