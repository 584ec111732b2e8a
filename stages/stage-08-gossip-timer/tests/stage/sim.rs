//! Stage 08 in the simulated cluster: valid under partitions, converging after the heal.

use grader::checker::Validity;
use grader::config::TestConfig;
use grader::sim::simulate;
use stage_08_gossip_timer::GossipTimer;

/// The stage's check: 10 nodes, rate 50, latency 50, partitions.
pub fn config(seed: u64) -> TestConfig {
    TestConfig::parse_command(&format!("--node-count 10 --time-limit 20 --rate 50 --latency 50 --latency-dist constant --nemesis partition --recovery 5 --seed {seed}")).expect("valid flags")
}

#[test]
fn valid_under_partitions_and_converged_after_the_heal() {
    for seed in 1..=3 {
        let run = simulate::<GossipTimer>(&config(seed), &[]).unwrap();
        assert_eq!(
            run.report.valid,
            Validity::Valid,
            "seed {seed}: {}",
            run.summary
        );
        let after = run.report.convergence.after_ms.expect("converged");
        assert!(after <= 3000, "seed {seed}: {after} ms");
    }
}
