//! Echo in the simulated cluster, with Fly.io's command: every echo comes back unchanged.

use glomers_1_echo::Echo;
use grader::checker::Validity;
use grader::sim::simulate_command;

#[test]
fn flyios_echo_run_is_valid_with_every_operation_answered() {
    // Fly.io: `maelstrom test -w echo --bin B --node-count 1 --time-limit 10`.
    let run = simulate_command::<Echo>("-w echo --node-count 1 --time-limit 10 --seed 1");
    assert_eq!(run.report.valid, Validity::Valid, "{}", run.summary);
    let attempted = run.report.figure_u64("/workload/attempted_count").unwrap();
    assert!(attempted > 30, "{attempted} echoes in 10 s");
    assert_eq!(
        run.report.figure_u64("/workload/exact_count"),
        Some(attempted),
        "{}",
        run.summary
    );
}
