//! Stage 07, fanout probability: gossip theory as a service.
//!
//! - `calc_fanout {nodes, target_prob, rounds}`: the smallest fanout K (1..=N−1) whose per-node
//!   miss probability after R rounds, (1 − K/(N−1))^R, is at most 1 − target_prob
//!   ([`min_fanout`]).
//! - `simulate_gossip {nodes, fanout, rounds, trials}`: a Monte Carlo of round-based push gossip
//!   in which every informed node tells `fanout` random others each round ([`simulate_push`]).
//!
//! ```
//! use stage_07_min_fanout::min_fanout;
//!
//! // Five nodes, five rounds, 99%: K = 3 misses a node with probability 0.25^5.
//! let (k, miss) = min_fanout(5, 0.99, 5);
//! assert_eq!(k, 3);
//! assert!((miss - 0.25_f64.powi(5)).abs() < 1e-12);
//! ```

use common::{Context, ErrorCode, Message, NoTimer, Node, RpcError};
use rand::Rng;
use rand::RngExt;
use serde::{Deserialize, Serialize};

/// The stage's messages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Payload {
    /// Asks for the smallest fanout that meets a delivery target.
    CalcFanout {
        /// Cluster size N.
        nodes: u64,
        /// The wanted probability that a node is reached.
        target_prob: f64,
        /// Rounds R.
        rounds: u32,
    },
    /// The answer.
    CalcFanoutOk {
        /// The smallest K in 1..=N−1 that meets the target.
        min_fanout: u64,
        /// That K's miss probability, (1 − K/(N−1))^R.
        miss_prob: f64,
    },
    /// Asks for a Monte Carlo of push gossip.
    SimulateGossip {
        /// Cluster size.
        nodes: u64,
        /// Others each informed node tells per round.
        fanout: u64,
        /// Rounds that bound `delivery_rate`.
        rounds: u32,
        /// Independent trials.
        trials: u32,
    },
    /// The answer.
    SimulateGossipOk {
        /// Mean fraction of nodes informed after `rounds`.
        delivery_rate: f64,
        /// Mean rounds until every node was informed (trials go on past `rounds`, up to 10·N).
        avg_rounds_to_all: f64,
    },
}

/// The largest cluster `simulate_gossip` accepts.
pub const MAX_SIM_NODES: u64 = 10_000;
/// The largest trials × nodes product `simulate_gossip` accepts, so one request stays quick.
pub const MAX_SIM_WORK: u64 = 50_000_000;

/// The smallest K in 1..=N−1 with (1 − K/(N−1))^R ≤ 1 − target, and that K's miss probability.
/// A cluster of one node needs no fanout: (0, 0.0).
pub fn min_fanout(nodes: u64, target_prob: f64, rounds: u32) -> (u64, f64) {
    if nodes <= 1 {
        return (0, 0.0);
    }
    let others = (nodes - 1) as f64;
    let allowed = 1.0 - target_prob;
    let miss = |k: u64| (1.0 - k as f64 / others).powi(rounds as i32);
    // K = N − 1 misses nobody, so the search always ends.
    let k = (1..nodes)
        .find(|&k| miss(k) <= allowed)
        .unwrap_or(nodes - 1);
    (k, miss(k))
}

/// One trial of push gossip from node 0: returns (informed after `rounds`, rounds until all were
/// informed, or `cap` if that never happened within `cap` rounds).
pub fn push_trial(
    nodes: usize,
    fanout: usize,
    rounds: u32,
    cap: u32,
    rng: &mut impl Rng,
) -> (usize, u32) {
    let mut informed = vec![false; nodes];
    informed[0] = true;
    let mut count = 1;
    let mut at_rounds = if rounds == 0 { 1 } else { 0 };
    let fanout = fanout.min(nodes.saturating_sub(1));
    let mut round = 0;
    while count < nodes && round < cap {
        round += 1;
        let senders: Vec<usize> = (0..nodes).filter(|node| informed[*node]).collect();
        for sender in senders {
            // `fanout` distinct others: draw from the other nodes without replacement.
            let mut picked = Vec::with_capacity(fanout);
            while picked.len() < fanout {
                let mut target = rng.random_range(0..nodes - 1);
                if target >= sender {
                    target += 1;
                }
                if !picked.contains(&target) {
                    picked.push(target);
                }
            }
            for target in picked {
                if !informed[target] {
                    informed[target] = true;
                    count += 1;
                }
            }
        }
        if round == rounds {
            at_rounds = count;
        }
    }
    if round < rounds {
        at_rounds = count; // Everyone was informed before `rounds`.
    }
    (at_rounds, if count == nodes { round } else { cap })
}

/// The Monte Carlo behind `simulate_gossip`: (delivery_rate, avg_rounds_to_all).
pub fn simulate_push(
    nodes: usize,
    fanout: usize,
    rounds: u32,
    trials: u32,
    rng: &mut impl Rng,
) -> (f64, f64) {
    if nodes == 0 || trials == 0 {
        return (0.0, 0.0);
    }
    let cap = u32::try_from(10 * nodes).unwrap_or(u32::MAX);
    let (mut delivered, mut to_all) = (0.0, 0.0);
    for _ in 0..trials {
        let (informed, all) = push_trial(nodes, fanout, rounds, cap, rng);
        delivered += informed as f64 / nodes as f64;
        to_all += f64::from(all);
    }
    (delivered / f64::from(trials), to_all / f64::from(trials))
}

