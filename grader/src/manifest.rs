//! The manifest, `stages/stages.toml`: the tracks (the nineteen Gossiper stages, and the
//! Gossip Glomers track beside them), and every exercise in order with its track, crate, the
//! workload its cluster runs use, a one-line summary, the concepts it teaches, and whether it has
//! cluster runs and a node registered for simulation; and the subtracks, runs of stages that
//! teach one subject together. `cargo xtask grade` and the learner's commands resolve names with
//! it, and xtask's tidy test holds the crates, fixtures, grading plan, README and simulation
//! registry to it.
//!
//! An exercise is named `PREFIX-ID-topic`: `stage-07-min-fanout`, `glomers-4-g-counter`,
//! `guide-4-pn-counter`. Its short name is `PREFIX-ID` (`stage-07`, `glomers-4`), and a
//! Gossiper stage also answers to its bare number (`7`).

use std::path::Path;

use anyhow::{Context as _, bail};
use serde::Deserialize;

/// The whole manifest.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The tracks, in the order `progress` shows them.
    #[serde(rename = "track")]
    pub tracks: Vec<Track>,
    /// Runs of stages that teach one subject together (naive broadcast, gossip protocols, …).
    #[serde(default, rename = "subtrack")]
    pub subtracks: Vec<Subtrack>,
    /// Every exercise, track by track, in order.
    #[serde(rename = "stage")]
    pub stages: Vec<Stage>,
}

/// A run of one track's stages that teach one subject together.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subtrack {
    /// Its name on the command line: `gossip-protocol`.
    pub name: String,
    /// Its title: `Gossip protocols`.
    pub title: String,
    /// Its stages (full names), in order.
    pub stages: Vec<String>,
    /// What it teaches as a whole.
    pub concepts: Vec<String>,
}

/// A track: a series of exercises with its own folder of crates.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Track {
    /// `gossiper` or `glomers`.
    pub name: String,
    /// A line for `progress`.
    pub title: String,
    /// The folder that holds its crates, relative to the workspace root.
    pub dir: String,
    /// The name prefixes its exercises use (`stage`; `glomers` and `guide`).
    pub prefixes: Vec<String>,
    /// Exercises of this track that another track's stage already teaches.
    #[serde(default, rename = "elsewhere")]
    pub elsewhere: Vec<Elsewhere>,
}

/// An exercise of one track that is another track's stage: Glomers 3a–3e are Gossiper stages.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Elsewhere {
    /// Its short name in this track: `glomers-3d`.
    pub name: String,
    /// What it asks, in a line.
    pub summary: String,
    /// The stage that teaches it (full name).
    pub stage: String,
    /// The stage's cluster run that grades what it asks, if one does.
    pub run: Option<String>,
}

impl Track {
    /// Where an exercise of this track (or an [`Elsewhere`] name) goes in its order: by
    /// prefix, as `prefixes` lists them, then by id.
    pub fn order_of(&self, name: &str) -> Option<(usize, u32, String)> {
        let (prefix, id) = prefix_and_id(name)?;
        let rank = self.prefixes.iter().position(|known| known == prefix)?;
        let (number, letters) = id_key(id);
        Some((rank, number, letters))
    }
}

/// One exercise.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    /// Its crate (and binary) name: `stage-NN-topic`, `glomers-4-g-counter`.
    pub name: String,
    /// The track it belongs to.
    pub track: String,
    /// What its cluster runs' workload is, if it has any.
    pub workload: Option<String>,
    /// One line: what it teaches.
    pub summary: String,
    /// The ideas it teaches, a few words each.
    #[serde(default)]
    pub concepts: Vec<String>,
    /// Whether `grading.toml` gives it cluster runs.
    pub cluster_runs: bool,
    /// Whether its node is registered for simulation (`cargo xtask sim`).
    pub simulated: bool,
    /// Its crate's folder relative to the workspace root (the track's folder and its name),
    /// filled in on loading.
    #[serde(skip)]
    pub dir: String,
}

impl Stage {
    /// `stage-07`, `glomers-4`.
    pub fn short_name(&self) -> String {
        short_name(&self.name)
    }
}

/// The short name of an exercise: `stage-07-min-fanout` → `stage-07`.
pub fn short_name(name: &str) -> String {
    name.splitn(3, '-').take(2).collect::<Vec<_>>().join("-")
}

