//! The crash fault (crash-stop): some nodes are killed and stay down until the end of the run.
//! Each strike takes one or several of the nodes still up; in all, never more than half the
//! candidates (at least one), so that there are survivors to judge.

use rand::RngExt;
use rand::rngs::ChaCha8Rng;
use std::time::Duration;

use super::{Action, FaultEntry, FaultKind, View};

/// The most nodes crash takes in a run with `candidates` candidates: half of them, at least one.
pub fn budget(candidates: usize) -> usize {
    (candidates / 2).max(1).min(candidates)
}

/// Picks the next nodes to crash among `up`, given that `crashed` of the `candidates` are down
/// already: between one and what the budget leaves, at random; empty once it is spent. Sorted.
pub fn targets(
    up: &[usize],
    crashed: usize,
    candidates: usize,
    rng: &mut ChaCha8Rng,
) -> Vec<usize> {
    let room = budget(candidates).saturating_sub(crashed).min(up.len());
    if room == 0 {
        return Vec::new();
    }
    let size = rng.random_range(1..=room);
    super::kill::pick(up, size, rng)
}

/// Crash's registry entry.
pub const ENTRY: FaultEntry = FaultEntry {
    name: "crash",
    window: ("crash", None),
    shade: (90, 90, 90),
    chooses_targets: true,
    undone_at_end: false,
    make: || Box::new(Crash),
};

/// Kills some nodes for good, a few at a time, never more than half the candidates in all.
#[derive(Debug)]
pub struct Crash;

impl FaultKind for Crash {
    /// One interval in, so that it strikes mid-run.
    fn first_delay(&self, interval: Duration) -> Duration {
        interval
    }

    fn act(&mut self, view: &View<'_>, rng: &mut ChaCha8Rng) -> Option<Action> {
        // A paused node is left alone: it would have to be resumed to die cleanly.
        let up = view.up(|node| !view.paused.contains(&node));
        let targets = targets(&up, view.crashed.len(), view.candidates.len(), rng);
        (!targets.is_empty()).then_some(Action::Crash(targets))
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn strikes_take_at_least_one_and_never_exceed_half_the_candidates() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for candidates in [1, 2, 6, 25] {
            for _ in 0..30 {
                let mut up: Vec<usize> = (0..candidates).collect();
                let mut crashed = 0;
                loop {
                    let strike = targets(&up, crashed, candidates, &mut rng);
                    if strike.is_empty() {
                        break;
                    }
                    assert!(strike.windows(2).all(|pair| pair[0] < pair[1]));
                    assert!(strike.iter().all(|node| up.contains(node)), "{strike:?}");
                    up.retain(|node| !strike.contains(node));
                    crashed += strike.len();
                }
                assert_eq!(crashed, budget(candidates), "{candidates} candidates");
                assert!(crashed >= 1 && (candidates == 1 || crashed <= candidates / 2));
            }
        }
        assert!(targets(&[], 0, 4, &mut rng).is_empty());
    }
}
