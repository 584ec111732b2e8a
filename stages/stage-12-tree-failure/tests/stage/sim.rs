//! Stage 12 in the simulated cluster: interior nodes of tree4 crash for good mid-run (or pause)
//! and every survivor still gets every value; the node's own counters agree with the harness's.

use std::collections::{BTreeMap, BTreeSet};

use grader::checker::Validity;
use grader::config::TestConfig;
use grader::net::read_messages;
use grader::sim::{SimRun, simulate, simulate_inspect};
use stage_12_tree_failure::{FailureStats, TreeFailure};

/// 25 nodes on tree4, rate 100, latency 100; `fault` strikes interior nodes every 3 s or so.
fn config(fault: &str, seed: u64) -> TestConfig {
    TestConfig::parse_command(&format!(
        "--node-count 25 --time-limit 10 --rate 100 --latency 100 --topology tree4 --nemesis {fault} --nemesis-targets interior --nemesis-interval 3 --recovery 2 --seed {seed}"
    ))
    .expect("valid flags")
}

/// The nodes below `node` in tree4 over 25 nodes.
fn descendants(node: usize) -> Vec<usize> {
    let mut below = Vec::new();
    let mut frontier = vec![node];
    while let Some(parent) = frontier.pop() {
        for child in (4 * parent + 1..=4 * parent + 4).filter(|child| *child < 25) {
            below.push(child);
            frontier.push(child);
        }
    }
    below
}

fn index(id: &str) -> usize {
    id.trim_start_matches('n').parse().unwrap()
}

/// For each crash: (when, the nodes it took, the longest any orphan below them waited from the
/// crash for a value broadcast after it, in ms).
fn orphan_waits(run: &SimRun) -> Vec<(u64, Vec<String>, u64)> {
    let ops = run.report.history.ops();
    let invoked: BTreeMap<i64, u64> = ops
        .iter()
        .filter(|op| op.is_client() && op.f == "broadcast")
        .filter_map(|op| Some((op.value.as_i64()?, op.time_ns)))
        .collect();
    let messages = read_messages(&run.journal);
    let crashed: BTreeSet<usize> = ops
        .iter()
        .filter(|op| op.f == "crash")
        .flat_map(|op| op.value.as_array().cloned().unwrap_or_default())
        .map(|id| index(id.as_str().unwrap()))
        .collect();
    let mut waits = Vec::new();
    for crash in ops.iter().filter(|op| op.f == "crash") {
        let at = crash.time_ns;
        let dead: Vec<String> = crash
            .value
            .as_array()
            .unwrap()
            .iter()
            .map(|id| id.as_str().unwrap().to_owned())
            .collect();
        let orphans: BTreeSet<usize> = dead
            .iter()
            .flat_map(|id| descendants(index(id)))
            .filter(|node| !crashed.contains(node))
            .collect();
        let mut longest = 0;
        for orphan in &orphans {
            let dest = format!("n{orphan}");
            let first = messages
                .iter()
                .filter(|message| message.dest == dest && message.src.starts_with('n'))
                .filter_map(|message| {
                    let received = message.received_ns?;
                    let value = message.body["message"].as_i64()?;
                    (received > at && invoked.get(&value).is_some_and(|t| *t > at))
                        .then_some(received)
                })
                .min()
                .unwrap_or_else(|| panic!("{dest} never received a value after the crash"));
            longest = longest.max((first - at) / 1_000_000);
        }
        if !orphans.is_empty() {
            waits.push((at / 1_000_000, dead, longest));
        }
    }
    waits
}

#[test]
fn every_survivor_gets_every_value_when_interior_nodes_crash() {
    for seed in 1..=3 {
        let run = simulate::<TreeFailure>(&config("crash", seed), &[]).unwrap();
        assert_eq!(
            run.report.valid,
            Validity::Valid,
            "seed {seed}: {}",
            run.summary
        );
        assert_eq!(run.report.figure_u64("/workload/lost_count"), Some(0));
        let waits = orphan_waits(&run);
        assert!(!waits.is_empty(), "seed {seed}: no crash orphaned anyone");
        for (at, dead, wait) in &waits {
            println!(
                "seed {seed}: crash of {dead:?} at {at} ms: orphans served again after {wait} ms"
            );
            // A value sent after the crash reaches an orphan through at most the 500 ms
            // timeout, a 100 ms scan and a few hops; later ones go past the dead node at once.
            assert!(*wait <= 1_200, "seed {seed}: {dead:?}: {wait} ms");
        }
    }
}

