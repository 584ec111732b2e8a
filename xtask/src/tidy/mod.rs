//! The consistency test: the exercise crates of every track, their fixture folders, the grading
//! plan, the manifest, the README's tables and the simulation registry must all tell the same
//! story (the track's lists in `lists.rs`). Each failure says what to add where.

use std::collections::BTreeSet;
use std::path::Path;

use grader::manifest::Manifest;
use grader::plan::Plan;

use crate::{sim, workspace_root};

mod lists;

fn manifest() -> Manifest {
    crate::manifest().expect("stages/stages.toml loads")
}

/// Folders directly under `dir` that hold `marker` (or any folder when `marker` is empty).
fn folders(dir: &Path, marker: &str) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|error| panic!("cannot list {}: {error}", dir.display()))
        .filter_map(Result::ok)
        .filter(|entry| {
            entry.path().is_dir() && (marker.is_empty() || entry.path().join(marker).exists())
        })
        .filter_map(|entry| entry.file_name().to_str().map(str::to_owned))
        .collect()
}

/// What is in `left` and not in `right`, as a sentence, or nothing.
fn missing(left: &BTreeSet<String>, right: &BTreeSet<String>, what: &str) -> Option<String> {
    let gone: Vec<&String> = left.difference(right).collect();
    (!gone.is_empty()).then(|| format!("{what}: {gone:?}"))
}

fn assert_no_problems(problems: Vec<Option<String>>) {
    let problems: Vec<String> = problems.into_iter().flatten().collect();
    assert!(
        problems.is_empty(),
        "the stages disagree:\n- {}",
        problems.join("\n- ")
    );
}

#[test]
fn every_stage_crate_and_fixture_folder_is_in_the_manifest_and_back() {
    let root = workspace_root();
    let manifest = manifest();
    let listed: BTreeSet<String> = manifest
        .stages
        .iter()
        .map(|stage| stage.dir.clone())
        .collect();
    let crates: BTreeSet<String> = manifest
        .tracks
        .iter()
        .flat_map(|track| {
            folders(&root.join(&track.dir), "Cargo.toml")
                .into_iter()
                .map(move |name| format!("{}/{name}", track.dir))
        })
        .collect();
    let fixtures = folders(&root.join("fixtures"), "");
    let names: BTreeSet<String> = manifest.names().into_iter().collect();
    assert_no_problems(vec![
        missing(
            &crates,
            &listed,
            "crates in a track's folder with no entry in stages/stages.toml (add a [[stage]] with that track)",
        ),
        missing(
            &listed,
            &crates,
            "exercises in stages/stages.toml with no crate (add <track dir>/<name>/ with Cargo.toml)",
        ),
        missing(
            &names,
            &fixtures,
            "exercises with no fixture folder (add fixtures/<name>/ with at least one .jsonl)",
        ),
        missing(
            &fixtures,
            &names,
            "fixture folders with no exercise in stages/stages.toml (rename or remove them)",
        ),
    ]);
    // Track by track, in the tracks' order, and within a track by name.
    let order: Vec<(usize, String)> = manifest
        .stages
        .iter()
        .map(|stage| {
            let track = manifest
                .tracks
                .iter()
                .position(|track| track.name == stage.track);
            (track.unwrap_or(usize::MAX), stage.name.clone())
        })
        .collect();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(
        order, sorted,
        "stages/stages.toml lists the exercises track by track, each track's in order"
    );
}

#[test]
fn the_grading_plan_has_runs_for_exactly_the_stages_that_say_so_with_their_workload() {
    let root = workspace_root();
    let plan = Plan::load(&root.join("grading.toml")).unwrap();
    let manifest = manifest();
    let with_runs: BTreeSet<String> = manifest
        .stages
        .iter()
        .filter(|stage| stage.cluster_runs)
        .map(|stage| stage.name.clone())
        .collect();
    let planned: BTreeSet<String> = plan
        .stages
        .iter()
        .filter(|stage| !stage.runs.is_empty())
        .map(|stage| stage.name.clone())
        .collect();
    let mut problems = vec![
        missing(
            &with_runs,
            &planned,
            "stages with cluster_runs = true but no [[stage.run]] in grading.toml (add runs, or set cluster_runs = false)",
        ),
        missing(
            &planned,
            &with_runs,
            "stages with runs in grading.toml but cluster_runs = false (or no entry) in stages/stages.toml",
        ),
    ];
    for stage in &plan.stages {
        let Ok(entry) = manifest.resolve(&stage.name) else {
            continue;
        };
        for run in &stage.runs {
            let workload = plan.config(run).unwrap().workload;
            if entry.workload.as_deref() != Some(workload.as_str()) {
                problems.push(Some(format!(
                    "{} run `{}` uses workload `{workload}` but stages/stages.toml says {:?}",
                    stage.name, run.name, entry.workload
                )));
            }
        }
    }
    assert_no_problems(problems);
}

