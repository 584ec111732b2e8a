//! Jepsen's `set-full`, as Maelstrom's broadcast and g-set workloads use it, and coverage.
//!
//! `set-full` is reproduced rule for rule from `spec/maelstrom.md` 2.5: the index-based
//! last-present/last-absent rule, `known`, the +1 ns, millisecond truncation and the quantile
//! indexing. On top of Maelstrom it explains each lost element: when it was acknowledged and
//! which nodes' final reads missed it.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value as Json;

use super::{Validity, quantiles};
use crate::history::{Op, OpKind, Process};

/// How one element fared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// The latest-invoked ok read saw it.
    Stable,
    /// Known, then missed by a read that began afterwards and was the last to look.
    Lost,
    /// Neither.
    NeverRead,
}

/// One element's record, for `worst_stale` and lost reports.
#[derive(Debug, Clone, Serialize)]
pub struct ElementReport {
    /// The value.
    pub element: i64,
    /// Its outcome.
    pub outcome: Outcome,
    /// Milliseconds from known until the last read that missed it began (0 if none did).
    pub stable_latency: Option<u64>,
    /// Milliseconds from known until the last read that saw it began.
    pub lost_latency: Option<u64>,
    /// When it became known (ms since the start of the history), if it did.
    pub known_at_ms: Option<u64>,
    /// How it became known: `broadcast_ok` or `read`.
    pub known_by: Option<String>,
    /// When the last read that missed it was invoked (ms), if any.
    pub last_absent_at_ms: Option<u64>,
    /// Nodes whose final read was ok and did not contain it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing_from_final_reads_of: Vec<String>,
}

/// The `workload` section of the results: `set-full`'s output.
#[derive(Debug, Clone, Serialize)]
pub struct SetFullResult {
    /// Invalid if anything was lost; unknown if nothing was stable; otherwise valid.
    pub valid: Validity,
    /// Distinct values whose broadcast was invoked.
    pub attempt_count: usize,
    /// Elements the last read saw.
    pub stable_count: usize,
    /// Elements lost.
    pub lost_count: usize,
    /// Elements never read after becoming known.
    pub never_read_count: usize,
    /// Stable elements that some read missed after they were known.
    pub stale_count: usize,
    /// The lost elements, sorted.
    pub lost: Vec<i64>,
    /// The never-read elements, sorted.
    pub never_read: Vec<i64>,
    /// The stale elements, sorted.
    pub stale: Vec<i64>,
    /// Up to eight stable elements with the highest stable latency.
    pub worst_stale: Vec<ElementReport>,
    /// Stable-latency quantiles in ms, keyed "0", "0.5", "0.95", "0.99", "1".
    pub stable_latencies: BTreeMap<String, u64>,
    /// Lost-latency quantiles in ms.
    pub lost_latencies: BTreeMap<String, u64>,
    /// Always 0: Jepsen's duplicate check can never fire (maelstrom.md 2.5), and so it is here.
    pub duplicated_count: usize,
    /// Each lost element explained: when it was acknowledged and which final reads missed it.
    pub lost_details: Vec<ElementReport>,
    /// Distinct values that ok reads returned but no operation ever added. Jepsen ignores them,
    /// and so does the verdict; a grading plan can require none.
    pub unexpected_count: usize,
    /// The first [`UNEXPECTED_SHOWN`] of them, sorted.
    pub unexpected: Vec<i64>,
    /// Elements that would be lost but went down with a crashed node (`--nemesis crash`): the
    /// node that acknowledged them crashed before any surviving node was handed them. Not lost.
    pub lost_with_node_count: usize,
    /// Those elements, sorted.
    pub lost_with_node: Vec<i64>,
}

