//! Stage 01 as a cluster: the real binary, five processes on a grid, graded by the harness.

use std::path::Path;

use grader::checker::Validity;
use grader::config::TestConfig;
use grader::run::run_process_test;

#[test]
fn five_flooding_nodes_on_a_grid_are_valid_and_cost_six_messages_per_broadcast() {
    let config = TestConfig::parse_command(
        "--node-count 5 --time-limit 2 --rate 20 --recovery 0.3 --seed 1",
    )
    .expect("valid flags");
    let store = tempfile::tempdir().unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_stage-01-flooding"));
    let run = run_process_test(&config, bin, &[], store.path(), None).unwrap();
    assert_eq!(run.report.valid, Validity::Valid, "{}", run.summary);
    // The 5-node grid has 5 edges: 2E - (n - 1) = 6 server messages per broadcast.
    let broadcasts = run.report.figure_u64("/workload/attempt_count").unwrap();
    assert!(broadcasts > 5);
    assert_eq!(run.report.net.servers.msg_count, 6 * broadcasts);
}
