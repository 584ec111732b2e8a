//! Stage 14 in the simulated cluster: valid under the harness's long partitions, converging a
//! few gossip intervals after the heal, and the node's own count of messages agrees with the
//! harness's when it simulates a partition itself.

use grader::checker::Validity;
use grader::config::TestConfig;
use grader::net::read_messages;
use grader::run::side_by_side;
use grader::sim::{simulate, simulate_inspect};
use stage_14_partition_sim::PartitionSim;

/// The stage's check: 10 nodes, rate 50, latency 50, partitions lasting 5 s on average.
fn config(seed: u64) -> TestConfig {
    TestConfig::parse_command(&format!("--node-count 10 --time-limit 20 --rate 50 --latency 50 --latency-dist constant --nemesis partition --nemesis-interval 5 --recovery 10 --seed {seed}")).expect("valid flags")
}

#[test]
fn after_the_heal_the_cluster_agrees_within_a_few_gossip_intervals() {
    // The four runs are independent: side by side they take the time of the slowest.
    let cases = [(100, 1), (100, 2), (400, 1), (400, 2)];
    let runs = side_by_side(cases, |(interval, seed)| {
        let flags = ["--interval-ms".to_owned(), interval.to_string()];
        simulate::<PartitionSim>(&config(seed), &flags).unwrap()
    });
    for ((interval, seed), run) in cases.into_iter().zip(runs) {
        assert_eq!(
            run.report.valid,
            Validity::Valid,
            "{interval} ms, seed {seed}: {}",
            run.summary
        );
        let after = run.report.convergence.after_ms.expect("converged");
        // A rumour among 10 nodes with fanout 2 takes about log 10 / log 3 ≈ 2.1 rounds,
        // plus up to one interval before the first round and the probes' 100 ms sampling.
        assert!(
            after <= 4 * interval + 200,
            "{interval} ms, seed {seed}: {after} ms"
        );
    }
}

#[test]
fn a_node_side_partition_drops_and_counts_what_the_harness_never_sees() {
    // Every node blocks n0 and n1 from the start: nothing may reach them from a server.
    let config = TestConfig::parse_command(
        "--node-count 10 --time-limit 5 --rate 50 --latency 50 --recovery 1 --seed 3",
    )
    .unwrap();
    let flags = ["--blocked".to_owned(), "n0,n1".to_owned()];
    let ids = config.node_ids();
    let (run, counts) =
        simulate_inspect::<PartitionSim, Vec<(u64, u64)>>(&config, &flags, |cluster| {
            (0..ids.len())
                .map(|node| {
                    let node = cluster.node(node).expect("no node was killed");
                    (node.messages_sent(), node.messages_dropped())
                })
                .collect()
        })
        .unwrap();
    let messages = read_messages(&run.journal);
    let reached_blocked = messages
        .iter()
        .filter(|message| {
            message.src.starts_with('n') && ["n0", "n1"].contains(&message.dest.as_str())
        })
        .count();
    assert_eq!(reached_blocked, 0);
    let mut dropped = 0;
    for (id, (sent, own_dropped)) in ids.iter().zip(&counts) {
        let seen = run
            .report
            .net
            .servers_sent_by_node
            .get(id)
            .copied()
            .unwrap_or(0);
        assert_eq!(
            *sent, seen,
            "{id}: the node's count of messages sent against the harness's"
        );
        dropped += own_dropped;
    }
    assert!(dropped > 0, "pushes to n0 and n1 were dropped and counted");
    // n0 and n1 hear only their own clients, so they never catch up (Maelstrom's checker
    // judges by the last read, which another node may answer in full; convergence does not).
    let behind = &run.report.convergence.nodes_behind;
    assert!(
        behind.contains(&"n0".to_owned()) && behind.contains(&"n1".to_owned()),
        "{behind:?}"
    );
}
