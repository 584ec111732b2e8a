//! The Monte Carlo against the theory it should reproduce (the README derives the tolerances).

use grader::run::side_by_side;
use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;
use stage_07_min_fanout::{forward_once_success, min_fanout, simulate_push};

#[test]
fn push_with_fanout_one_informs_everyone_in_about_log2_n_plus_ln_n_rounds() {
    // Frieze and Grimmett, Pittel: log2 N + ln N + O(1). The O(1) term measures 0.4 to 1.2
    // rounds for N from 10 to 1000; 2,000 trials put the mean within ±0.05 rounds.
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for n in [25usize, 100, 400] {
        let (_, rounds) = simulate_push(n, 1, 1, 2000, &mut rng);
        let theory = (n as f64).log2() + (n as f64).ln();
        assert!(
            rounds > theory && rounds < theory + 1.5,
            "N={n}: {rounds} against {theory}"
        );
    }
}

#[test]
fn forward_once_with_fanout_ln_n_plus_c_succeeds_with_probability_exp_minus_exp_minus_c() {
    // Kermarrec, Massoulié and Ganesh: P(all) -> exp(-exp(-c)). At N = 100 and 1000 the
    // measured figures are within 0.02 of the limit; 3,000 trials give a standard error of at
    // most 0.009, so 0.04 is three of those plus the finite-size gap.
    // Each case draws from its own generator, so the four run side by side.
    let cases = [(100usize, 6usize), (100, 8), (1000, 8), (1000, 11)];
    let measured = side_by_side(cases.iter().zip(12..), |(&(n, k), seed)| {
        forward_once_success(n, k, 3000, &mut ChaCha8Rng::seed_from_u64(seed))
    });
    for ((n, k), measured) in cases.into_iter().zip(measured) {
        let c = k as f64 - (n as f64).ln();
        let theory = (-(-c).exp()).exp();
        assert!(
            (measured - theory).abs() < 0.04,
            "N={n} k={k}: {measured} against {theory}"
        );
    }
}

#[test]
fn the_formula_and_the_simulation_agree_on_what_a_fanout_buys() {
    // calc_fanout's per-node miss probability after R rounds assumes each round's K targets
    // are independent draws; the simulation's delivery rate must be at least 1 - miss.
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    let (k, miss) = min_fanout(25, 0.99, 4);
    let (delivery, _) = simulate_push(25, k as usize, 4, 2000, &mut rng);
    assert!(
        delivery >= 1.0 - miss - 0.005,
        "K={k}: delivery {delivery}, miss {miss}"
    );
}
