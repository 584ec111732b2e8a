//! Stage 17 in the simulated cluster: the lww-kv workload on 5 nodes with partitions: the
//! replicas converge on every key, on the right winner, and lost writes are counted (none
//! here: the simulated nodes share one clock and clients wait no time, so a later write is
//! also a later stamp).

use grader::checker::Validity;
use grader::config::TestConfig;
use grader::sim::simulate;
use stage_17_lww_kv::LwwKv;

/// The stage's check: lww-kv on 3 keys, 5 nodes, 15 workers (every node reads every key at
/// the end), rate 20, latency 50, partitions every 2 s or so.
fn config(seed: u64) -> TestConfig {
    TestConfig::parse_command(&format!("-w lww-kv --node-count 5 --concurrency 15 --time-limit 10 --rate 20 --latency 50 --latency-dist constant --nemesis partition --nemesis-interval 2 --recovery 3 --seed {seed}")).expect("valid flags")
}

#[test]
fn replicas_converge_on_the_right_winner_under_partitions_and_lost_writes_are_counted() {
    for seed in 1..=3 {
        let run = simulate::<LwwKv>(&config(seed), &[]).unwrap();
        assert_eq!(
            run.report.valid,
            Validity::Valid,
            "seed {seed}: {}",
            run.summary
        );
        let keys = run.results["workload"]["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 3, "seed {seed}: every key read at the end");
        assert!(run.report.convergence.after_ms.is_some(), "seed {seed}");
        println!(
            "seed {seed}: {} writes acknowledged, {} lost, converged {:?} ms after the heal",
            run.report
                .figure_u64("/workload/acknowledged_count")
                .unwrap(),
            run.report.figure_u64("/workload/lost_write_count").unwrap(),
            run.report.convergence.after_ms
        );
    }
}
