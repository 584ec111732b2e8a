//! The Raft node in the simulated cluster, with the guide's command under partitions: every key
//! linearizable, in both of the checker's modes, and the cluster writes through the partitions
//! (a majority side elects a leader and goes on).

use grader::checker::Validity;
use grader::sim::simulate_command;
use guide_6_raft::Raft;

#[test]
fn the_guides_run_is_linearizable_under_partitions_and_keeps_writing() {
    // The guide: `maelstrom test -w lin-kv --bin B --node-count 3 --concurrency 4n --rate 100
    // --time-limit 20 --nemesis partition --nemesis-interval 3` (its chapter varies the figures).
    for (seed, mode) in [(1, ""), (2, "--workload-options strict=true")] {
        let run = simulate_command::<Raft>(&format!(
            "-w lin-kv --node-count 3 --concurrency 4n --rate 100 --time-limit 20 --nemesis partition --nemesis-interval 3 --latency 5 --seed {seed} {mode}"
        ));
        assert_eq!(
            run.report.valid,
            Validity::Valid,
            "seed {seed}: {}",
            run.summary
        );
        let ok = |f: &str| {
            run.results
                .pointer(&format!("/stats/by_f/{f}/ok_count"))
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(0)
        };
        assert!(
            ok("write") >= 50 && ok("cas") >= 20 && ok("read") >= 100,
            "seed {seed}: too little got through: {} writes, {} cas, {} reads\n{}",
            ok("write"),
            ok("cas"),
            ok("read"),
            run.summary
        );
    }
}
