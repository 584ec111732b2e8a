//! Maelstrom's counter checker (g-counter and pn-counter): every acknowledged final read must be
//! a total the adds can explain. Acknowledged adds certainly happened; an add whose outcome is
//! unknown (`info`) may or may not have; so the acceptable totals are the acknowledged sum plus
//! any subset of the unknown deltas, kept as disjoint integer intervals.
//!
//! Maelstrom's checker looks at acknowledged final reads only, so a run whose final reads all
//! fail passes it. That hole is kept (the verdict is Maelstrom's) and reported as a figure,
//! [`CounterResult::unchecked_final_reads`], which a grading plan can hold at 0.

use serde::Serialize;

use super::Validity;
use crate::history::{Op, OpKind};

/// One final read: which node, and what it said.
#[derive(Debug, Clone, Serialize)]
pub struct FinalRead {
    /// The node read.
    pub node: Option<String>,
    /// The total it answered.
    pub value: i64,
    /// True when the value is one the adds can explain.
    pub acceptable: bool,
}

/// The counter checker's result (`results.json`'s `workload`).
#[derive(Debug, Clone, Serialize)]
pub struct CounterResult {
    /// The verdict.
    #[serde(rename = "valid?")]
    pub valid: Validity,
    /// Adds acknowledged, and their sum.
    pub acknowledged_adds: usize,
    /// The sum of the acknowledged deltas.
    pub acknowledged_sum: i64,
    /// Adds whose outcome is unknown (a timeout or an error reply).
    pub unknown_adds: usize,
    /// The totals a final read may show, as closed `[lower, upper]` intervals in order.
    pub acceptable: Vec<[i64; 2]>,
    /// Every acknowledged final read, in history order.
    pub final_reads: Vec<FinalRead>,
    /// Final reads the checker cannot look at because they failed or timed out (Maelstrom's
    /// checker passes a run whose final reads all fail).
    pub unchecked_final_reads: usize,
    /// The acknowledged final reads outside the acceptable totals.
    pub error_count: usize,
}

/// Disjoint integer intervals, sorted: `[lower, upper]`, both included, never adjacent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntervalSet(Vec<[i64; 2]>);

impl IntervalSet {
    /// The set holding `value` alone.
    pub fn single(value: i64) -> Self {
        IntervalSet(vec![[value, value]])
    }

    /// This set together with every member moved by `delta`: the totals when one more add of
    /// `delta` may or may not have happened.
    pub fn with_optional(&self, delta: i64) -> Self {
        let mut all: Vec<[i64; 2]> = self.0.clone();
        all.extend(
            self.0
                .iter()
                .map(|[lower, upper]| [lower.saturating_add(delta), upper.saturating_add(delta)]),
        );
        all.sort_unstable();
        let mut merged: Vec<[i64; 2]> = Vec::with_capacity(all.len());
        for [lower, upper] in all {
            match merged.last_mut() {
                // Overlapping or adjacent integers join into one interval.
                Some(last) if lower <= last[1].saturating_add(1) => last[1] = last[1].max(upper),
                _ => merged.push([lower, upper]),
            }
        }
        IntervalSet(merged)
    }

    /// True when `value` is in the set.
    pub fn contains(&self, value: i64) -> bool {
        self.0
            .iter()
            .any(|[lower, upper]| *lower <= value && value <= *upper)
    }

    /// The intervals.
    pub fn intervals(&self) -> &[[i64; 2]] {
        &self.0
    }
}

/// Judges a counter history: adds are `f = "add"` with the delta as value, reads `f = "read"`.
pub fn check(history: &[Op]) -> CounterResult {
    let adds = history.iter().filter(|op| op.is_client() && op.f == "add");
    let mut acknowledged_adds = 0;
    let mut acknowledged_sum: i64 = 0;
    let mut unknown = Vec::new();
    for add in adds {
        let delta = add.value.as_i64().unwrap_or(0);
        match add.kind {
            OpKind::Ok => {
                acknowledged_adds += 1;
                acknowledged_sum = acknowledged_sum.saturating_add(delta);
            }
            OpKind::Info => unknown.push(delta),
            OpKind::Invoke | OpKind::Fail => {}
        }
    }
    let mut acceptable = IntervalSet::single(acknowledged_sum);
    for delta in &unknown {
        acceptable = acceptable.with_optional(*delta);
    }
    let final_completions = history.iter().filter(|op| {
        op.is_client() && op.final_read && op.f == "read" && op.kind != OpKind::Invoke
    });
    let mut final_reads = Vec::new();
    let mut unchecked_final_reads = 0;
    for read in final_completions {
        match (read.kind, read.value.as_i64()) {
            (OpKind::Ok, Some(value)) => final_reads.push(FinalRead {
                node: read.node.clone(),
                value,
                acceptable: acceptable.contains(value),
            }),
            _ => unchecked_final_reads += 1,
        }
    }
    let error_count = final_reads.iter().filter(|read| !read.acceptable).count();
    CounterResult {
        valid: if error_count == 0 {
            Validity::Valid
        } else {
            Validity::Invalid
        },
        acknowledged_adds,
        acknowledged_sum,
        unknown_adds: unknown.len(),
        acceptable: acceptable.intervals().to_vec(),
        final_reads,
        unchecked_final_reads,
        error_count,
    }
}

