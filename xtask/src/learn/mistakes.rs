//! `cargo xtask mistakes`: common mistakes with their symptom, root cause and fix, from
//! `stages/mistakes.toml`; the track's top five, a stage's, or one by its key.

use std::path::Path;

use grader::manifest::Manifest;
use serde::Deserialize;

/// The file that holds the list.
pub const MISTAKES_FILE: &str = "stages/mistakes.toml";

/// One mistake.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mistake {
    /// A short name, unique in the list; the grader's reasons use it.
    pub key: String,
    /// What the mistake is, in a few words.
    pub title: String,
    /// One of the track's five most common.
    #[serde(default)]
    pub top: bool,
    /// The grader recognises it in a run by itself.
    #[serde(default)]
    pub recognised: bool,
    /// The stages and exercises where it bites.
    pub stages: Vec<String>,
    /// What the learner sees.
    pub symptom: String,
    /// Why it happens.
    pub cause: String,
    /// The correct approach.
    pub fix: String,
}

#[derive(Debug, Deserialize)]
struct MistakesFile {
    mistake: Vec<Mistake>,
}

/// The whole list, in the file's order.
pub fn load(root: &Path) -> anyhow::Result<Vec<Mistake>> {
    let file: MistakesFile = super::load_list(root, MISTAKES_FILE)?;
    Ok(file.mistake)
}

/// A mistake as the terminal shows it.
fn entry(mistake: &Mistake) -> String {
    let mut out = format!("- {} [{}]", mistake.title, mistake.key);
    if mistake.recognised {
        out.push_str(" (the grader recognises it in a failed run)");
    }
    out.push('\n');
    for (label, text) in [
        ("what you see", &mistake.symptom),
        ("why", &mistake.cause),
        ("fix", &mistake.fix),
    ] {
        for (index, line) in super::starter::wrap(&format!("{label}: {text}"), 90)
            .iter()
            .enumerate()
        {
            out.push_str(if index == 0 { "  " } else { "    " });
            out.push_str(line);
            out.push('\n');
        }
    }
    out.push_str(&format!(
        "  where it bites: {}\n",
        mistake.stages.join(", ")
    ));
    out
}

/// `cargo xtask mistakes [WHICH]`: with nothing, the track's top five; with a mistake's key,
/// that one; with a stage or exercise, the ones that bite there.
pub fn mistakes(root: &Path, manifest: &Manifest, which: Option<&str>) -> anyhow::Result<String> {
    let list = load(root)?;
    let Some(which) = which else {
        let mut out = String::from("The track's five most common mistakes:\n\n");
        for mistake in list.iter().filter(|mistake| mistake.top) {
            out.push_str(&entry(mistake));
            out.push('\n');
        }
        out.push_str(&format!(
            "{} in all: `cargo xtask mistakes STAGE` for the ones that bite in a stage, `cargo xtask mistakes KEY` for one.\n",
            list.len()
        ));
        return Ok(out);
    };
    if let Some(mistake) = list.iter().find(|mistake| mistake.key == which) {
        return Ok(entry(mistake));
    }
    let stage = manifest.resolve(which).map_err(|error| {
        let keys: Vec<&str> = list.iter().map(|mistake| mistake.key.as_str()).collect();
        anyhow::anyhow!("{error}; or name a mistake: {}", keys.join(", "))
    })?;
    let here: Vec<&Mistake> = list
        .iter()
        .filter(|mistake| mistake.stages.contains(&stage.name))
        .collect();
    if here.is_empty() {
        return Ok(format!(
            "{} ({}): none of the listed mistakes is typical here; `cargo xtask mistakes` shows the track's five.\n",
            stage.name, stage.summary
        ));
    }
    let mut out = format!("{} ({}):\n", stage.name, stage.summary);
    for mistake in here {
        out.push_str(&entry(mistake));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_top_five_a_stages_and_one_by_key() {
        let root = crate::workspace_root();
        let manifest = crate::manifest().unwrap();
        let top = mistakes(&root, &manifest, None).unwrap();
        let listed = top.lines().filter(|line| line.starts_with("- ")).count();
        assert_eq!(listed, 5, "{top}");
        assert!(top.contains("[never-resend]"), "{top}");
        assert!(top.contains("fix: "), "{top}");
        let stage = mistakes(&root, &manifest, Some("16")).unwrap();
        assert!(stage.starts_with("stage-16-two-phase-set"), "{stage}");
        assert!(stage.contains("[tombstone-less-remove]"), "{stage}");
        assert!(!stage.contains("[wall-clock-lww]"), "{stage}");
        let one = mistakes(&root, &manifest, Some("wall-clock-lww")).unwrap();
        assert!(one.contains("Lamport"), "{one}");
        let error = mistakes(&root, &manifest, Some("no-such-thing")).unwrap_err();
        assert!(format!("{error:#}").contains("never-resend"), "{error:#}");
    }
}
