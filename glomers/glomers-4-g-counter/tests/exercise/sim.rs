//! The counter in the simulated cluster, with Fly.io's command: valid under partitions, every
//! final read the sum of the adds, and the seq-kv traffic counted as server messages.

use glomers_4_g_counter::SeqCounter;
use grader::checker::Validity;
use grader::sim::simulate_command;

#[test]
fn flyios_run_is_valid_under_partitions_and_every_final_read_is_the_sum() {
    // Fly.io: `maelstrom test -w g-counter --bin B --node-count 3 --rate 100 --time-limit 20
    // --nemesis partition`.
    for seed in [1, 2] {
        let run = simulate_command::<SeqCounter>(&format!(
            "-w g-counter --node-count 3 --rate 100 --time-limit 20 --nemesis partition --seed {seed}"
        ));
        assert_eq!(
            run.report.valid,
            Validity::Valid,
            "seed {seed}: {}",
            run.summary
        );
        let reads = run
            .report
            .figure("/workload/final_reads")
            .unwrap()
            .as_array()
            .unwrap()
            .clone();
        assert_eq!(reads.len(), 3, "{reads:?}");
        let sum = run
            .report
            .figure("/workload/acknowledged_sum")
            .unwrap()
            .clone();
        assert!(
            reads.iter().all(|read| read["value"] == sum),
            "{reads:?} against {sum}"
        );
        // The node's requests to seq-kv are server traffic: at least a read and a cas per add.
        assert!(run.report.net.service_requests["seq-kv"]["cas"] > 0);
        let per_op = run.report.net.servers.msgs_per_op.unwrap_or(0.0);
        assert!(per_op > 2.0, "{per_op} server messages per operation");
    }
}