/// `(prefix, id)` of a name: `glomers-5a-kafka` → `("glomers", "5a")`, when the id is digits
/// and then lowercase letters.
fn prefix_and_id(name: &str) -> Option<(&str, &str)> {
    let mut parts = name.splitn(3, '-');
    let prefix = parts.next()?;
    let id = parts.next()?;
    let digits = id.trim_end_matches(|c: char| c.is_ascii_lowercase());
    (!digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit())).then_some((prefix, id))
}

/// The id as a key that compares by number first: `07` and `7` are the same, `5a` < `5b` < `10`.
fn id_key(id: &str) -> (u32, String) {
    let digits = id.trim_end_matches(|c: char| c.is_ascii_lowercase());
    (
        digits.parse().unwrap_or(u32::MAX),
        id[digits.len()..].to_owned(),
    )
}

impl Manifest {
    /// Reads and checks the manifest.
    pub fn load(path: &Path) -> anyhow::Result<Manifest> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the manifest {}", path.display()))?;
        Manifest::parse(&text)
            .with_context(|| format!("{} is not a valid manifest", path.display()))
    }

    /// Parses and checks a manifest's text.
    pub fn parse(text: &str) -> anyhow::Result<Manifest> {
        let mut manifest: Manifest = toml::from_str(text)?;
        for stage in &mut manifest.stages {
            let Some(track) = manifest
                .tracks
                .iter()
                .find(|track| track.name == stage.track)
            else {
                bail!(
                    "`{}` names track `{}`, which has no [[track]]",
                    stage.name,
                    stage.track
                );
            };
            let fits = prefix_and_id(&stage.name)
                .is_some_and(|(prefix, _)| track.prefixes.iter().any(|known| known == prefix))
                && stage
                    .name
                    .splitn(3, '-')
                    .nth(2)
                    .is_some_and(|topic| !topic.is_empty());
            if !fits {
                bail!(
                    "`{}` is not named PREFIX-ID-topic with one of track {}'s prefixes ({})",
                    stage.name,
                    track.name,
                    track.prefixes.join(", ")
                );
            }
            stage.dir = format!("{}/{}", track.dir, stage.name);
            if let Some(workload) = &stage.workload {
                crate::workload::by_name(workload)
                    .map_err(|error| anyhow::anyhow!("{}: {error}", stage.name))?;
            }
        }
        for subtrack in &manifest.subtracks {
            for stage in &subtrack.stages {
                if !manifest.stages.iter().any(|known| &known.name == stage) {
                    bail!(
                        "subtrack {}: `{stage}` is no stage (use full names)",
                        subtrack.name
                    );
                }
            }
        }
        for track in &manifest.tracks {
            for elsewhere in &track.elsewhere {
                if !manifest
                    .stages
                    .iter()
                    .any(|stage| stage.name == elsewhere.stage)
                {
                    bail!(
                        "track {}: `{}` points at `{}`, which is no stage",
                        track.name,
                        elsewhere.name,
                        elsewhere.stage
                    );
                }
            }
        }
        Ok(manifest)
    }

    /// The subtrack a stage belongs to, if any.
    pub fn subtrack_of(&self, stage: &str) -> Option<&Subtrack> {
        self.subtracks
            .iter()
            .find(|subtrack| subtrack.stages.iter().any(|name| name == stage))
    }

    /// The exercises' names, in order.
    pub fn names(&self) -> Vec<String> {
        self.stages.iter().map(|stage| stage.name.clone()).collect()
    }

    /// The exercises of one track, in order.
    pub fn track<'a>(&'a self, track: &'a str) -> impl Iterator<Item = &'a Stage> + 'a {
        self.stages.iter().filter(move |stage| stage.track == track)
    }

    /// The exercise a user means: the full name (`stage-07-min-fanout`), the short name
    /// (`stage-07`, `stage-7`, `glomers-4`), a Gossiper stage's bare number (`07`, `7`), or an
    /// exercise another track's stage teaches (`glomers-3d` is stage 10).
    pub fn resolve(&self, name: &str) -> anyhow::Result<&Stage> {
        let wanted = name.trim().to_ascii_lowercase();
        let wanted = if wanted.chars().all(|c| c.is_ascii_digit()) && !wanted.is_empty() {
            format!("stage-{wanted}")
        } else {
            wanted
        };
        let same_short = |full: &str| match (prefix_and_id(full), prefix_and_id(&wanted)) {
            (Some((prefix, id)), Some((wanted_prefix, wanted_id))) => {
                prefix == wanted_prefix && id_key(id) == id_key(wanted_id)
            }
            _ => false,
        };
        let found = self
            .stages
            .iter()
            .find(|stage| stage.name == wanted)
            .or_else(|| self.stages.iter().find(|stage| same_short(&stage.name)));
        if let Some(stage) = found {
            return Ok(stage);
        }
        let elsewhere = self
            .tracks
            .iter()
            .flat_map(|track| &track.elsewhere)
            .find(|elsewhere| same_short(&elsewhere.name));
        if let Some(elsewhere) = elsewhere {
            return self
                .stages
                .iter()
                .find(|stage| stage.name == elsewhere.stage)
                .context("checked on loading");
        }
        let shorts: Vec<String> = self.stages.iter().map(Stage::short_name).collect();
        bail!(
            "no exercise called `{name}`; there are: {} (name one by its short name, as `stage-01` or `glomers-4`, or in full)",
            shorts.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO_TRACKS: &str = r#"
[[track]]
name = "gossiper"
title = "Gossiper"
dir = "stages"
prefixes = ["stage"]

[[track]]
name = "glomers"
title = "Glomers"
dir = "glomers"
prefixes = ["glomers", "guide"]
elsewhere = [{ name = "glomers-3d", summary = "efficient broadcast", stage = "stage-07-min-fanout" }]

[[stage]]
name = "stage-01-flooding"
track = "gossiper"
workload = "broadcast"
summary = "flood"
cluster_runs = true
simulated = true

[[stage]]
name = "stage-07-min-fanout"
track = "gossiper"
summary = "theory"
cluster_runs = false
simulated = false

[[stage]]
name = "glomers-4-g-counter"
track = "glomers"
workload = "g-counter"
summary = "a counter on seq-kv"
cluster_runs = true
simulated = false
"#;

    #[test]
    fn exercises_resolve_by_number_short_name_full_name_or_the_stage_that_teaches_them() {
        let manifest = Manifest::parse(TWO_TRACKS).unwrap();
        for name in [
            "stage-07",
            "07",
            "7",
            "stage-7",
            "stage-07-min-fanout",
            "glomers-3d",
        ] {
            assert_eq!(
                manifest.resolve(name).unwrap().name,
                "stage-07-min-fanout",
                "{name}"
            );
        }
        for name in ["glomers-4", "Glomers-04", "glomers-4-g-counter"] {
            assert_eq!(
                manifest.resolve(name).unwrap().name,
                "glomers-4-g-counter",
                "{name}"
            );
        }
        assert_eq!(
            manifest.resolve("glomers-4").unwrap().dir,
            "glomers/glomers-4-g-counter"
        );
        assert_eq!(
            manifest.resolve("1").unwrap().dir,
            "stages/stage-01-flooding"
        );
        for unknown in ["stage-99", "glomers-3", "4", "guide-4"] {
            let error = manifest.resolve(unknown).unwrap_err().to_string();
            assert!(error.contains("stage-01, stage-07, glomers-4"), "{error}");
        }
        assert_eq!(
            manifest
                .track("glomers")
                .map(Stage::short_name)
                .collect::<Vec<_>>(),
            ["glomers-4"]
        );
    }

    #[test]
    fn a_name_outside_its_tracks_prefixes_or_an_unknown_track_is_refused() {
        let wrong_prefix = TWO_TRACKS.replace("glomers-4-g-counter", "stage-20-g-counter");
        let error = Manifest::parse(&wrong_prefix).unwrap_err().to_string();
        assert!(error.contains("glomers, guide"), "{error}");
        let no_topic = TWO_TRACKS.replace("glomers-4-g-counter", "glomers-4");
        assert!(Manifest::parse(&no_topic).is_err());
        let unknown_track =
            TWO_TRACKS.replace("track = \"glomers\"\nworkload", "track = \"x\"\nworkload");
        let error = Manifest::parse(&unknown_track).unwrap_err().to_string();
        assert!(error.contains("track `x`"), "{error}");
        let dangling =
            TWO_TRACKS.replace("stage = \"stage-07-min-fanout\"", "stage = \"stage-08\"");
        let error = Manifest::parse(&dangling).unwrap_err().to_string();
        assert!(error.contains("glomers-3d"), "{error}");
    }

    #[test]
    fn the_workspace_manifest_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../stages/stages.toml");
        let manifest = Manifest::load(&path).unwrap();
        assert_eq!(manifest.resolve("1").unwrap().name, "stage-01-flooding");
    }
}
