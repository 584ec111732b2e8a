//! The log in the simulated cluster, with Fly.io's command: valid, every acknowledged send
//! polled by the end, and the client crashes and assigns of Jepsen's kafka client exercised.

use glomers_5a_kafka::SingleLog;
use grader::checker::Validity;
use grader::sim::simulate_command;

#[test]
fn flyios_run_is_valid_and_every_send_is_polled() {
    // Fly.io: `maelstrom test -w kafka --bin B --node-count 1 --concurrency 2n --time-limit 20
    // --rate 1000`.
    for seed in [1, 2] {
        let run = simulate_command::<SingleLog>(&format!(
            "-w kafka --node-count 1 --concurrency 2n --time-limit 20 --rate 1000 --seed {seed}"
        ));
        assert_eq!(
            run.report.valid,
            Validity::Valid,
            "seed {seed}: {}",
            run.summary
        );
        let figure = |pointer: &str| run.report.figure_u64(pointer).unwrap_or(0);
        assert_eq!(figure("/workload/unseen_count"), 0, "{}", run.summary);
        assert!(figure("/workload/polled_pairs") > 1_000, "{}", run.summary);
        let sends = run.report.figure("/workload/sends").unwrap().clone();
        assert!(sends[0].as_u64().unwrap() > 5_000, "{sends}");
        // The final phase crashed every client and polled every key from the start.
        let final_crashes = run
            .report
            .history
            .ops()
            .iter()
            .filter(|op| op.f == "crash" && op.final_read)
            .count();
        assert_eq!(final_crashes, 2 * 2, "two workers: invoke and info each");
    }
}
