//! The two-phase-set checker. A 2P-set's elements are added, then may be removed for good (a
//! tombstone wins over any add, before or after). Judged on a history of `add`, `remove` and
//! `read` operations:
//!
//! - **Final reads equal the model.** An element whose add was acknowledged and that no remove
//!   may have touched (none acknowledged or indefinite) must be in every ok final read: missing
//!   is a **lost add**. An element whose remove was acknowledged must be in none: present is
//!   **not removed**. Elements with an indefinite add or remove may go either way.
//! - **No resurrection.** A node that has shown an element (so it had the add) and then, in a
//!   read begun after that read completed and after the remove was acknowledged, no longer
//!   holds it, must never show it again: a read on that node begun after that read completed
//!   and holding it is a **resurrection**. A node that had not yet seen the add may show the
//!   element for the first time later; other nodes may go on showing it until the remove
//!   reaches them: that is staleness, and is timed.
//! - **Stable latency of removes**: from a remove's acknowledgement to the start of the last
//!   read, on any node, that still held the element (0 when none did).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value as Json;

use super::{Validity, quantiles};
use crate::history::{Op, OpKind};

/// One client operation, its invocation and completion paired.
#[derive(Debug, Clone)]
struct Paired {
    f: &'static str,
    element: Option<i64>,
    invoked_ns: u64,
    completed_ns: Option<u64>,
    kind: Option<OpKind>,
    node: String,
    final_read: bool,
    read: Option<BTreeSet<i64>>,
}

/// Each operation, from the history's pairs of invocation and completion.
fn pair(history: &[Op]) -> Vec<Paired> {
    crate::history::paired(history)
        .into_iter()
        .map(|(invocation, completion)| Paired {
            f: invocation.f,
            element: invocation.value.as_i64(),
            invoked_ns: invocation.time_ns,
            completed_ns: completion.map(|op| op.time_ns),
            kind: completion.map(|op| op.kind),
            node: invocation.node.clone().unwrap_or_default(),
            final_read: invocation.final_read,
            read: completion
                .filter(|op| op.kind == OpKind::Ok && invocation.f == "read")
                .map(|op| {
                    op.value
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Json::as_i64)
                        .collect()
                }),
        })
        .collect()
}

/// An element shown again by a node that had already seen it removed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Resurrection {
    /// The element.
    pub element: i64,
    /// The node whose read showed it again.
    pub node: String,
    /// When that read began (ms since the start of the history).
    pub at_ms: u64,
    /// When the remove was acknowledged (ms).
    pub removed_at_ms: u64,
    /// When the same node's earlier read that no longer held it began (ms).
    pub absent_at_ms: u64,
}

/// The `workload` section of a two-phase-set run.
#[derive(Debug, Clone, Serialize)]
pub struct TwoPhaseResult {
    /// Invalid on any lost add, unremoved element or resurrection; unknown without an ok
    /// final read; else valid.
    pub valid: Validity,
    /// Distinct elements whose add was invoked.
    pub attempt_count: usize,
    /// Elements whose add was acknowledged.
    pub added_count: usize,
    /// Elements whose remove was acknowledged.
    pub removed_count: usize,
    /// Acknowledged adds, touched by no remove, missing from some ok final read.
    pub lost_count: usize,
    /// Those elements, sorted, each with the nodes whose final read missed it.
    pub lost: BTreeMap<i64, Vec<String>>,
    /// Elements whose remove was acknowledged but that some ok final read still held.
    pub not_removed_count: usize,
    /// Those elements, with the nodes that still held them.
    pub not_removed: BTreeMap<i64, Vec<String>>,
    /// Elements shown again by a node that had seen them removed.
    pub resurrected_count: usize,
    /// Each resurrection (the first 100).
    pub resurrections: Vec<Resurrection>,
    /// Stable latencies of acknowledged removes in ms, keyed "0", "0.5", "0.95", "0.99", "1".
    pub remove_latencies: BTreeMap<String, u64>,
    /// Elements that ok reads returned but no add ever carried.
    pub unexpected_count: usize,
}

