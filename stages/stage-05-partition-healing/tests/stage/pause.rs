//! The pause nemesis against a correct gossip node, in both clusters: the node stays valid; a
//! paused node sends nothing until it is resumed (its process group is stopped, or its timers
//! wait), and what was sent to it meanwhile is held and handed over when it resumes. (Kills
//! are another matter for this node: it acknowledges a value on receipt, so a node restarted
//! empty before its forward got through loses it, and the checker rightly says so. The grader's
//! own tests run `pause,partition,kill` against a node that acknowledges after a majority.)

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use grader::checker::Validity;
use grader::config::TestConfig;
use grader::nemesis::pause::{paused_spells, sends_while_paused};
use grader::run::run_process_test;
use grader::sim::simulate;
use serde_json::Value as Json;
use stage_05_partition_healing::PartitionHealing;

fn config(seed: u64, time_limit: u64, recovery: f64) -> TestConfig {
    TestConfig::parse_command(&format!("--node-count 5 --time-limit {time_limit} --rate 10 --nemesis pause --nemesis-interval 1.5 --recovery {recovery} --seed {seed}")).expect("valid flags")
}

#[test]
fn simulated_paused_nodes_send_nothing_and_get_what_was_held_when_they_resume() {
    for seed in 1..=3 {
        let run = simulate::<PartitionHealing>(&config(seed, 20, 3.0), &[]).unwrap();
        assert_eq!(
            run.report.valid,
            Validity::Valid,
            "seed {seed}: {}",
            run.summary
        );
        let ops = run.report.history.ops();
        let spells = paused_spells(ops);
        assert!(!spells.is_empty(), "seed {seed}: the nemesis paused nodes");
        let early = sends_while_paused(ops, &run.journal, Duration::ZERO);
        assert!(
            early.is_empty(),
            "seed {seed}: paused nodes sent: {early:?}"
        );
        // Held messages are delivered at the very moment their node resumes.
        let resumes: BTreeSet<u64> = spells.values().flatten().map(|(_, end)| *end).collect();
        let journal = String::from_utf8_lossy(&run.journal);
        let handed_over = journal
            .lines()
            .map(|line| serde_json::from_str::<Json>(line).unwrap())
            .filter(|event| {
                event["event"] == "recv"
                    && event["t"].as_u64().is_some_and(|at| resumes.contains(&at))
            })
            .count();
        assert!(
            handed_over > 0,
            "seed {seed}: held messages arrive at the resume"
        );
    }
}

#[test]
fn paused_processes_are_stopped_and_the_node_stays_valid() {
    let store = tempfile::tempdir().unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_stage-05-partition-healing"));
    // Real seconds: as short as still sees a few pauses (the simulated test above carries
    // the long runs).
    let run = run_process_test(&config(4, 4, 1.5), bin, &[], store.path(), None).unwrap();
    assert_eq!(run.report.valid, Validity::Valid, "{}", run.summary);
    let ops = run.report.history.ops();
    assert!(!paused_spells(ops).is_empty(), "the nemesis paused nodes");
    let journal = std::fs::read(run.store.join("journal.jsonl")).unwrap();
    let early = sends_while_paused(ops, &journal, Duration::from_millis(300));
    assert!(
        early.is_empty(),
        "stopped processes sent messages: {early:?}"
    );
}
