//! `cargo xtask hint`: the stage's hints, one more each time, remembered in the learner folder.

use std::path::Path;

use grader::manifest::Manifest;

use super::progress::Progress;
use super::starter::LearnData;

/// `cargo xtask hint`: shows one more of the stage's hints each time (all of them once they are
/// used up) and remembers how many were shown. Returns the text.
pub fn hint(root: &Path, manifest: &Manifest, stage: &str, dir: &Path) -> anyhow::Result<String> {
    let stage = manifest.resolve(stage)?;
    let data = LearnData::load(&root.join(&stage.dir))?;
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
            "that was the last hint; the reference node's README explains its design: {}/README.md\n",
            stage.dir
        ));
    } else if shown < data.hints.len() {
        out.push_str("ask again for a more specific one\n");
    }
    progress.hints.insert(stage.name.clone(), shown);
    progress.save(dir)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::learn::testing::{manifest, root};

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
}
