//! The PN-counter in the simulated cluster, with the guide's command: valid under partitions,
//! every node's final read the same total.

use grader::checker::Validity;
use grader::sim::simulate_command;
use guide_4_pn_counter::PnCounter;

#[test]
fn the_guides_run_is_valid_under_partitions_and_the_replicas_agree() {
    // The guide: `maelstrom test -w pn-counter --bin B --node-count 3 --rate 100
    // --time-limit 20 --nemesis partition`.
    for seed in [1, 2] {
        let run = simulate_command::<PnCounter>(&format!(
            "-w pn-counter --node-count 3 --rate 100 --time-limit 20 --nemesis partition --seed {seed}"
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
        assert_eq!(reads.len(), 3);
        let sum = run
            .report
            .figure("/workload/acknowledged_sum")
            .unwrap()
            .clone();
        assert!(
            reads.iter().all(|read| read["value"] == sum),
            "{reads:?} against {sum}"
        );
    }
}
