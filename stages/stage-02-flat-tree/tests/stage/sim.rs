//! Stage 02 in the simulated cluster.

use grader::checker::Validity;
use grader::config::TestConfig;
use grader::sim::simulate;
use grader::topology::Topology;
use stage_02_flat_tree::FlatTree;

/// The 3d settings (25 nodes, rate 100, latency 100) on a shorter clock.
fn three_d(topology: Topology) -> TestConfig {
    TestConfig::parse_command(&format!("--node-count 25 --time-limit 10 --rate 100 --latency 100 --latency-dist constant --topology {topology} --recovery 2 --seed 1")).expect("valid flags")
}

#[test]
fn on_tree4_every_value_crosses_each_edge_once() {
    let run = simulate::<FlatTree>(&three_d(Topology::Tree(4)), &[]).unwrap();
    assert_eq!(run.report.valid, Validity::Valid, "{}", run.summary);
    let broadcasts = run.report.figure_u64("/workload/attempt_count").unwrap();
    assert_eq!(run.report.net.servers.msg_count, 24 * broadcasts);
    assert_eq!(run.report.net.duplicate_deliveries, 0);
    assert!(run.report.net.servers.msgs_per_op.unwrap() <= 13.0);
    // tree4 on 25 nodes is at most 5 hops across: 500 ms.
    assert!(
        run.report
            .figure_u64("/workload/stable_latencies/1")
            .unwrap()
            <= 500
    );
}

#[test]
fn on_a_grid_the_heap_tree_is_used_and_still_sends_no_duplicates() {
    let run = simulate::<FlatTree>(&three_d(Topology::Grid), &[]).unwrap();
    assert_eq!(run.report.valid, Validity::Valid, "{}", run.summary);
    assert_eq!(run.report.net.duplicate_deliveries, 0);
    assert_eq!(
        run.report.net.servers.msg_count,
        24 * run.report.figure_u64("/workload/attempt_count").unwrap()
    );
}

#[test]
fn a_tree_breaks_under_partitions() {
    // One cut edge strands a whole subtree, and nothing is re-sent: values are lost.
    let config = three_d(Topology::Tree(4))
        .with("--node-count 10 --concurrency 10 --rate 20 --nemesis partition --nemesis-interval 2")
        .unwrap();
    let run = simulate::<FlatTree>(&config, &[]).unwrap();
    assert_eq!(run.report.valid, Validity::Invalid, "{}", run.summary);
}
