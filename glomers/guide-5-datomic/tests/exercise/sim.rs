//! The Datomic node in the simulated cluster with the guide's commands: strict serializable on
//! one and two nodes and at ten clients per node; most transactions commit and the rest are
//! aborted with error 30, never left unknown. With twenty clients racing for the one root, at
//! 5 ms a message, about half abort: every committed write changes the root, so any two
//! transactions that write at once conflict.

use grader::checker::Validity;
use grader::sim::simulate_command;
use guide_5_datomic::Datomic;

#[test]
fn the_guides_runs_are_strict_serializable_and_mostly_commit() {
    // The guide: `maelstrom test -w txn-list-append --bin B --node-count 1|2 --time-limit 10
    // --rate 1…100`, then `--concurrency 10n` (shortened here).
    for (seed, flags, committed) in [
        (1, "--node-count 1 --rate 100", 0.75),
        (2, "--node-count 2 --rate 100", 0.75),
        (
            3,
            "--node-count 2 --rate 100 --concurrency 10n --latency 5",
            0.4,
        ),
    ] {
        let run = simulate_command::<Datomic>(&format!(
            "-w txn-list-append --time-limit 5 --seed {seed} {flags}"
        ));
        assert_eq!(
            run.report.valid,
            Validity::Valid,
            "{flags}: {}",
            run.summary
        );
        let count = |field: &str| {
            run.results
                .pointer(&format!("/stats/by_f/txn/{field}"))
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(0)
        };
        let (ok, failed, unknown) = (count("ok_count"), count("fail_count"), count("info_count"));
        assert!(
            ok >= 200 && ok as f64 >= committed * (ok + failed) as f64 && unknown == 0,
            "{flags}: {ok} committed, {failed} aborted, {unknown} unknown\n{}",
            run.summary
        );
        // Every transaction talks to the services: at least a read of the root each.
        let services = run.report.net.servers.send_count;
        assert!(
            services as u64 >= 2 * (ok + failed),
            "{services} messages: {}",
            run.summary
        );
    }
}
