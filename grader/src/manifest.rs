//! The stage manifest, `stages/stages.toml`: every stage in order, with its crate, the workload
//! its cluster runs use, a one-line summary, and whether it has cluster runs and a node
//! registered for simulation. `cargo xtask grade` resolves stage names with it, and xtask's
//! tidy test holds the crates, fixtures, grading plan, README and simulation registry to it.

use std::path::Path;

use anyhow::{Context as _, bail};
use serde::Deserialize;

/// The whole manifest.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Every stage, in order.
    #[serde(rename = "stage")]
    pub stages: Vec<Stage>,
}

/// One stage.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    /// Its crate (and folder, and binary) name: `stage-NN-topic`.
    pub name: String,
    /// What its cluster runs' workload is, if it has any.
    pub workload: Option<String>,
    /// One line: what it teaches.
    pub summary: String,
    /// Whether `grading.toml` gives it cluster runs.
    pub cluster_runs: bool,
    /// Whether its node is registered for simulation (`cargo xtask sim`).
    pub simulated: bool,
}

impl Stage {
    /// Its number: 7 for `stage-07-min-fanout`.
    pub fn number(&self) -> Option<u32> {
        stage_number(&self.name)
    }
}

/// The number in a stage name: 7 for `stage-07-min-fanout`.
pub fn stage_number(name: &str) -> Option<u32> {
    name.strip_prefix("stage-")?.split('-').next()?.parse().ok()
}

impl Manifest {
    /// Reads and checks the manifest.
    pub fn load(path: &Path) -> anyhow::Result<Manifest> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the stage manifest {}", path.display()))?;
        let manifest: Manifest = toml::from_str(&text)
            .with_context(|| format!("{} is not a valid stage manifest", path.display()))?;
        for stage in &manifest.stages {
            if stage.number().is_none() {
                bail!(
                    "{}: `{}` is not named stage-NN-topic",
                    path.display(),
                    stage.name
                );
            }
            if let Some(workload) = &stage.workload {
                crate::workload::by_name(workload).map_err(|error| {
                    anyhow::anyhow!("{}: {}: {error}", path.display(), stage.name)
                })?;
            }
        }
        Ok(manifest)
    }

    /// The stages' names, in order.
    pub fn names(&self) -> Vec<String> {
        self.stages.iter().map(|stage| stage.name.clone()).collect()
    }

    /// The stage a user means: `stage-07`, `07`, `7` or the full name `stage-07-min-fanout`.
    pub fn resolve(&self, name: &str) -> anyhow::Result<&Stage> {
        let number = name.strip_prefix("stage-").unwrap_or(name);
        let number = number.split('-').next().unwrap_or(number);
        let wanted = number.parse::<u32>().ok();
        let matched = self
            .stages
            .iter()
            .find(|stage| stage.name == name || (wanted.is_some() && stage.number() == wanted));
        match matched {
            Some(stage) => Ok(stage),
            None => bail!(
                "no stage called `{name}`; the stages are: {} (name one as `stage-01`, `01` or in full)",
                self.names().join(", ")
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_resolve_by_number_short_name_or_full_name() {
        let manifest: Manifest = toml::from_str(
            r#"
[[stage]]
name = "stage-01-flooding"
workload = "broadcast"
summary = "flood"
cluster_runs = true
simulated = true
[[stage]]
name = "stage-07-min-fanout"
summary = "theory"
cluster_runs = false
simulated = false
"#,
        )
        .unwrap();
        for name in ["stage-07", "07", "7", "stage-07-min-fanout"] {
            assert_eq!(
                manifest.resolve(name).unwrap().name,
                "stage-07-min-fanout",
                "{name}"
            );
        }
        let error = manifest.resolve("stage-99").unwrap_err().to_string();
        assert!(error.contains("stage-01-flooding"), "{error}");
    }

    #[test]
    fn the_workspace_manifest_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../stages/stages.toml");
        let manifest = Manifest::load(&path).unwrap();
        assert_eq!(manifest.resolve("1").unwrap().name, "stage-01-flooding");
    }
}
