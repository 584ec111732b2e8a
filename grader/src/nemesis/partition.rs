//! The partition fault: Maelstrom's four grudges, applied by the network at delivery.

use rand::RngExt;
use rand::rngs::ChaCha8Rng;
use rand::seq::SliceRandom;
use serde_json::{Value as Json, json};

use super::{Action, FaultEntry, FaultKind, View};

/// The four grudges Maelstrom's partition nemesis picks from (`:primaries` is excluded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrudgeKind {
    /// Isolate one random node.
    One,
    /// Split off `floor((n-1)/3)` random nodes.
    MinorityThird,
    /// Bisect at random, the smaller half first.
    Majority,
    /// Every node sees a different majority: its neighbours on a random ring.
    MajoritiesRing,
}

impl GrudgeKind {
    /// All four, in Maelstrom's order.
    pub const ALL: [GrudgeKind; 4] = [
        GrudgeKind::One,
        GrudgeKind::MinorityThird,
        GrudgeKind::Majority,
        GrudgeKind::MajoritiesRing,
    ];

    /// The name in the history.
    pub fn name(self) -> &'static str {
        match self {
            GrudgeKind::One => "one",
            GrudgeKind::MinorityThird => "minority-third",
            GrudgeKind::Majority => "majority",
            GrudgeKind::MajoritiesRing => "majorities-ring",
        }
    }
}

/// A partition: which links are cut (symmetric), plus a description for the history.
#[derive(Debug, Clone)]
pub struct Grudge {
    /// `cut[a][b]`: messages between node indexes a and b are dropped (both ways).
    pub cut: Vec<Vec<bool>>,
    /// What the history records.
    pub description: Json,
}

impl Grudge {
    /// Draws a grudge of a random kind for `nodes`.
    pub fn random(nodes: &[String], rng: &mut ChaCha8Rng) -> Grudge {
        let kind = GrudgeKind::ALL[rng.random_range(0..GrudgeKind::ALL.len())];
        Grudge::of_kind(kind, nodes, rng)
    }

    /// Draws a grudge of the given kind for `nodes`.
    pub fn of_kind(kind: GrudgeKind, nodes: &[String], rng: &mut ChaCha8Rng) -> Grudge {
        let n = nodes.len();
        let mut order: Vec<usize> = (0..n).collect();
        order.shuffle(rng);
        let names = |indexes: &[usize]| -> Vec<&str> {
            indexes.iter().map(|i| nodes[*i].as_str()).collect()
        };
        match kind {
            GrudgeKind::One | GrudgeKind::MinorityThird | GrudgeKind::Majority => {
                let split = match kind {
                    GrudgeKind::One => 1.min(n),
                    GrudgeKind::MinorityThird => (n.saturating_sub(1)) / 3,
                    _ => n / 2,
                };
                let (first, rest) = order.split_at(split);
                let mut side = vec![1u8; n];
                for &index in first {
                    side[index] = 0;
                }
                let cut = (0..n)
                    .map(|a| (0..n).map(|b| side[a] != side[b]).collect())
                    .collect();
                let mut first = first.to_vec();
                let mut rest = rest.to_vec();
                first.sort_unstable();
                rest.sort_unstable();
                Grudge {
                    cut,
                    description: json!({"grudge": kind.name(), "components": [names(&first), names(&rest)]}),
                }
            }
            GrudgeKind::MajoritiesRing => {
                // Each node keeps the nodes within `reach` ring positions, which is a majority;
                // the reach is the same both ways, so the cut is symmetric.
                let majority = n / 2 + 1;
                let reach = majority / 2;
                let mut position = vec![0usize; n];
                for (place, &index) in order.iter().enumerate() {
                    position[index] = place;
                }
                let cut = (0..n)
                    .map(|a| {
                        (0..n)
                            .map(|b| {
                                let gap = position[a].abs_diff(position[b]);
                                gap.min(n - gap) > reach
                            })
                            .collect()
                    })
                    .collect();
                Grudge {
                    cut,
                    description: json!({"grudge": kind.name(), "ring": names(&order)}),
                }
            }
        }
    }

    /// The nodes each node can still reach, itself included.
    pub fn visible_counts(&self) -> Vec<usize> {
        self.cut
            .iter()
            .map(|row| row.iter().filter(|cut| !**cut).count())
            .collect()
    }
}

/// Partition's registry entry.
pub const ENTRY: FaultEntry = FaultEntry {
    name: "partition",
    window: ("start_partition", Some("stop_partition")),
    shade: (230, 120, 30),
    chooses_targets: false,
    undone_at_end: true,
    make: || Box::new(Partition),
};

/// Cuts the network with one of Maelstrom's grudges, at random, then heals it, alternately.
#[derive(Debug)]
pub struct Partition;

impl FaultKind for Partition {
    fn act(&mut self, view: &View<'_>, rng: &mut ChaCha8Rng) -> Option<Action> {
        if let Some(heal) = self.undo(view) {
            return Some(heal);
        }
        Some(Action::Partition(Grudge::random(view.nodes, rng)))
    }

    fn undo(&mut self, view: &View<'_>) -> Option<Action> {
        view.partitioned.then_some(Action::Heal)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use rand::SeedableRng;

    use super::*;
    use crate::topology::node_names;

    fn symmetric(grudge: &Grudge) -> bool {
        let n = grudge.cut.len();
        (0..n).all(|a| !grudge.cut[a][a] && (0..n).all(|b| grudge.cut[a][b] == grudge.cut[b][a]))
    }

    #[test]
    fn every_grudge_is_symmetric_and_never_cuts_a_node_from_itself() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for n in [1, 2, 3, 5, 10, 25] {
            for kind in GrudgeKind::ALL {
                let grudge = Grudge::of_kind(kind, &node_names(n), &mut rng);
                assert!(symmetric(&grudge), "{kind:?} on {n}");
            }
        }
    }

    #[test]
    fn component_grudges_split_at_maelstroms_sizes() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let nodes = node_names(10);
        let minority = |kind| {
            Grudge::of_kind(kind, &nodes, &mut ChaCha8Rng::seed_from_u64(9))
                .visible_counts()
                .into_iter()
                .min()
                .unwrap()
        };
        assert_eq!(minority(GrudgeKind::One), 1);
        assert_eq!(minority(GrudgeKind::MinorityThird), 3);
        assert_eq!(minority(GrudgeKind::Majority), 5);
        let majority = Grudge::of_kind(GrudgeKind::Majority, &node_names(5), &mut rng);
        let mut sizes = majority.visible_counts();
        sizes.sort_unstable();
        assert_eq!(sizes, [2, 2, 3, 3, 3]);
    }

    #[test]
    fn in_a_majorities_ring_every_node_sees_a_majority_but_no_two_the_same_on_five() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for n in [3, 4, 5, 7, 10, 25] {
            let grudge = Grudge::of_kind(GrudgeKind::MajoritiesRing, &node_names(n), &mut rng);
            assert!(
                grudge.visible_counts().iter().all(|seen| *seen > n / 2),
                "n={n}"
            );
        }
        let grudge = Grudge::of_kind(GrudgeKind::MajoritiesRing, &node_names(5), &mut rng);
        let views: BTreeSet<Vec<bool>> = grudge.cut.iter().cloned().collect();
        assert_eq!(views.len(), 5);
        assert!(grudge.visible_counts().iter().all(|seen| *seen == 3));
    }
}
