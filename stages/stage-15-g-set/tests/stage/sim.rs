//! Stage 15 in the simulated cluster: the g-set workload (track field `elements`) on 5 nodes
//! with partitions stays valid and converges after the heal.

use grader::checker::Validity;
use grader::config::TestConfig;
use grader::sim::simulate;
use stage_15_g_set::GSet;

/// The stage's check: g-set, 5 nodes, rate 20, latency 50, partitions every 2 s or so.
pub fn config(seed: u64) -> TestConfig {
    TestConfig::parse_command(&format!("-w g-set --workload-options read_field=elements --node-count 5 --time-limit 10 --rate 20 --latency 50 --latency-dist constant --nemesis partition --nemesis-interval 2 --recovery 3 --seed {seed}")).expect("valid flags")
}

#[test]
fn valid_under_partitions_and_converged_after_the_heal() {
    for seed in 1..=3 {
        let run = simulate::<GSet>(&config(seed), &[]).unwrap();
        assert_eq!(
            run.report.valid,
            Validity::Valid,
            "seed {seed}: {}",
            run.summary
        );
        assert!(
            run.report.net.dropped["partition"] > 0,
            "seed {seed}: the partitions cut"
        );
        let after = run.report.convergence.after_ms.expect("converged");
        // Each node pushes its set to one random peer every 200 ms: among 5 nodes a missing
        // element spreads to all within a handful of rounds.
        assert!(after <= 2_000, "seed {seed}: {after} ms");
    }
}
