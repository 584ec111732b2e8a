//! The replicated log in the simulated cluster, with Fly.io's command for 5b and 5c: valid,
//! every acknowledged send polled by the end, and under one message between nodes per
//! operation.

use glomers_5c_kafka::OwnedLogs;
use grader::checker::Validity;
use grader::sim::simulate_command;

#[test]
fn flyios_run_is_valid_with_under_one_message_between_nodes_per_operation() {
    // Fly.io: `maelstrom test -w kafka --bin B --node-count 2 --concurrency 2n --time-limit 20
    // --rate 1000`.
    for seed in [1, 2] {
        let run = simulate_command::<OwnedLogs>(&format!(
            "-w kafka --node-count 2 --concurrency 2n --time-limit 20 --rate 1000 --seed {seed}"
        ));
        assert_eq!(
            run.report.valid,
            Validity::Valid,
            "seed {seed}: {}",
            run.summary
        );
        assert_eq!(run.report.figure_u64("/workload/unseen_count"), Some(0));
        let per_op = run.report.net.servers.msgs_per_op.unwrap_or(f64::MAX);
        assert!(
            per_op < 1.0,
            "seed {seed}: {per_op} messages between nodes per operation"
        );
        // Both nodes own keys: sends were forwarded, and batches replicated.
        let sends = run.report.figure("/workload/sends").unwrap().clone();
        assert!(sends[0].as_u64().unwrap() > 5_000, "{sends}");
    }
}