/// Infect-and-forward-once: the source tells `fanout` random others, and every node that hears
/// the rumor for the first time tells `fanout` random others (not itself), once. Returns the
/// fraction of trials in which every node heard it (Kermarrec, Massoulié and Ganesh's setting).
pub fn forward_once_success(nodes: usize, fanout: usize, trials: u32, rng: &mut impl Rng) -> f64 {
    let mut successes = 0;
    for _ in 0..trials {
        let mut informed = vec![false; nodes];
        informed[0] = true;
        let mut count = 1;
        let mut frontier = vec![0];
        while let Some(sender) = frontier.pop() {
            for _ in 0..fanout.min(nodes - 1) {
                let mut target = rng.random_range(0..nodes - 1);
                if target >= sender {
                    target += 1;
                }
                if !informed[target] {
                    informed[target] = true;
                    count += 1;
                    frontier.push(target);
                }
            }
        }
        successes += u32::from(count == nodes);
    }
    f64::from(successes) / f64::from(trials)
}

/// The node: answers the two questions; it takes no flags and sets no timers.
#[derive(Debug, Default)]
pub struct MinFanout;

fn malformed(text: &str) -> RpcError {
    RpcError::new(ErrorCode::MalformedRequest, text)
}

impl Node for MinFanout {
    type Payload = Payload;
    type Timer = NoTimer;
    type Flags = common::NoFlags;

    fn new(_: common::NoFlags) -> Self {
        MinFanout
    }

    fn on_message(
        &mut self,
        msg: Message<Payload>,
        ctx: &mut Context<Payload, NoTimer>,
    ) -> Result<(), RpcError> {
        match msg.body.payload {
            Payload::CalcFanout {
                nodes,
                target_prob,
                rounds,
            } => {
                if !(0.0..=1.0).contains(&target_prob) {
                    return Err(malformed("target_prob must be a probability, from 0 to 1"));
                }
                let (min_fanout, miss_prob) = min_fanout(nodes, target_prob, rounds);
                ctx.reply(
                    &msg,
                    Payload::CalcFanoutOk {
                        min_fanout,
                        miss_prob,
                    },
                );
            }
            Payload::SimulateGossip {
                nodes,
                fanout,
                rounds,
                trials,
            } => {
                if nodes == 0 || nodes > MAX_SIM_NODES {
                    return Err(malformed(&format!(
                        "nodes must be from 1 to {MAX_SIM_NODES}"
                    )));
                }
                if nodes.saturating_mul(u64::from(trials)) > MAX_SIM_WORK {
                    return Err(malformed(&format!(
                        "nodes × trials must be at most {MAX_SIM_WORK}; ask for fewer trials"
                    )));
                }
                if fanout == 0 && nodes > 1 {
                    return Err(malformed(
                        "fanout must be at least 1, or nobody beyond the source is ever told",
                    ));
                }
                let (delivery_rate, avg_rounds_to_all) =
                    simulate_push(nodes as usize, fanout as usize, rounds, trials, ctx.rng());
                ctx.reply(
                    &msg,
                    Payload::SimulateGossipOk {
                        delivery_rate,
                        avg_rounds_to_all,
                    },
                );
            }
            Payload::CalcFanoutOk { .. } | Payload::SimulateGossipOk { .. } => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::ChaCha8Rng;

    use super::*;

    #[test]
    fn min_fanout_on_a_table_of_inputs() {
        // (N, target, R) -> (K, miss), each K checked by hand against (1 - K/(N-1))^R.
        let table = [
            ((5, 0.99, 5), (3, 0.25_f64.powi(5))),
            ((5, 0.9, 1), (4, 0.0)),
            ((5, 0.5, 1), (2, 0.5)),
            ((10, 0.99, 3), (8, (1.0_f64 / 9.0).powi(3))),
            ((25, 0.999, 10), (12, (12.0_f64 / 24.0).powi(10))),
            ((100, 0.99, 20), (21, (78.0_f64 / 99.0).powi(20))),
            ((2, 0.999_999, 1), (1, 0.0)),
            ((1, 0.99, 5), (0, 0.0)),
            ((25, 0.0, 0), (1, 1.0)),
        ];
        for ((n, p, r), (k, miss)) in table {
            let (got_k, got_miss) = min_fanout(n, p, r);
            assert_eq!(got_k, k, "N={n} p={p} R={r}");
            assert!(
                (got_miss - miss).abs() < 1e-12,
                "N={n} p={p} R={r}: {got_miss} vs {miss}"
            );
            if k > 1 {
                assert!(
                    min_fanout_miss(n, k - 1, r) > 1.0 - p,
                    "K-1 must miss the target"
                );
            }
        }
    }

    fn min_fanout_miss(n: u64, k: u64, r: u32) -> f64 {
        (1.0 - k as f64 / (n - 1) as f64).powi(r as i32)
    }

    #[test]
    fn a_trial_reaches_everyone_eventually_and_counts_rounds() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let (at_rounds, all) = push_trial(2, 1, 1, 20, &mut rng);
        assert_eq!((at_rounds, all), (2, 1));
        let (_, all) = push_trial(1, 1, 3, 10, &mut rng);
        assert_eq!(all, 0);
        let (at_zero, _) = push_trial(10, 1, 0, 100, &mut rng);
        assert_eq!(at_zero, 1, "after zero rounds only the source knows");
    }

    #[test]
    fn delivery_rate_grows_with_rounds_and_fanout() {
        let rate = |fanout, rounds| {
            simulate_push(50, fanout, rounds, 2000, &mut ChaCha8Rng::seed_from_u64(3)).0
        };
        assert!(rate(1, 2) < rate(1, 4));
        assert!(rate(1, 3) < rate(3, 3));
        assert!(
            (rate(1, 1) - 2.0 / 50.0).abs() < 1e-12,
            "one round of fanout 1 informs exactly two"
        );
    }
}