impl SetFullResult {
    /// Moves the lost elements that `went_down` says went down with a crashed node from `lost`
    /// to `lost_with_node`, and judges again: they no longer make the history invalid.
    pub fn set_aside(&mut self, went_down: impl Fn(i64) -> bool) {
        let (gone, kept): (Vec<ElementReport>, Vec<ElementReport>) =
            std::mem::take(&mut self.lost_details)
                .into_iter()
                .partition(|report| went_down(report.element));
        if gone.is_empty() {
            self.lost_details = kept;
            return;
        }
        self.lost_with_node = gone.iter().map(|report| report.element).collect();
        self.lost_with_node_count = self.lost_with_node.len();
        self.lost = kept.iter().map(|report| report.element).collect();
        self.lost_count = self.lost.len();
        let latencies: Vec<u64> = kept
            .iter()
            .map(|report| report.lost_latency.unwrap_or(0))
            .collect();
        self.lost_latencies = quantiles(&latencies);
        self.lost_details = kept;
        self.valid = if self.lost_count > 0 {
            Validity::Invalid
        } else if self.stable_count == 0 {
            Validity::Unknown
        } else {
            Validity::Valid
        };
    }
}

/// How many unexpected values `results.json` lists.
pub const UNEXPECTED_SHOWN: usize = 100;

#[derive(Debug, Default, Clone)]
struct Element {
    known: Option<usize>,
    last_present: Option<usize>,
    last_absent: Option<usize>,
}

fn millis(nanos: i128) -> u64 {
    u64::try_from((nanos.max(0)) / 1_000_000).unwrap_or(u64::MAX)
}