/// Deliveries from a server of a value the receiving node already had, by when (ns), from
/// the journal.
fn duplicate_times(run: &SimRun) -> Vec<u64> {
    let mut messages = read_messages(&run.journal);
    messages.retain(|message| message.received_ns.is_some());
    messages.sort_by_key(|message| message.received_ns);
    let mut held: BTreeMap<&str, BTreeSet<i64>> = BTreeMap::new();
    let mut times = Vec::new();
    for message in &messages {
        let body = &message.body;
        let from_server = message.src.starts_with('n');
        // As the harness counts: what a server's message carries (acknowledgements carry
        // nothing), and what a client's broadcast hands over.
        if !message.dest.starts_with('n')
            || body["type"] == "broadcast_ack"
            || (!from_server && body["type"] != "broadcast")
        {
            continue;
        }
        let mut values: Vec<i64> = body["message"].as_i64().into_iter().collect();
        if let Some(list) = body["messages"].as_array() {
            values.extend(list.iter().filter_map(serde_json::Value::as_i64));
        }
        let known = held.entry(message.dest.as_str()).or_default();
        for value in values {
            if !known.insert(value) && from_server {
                times.push(message.received_ns.unwrap_or_default());
            }
        }
    }
    times
}

#[test]
fn pauses_of_interior_nodes_lose_nothing_and_stop_duplicating_once_they_wake() {
    for seed in 1..=3 {
        let run = simulate::<TreeFailure>(&config("pause", seed), &[]).unwrap();
        assert_eq!(
            run.report.valid,
            Validity::Valid,
            "seed {seed}: {}",
            run.summary
        );
        let ops = run.report.history.ops();
        let last_resume = ops
            .iter()
            .filter(|op| op.f == "resume")
            .map(|op| op.time_ns)
            .max()
            .expect("the nodes were paused and resumed");
        // Once the last paused node is awake and has worked through what waited for it (its
        // queued forwards, the repairs its neighbours sent past it), values cross each edge once
        // again: no duplicate arrives later than two seconds after the resume.
        let times = duplicate_times(&run);
        assert_eq!(times.len() as u64, run.report.net.duplicate_deliveries);
        let late: Vec<u64> = times
            .iter()
            .filter(|at| **at > last_resume + 2_000_000_000)
            .copied()
            .collect();
        println!(
            "seed {seed}: {} duplicate deliveries, the last {} ms after the last resume",
            times.len(),
            times.iter().max().unwrap_or(&0).saturating_sub(last_resume) / 1_000_000
        );
        assert!(
            late.is_empty(),
            "seed {seed}: {} late duplicates",
            late.len()
        );
    }
}

#[test]
fn each_survivors_failure_stats_agree_with_the_harnesss_counts() {
    let config = config("crash", 2);
    let ids = config.node_ids();
    let (run, stats) =
        simulate_inspect::<TreeFailure, Vec<Option<FailureStats>>>(&config, &[], |cluster| {
            (0..ids.len())
                .map(|node| cluster.node(node).map(TreeFailure::stats))
                .collect()
        })
        .unwrap();
    let messages = read_messages(&run.journal);
    let (mut failures, mut directs, mut seen_directs) = (0, 0, 0);
    for (node, own) in stats.iter().enumerate() {
        let Some(own) = own else { continue };
        let id = &ids[node];
        let sent = |kind: &str| {
            messages
                .iter()
                .filter(|message| &message.src == id && message.body["type"] == kind)
                .count() as u64
        };
        assert_eq!(
            own.direct_deliveries,
            sent("direct_broadcast") + sent("repair"),
            "{id}"
        );
        // Every forward whose acknowledgement never came back is a failure; so may be one
        // acknowledged late, but no more than those.
        let acked: BTreeSet<(String, i64)> = messages
            .iter()
            .filter(|message| &message.dest == id && message.body["type"] == "broadcast_ack")
            .filter(|message| message.received_ns.is_some())
            .filter_map(|message| Some((message.src.clone(), message.body["message"].as_i64()?)))
            .collect();
        let forwards: Vec<(String, i64)> = messages
            .iter()
            .filter(|message| {
                &message.src == id
                    && message.dest.starts_with('n')
                    && message.body["type"] == "broadcast"
            })
            .filter_map(|message| Some((message.dest.clone(), message.body["message"].as_i64()?)))
            .collect();
        let never_acked = forwards
            .iter()
            .filter(|forward| !acked.contains(forward))
            .count() as u64;
        assert!(
            never_acked <= own.total_failures && own.total_failures <= forwards.len() as u64,
            "{id}: {never_acked} never acknowledged, {} failures, {} forwards",
            own.total_failures,
            forwards.len()
        );
        failures += own.total_failures;
        directs += own.direct_deliveries;
        seen_directs += sent("direct_broadcast") + sent("repair");
    }
    println!(
        "survivors' failure_stats: {failures} failures, {directs} direct deliveries; the harness saw {seen_directs} direct_broadcast and repair messages from them"
    );
    assert!(failures > 0, "the crashes made forwards fail");
}