/// The acceptable totals in words: `12`, `12 to 15`, or `12 to 15 or 18`.
pub fn acceptable_in_words(acceptable: &[[i64; 2]]) -> String {
    let parts: Vec<String> = acceptable
        .iter()
        .map(|[lower, upper]| {
            if lower == upper {
                lower.to_string()
            } else {
                format!("{lower} to {upper}")
            }
        })
        .collect();
    match parts.len() {
        0 => "nothing".into(),
        1 => parts[0].clone(),
        _ => {
            let (last, rest) = parts.split_last().expect("two or more");
            format!("{} or {last}", rest.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use rand::rngs::ChaCha8Rng;
    use rand::{RngExt, SeedableRng};
    use serde_json::{Value as Json, json};

    use super::*;
    use crate::checker::testing::Builder;

    fn add(history: &mut Builder, process: u64, delta: i64, kind: OpKind, ms: u64) {
        history
            .op(process, OpKind::Invoke, "add", json!(delta), ms)
            .op(process, kind, "add", json!(delta), ms + 1);
    }

    fn final_read(history: &mut Builder, process: u64, kind: OpKind, value: Json, ms: u64) {
        let node = format!("n{process}");
        history
            .op_on(process, &node, OpKind::Invoke, "read", Json::Null, ms, true)
            .op_on(process, &node, kind, "read", value, ms + 1, true);
    }

    #[test]
    fn acknowledged_adds_fix_the_total_and_unknown_ones_widen_it() {
        let mut history = Builder::new();
        add(&mut history, 0, 3, OpKind::Ok, 0);
        add(&mut history, 1, 2, OpKind::Ok, 2);
        final_read(&mut history, 0, OpKind::Ok, json!(5), 10);
        let exact = check(history.history.ops());
        assert_eq!(exact.valid, Validity::Valid);
        assert_eq!(exact.acceptable, vec![[5, 5]]);
        final_read(&mut history, 1, OpKind::Ok, json!(3), 12);
        let short = check(history.history.ops());
        assert_eq!(short.valid, Validity::Invalid);
        assert_eq!(short.error_count, 1);
        assert_eq!(short.final_reads[1].node.as_deref(), Some("n1"));

        let mut unknown = Builder::new();
        add(&mut unknown, 0, 3, OpKind::Ok, 0);
        add(&mut unknown, 1, 4, OpKind::Info, 2);
        add(&mut unknown, 2, -1, OpKind::Info, 4);
        final_read(&mut unknown, 0, OpKind::Ok, json!(6), 10);
        let result = check(unknown.history.ops());
        // 3, 3 + 4, 3 - 1, 3 + 4 - 1: {2, 3} and {6, 7}.
        assert_eq!(result.acceptable, vec![[2, 3], [6, 7]]);
        assert_eq!(result.valid, Validity::Valid);
        assert_eq!(acceptable_in_words(&result.acceptable), "2 to 3 or 6 to 7");
    }

    #[test]
    fn failed_final_reads_are_not_checked_but_counted() {
        let mut history = Builder::new();
        add(&mut history, 0, 3, OpKind::Ok, 0);
        final_read(&mut history, 0, OpKind::Info, Json::Null, 10);
        final_read(&mut history, 1, OpKind::Info, Json::Null, 10);
        let result = check(history.history.ops());
        assert_eq!(result.valid, Validity::Valid, "Maelstrom's verdict");
        assert_eq!(result.unchecked_final_reads, 2);
        assert!(result.final_reads.is_empty());
    }

    #[test]
    fn reads_before_the_final_phase_are_not_judged() {
        let mut history = Builder::new();
        add(&mut history, 0, 3, OpKind::Ok, 0);
        history.op(1, OpKind::Invoke, "read", Json::Null, 1).op(
            1,
            OpKind::Ok,
            "read",
            json!(99),
            2,
        );
        final_read(&mut history, 1, OpKind::Ok, json!(3), 10);
        assert_eq!(check(history.history.ops()).valid, Validity::Valid);
    }

    /// The acceptable totals, brute force: the acknowledged sum plus every subset of the
    /// unknown deltas.
    fn every_total(sum: i64, unknown: &[i64]) -> BTreeSet<i64> {
        (0..1u32 << unknown.len())
            .map(|mask| {
                sum + unknown
                    .iter()
                    .enumerate()
                    .filter(|(bit, _)| mask & (1 << bit) != 0)
                    .map(|(_, delta)| delta)
                    .sum::<i64>()
            })
            .collect()
    }

    #[test]
    fn the_intervals_hold_exactly_the_totals_a_brute_force_enumeration_finds() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for _ in 0..500 {
            let mut history = Builder::new();
            let mut sum = 0;
            let mut unknown = Vec::new();
            let adds = rng.random_range(0..9);
            for process in 0..adds {
                let delta = rng.random_range(-5..5);
                if rng.random_bool(0.4) {
                    unknown.push(delta);
                    add(&mut history, process, delta, OpKind::Info, process * 2);
                } else {
                    sum += delta;
                    add(&mut history, process, delta, OpKind::Ok, process * 2);
                }
            }
            let totals = every_total(sum, &unknown);
            let result = check(history.history.ops());
            let set = IntervalSet(result.acceptable.clone());
            for value in -60..60 {
                assert_eq!(
                    set.contains(value),
                    totals.contains(&value),
                    "{value} with sum {sum} and unknown {unknown:?}: {:?}",
                    result.acceptable
                );
            }
            for pair in result.acceptable.windows(2) {
                assert!(pair[0][1] + 1 < pair[1][0], "disjoint and not adjacent");
            }
        }
    }
}
