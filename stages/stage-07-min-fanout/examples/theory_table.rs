//! Prints the measured-versus-theory tables in the stage README:
//! `cargo run --release -p stage-07-min-fanout --example theory_table`.

use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;
use stage_07_min_fanout::{forward_once_success, simulate_push};

fn main() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    println!("push gossip, fanout 1: rounds until all informed (10,000 trials each)");
    println!("| N | measured | log2 N + ln N |");
    println!("|---:|---:|---:|");
    for n in [10, 25, 100, 1000] {
        let (_, rounds) = simulate_push(n, 1, 1, 10_000, &mut rng);
        let theory = (n as f64).log2() + (n as f64).ln();
        println!("| {n} | {rounds:.2} | {theory:.2} |");
    }
    println!();
    println!(
        "infect-and-forward-once with fanout k = ln N + c: P(everyone informed) (10,000 trials each)"
    );
    println!("| N | k | c = k - ln N | measured | exp(-exp(-c)) |");
    println!("|---:|---:|---:|---:|---:|");
    for n in [25, 100, 1000] {
        for k in [4, 6, 8, 11] {
            let c = k as f64 - (n as f64).ln();
            let measured = forward_once_success(n, k, 10_000, &mut rng);
            let theory = (-(-c).exp()).exp();
            println!("| {n} | {k} | {c:.2} | {measured:.3} | {theory:.3} |");
        }
    }
}
