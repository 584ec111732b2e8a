//! Stage 13 in the simulated cluster: as fast as the plain tree without faults, valid on the
//! survivors under crashes of interior nodes and partitions, and its own delivery counters
//! agree with what the harness delivered.

use std::collections::{BTreeMap, BTreeSet};

use grader::checker::Validity;
use grader::config::TestConfig;
use grader::net::read_messages;
use grader::sim::{SimRun, simulate, simulate_inspect};
use stage_11_tree_overlay::TreeOverlay;
use stage_13_hybrid::{Hybrid, HybridStats};

/// 25 nodes on tree4, rate 100, latency 100, with `faults` every 3 s or so (interior nodes).
fn config(faults: &[&str], seed: u64) -> TestConfig {
    let nemesis = faults.to_vec();
    let nemesis = if nemesis.is_empty() {
        String::new()
    } else {
        format!(
            " --nemesis {} --nemesis-targets interior",
            nemesis.join(",")
        )
    };
    TestConfig::parse_command(&format!(
        "--node-count 25 --time-limit 10 --rate 100 --latency 100 --topology tree4 --nemesis-interval 3 --recovery 3 --seed {seed}{nemesis}"
    ))
    .expect("valid flags")
}

fn median(run: &SimRun) -> u64 {
    run.report
        .figure_u64("/workload/stable_latencies/0.5")
        .unwrap()
}

#[test]
fn without_faults_the_median_is_within_one_and_a_half_times_the_plain_trees() {
    let tree = simulate::<TreeOverlay>(&config(&[], 1), &[]).unwrap();
    let hybrid = simulate::<Hybrid>(&config(&[], 1), &[]).unwrap();
    assert_eq!(hybrid.report.valid, Validity::Valid, "{}", hybrid.summary);
    let (tree, hybrid) = (median(&tree), median(&hybrid));
    println!("median latency: tree {tree} ms, hybrid {hybrid} ms");
    assert!(hybrid * 2 <= tree * 3, "tree {tree} ms, hybrid {hybrid} ms");
}

#[test]
fn valid_on_the_survivors_under_crashes_and_partitions() {
    for seed in 1..=3 {
        let run = simulate::<Hybrid>(&config(&["partition", "crash"], seed), &[]).unwrap();
        assert_eq!(
            run.report.valid,
            Validity::Valid,
            "seed {seed}: {}",
            run.summary
        );
        let ops = run.report.history.ops();
        assert!(ops.iter().any(|op| op.f == "crash"), "seed {seed}");
        assert!(
            ops.iter().any(|op| op.f == "start_partition"),
            "seed {seed}"
        );
    }
}

/// For each node, how many distinct values first reached it by a client's broadcast or a tree
/// forward, and how many by gossip, as the journal shows the deliveries.
fn first_arrivals(run: &SimRun) -> BTreeMap<String, (u64, u64)> {
    let mut messages = read_messages(&run.journal);
    messages.retain(|message| message.received_ns.is_some() && message.dest.starts_with('n'));
    messages.sort_by_key(|message| (message.received_ns, message.id));
    let mut held: BTreeMap<String, BTreeSet<i64>> = BTreeMap::new();
    let mut counts: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for message in &messages {
        let (values, by_tree): (Vec<i64>, bool) = match message.body["type"].as_str() {
            Some("broadcast") => (message.body["message"].as_i64().into_iter().collect(), true),
            Some("gossip") => (
                message.body["messages"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(serde_json::Value::as_i64)
                    .collect(),
                false,
            ),
            _ => continue,
        };
        let known = held.entry(message.dest.clone()).or_default();
        let count = counts.entry(message.dest.clone()).or_default();
        for value in values {
            if known.insert(value) {
                if by_tree {
                    count.0 += 1;
                } else {
                    count.1 += 1;
                }
            }
        }
    }
    counts
}

/// Runs `faults` and returns the share of deliveries by gossip, checking on the way that every
/// surviving node's own `hybrid_stats` match the harness's deliveries.
fn gossip_share(faults: &[&str]) -> f64 {
    let config = config(faults, 2);
    let ids = config.node_ids();
    let (run, stats) =
        simulate_inspect::<Hybrid, Vec<Option<HybridStats>>>(&config, &[], |cluster| {
            (0..ids.len())
                .map(|node| cluster.node(node).map(Hybrid::stats))
                .collect()
        })
        .unwrap();
    assert_eq!(run.report.valid, Validity::Valid, "{}", run.summary);
    let seen = first_arrivals(&run);
    let (mut tree, mut gossip) = (0, 0);
    for (node, own) in stats.iter().enumerate() {
        let Some(own) = own else { continue };
        let id = &ids[node];
        let harness = seen.get(id).copied().unwrap_or_default();
        assert_eq!(
            (own.tree_deliveries, own.gossip_deliveries),
            harness,
            "{id}: the node's (tree, gossip) deliveries against the harness's"
        );
        tree += own.tree_deliveries;
        gossip += own.gossip_deliveries;
    }
    let share = gossip as f64 / (tree + gossip) as f64;
    println!(
        "{faults:?}: {tree} deliveries by tree, {gossip} by gossip ({:.2}% by gossip)",
        100.0 * share
    );
    share
}

#[test]
fn each_nodes_hybrid_stats_agree_with_the_harness_and_gossip_carries_more_under_faults() {
    let calm = gossip_share(&[]);
    let stormy = gossip_share(&["partition", "crash"]);
    // Without faults a gossip only wins when it beats a tree path of up to five hops.
    assert!(
        calm < 0.1,
        "without faults the tree delivers nearly everything: {calm}"
    );
    assert!(
        stormy > calm,
        "faults shift deliveries to gossip: {stormy} against {calm}"
    );
}
