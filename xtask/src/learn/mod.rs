//! The learner's path: `start` writes a starter node for a stage in the learner folder
//! (default `learn/`, git-ignored), `check` and `watch` build and grade it (fixtures first,
//! cluster runs once they pass) and remember the result, `progress` lists every stage from
//! those results, `hint` gives the stage's hints one at a time, `mistakes` and `reading` show
//! the track's lists. One file per command; this one holds what they share: the learner's node,
//! the commands they suggest and reading the lists' files.

mod check;
mod hint;
pub mod interview;
pub mod mistakes;
mod progress;
pub mod reading;
mod start;
pub mod starter;
mod watch;

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

pub use check::{Checking, check};
pub use hint::hint;
pub use progress::{progress_rows, render_progress};
pub use start::{new_since, start};
pub use watch::watch;

/// Reads one of the track's TOML lists (`stages/reading.toml`, `stages/mistakes.toml`), saying
/// which file could not be read or parsed.
pub(crate) fn load_list<T: serde::de::DeserializeOwned>(
    root: &Path,
    file: &str,
) -> anyhow::Result<T> {
    let path = root.join(file);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("{} is not valid", path.display()))
}

/// The languages a starter can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lang {
    /// A crate that depends on this checkout's `common` runtime.
    Rust,
    /// One executable file, standard library only.
    Python,
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

/// Makes `path` executable, touching it only when it is not yet: a change of mode is an event
/// `watch` would otherwise see on every grade.
pub(super) fn make_executable(path: &Path) -> anyhow::Result<()> {
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

#[cfg(test)]
mod testing {
    use std::path::PathBuf;

    use grader::manifest::Manifest;

    pub fn root() -> PathBuf {
        crate::workspace_root()
    }

    pub fn manifest() -> Manifest {
        crate::manifest().unwrap()
    }
}