/// Jepsen's `set-full` over a history whose `add` operations (`broadcast` for the broadcast
/// workload) add an integer and whose ok `read` operations return the set as a list.
pub fn set_full(history: &[Op], add: &str, read: &str) -> SetFullResult {
    let mut elements: BTreeMap<i64, Element> = BTreeMap::new();
    let mut read_values: BTreeSet<i64> = BTreeSet::new();
    let mut open_invocations: BTreeMap<Process, usize> = BTreeMap::new();
    for op in history.iter().filter(|op| op.is_client()) {
        match op.kind {
            OpKind::Invoke => {
                open_invocations.insert(op.process, op.index);
                if op.f == add
                    && let Some(value) = op.value.as_i64()
                {
                    elements.entry(value).or_default();
                }
            }
            OpKind::Ok => {
                let invocation = open_invocations.remove(&op.process).unwrap_or(op.index);
                match op.f {
                    f if f == add => {
                        if let Some(element) =
                            op.value.as_i64().and_then(|value| elements.get_mut(&value))
                        {
                            element.known.get_or_insert(op.index);
                        }
                    }
                    f if f == read => {
                        let seen: BTreeSet<i64> = op
                            .value
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(Json::as_i64)
                            .collect();
                        read_values.extend(&seen);
                        for (value, element) in elements.iter_mut() {
                            if seen.contains(value) {
                                element.last_present = element.last_present.max(Some(invocation));
                                element.known.get_or_insert(op.index);
                            } else {
                                element.last_absent = element.last_absent.max(Some(invocation));
                            }
                        }
                    }
                    _ => {}
                }
            }
            OpKind::Fail | OpKind::Info => {
                open_invocations.remove(&op.process);
            }
        }
    }

    let final_reads: Vec<&Op> = history
        .iter()
        .filter(|op| op.final_read && op.kind == OpKind::Ok && op.f == read)
        .collect();
    let time = |index: usize| i128::from(history[index].time_ns);
    let mut reports = Vec::new();
    for (&value, element) in &elements {
        let present = element.last_present.map_or(-1, |i| i as i64);
        let absent = element.last_absent.map_or(-1, |i| i as i64);
        let outcome = if element.last_present.is_some() && absent < present {
            Outcome::Stable
        } else if let (Some(known), Some(last_absent)) = (element.known, element.last_absent)
            && present < absent
            && known < last_absent
        {
            Outcome::Lost
        } else {
            Outcome::NeverRead
        };
        let latency = |reference: Option<usize>| {
            element
                .known
                .map(|known| millis(reference.map_or(0, |i| time(i) + 1) - time(known)))
        };
        let missing_from_final_reads_of = if outcome == Outcome::Lost {
            final_reads
                .iter()
                .filter(|read| {
                    !read
                        .value
                        .as_array()
                        .is_some_and(|values| values.iter().any(|v| v.as_i64() == Some(value)))
                })
                .filter_map(|read| read.node.clone())
                .collect::<BTreeSet<String>>()
                .into_iter()
                .collect()
        } else {
            Vec::new()
        };
        reports.push(ElementReport {
            element: value,
            outcome,
            stable_latency: latency(element.last_absent),
            lost_latency: latency(element.last_present),
            known_at_ms: element.known.map(|known| millis(time(known))),
            known_by: element.known.map(|known| {
                if history[known].f == add {
                    format!("{add}_ok")
                } else {
                    "read".to_owned()
                }
            }),
            last_absent_at_ms: element.last_absent.map(|i| millis(time(i))),
            missing_from_final_reads_of,
        });
    }

    let of = |outcome: Outcome| {
        reports
            .iter()
            .filter(move |report| report.outcome == outcome)
    };
    let stable_latencies: Vec<u64> = of(Outcome::Stable)
        .map(|r| r.stable_latency.unwrap_or(0))
        .collect();
    let lost_latencies: Vec<u64> = of(Outcome::Lost)
        .map(|r| r.lost_latency.unwrap_or(0))
        .collect();
    let mut stale: Vec<&ElementReport> = of(Outcome::Stable)
        .filter(|r| r.stable_latency.unwrap_or(0) > 0)
        .collect();
    let stale_values: Vec<i64> = stale.iter().map(|r| r.element).collect();
    stale.sort_by_key(|r| std::cmp::Reverse(r.stable_latency));
    let lost_details: Vec<ElementReport> = of(Outcome::Lost).cloned().collect();
    let lost: Vec<i64> = lost_details.iter().map(|r| r.element).collect();
    let never_read: Vec<i64> = of(Outcome::NeverRead).map(|r| r.element).collect();
    let stable_count = stable_latencies.len();
    let valid = if !lost.is_empty() {
        Validity::Invalid
    } else if stable_count == 0 {
        Validity::Unknown
    } else {
        Validity::Valid
    };
    SetFullResult {
        valid,
        attempt_count: elements.len(),
        stable_count,
        lost_count: lost.len(),
        never_read_count: never_read.len(),
        stale_count: stale_values.len(),
        worst_stale: stale.into_iter().take(8).cloned().collect(),
        lost,
        never_read,
        stale: stale_values,
        stable_latencies: quantiles(&stable_latencies),
        lost_latencies: quantiles(&lost_latencies),
        duplicated_count: 0,
        lost_details,
        unexpected_count: read_values
            .iter()
            .filter(|value| !elements.contains_key(value))
            .count(),
        unexpected: read_values
            .iter()
            .filter(|value| !elements.contains_key(value))
            .take(UNEXPECTED_SHOWN)
            .copied()
            .collect(),
        lost_with_node_count: 0,
        lost_with_node: Vec::new(),
    }
}

/// How much of what was acknowledged reached each node, by the final reads.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Coverage {
    /// `pairs_present / pairs_total`; 0 when there are no pairs.
    pub fraction: f64,
    /// (value, node) pairs where the node's ok final read held the acknowledged value.
    pub pairs_present: usize,
    /// Acknowledged values × nodes with an ok final read.
    pub pairs_total: usize,
    /// Values acknowledged (broadcast_ok).
    pub values: usize,
    /// Nodes with an ok final read.
    pub nodes: usize,
}

