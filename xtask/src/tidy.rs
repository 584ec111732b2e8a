//! The consistency test: the stage crates, their fixture folders, the grading plan, the stage
//! manifest, the README's stage table and the simulation registry must all tell the same story.
//! Each failure says what to add where.

use std::collections::BTreeSet;
use std::path::Path;

use grader::manifest::Manifest;
use grader::plan::Plan;

use crate::{sim, workspace_root};

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
    let listed: BTreeSet<String> = manifest().names().into_iter().collect();
    let crates = folders(&root.join("stages"), "Cargo.toml");
    let fixtures = folders(&root.join("fixtures"), "");
    assert_no_problems(vec![
        missing(
            &crates,
            &listed,
            "crates under stages/ with no entry in stages/stages.toml (add a [[stage]])",
        ),
        missing(
            &listed,
            &crates,
            "stages in stages/stages.toml with no crate (add stages/<name>/ with Cargo.toml)",
        ),
        missing(
            &listed,
            &fixtures,
            "stages with no fixture folder (add fixtures/<name>/ with at least one .jsonl)",
        ),
        missing(
            &fixtures,
            &listed,
            "fixture folders with no stage in stages/stages.toml (rename or remove them)",
        ),
    ]);
    let names = manifest().names();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(
        names, sorted,
        "stages/stages.toml lists the stages in order"
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
fn the_readme_stage_table_lists_every_stage_with_its_summary() {
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).unwrap();
    // Rows look like: | 01 | [`stage-01-flooding`](stages/…) | what it teaches | … |
    let rows: Vec<(String, String)> = readme
        .lines()
        .filter(|line| line.starts_with("| ") && line.contains("[`stage-"))
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let name = cells.get(2)?.split('`').nth(1)?.to_owned();
            Some((name, cells.get(3)?.to_string()))
        })
        .collect();
    let expected: Vec<(String, String)> = manifest()
        .stages
        .iter()
        .map(|stage| (stage.name.clone(), stage.summary.clone()))
        .collect();
    assert_eq!(
        rows, expected,
        "README.md's stage table must list every stage of stages/stages.toml, in order, with its summary as the third column"
    );
}
