//! The kill fault: crash some nodes, then restart them with their state gone. The harness sends
//! a restarted node `init` and `topology` again, as a fresh node would get.

use rand::RngExt;
use rand::rngs::ChaCha8Rng;
use rand::seq::SliceRandom;

use super::{Action, FaultEntry, FaultKind, View};

/// Picks the nodes to crash among `candidates`: one, a third (rounded down, at least one) or a
/// minority of them, at random; returned sorted.
pub fn targets(candidates: &[usize], rng: &mut ChaCha8Rng) -> Vec<usize> {
    let count = candidates.len();
    if count == 0 {
        return Vec::new();
    }
    let sizes = [
        1,
        (count.saturating_sub(1) / 3).max(1),
        (count.saturating_sub(1) / 2).max(1),
    ];
    let size = sizes[rng.random_range(0..sizes.len())].min(count);
    pick(candidates, size, rng)
}

/// `size` of `candidates` at random, sorted: the draw every fault's targets come from.
pub fn pick(candidates: &[usize], size: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let mut order = candidates.to_vec();
    order.shuffle(rng);
    let mut targets = order[..size.min(order.len())].to_vec();
    targets.sort_unstable();
    targets
}

/// Kill's registry entry.
pub const ENTRY: FaultEntry = FaultEntry {
    name: "kill",
    window: ("kill", Some("restart")),
    shade: (200, 40, 40),
    chooses_targets: true,
    undone_at_end: true,
    make: || Box::new(Kill),
};

/// Kills some nodes, then restarts every node it killed, alternately.
#[derive(Debug)]
pub struct Kill;

impl FaultKind for Kill {
    fn act(&mut self, view: &View<'_>, rng: &mut ChaCha8Rng) -> Option<Action> {
        if let Some(restart) = self.undo(view) {
            return Some(restart);
        }
        Some(Action::Kill(targets(&view.up(|_| true), rng)))
    }

    fn undo(&mut self, view: &View<'_>) -> Option<Action> {
        (!view.killed.is_empty()).then(|| Action::Restart(view.killed.iter().copied().collect()))
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn targets_are_a_minority_and_never_empty() {
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        for n in [1, 2, 5, 25] {
            let all: Vec<usize> = (0..n).collect();
            for _ in 0..50 {
                let targets = targets(&all, &mut rng);
                assert!(
                    !targets.is_empty() && targets.len() <= n.div_ceil(2),
                    "{n}: {targets:?}"
                );
                assert!(targets.windows(2).all(|pair| pair[0] < pair[1]));
            }
        }
        assert!(targets(&[], &mut rng).is_empty());
    }
}
