//! The read-committed store in the simulated cluster with Fly.io's 6c command as meant (with
//! partitions) and as written (the en dash makes Maelstrom run none): valid under
//! read-committed and totally available either way.

use glomers_6c_txn::ReadCommittedStore;
use grader::checker::Validity;
use grader::sim::simulate_command;

#[test]
fn fly_ios_6c_run_is_read_committed_and_totally_available_with_and_without_partitions() {
    // Fly.io: `-w txn-rw-register --bin B --node-count 2 --concurrency 2n --time-limit 20
    // --rate 1000 --consistency-models read-committed --availability total –-nemesis
    // partition` (shortened here).
    for extra in ["--nemesis partition", ""] {
        let run = simulate_command::<ReadCommittedStore>(&format!(
            "-w txn-rw-register --node-count 2 --concurrency 2n --time-limit 5 --rate 1000 --consistency-models read-committed --availability total --seed 3 {extra}"
        ));
        assert_eq!(
            run.report.valid,
            Validity::Valid,
            "{extra}: {}",
            run.summary
        );
    }
}
