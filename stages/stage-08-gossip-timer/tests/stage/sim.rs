//! Stage 08 in the simulated cluster: valid under partitions, converging after the heal.

use std::collections::BTreeSet;
use std::time::Duration;

use grader::checker::Validity;
use grader::config::TestConfig;
use grader::nemesis::Fault;
use grader::net::{Latency, LatencyDistribution};
use grader::sim::simulate;
use stage_08_gossip_timer::GossipTimer;

/// The stage's check: 10 nodes, rate 50, latency 50, partitions.
pub fn config(seed: u64) -> TestConfig {
    TestConfig {
        node_count: 10,
        concurrency: 10,
        time_limit: Duration::from_secs(20),
        rate: 50.0,
        latency: Latency {
            mean_ms: 50.0,
            distribution: LatencyDistribution::Constant,
        },
        faults: BTreeSet::from([Fault::Partition]),
        recovery: Duration::from_secs(5),
        seed,
        ..TestConfig::default()
    }
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
