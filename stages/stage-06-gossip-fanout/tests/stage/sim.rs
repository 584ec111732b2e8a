//! Stage 06 in the simulated cluster: measured coverage against the theory of rumor spreading.
//!
//! Each run spreads about a thousand values on 25 nodes; the tolerance is justified in the
//! README: at n = 25 the reach is above the large-n limit (the finite-cluster fixed point
//! predicts +0.061 at K = 2 and +0.011 at K = 4), and one run's coverage varies by about 0.004
//! between seeds.

use grader::config::TestConfig;
use grader::run::side_by_side;
use grader::sim::simulate;
use stage_06_gossip_fanout::{GossipFanout, reach_fraction, reach_fraction_in};

fn coverage(fanout: usize, seed: u64) -> f64 {
    let config = TestConfig::parse_command(&format!(
        "--node-count 25 --time-limit 20 --rate 100 --recovery 1 --seed {seed}"
    ))
    .expect("valid flags");
    let run = simulate::<GossipFanout>(&config, &["--fanout".into(), fanout.to_string()]).unwrap();
    assert!(
        run.report.figure_u64("/coverage/values").unwrap() > 900,
        "enough values: {}",
        run.report.figure_u64("/coverage/values").unwrap()
    );
    run.report.figure_f64("/coverage/fraction").unwrap()
}

fn mean_coverage(fanout: usize) -> f64 {
    // The seeds' runs are independent: side by side they take the time of the slowest.
    let runs = side_by_side(1..=3, |seed| coverage(fanout, seed));
    runs.iter().sum::<f64>() / runs.len() as f64
}

#[test]
fn coverage_matches_the_theory_at_k_2_and_k_4_and_rises_with_k() {
    let (two, four) = (mean_coverage(2), mean_coverage(4));
    // Against the large-n formula x = 1 - e^(-Kx): above it by the finite-size shift, within
    // the shift plus 0.01 for sampling.
    assert!(
        two >= reach_fraction(2.0) - 0.01 && two <= reach_fraction(2.0) + 0.07,
        "K=2: {two}"
    );
    assert!(
        four >= reach_fraction(4.0) - 0.01 && four <= reach_fraction(4.0) + 0.02,
        "K=4: {four}"
    );
    // Against the 25-node fixed point, tighter.
    assert!(
        (two - reach_fraction_in(2.0, 25)).abs() <= 0.03,
        "K=2: {two}"
    );
    assert!(
        (four - reach_fraction_in(4.0, 25)).abs() <= 0.01,
        "K=4: {four}"
    );
    assert!(four > two);
}

#[test]
fn a_fanout_of_one_dies_out_early() {
    // Below the threshold K = 1 the rumor reaches a vanishing fraction of a large cluster.
    assert!(coverage(1, 1) < 0.5);
}
