//! The track's lists held to the manifest: common mistakes, concepts and subtracks, interview
//! questions and further reading.

use std::collections::BTreeSet;

use super::{assert_no_problems, manifest, missing, workspace_root};

#[test]
fn the_mistakes_name_stages_that_exist_five_are_top_and_the_recognised_ones_are_the_graders() {
    use crate::learn::mistakes::{MISTAKES_FILE, load};
    let manifest = manifest();
    let list = load(&workspace_root()).expect("the mistakes load");
    let known: BTreeSet<&str> = manifest.stages.iter().map(|s| s.name.as_str()).collect();
    let mut problems = Vec::new();
    let mut keys = BTreeSet::new();
    for mistake in &list {
        if !keys.insert(mistake.key.as_str()) {
            problems.push(Some(format!(
                "{MISTAKES_FILE}: the key `{}` is used twice",
                mistake.key
            )));
        }
        for stage in mistake
            .stages
            .iter()
            .filter(|s| !known.contains(s.as_str()))
        {
            problems.push(Some(format!(
                "{MISTAKES_FILE}: `{}` names `{stage}`, which stages/stages.toml does not have",
                mistake.key
            )));
        }
    }
    let top = list.iter().filter(|mistake| mistake.top).count();
    if top != 5 {
        problems.push(Some(format!(
            "{MISTAKES_FILE}: {top} mistakes are marked top; the track lists five"
        )));
    }
    let recognised: BTreeSet<&str> = list
        .iter()
        .filter(|mistake| mistake.recognised)
        .map(|mistake| mistake.key.as_str())
        .collect();
    let graders: BTreeSet<&str> = grader::harness::mistakes::KEYS.iter().copied().collect();
    if recognised != graders {
        problems.push(Some(format!(
            "{MISTAKES_FILE} marks {recognised:?} as recognised; grader/src/harness/mistakes.rs recognises {graders:?}"
        )));
    }
    assert_no_problems(problems);
}

#[test]
fn every_stage_teaches_concepts_its_readme_lists_and_the_subtracks_cover_the_gossiper_track() {
    let manifest = manifest();
    let root = workspace_root();
    let mut problems = Vec::new();
    for stage in &manifest.stages {
        if stage.concepts.len() < 2 {
            problems.push(Some(format!(
                "{}: stages/stages.toml gives it {} concept(s); name at least two",
                stage.name,
                stage.concepts.len()
            )));
        }
        let readme = std::fs::read_to_string(root.join(&stage.dir).join("README.md"))
            .expect("the exercise has a README");
        let listed: Vec<&str> = readme
            .split("\n## Concepts\n")
            .nth(1)
            .map(|section| {
                section
                    .lines()
                    .take_while(|line| !line.starts_with("## "))
                    .filter_map(|line| line.strip_prefix("- "))
                    .collect()
            })
            .unwrap_or_default();
        if listed != stage.concepts {
            problems.push(Some(format!(
                "{}/README.md: its Concepts section lists {listed:?}; stages/stages.toml says {:?}",
                stage.dir, stage.concepts
            )));
        }
    }
    for name in [
        "naive-broadcast",
        "gossip-protocol",
        "topology-aware-gossip",
        "epidemic-algorithms",
        "crdts",
    ] {
        match manifest
            .subtracks
            .iter()
            .find(|subtrack| subtrack.name == name)
        {
            Some(subtrack) if subtrack.concepts.len() < 3 => problems.push(Some(format!(
                "subtrack {name}: name at least three concepts"
            ))),
            Some(_) => {}
            None => problems.push(Some(format!("stages/stages.toml has no subtrack {name}"))),
        }
    }
    for stage in manifest.track("gossiper") {
        let homes = manifest
            .subtracks
            .iter()
            .filter(|subtrack| subtrack.stages.contains(&stage.name))
            .count();
        if homes != 1 {
            problems.push(Some(format!(
                "{} is in {homes} subtracks; every Gossiper stage is in exactly one",
                stage.name
            )));
        }
    }
    assert_no_problems(problems);
}

#[test]
fn interview_questions_belong_somewhere_and_every_subtrack_has_three_with_a_measured_answer() {
    use crate::learn::interview::{INTERVIEW_FILE, load};
    let manifest = manifest();
    let list = load(&workspace_root()).expect("the interview questions load");
    let mut problems = Vec::new();
    for question in &list {
        let known = manifest.subtracks.iter().any(|s| s.name == question.target)
            || manifest.stages.iter().any(|s| s.name == question.target);
        if !known {
            problems.push(Some(format!(
                "{INTERVIEW_FILE}: `{}` is for `{}`, which is neither a subtrack nor a stage",
                question.question, question.target
            )));
        }
        if question.answer.len() < 200 || !question.follow_up.ends_with('?') {
            problems.push(Some(format!(
                "{INTERVIEW_FILE}: `{}` needs a model answer of a few sentences and a follow-up question",
                question.question
            )));
        }
    }
    for subtrack in &manifest.subtracks {
        let own: Vec<_> = list.iter().filter(|q| q.target == subtrack.name).collect();
        if own.len() < 3 {
            problems.push(Some(format!(
                "{INTERVIEW_FILE}: subtrack {} has {} question(s); give it three",
                subtrack.name,
                own.len()
            )));
        }
        if !own.iter().any(|q| q.answer.contains("`cargo ")) {
            problems.push(Some(format!(
                "{INTERVIEW_FILE}: no answer for subtrack {} quotes the command that measured it",
                subtrack.name
            )));
        }
    }
    assert_no_problems(problems);
}

#[test]
fn every_stage_has_further_reading_and_every_entry_names_stages_that_exist() {
    let manifest = manifest();
    let list = crate::learn::reading::load(&workspace_root()).expect("the reading list loads");
    let known: BTreeSet<String> = manifest
        .stages
        .iter()
        .map(|stage| stage.name.clone())
        .collect();
    let mut problems = Vec::new();
    let mut keys = BTreeSet::new();
    for read in &list {
        if !keys.insert(read.key.clone()) {
            problems.push(Some(format!(
                "{}: the key `{}` is used twice",
                crate::learn::reading::READING_FILE,
                read.key
            )));
        }
        for stage in read.stages.iter().filter(|stage| !known.contains(*stage)) {
            problems.push(Some(format!(
                "{}: `{}` names `{stage}`, which stages/stages.toml does not have",
                crate::learn::reading::READING_FILE,
                read.key
            )));
        }
        if read.why.len() < 80 {
            problems.push(Some(format!(
                "{}: `{}` needs a why of a few sentences, for its stages",
                crate::learn::reading::READING_FILE,
                read.key
            )));
        }
    }
    let covered: BTreeSet<String> = list.iter().flat_map(|read| read.stages.clone()).collect();
    problems.push(missing(
        &known,
        &covered,
        &format!(
            "stages with no entry in {}",
            crate::learn::reading::READING_FILE
        ),
    ));
    // The four the track names must be there.
    for key in ["swim", "epidemic", "cassandra", "phi-accrual"] {
        if !keys.contains(key) {
            problems.push(Some(format!(
                "{}: the track's reading names `{key}`; add it",
                crate::learn::reading::READING_FILE
            )));
        }
    }
    assert_no_problems(problems);
}