/// The values whose `add` operation was acknowledged (completed ok).
pub fn acknowledged(history: &[Op], add: &str) -> BTreeSet<i64> {
    history
        .iter()
        .filter(|op| op.f == add && op.kind == OpKind::Ok)
        .filter_map(|op| op.value.as_i64())
        .collect()
}

/// The fraction of (acknowledged value, node) pairs present in the nodes' final reads. Where a
/// node has several ok final reads (more workers than nodes), the union counts.
pub fn coverage(history: &[Op], add: &str, read: &str) -> Coverage {
    let acknowledged = acknowledged(history, add);
    let mut finals: BTreeMap<&str, BTreeSet<i64>> = BTreeMap::new();
    for op in history
        .iter()
        .filter(|op| op.final_read && op.kind == OpKind::Ok && op.f == read)
    {
        let seen = finals.entry(op.node.as_deref().unwrap_or("")).or_default();
        seen.extend(
            op.value
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Json::as_i64),
        );
    }
    let pairs_total = acknowledged.len() * finals.len();
    let pairs_present: usize = finals
        .values()
        .map(|seen| acknowledged.iter().filter(|v| seen.contains(v)).count())
        .sum();
    Coverage {
        fraction: if pairs_total == 0 {
            0.0
        } else {
            pairs_present as f64 / pairs_total as f64
        },
        pairs_present,
        pairs_total,
        values: acknowledged.len(),
        nodes: finals.len(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value as Json, json};

    use super::*;
    use crate::checker::testing::Builder;

    impl Builder {
        fn checked(&self) -> SetFullResult {
            set_full(self.history.ops(), "broadcast", "read")
        }
    }

    #[test]
    fn an_element_every_read_sees_is_stable_with_zero_latency() {
        let result = Builder::new()
            .add(0, 1, 0, 1)
            .read(1, json!([1]), 2, 3)
            .checked();
        assert_eq!(result.valid, Validity::Valid);
        assert_eq!(
            (result.stable_count, result.lost_count, result.stale_count),
            (1, 0, 0)
        );
        assert_eq!(result.stable_latencies["0.5"], 0);
    }

    #[test]
    fn a_read_that_misses_a_known_element_then_a_later_one_that_sees_it_makes_it_stale() {
        // Known at 10 ms (broadcast_ok); a read invoked at 250 ms misses it; one at 400 sees it.
        let result = Builder::new()
            .add(0, 7, 0, 10)
            .read(1, json!([]), 250, 260)
            .read(1, json!([7]), 400, 410)
            .checked();
        assert_eq!(result.stale, [7]);
        // stable latency = (250 ms + 1 ns) - 10 ms, truncated to ms.
        assert_eq!(result.stable_latencies["1"], 240);
        assert_eq!(result.worst_stale[0].element, 7);
    }

    #[test]
    fn the_last_invoked_read_decides_even_if_an_earlier_one_missed() {
        // Two concurrent final reads: the later-invoked one saw it, so it is stable (stale).
        let result = Builder::new()
            .add(0, 3, 0, 5)
            .op(1, OpKind::Invoke, "read", Json::Null, 100)
            .op(2, OpKind::Invoke, "read", Json::Null, 101)
            .op(2, OpKind::Ok, "read", json!([3]), 102)
            .op(1, OpKind::Ok, "read", json!([]), 103)
            .checked();
        assert_eq!(result.stable_count, 1);
        assert_eq!(result.lost_count, 0);
        // The other order: the later-invoked read missed it, so it is lost.
        let result = Builder::new()
            .add(0, 3, 0, 5)
            .op(2, OpKind::Invoke, "read", Json::Null, 100)
            .op(1, OpKind::Invoke, "read", Json::Null, 101)
            .op(2, OpKind::Ok, "read", json!([3]), 102)
            .op(1, OpKind::Ok, "read", json!([]), 103)
            .checked();
        assert_eq!(result.lost, [3]);
        assert_eq!(result.valid, Validity::Invalid);
        // lost latency = (t_inv(last present) + 1 ns) - t(known) = 100 ms - 5 ms.
        assert_eq!(result.lost_latencies["0"], 95);
    }

    #[test]
    fn lost_elements_name_when_they_were_acknowledged_and_which_final_reads_missed_them() {
        let result = Builder::new()
            .add(0, 1, 0, 20)
            .add(0, 2, 30, 40)
            .final_read(0, json!([2]), 1000)
            .final_read(1, json!([2]), 1001)
            .final_read(2, json!([1, 2]), 1002)
            .final_read(3, json!([2]), 1003)
            .checked();
        assert_eq!(result.lost, [1]);
        let detail = &result.lost_details[0];
        assert_eq!(detail.known_at_ms, Some(20));
        assert_eq!(detail.known_by.as_deref(), Some("broadcast_ok"));
        assert_eq!(detail.missing_from_final_reads_of, ["n0", "n1", "n3"]);
    }

    #[test]
    fn an_element_never_read_after_being_known_is_never_read() {
        // The only read ended before... it was invoked before the add completed, and missed it.
        let result = Builder::new()
            .op(1, OpKind::Invoke, "read", Json::Null, 0)
            .op(0, OpKind::Invoke, "broadcast", json!(4), 1)
            .op(1, OpKind::Ok, "read", json!([]), 2)
            .op(0, OpKind::Ok, "broadcast", json!(4), 3)
            .checked();
        assert_eq!(result.never_read, [4]);
        assert_eq!(result.valid, Validity::Unknown, "nothing stable");
    }

    #[test]
    fn a_failed_broadcast_seen_by_a_read_becomes_known_through_the_read() {
        let result = Builder::new()
            .op(0, OpKind::Invoke, "broadcast", json!(9), 0)
            .op(0, OpKind::Info, "broadcast", json!(9), 5000)
            .read(1, json!([9]), 5001, 5002)
            .read(1, json!([]), 5003, 5004)
            .checked();
        assert_eq!(result.lost, [9]);
        assert_eq!(result.lost_details[0].known_by.as_deref(), Some("read"));
    }

    #[test]
    fn values_read_but_never_broadcast_are_ignored() {
        let result = Builder::new()
            .add(0, 1, 0, 1)
            .read(1, json!([1, 99, "x"]), 2, 3)
            .checked();
        assert_eq!(result.attempt_count, 1);
        assert_eq!(result.stable_count, 1);
    }

    #[test]
    fn values_read_that_nobody_added_are_counted_apart_and_do_not_decide_the_verdict() {
        let mut builder = Builder::new();
        builder
            .add(0, 1, 0, 1)
            .read(1, json!([1, 7, 8]), 2, 3)
            .final_read(0, json!([1, 8]), 10);
        let result = builder.checked();
        assert_eq!(result.valid, Validity::Valid);
        assert_eq!(
            (result.unexpected_count, result.unexpected.clone()),
            (2, vec![7, 8])
        );
    }

    #[test]
    fn coverage_counts_acknowledged_values_in_each_nodes_final_reads() {
        let mut builder = Builder::new();
        builder
            .add(0, 1, 0, 1)
            .add(0, 2, 2, 3)
            .op(0, OpKind::Invoke, "broadcast", json!(3), 4)
            .op(0, OpKind::Info, "broadcast", json!(3), 5)
            .final_read(0, json!([1, 2, 3]), 10)
            .final_read(1, json!([1]), 11)
            .final_read(2, json!([]), 12);
        let coverage = coverage(builder.history.ops(), "broadcast", "read");
        // Value 3 was never acknowledged, so it is not counted: 3 of 2 × 3 pairs.
        assert_eq!(
            (
                coverage.values,
                coverage.nodes,
                coverage.pairs_present,
                coverage.pairs_total
            ),
            (2, 3, 3, 6)
        );
        assert!((coverage.fraction - 0.5).abs() < 1e-12);
    }
}
