//! Stage 09 in the simulated cluster: valid under partitions, and cheaper in bytes than stage 08
//! on the same config and seed.

use grader::checker::Validity;
use grader::config::TestConfig;
use grader::harness::RunReport;
use grader::run::side_by_side;
use grader::sim::simulate;
use stage_08_gossip_timer::GossipTimer;
use stage_09_anti_entropy::AntiEntropy;

fn config(seed: u64) -> TestConfig {
    TestConfig::parse_command(&format!("--node-count 10 --time-limit 20 --rate 50 --latency 50 --latency-dist constant --nemesis partition --recovery 5 --seed {seed}")).expect("valid flags")
}

fn bytes_per_op(report: &RunReport) -> f64 {
    report.net.servers.bytes as f64 / report.history.client_invocations() as f64
}

#[test]
fn digests_first_move_a_fraction_of_stage_08s_bytes_and_stay_valid() {
    // The seeds' runs are independent: side by side they take the time of the slowest.
    let runs = side_by_side(1..=3, |seed| {
        let digests = simulate::<AntiEntropy>(&config(seed), &[]).unwrap();
        (
            digests,
            simulate::<GossipTimer>(&config(seed), &[]).unwrap(),
        )
    });
    for (seed, (digests, pushes)) in (1..).zip(runs) {
        assert_eq!(
            digests.report.valid,
            Validity::Valid,
            "seed {seed}: {}",
            digests.summary
        );
        assert_eq!(
            pushes.report.valid,
            Validity::Valid,
            "seed {seed}: {}",
            pushes.summary
        );
        assert!(digests.report.convergence.after_ms.is_some());
        let ratio = bytes_per_op(&digests.report) / bytes_per_op(&pushes.report);
        assert!(
            ratio < 0.5,
            "seed {seed}: stage 09 moves {ratio:.2} of stage 08's bytes per op"
        );
    }
}
