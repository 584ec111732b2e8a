//! `cargo xtask reading`: further reading, each entry beside the stages it deepens, from
//! `stages/reading.toml`.

use std::path::Path;

use grader::manifest::Manifest;
use serde::Deserialize;

/// The file that holds the list.
pub const READING_FILE: &str = "stages/reading.toml";

/// One entry.
#[derive(Debug, Clone, Deserialize)]
pub struct Read {
    /// A short name, unique in the list.
    pub key: String,
    /// The title.
    pub title: String,
    /// The authors.
    pub by: String,
    /// Venue or publisher, and year.
    #[serde(rename = "where")]
    pub venue: String,
    /// The stages and exercises it belongs beside.
    pub stages: Vec<String>,
    /// Why it matters for them.
    pub why: String,
}

#[derive(Debug, Deserialize)]
struct ReadingFile {
    read: Vec<Read>,
}

/// The whole list, in the file's order.
pub fn load(root: &Path) -> anyhow::Result<Vec<Read>> {
    let file: ReadingFile = super::load_list(root, READING_FILE)?;
    Ok(file.read)
}

/// An entry as the terminal shows it: the title and its key, then who and where, then why,
/// wrapped.
fn entry(read: &Read) -> String {
    let mut out = String::new();
    let title = format!("{} [{}]", read.title, read.key);
    for (index, line) in super::starter::wrap(&title, 92).iter().enumerate() {
        out.push_str(if index == 0 { "- " } else { "  " });
        out.push_str(line);
        out.push('\n');
    }
    let text = format!("{}; {}.", read.by, read.venue);
    for part in [&text, &read.why] {
        for line in super::starter::wrap(part, 92) {
            out.push_str("  ");
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

/// `cargo xtask reading [STAGE]`: the entries beside one stage, or every stage's in the
/// manifest's order.
pub fn reading(root: &Path, manifest: &Manifest, stage: Option<&str>) -> anyhow::Result<String> {
    let list = load(root)?;
    let stages: Vec<&grader::manifest::Stage> = match stage {
        Some(stage) => vec![manifest.resolve(stage)?],
        None => manifest.stages.iter().collect(),
    };
    let mut out = String::new();
    for stage in stages {
        let beside: Vec<&Read> = list
            .iter()
            .filter(|read| read.stages.contains(&stage.name))
            .collect();
        if beside.is_empty() {
            continue;
        }
        out.push_str(&format!("{} ({}):\n", stage.name, stage.summary));
        for read in beside {
            out.push_str(&entry(read));
        }
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_stage_gets_its_entries_with_why_and_all_stages_come_in_order() {
        let root = crate::workspace_root();
        let manifest = crate::manifest().unwrap();
        let one = reading(&root, &manifest, Some("13")).unwrap();
        assert!(one.starts_with("stage-13-hybrid"), "{one}");
        assert!(one.contains("Epidemic Broadcast Trees"), "{one}");
        assert!(one.contains("Plumtree"), "the why is shown: {one}");
        let all = reading(&root, &manifest, None).unwrap();
        let first = all.find("stage-01-flooding").unwrap();
        let later = all.find("stage-13-hybrid").unwrap();
        assert!(first < later);
        assert!(reading(&root, &manifest, Some("no-such-stage")).is_err());
    }
}
