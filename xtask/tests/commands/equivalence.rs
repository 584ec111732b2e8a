//! Behaviour kept across restructures: seeded simulated runs of stages 01, 05 and 10 (with and
//! without faults), of the Glomers counters (a stateless node on seq-kv, whose every request
//! goes to the service, and a gossiped CRDT) and of the kafka log (clients that crash, assign,
//! commit after each poll, and a final phase of several steps), must write the very journal and the very figures
//! recorded in `equivalence.json`.
//!
//! The runs go through `cargo xtask sim`, whose flags are the stable interface, so this test
//! needs no change when the code behind them moves. The record holds each run's journal hash
//! (FNV-1a 64 over `journal.jsonl`), its length, and `results.json` without the sections that
//! describe the run rather than its outcome (`run`, `config`, `reproduce`). Every recorded
//! figure must be present and equal; figures added later are allowed.
//!
//! To record anew after a change that is meant to alter behaviour (say so in the commit):
//! `EQUIVALENCE_RECORD=1 cargo test -p xtask --test commands equivalence`.

use std::path::Path;
use std::process::Command;

use serde_json::{Value as Json, json};

/// The runs: a name and the `cargo xtask sim` arguments.
const CASES: &[(&str, &str)] = &[
    (
        "stage-01 grid",
        "stage-01 --node-count 5 --time-limit 10 --rate 10 --recovery 2 --seed 1 --delivery ideal",
    ),
    (
        "stage-01 partition",
        "stage-01 --node-count 5 --time-limit 10 --rate 10 --recovery 2 --seed 3 --nemesis partition --nemesis-interval 3 --delivery ideal",
    ),
    (
        "stage-01 kill",
        "stage-01 --node-count 5 --time-limit 10 --rate 10 --recovery 2 --seed 4 --nemesis kill --nemesis-interval 3 --delivery ideal",
    ),
    (
        "stage-05 3c",
        "stage-05 --node-count 5 --time-limit 20 --rate 10 --recovery 3 --seed 1 --delivery ideal",
    ),
    (
        "stage-05 3c partition",
        "stage-05 --node-count 5 --time-limit 20 --rate 10 --recovery 3 --seed 1 --nemesis partition --delivery ideal",
    ),
    (
        "stage-05 partition kill uniform",
        "stage-05 --node-count 5 --time-limit 20 --rate 10 --recovery 3 --seed 2 --nemesis partition,kill --nemesis-interval 4 --latency 20 --latency-dist uniform --delivery ideal",
    ),
    (
        "stage-10 3d",
        "stage-10 --node-count 25 --time-limit 20 --rate 100 --latency 100 --recovery 10 --seed 1 --delivery ideal -- --fanout 1 --gossip-interval-ms 100 --sync-ms 2000",
    ),
    (
        "stage-10 3d partition",
        "stage-10 --node-count 25 --time-limit 20 --rate 100 --latency 100 --recovery 10 --seed 1 --nemesis partition --delivery ideal -- --fanout 1 --gossip-interval-ms 100 --sync-ms 2000",
    ),
    (
        "stage-05 3c partition pause maelstrom delivery",
        "stage-05 --node-count 5 --time-limit 20 --rate 10 --recovery 3 --seed 1 --nemesis partition,pause --nemesis-interval 3 --latency 20 --latency-dist uniform",
    ),
    (
        "stage-10 3e maelstrom delivery",
        "stage-10 --node-count 25 --time-limit 20 --rate 100 --latency 100 --recovery 10 --seed 1 -- --fanout 1 --gossip-interval-ms 700 --sync-ms 5000",
    ),
    (
        "stage-10 3e partition exponential",
        "stage-10 --node-count 25 --time-limit 20 --rate 100 --latency 100 --latency-dist exponential --recovery 10 --seed 5 --nemesis partition --delivery ideal -- --fanout 1 --gossip-interval-ms 700 --sync-ms 5000",
    ),
    (
        "glomers-4 seq-kv partition",
        "glomers-4 -w g-counter --node-count 3 --time-limit 10 --rate 50 --latency 10 --seed 1 --nemesis partition --nemesis-interval 2",
    ),
    (
        "glomers-5a kafka",
        "glomers-5a -w kafka --node-count 1 --concurrency 2n --time-limit 10 --rate 200 --seed 1",
    ),
    (
        "guide-4 pn-counter partition kill",
        "guide-4 -w pn-counter --node-count 3 --time-limit 10 --rate 50 --latency 10 --seed 2 --nemesis partition,kill --nemesis-interval 2",
    ),
];

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Runs one case and returns its record.
fn record(name: &str, args: &str) -> Json {
    let store = tempfile::tempdir().unwrap();
    let (stage_and_flags, node_args) = args.split_once(" -- ").unwrap_or((args, ""));
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("sim")
        .args(stage_and_flags.split_whitespace())
        .arg("--store")
        .arg(store.path())
        .arg("--")
        .args(node_args.split_whitespace())
        .output()
        .expect("xtask runs");
    let code = output.status.code();
    assert!(
        matches!(code, Some(0..=2)),
        "{name}: xtask sim failed ({code:?}): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let dir = store.path().join("latest");
    let journal = std::fs::read(dir.join("journal.jsonl")).unwrap();
    let mut results: Json =
        serde_json::from_slice(&std::fs::read(dir.join("results.json")).unwrap()).unwrap();
    let fields = results.as_object_mut().unwrap();
    for volatile in ["run", "config", "reproduce"] {
        fields.remove(volatile);
    }
    json!({
        "name": name,
        "args": args,
        "journal_fnv1a64": format!("{:016x}", fnv1a(&journal)),
        "journal_bytes": journal.len(),
        "results": results,
    })
}

/// Where `recorded` and `actual` part: every recorded key must be there with the same value.
fn first_difference(recorded: &Json, actual: &Json, path: &str) -> Option<String> {
    match (recorded, actual) {
        (Json::Object(want), Json::Object(got)) => want.iter().find_map(|(key, value)| {
            let here = format!("{path}/{key}");
            match got.get(key) {
                Some(actual) => first_difference(value, actual, &here),
                None => Some(format!("{here} is missing (recorded {value})")),
            }
        }),
        _ if recorded == actual => None,
        _ => Some(format!("{path}: recorded {recorded}, now {actual}")),
    }
}

#[test]
fn seeded_simulations_write_the_recorded_journals_and_figures() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/commands/equivalence.json");
    // Each case is its own process: side by side they take the time of the slowest few.
    let actual = grader::run::side_by_side(CASES, |(name, args)| record(name, args));
    if std::env::var_os("EQUIVALENCE_RECORD").is_some() {
        let text = serde_json::to_string_pretty(&actual).unwrap();
        std::fs::write(&path, text + "\n").unwrap();
        return;
    }
    let recorded: Vec<Json> = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
        .expect("equivalence.json holds the recorded runs");
    assert_eq!(recorded.len(), actual.len(), "one record per case");
    let mut differences = Vec::new();
    for (want, got) in recorded.iter().zip(&actual) {
        if let Some(difference) = first_difference(want, got, "") {
            differences.push(format!("{}: {difference}", want["name"]));
        }
    }
    assert!(
        differences.is_empty(),
        "behaviour changed:\n{}",
        differences.join("\n")
    );
}