#[test]
fn the_simulation_registry_holds_exactly_the_stages_marked_simulated() {
    let marked: BTreeSet<String> = manifest()
        .stages
        .iter()
        .filter(|stage| stage.simulated)
        .map(|stage| stage.name.clone())
        .collect();
    let registered: BTreeSet<String> = sim::SIMULATED.iter().map(|name| name.to_string()).collect();
    assert_no_problems(vec![
        missing(
            &marked,
            &registered,
            "stages marked simulated with no line in xtask/src/sim.rs's registry! (add `\"<name>\" => <crate>::<Node>,` and the crate to xtask's dependencies)",
        ),
        missing(
            &registered,
            &marked,
            "stages in xtask's simulation registry marked simulated = false in stages/stages.toml",
        ),
    ]);
}

#[test]
fn the_readme_tables_list_every_exercise_with_its_summary() {
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).unwrap();
    let names: BTreeSet<String> = manifest().names().into_iter().collect();
    // Rows look like: | 01 | [`stage-01-flooding`](stages/…) | what it teaches | … |, one
    // table per track.
    let rows: Vec<(String, String)> = readme
        .lines()
        .filter(|line| line.starts_with("| "))
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let name = cells
                .get(2)?
                .strip_prefix("[`")?
                .split('`')
                .next()?
                .to_owned();
            names
                .contains(&name)
                .then(|| Some((name, cells.get(3)?.to_string())))?
        })
        .collect();
    let expected: Vec<(String, String)> = manifest()
        .stages
        .iter()
        .map(|stage| (stage.name.clone(), stage.summary.clone()))
        .collect();
    assert_eq!(
        rows, expected,
        "README.md's tables must list every exercise of stages/stages.toml, track by track, in order, with its summary as the third column"
    );
}

/// The messages a stage's fixtures show the node, and the ones it writes back: each type with
/// the body fields it was seen with (`type`, `msg_id` and `in_reply_to` aside). A message the
/// node answers with an error is left out (a fixture may send a malformed body or an unknown
/// type on purpose), and so are `init`, `init_ok` and `error`.
fn fixture_messages(
    root: &Path,
    stage: &str,
) -> std::collections::BTreeMap<String, Vec<(String, BTreeSet<String>)>> {
    use serde_json::Value as Json;
    let mut seen: std::collections::BTreeMap<String, Vec<(String, BTreeSet<String>)>> =
        Default::default();
    let dir = root.join("fixtures").join(stage);
    for script in grader::fixtures::load_scripts(&dir).expect("the fixtures load") {
        let output = grader::fixtures::load_snapshot(&grader::fixtures::snapshot_path(&script))
            .expect("the snapshot loads");
        let input: Vec<Json> = script
            .input
            .iter()
            .map(|line| serde_json::from_str(line).expect("fixture lines are JSON"))
            .collect();
        let refused = |message: &Json| {
            output.iter().any(|reply| {
                reply["body"]["type"] == "error"
                    && reply["dest"] == message["src"]
                    && reply["body"]["in_reply_to"] == message["body"]["msg_id"]
            })
        };
        let messages = input
            .iter()
            .filter(|message| !refused(message))
            .chain(output.iter());
        for message in messages {
            let Some(body) = message["body"].as_object() else {
                continue;
            };
            let kind = body["type"].as_str().unwrap_or("?").to_owned();
            if ["init", "init_ok", "error"].contains(&kind.as_str()) {
                continue;
            }
            let fields = body
                .keys()
                .filter(|key| !["type", "msg_id", "in_reply_to"].contains(&key.as_str()))
                .cloned()
                .collect();
            seen.entry(kind)
                .or_default()
                .push((script.name.clone(), fields));
        }
    }
    seen
}