/// How many resurrections the result lists.
pub const RESURRECTIONS_SHOWN: usize = 100;

/// Judges a history of `add`, `remove` and `read` operations (see the module docs).
pub fn check(history: &[Op]) -> TwoPhaseResult {
    let ops = pair(history);
    let ms = |ns: u64| ns / 1_000_000;
    let mut added_invoked: BTreeSet<i64> = BTreeSet::new();
    let mut added_ok: BTreeSet<i64> = BTreeSet::new();
    // Removes that may have taken effect (ok or indefinite), and the first acknowledgement.
    let mut remove_maybe: BTreeSet<i64> = BTreeSet::new();
    let mut removed_at: BTreeMap<i64, u64> = BTreeMap::new();
    for op in &ops {
        let Some(element) = op.element else { continue };
        match (op.f, op.kind) {
            ("add", _) => {
                added_invoked.insert(element);
                if op.kind == Some(OpKind::Ok) {
                    added_ok.insert(element);
                }
            }
            ("remove", Some(OpKind::Ok)) => {
                remove_maybe.insert(element);
                let at = op.completed_ns.unwrap_or(op.invoked_ns);
                let first = removed_at.entry(element).or_insert(at);
                *first = (*first).min(at);
            }
            ("remove", Some(OpKind::Info) | None) => {
                remove_maybe.insert(element);
            }
            _ => {}
        }
    }
    let reads: Vec<&Paired> = ops.iter().filter(|op| op.read.is_some()).collect();
    let finals: Vec<&Paired> = reads.iter().copied().filter(|op| op.final_read).collect();
    let mut lost: BTreeMap<i64, BTreeSet<String>> = BTreeMap::new();
    let mut not_removed: BTreeMap<i64, BTreeSet<String>> = BTreeMap::new();
    for read in &finals {
        let seen = read.read.as_ref().expect("an ok read");
        for element in added_ok.difference(&remove_maybe) {
            if !seen.contains(element) {
                lost.entry(*element).or_default().insert(read.node.clone());
            }
        }
        for element in removed_at.keys() {
            if seen.contains(element) {
                not_removed
                    .entry(*element)
                    .or_default()
                    .insert(read.node.clone());
            }
        }
    }
    // Each node's reads, in invocation order.
    let mut by_node: BTreeMap<&str, Vec<&Paired>> = BTreeMap::new();
    for read in &reads {
        by_node.entry(read.node.as_str()).or_default().push(read);
    }
    for list in by_node.values_mut() {
        list.sort_by_key(|read| read.invoked_ns);
    }
    let mut resurrections = BTreeSet::new();
    let mut latencies = Vec::new();
    for (&element, &removed) in &removed_at {
        for (node, list) in &by_node {
            // Walking the node's reads in invocation order: the earliest completion of a read
            // that held the element (so the node had its add), then the earliest completion of
            // a read begun after that and after the remove's acknowledgement that no longer
            // held it (so the node had its tombstone, or forgot it).
            let mut held: Option<u64> = None;
            let mut absent: Option<(u64, u64)> = None;
            for read in list {
                let holds = read
                    .read
                    .as_ref()
                    .is_some_and(|seen| seen.contains(&element));
                let done = read.completed_ns.unwrap_or(u64::MAX);
                if holds {
                    if let Some((completed, absent_at)) = absent
                        && read.invoked_ns > completed
                    {
                        resurrections.insert(Resurrection {
                            element,
                            node: (*node).to_owned(),
                            at_ms: ms(read.invoked_ns),
                            removed_at_ms: ms(removed),
                            absent_at_ms: ms(absent_at),
                        });
                    }
                    held = Some(held.map_or(done, |held| held.min(done)));
                } else if read.invoked_ns > removed
                    && held.is_some_and(|held| read.invoked_ns > held)
                    && absent.is_none_or(|(completed, _)| done < completed)
                {
                    absent = Some((done, read.invoked_ns));
                }
            }
        }
        let last_holding = reads
            .iter()
            .filter(|read| read.invoked_ns > removed)
            .filter(|read| {
                read.read
                    .as_ref()
                    .is_some_and(|seen| seen.contains(&element))
            })
            .map(|read| read.invoked_ns)
            .max();
        latencies.push(last_holding.map_or(0, |at| ms(at - removed)));
    }
    let unexpected_count = reads
        .iter()
        .flat_map(|read| read.read.iter().flatten())
        .filter(|element| !added_invoked.contains(element))
        .collect::<BTreeSet<_>>()
        .len();
    let resurrected: BTreeSet<i64> = resurrections.iter().map(|r| r.element).collect();
    let valid = if !lost.is_empty() || !not_removed.is_empty() || !resurrections.is_empty() {
        Validity::Invalid
    } else if finals.is_empty() {
        Validity::Unknown
    } else {
        Validity::Valid
    };
    let listed = |map: BTreeMap<i64, BTreeSet<String>>| -> BTreeMap<i64, Vec<String>> {
        map.into_iter()
            .map(|(element, nodes)| (element, nodes.into_iter().collect()))
            .collect()
    };
    TwoPhaseResult {
        valid,
        attempt_count: added_invoked.len(),
        added_count: added_ok.len(),
        removed_count: removed_at.len(),
        lost_count: lost.len(),
        lost: listed(lost),
        not_removed_count: not_removed.len(),
        not_removed: listed(not_removed),
        resurrected_count: resurrected.len(),
        resurrections: resurrections
            .into_iter()
            .take(RESURRECTIONS_SHOWN)
            .collect(),
        remove_latencies: quantiles(&latencies),
        unexpected_count,
    }
}

