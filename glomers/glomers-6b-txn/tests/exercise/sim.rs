//! The replicated store in the simulated cluster with Fly.io's 6b commands: valid and totally
//! available without faults and under partitions, under read-uncommitted and read-committed
//! alike, with every node's writes replicated.

use glomers_6b_txn::ReplicatedStore;
use grader::checker::Validity;
use grader::sim::simulate_command;

#[test]
fn fly_ios_6b_runs_are_valid_and_totally_available_with_and_without_partitions() {
    // Fly.io: `-w txn-rw-register --bin B --node-count 2 --concurrency 2n --time-limit 20
    // --rate 1000 --consistency-models read-uncommitted`, then with `--availability total
    // --nemesis partition` (shortened here; read-committed is 6c's model).
    for extra in ["", "--nemesis partition"] {
        for models in ["read-uncommitted", "read-committed"] {
            let run = simulate_command::<ReplicatedStore>(&format!(
                "-w txn-rw-register --node-count 2 --concurrency 2n --time-limit 5 --rate 1000 --consistency-models {models} --availability total --seed 1 {extra}"
            ));
            assert_eq!(
                run.report.valid,
                Validity::Valid,
                "{models} {extra}: {}",
                run.summary
            );
            let replicated = run.report.net.servers.send_count;
            assert!(
                replicated > 50,
                "{replicated} messages between nodes: {}",
                run.summary
            );
        }
    }
}
