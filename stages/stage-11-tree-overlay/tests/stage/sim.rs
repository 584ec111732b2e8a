//! Stage 11 in the simulated cluster: on tree4 every value crosses each edge once.

use grader::checker::Validity;
use grader::config::TestConfig;
use grader::sim::simulate;
use grader::topology::Topology;
use stage_11_tree_overlay::TreeOverlay;

/// The stage's check: 25 nodes, tree4, rate 100, latency 100, on a shorter clock.
fn config() -> TestConfig {
    TestConfig::parse_command(&format!("--node-count 25 --time-limit 10 --rate 100 --latency 100 --latency-dist constant --topology {} --recovery 2 --seed 1", Topology::Tree(4))).expect("valid flags")
}

#[test]
fn on_tree4_every_value_reaches_every_node_exactly_once() {
    let run = simulate::<TreeOverlay>(&config(), &[]).unwrap();
    assert_eq!(run.report.valid, Validity::Valid, "{}", run.summary);
    let broadcasts = run.report.figure_u64("/workload/attempt_count").unwrap();
    assert_eq!(run.report.net.servers.msg_count, 24 * broadcasts);
    assert_eq!(run.report.net.duplicate_deliveries, 0);
    assert!(run.report.net.servers.msgs_per_op.unwrap() <= 13.0);
    // tree4 on 25 nodes is at most five hops across (a leaf under n5 to a leaf under n4).
    let max = run
        .report
        .figure_u64("/workload/stable_latencies/1")
        .unwrap();
    assert!(max <= 500, "{max} ms");
}