#[cfg(test)]
mod tests {
    use rand::rngs::ChaCha8Rng;
    use rand::{RngExt, SeedableRng};
    use serde_json::json;

    use super::*;
    use crate::checker::testing::Builder;

    /// `(process, node, f, element or read, invoked ms, completion, completed ms, final)`.
    type Step = (
        u64,
        &'static str,
        &'static str,
        Json,
        u64,
        OpKind,
        u64,
        bool,
    );

    fn history(steps: &[Step]) -> Builder {
        // Entries go in in time order, as the harness appends them.
        let mut entries: Vec<(u64, u64, &str, OpKind, &'static str, Json, bool)> = Vec::new();
        for (process, node, f, value, invoked, kind, completed, last) in steps {
            let invocation = if *f == "read" {
                Json::Null
            } else {
                value.clone()
            };
            entries.push((
                *invoked,
                *process,
                node,
                OpKind::Invoke,
                f,
                invocation,
                *last,
            ));
            entries.push((*completed, *process, node, *kind, f, value.clone(), *last));
        }
        entries.sort_by_key(|entry| (entry.0, entry.3 != OpKind::Invoke));
        let mut builder = Builder::new();
        for (ms, process, node, kind, f, value, last) in entries {
            builder.op_on(process, node, kind, f, value, ms, last);
        }
        builder
    }

    fn add(process: u64, element: i64, at: u64) -> Step {
        (
            process,
            "n0",
            "add",
            json!(element),
            at,
            OpKind::Ok,
            at + 1,
            false,
        )
    }

    fn remove(process: u64, element: i64, at: u64) -> Step {
        (
            process,
            "n0",
            "remove",
            json!(element),
            at,
            OpKind::Ok,
            at + 1,
            false,
        )
    }

    fn read(process: u64, node: &'static str, seen: Json, at: u64, last: bool) -> Step {
        (process, node, "read", seen, at, OpKind::Ok, at + 1, last)
    }

    #[test]
    fn final_reads_equal_to_the_model_are_valid_and_removes_are_timed() {
        let result = check(
            history(&[
                add(0, 1, 0),
                add(0, 2, 10),
                remove(0, 2, 20),
                read(1, "n1", json!([1, 2]), 100, false),
                read(1, "n1", json!([1]), 300, false),
                read(2, "n2", json!([1]), 1000, true),
                read(1, "n1", json!([1]), 1000, true),
            ])
            .history
            .ops(),
        );
        assert_eq!(result.valid, Validity::Valid, "{result:?}");
        assert_eq!((result.added_count, result.removed_count), (2, 1));
        // Removed at 21 ms; n1 still showed it at 100 ms.
        assert_eq!(result.remove_latencies["1"], 79);
    }

    #[test]
    fn each_kind_of_violation_is_named() {
        let lost = check(
            history(&[add(0, 1, 0), read(1, "n1", json!([]), 500, true)])
                .history
                .ops(),
        );
        assert_eq!(lost.valid, Validity::Invalid);
        assert_eq!(lost.lost[&1], ["n1"]);
        let kept = check(
            history(&[
                add(0, 1, 0),
                remove(0, 1, 10),
                read(1, "n1", json!([1]), 500, true),
            ])
            .history
            .ops(),
        );
        assert_eq!(kept.not_removed[&1], ["n1"]);
        // n1 showed 1, dropped it after its remove, then showed it again: a resurrection.
        let back = check(
            history(&[
                add(0, 1, 0),
                read(1, "n1", json!([1]), 5, false),
                remove(0, 1, 10),
                read(1, "n1", json!([]), 100, false),
                read(1, "n1", json!([1]), 200, false),
                read(1, "n1", json!([]), 900, true),
            ])
            .history
            .ops(),
        );
        assert_eq!(back.valid, Validity::Invalid);
        assert_eq!(back.resurrected_count, 1);
        let r = &back.resurrections[0];
        assert_eq!(
            (r.node.as_str(), r.at_ms, r.absent_at_ms, r.removed_at_ms),
            ("n1", 200, 100, 11)
        );
        // A node that had not seen the add yet may show the element after missing it.
        let late = check(
            history(&[
                add(0, 1, 0),
                remove(0, 1, 10),
                read(1, "n1", json!([]), 100, false),
                read(1, "n1", json!([1]), 200, false),
                read(1, "n1", json!([]), 900, true),
            ])
            .history
            .ops(),
        );
        assert_eq!(late.resurrected_count, 0, "{late:?}");
        // An indefinite remove leaves the element free to go either way.
        let maybe = check(
            history(&[
                add(0, 1, 0),
                (0, "n0", "remove", json!(1), 10, OpKind::Info, 20, false),
                read(1, "n1", json!([1]), 500, true),
                read(2, "n2", json!([]), 500, true),
            ])
            .history
            .ops(),
        );
        assert_eq!(maybe.valid, Validity::Valid, "{maybe:?}");
    }

    /// Lost (element, node) pairs, unremoved ones, and resurrections (element, node, ms).
    type Judged = (
        BTreeSet<(i64, String)>,
        BTreeSet<(i64, String)>,
        BTreeSet<(i64, String, u64)>,
    );

    /// The same judgement, written as plainly as possible: every pair of reads on a node.
    fn brute_force(steps: &[Step]) -> Judged {
        let ok = |step: &&Step| step.5 == OpKind::Ok;
        let element = |step: &Step| step.3.as_i64().unwrap();
        let added: BTreeSet<i64> = steps
            .iter()
            .filter(ok)
            .filter(|s| s.2 == "add")
            .map(element)
            .collect();
        let maybe_removed: BTreeSet<i64> = steps
            .iter()
            .filter(|s| s.2 == "remove" && s.5 != OpKind::Fail)
            .map(element)
            .collect();
        let removed_at = |e: i64| {
            steps
                .iter()
                .filter(ok)
                .filter(|s| s.2 == "remove" && element(s) == e)
                .map(|s| s.6)
                .min()
        };
        let holds = |s: &Step, e: i64| s.3.as_array().unwrap().contains(&json!(e));
        let reads: Vec<&Step> = steps.iter().filter(ok).filter(|s| s.2 == "read").collect();
        let mut lost = BTreeSet::new();
        let mut kept = BTreeSet::new();
        let mut back = BTreeSet::new();
        for e in 0..4 {
            for r in reads.iter().filter(|r| r.7) {
                if added.contains(&e) && !maybe_removed.contains(&e) && !holds(r, e) {
                    lost.insert((e, r.1.to_owned()));
                }
                if removed_at(e).is_some() && holds(r, e) {
                    kept.insert((e, r.1.to_owned()));
                }
            }
            let Some(t) = removed_at(e) else { continue };
            for before in &reads {
                for first in &reads {
                    for second in &reads {
                        if before.1 == first.1
                            && first.1 == second.1
                            && holds(before, e)
                            && first.4 > before.6
                            && first.4 > t
                            && !holds(first, e)
                            && second.4 > first.6
                            && holds(second, e)
                        {
                            back.insert((e, second.1.to_owned(), second.4));
                        }
                    }
                }
            }
        }
        (lost, kept, back)
    }

    #[test]
    fn agrees_with_a_brute_force_model_on_small_random_histories() {
        let mut rng = ChaCha8Rng::seed_from_u64(16);
        let mut seen = [0; 3];
        for round in 0..500 {
            let mut steps: Vec<Step> = Vec::new();
            // Four processes, each doing a few operations one after another, on two nodes.
            for process in 0..4u64 {
                let node = if process % 2 == 0 { "n0" } else { "n1" };
                let mut now = rng.random_range(0..5);
                for _ in 0..rng.random_range(1..6) {
                    let f = ["add", "remove", "read", "read"][rng.random_range(0..4)];
                    let kind = [
                        OpKind::Ok,
                        OpKind::Ok,
                        OpKind::Ok,
                        OpKind::Info,
                        OpKind::Fail,
                    ][rng.random_range(0..5)];
                    let kind = if f == "read" && kind == OpKind::Info {
                        OpKind::Fail
                    } else {
                        kind
                    };
                    let took = rng.random_range(1..20);
                    let value = if f == "read" {
                        let seen: Vec<i64> = (0..4).filter(|_| rng.random_bool(0.5)).collect();
                        json!(seen)
                    } else {
                        json!(rng.random_range(0..4))
                    };
                    steps.push((process, node, f, value, now, kind, now + took, false));
                    now += took + rng.random_range(1..10);
                }
                // Each process ends with a final read.
                let seen: Vec<i64> = (0..4).filter(|_| rng.random_bool(0.5)).collect();
                steps.push((
                    process,
                    node,
                    "read",
                    json!(seen),
                    now + 200,
                    OpKind::Ok,
                    now + 201,
                    true,
                ));
            }
            let (lost, kept, back) = brute_force(&steps);
            for (count, found) in seen.iter_mut().zip([&lost, &kept]) {
                *count += usize::from(!found.is_empty());
            }
            seen[2] += usize::from(!back.is_empty());
            let result = check(history(&steps).history.ops());
            let pairs = |map: &BTreeMap<i64, Vec<String>>| -> BTreeSet<(i64, String)> {
                map.iter()
                    .flat_map(|(e, nodes)| nodes.iter().map(move |node| (*e, node.clone())))
                    .collect()
            };
            assert_eq!(pairs(&result.lost), lost, "round {round}: lost, {steps:?}");
            assert_eq!(
                pairs(&result.not_removed),
                kept,
                "round {round}: not removed"
            );
            let found: BTreeSet<(i64, String, u64)> = result
                .resurrections
                .iter()
                .map(|r| (r.element, r.node.clone(), r.at_ms))
                .collect();
            assert_eq!(found, back, "round {round}: resurrections, {steps:?}");
            let invalid = !lost.is_empty() || !kept.is_empty() || !back.is_empty();
            assert_eq!(result.valid == Validity::Invalid, invalid, "round {round}");
        }
        // The random histories exercise every kind of violation, not only valid runs.
        assert!(seen.iter().all(|count| *count >= 10), "{seen:?}");
    }
}
