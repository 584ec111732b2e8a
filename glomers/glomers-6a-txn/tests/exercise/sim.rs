//! The single-node store in the simulated cluster with Fly.io's 6a command: valid under
//! read-uncommitted with total availability, as asked, and under strict serializability too.

use glomers_6a_txn::SingleStore;
use grader::checker::Validity;
use grader::sim::simulate_command;

#[test]
fn fly_ios_6a_run_is_valid_and_totally_available_and_even_strict_serializable() {
    // Fly.io: `-w txn-rw-register --bin B --node-count 1 --time-limit 20 --rate 1000
    // --concurrency 2n --consistency-models read-uncommitted --availability total`.
    for models in ["read-uncommitted", "strict-serializable"] {
        let run = simulate_command::<SingleStore>(&format!(
            "-w txn-rw-register --node-count 1 --time-limit 5 --rate 1000 --concurrency 2n --consistency-models {models} --availability total --seed 1"
        ));
        assert_eq!(
            run.report.valid,
            Validity::Valid,
            "{models}: {}",
            run.summary
        );
        let count = run.report.figure_u64("/workload/txn_count").unwrap();
        assert!(count > 3_000, "{count} transactions: {}", run.summary);
    }
}