#[test]
fn every_stages_learn_toml_fixtures_and_readme_name_the_same_messages_and_fields() {
    use crate::learn::starter::LearnData;
    let root = workspace_root();
    let manifest = manifest();
    let mut problems = Vec::new();
    for stage in &manifest.stages {
        let first_of_track = manifest.track(&stage.track).next().expect("its own track");
        let first = LearnData::load(&root.join(&first_of_track.dir))
            .expect("the track's first learn.toml loads");
        let data = LearnData::load(&root.join(&stage.dir)).expect("learn.toml loads");
        let declared: std::collections::BTreeMap<&str, &toml::Table> = data
            .messages
            .iter()
            .map(|message| (message.kind.as_str(), &message.fields))
            .collect();
        for (kind, uses) in fixture_messages(&root, &stage.name) {
            let Some(fields) = declared.get(kind.as_str()) else {
                problems.push(Some(format!(
                    "{}: the fixtures use `{kind}`, which {}/learn.toml does not declare (add a [[message]], so the starter has it)",
                    stage.name, stage.dir
                )));
                continue;
            };
            let required: BTreeSet<String> = fields
                .iter()
                .filter(|(_, kind)| !kind.as_str().is_some_and(|kind| kind.ends_with('?')))
                .map(|(name, _)| name.clone())
                .collect();
            let known: BTreeSet<String> = fields.keys().cloned().collect();
            for (fixture, used) in uses {
                if !used.is_subset(&known) || !required.is_subset(&used) {
                    problems.push(Some(format!(
                        "{}: fixture {fixture} writes `{kind}` with fields {used:?}, learn.toml declares {known:?}",
                        stage.name
                    )));
                }
            }
        }
        // A message the track has not met in its first exercise is this one's protocol: its
        // README must name it.
        let readme = std::fs::read_to_string(root.join(&stage.dir).join("README.md"))
            .expect("the exercise has a README");
        for message in &data.messages {
            let new = !first.messages.iter().any(|old| old.kind == message.kind);
            let named = readme
                .match_indices(&format!("`{}", message.kind))
                .any(|(at, text)| {
                    readme[at + text.len()..]
                        .chars()
                        .next()
                        .is_some_and(|next| !next.is_alphanumeric() && next != '_')
                });
            if new && !named {
                problems.push(Some(format!(
                    "{}: learn.toml declares `{}`, which the README's protocol never names",
                    stage.name, message.kind
                )));
            }
        }
    }
    assert_no_problems(problems);
}

/// A grader source file's name for a registered name: `g-set` is `g_set.rs`.
fn source_file(name: &str) -> String {
    format!("{}.rs", name.replace('-', "_"))
}

#[test]
fn every_workload_and_fault_has_its_file_its_readme_row_and_its_layout_line() {
    let grader = workspace_root().join("grader");
    let readme = std::fs::read_to_string(grader.join("README.md")).unwrap();
    let layout = readme
        .split("## Layout, and how to extend it")
        .nth(1)
        .expect("the grader README has a layout section");
    let mut problems = Vec::new();
    // A workload's file is the one (besides the registry) that spells its name; two
    // workloads may share one (g-counter and pn-counter).
    let workload_files: Vec<(String, String)> = std::fs::read_dir(grader.join("src/workload"))
        .unwrap()
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().to_str()?.to_owned();
            let text = std::fs::read_to_string(entry.path()).ok()?;
            (name.ends_with(".rs") && name != "mod.rs").then_some((name, text))
        })
        .collect();
    for entry in grader::workload::REGISTRY {
        let spelled = format!("\"{}\"", entry.name);
        let Some((file, _)) = workload_files
            .iter()
            .find(|(_, text)| text.contains(&spelled))
        else {
            problems.push(format!(
                "workload {}: no file in grader/src/workload/ names it (a workload is one file, such as {})",
                entry.name,
                source_file(entry.name)
            ));
            continue;
        };
        if !readme.contains(&format!("| `{}` |", entry.name)) {
            problems.push(format!(
                "workload {}: no row in the grader README's workload table (`| `{}` | operations | checker | results.json |`)",
                entry.name, entry.name
            ));
        }
        if !layout.contains(file.as_str()) {
            problems.push(format!(
                "workload {}: {file} is not in the grader README's layout section",
                entry.name
            ));
        }
    }
    for fault in grader::nemesis::Fault::all() {
        let file = source_file(fault.name());
        if !grader.join("src/nemesis").join(&file).exists() {
            problems.push(format!(
                "fault {}: no grader/src/nemesis/{file} (a fault is one file)",
                fault.name()
            ));
        }
        if !layout.contains(&file) {
            problems.push(format!(
                "fault {}: {file} is not in the grader README's layout section",
                fault.name()
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "the grader's registries and its README disagree:\n- {}",
        problems.join("\n- ")
    );
}
