//! Checkers: verdicts and figures shared by workloads. [`set_full`] is Jepsen's `set-full`
//! (broadcast and g-set judge with it); this module holds the verdict type, Jepsen's quantiles
//! and the `stats` checker every workload's history goes through.

pub mod availability;
pub mod counter;
pub mod digraph;
pub mod echo;
pub mod elle;
pub mod kafka;
pub mod linearizable;
pub mod lww;
pub mod set_full;
#[cfg(test)]
pub(crate) mod testing;
pub mod two_phase;
pub mod unique_ids;
pub mod vv;

use std::collections::BTreeMap;

use serde::{Serialize, Serializer};

use crate::history::{Op, OpKind, Process};

/// A verdict: true, false, or unknown (nothing could be judged).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    /// Everything checked out.
    Valid,
    /// Something is wrong.
    Invalid,
    /// Nothing was wrong but not enough was seen to say it is right.
    Unknown,
}

impl Validity {
    /// The worst of two verdicts: invalid > unknown > valid (Jepsen's `merge-valid`).
    pub fn and(self, other: Validity) -> Validity {
        use Validity::*;
        match (self, other) {
            (Invalid, _) | (_, Invalid) => Invalid,
            (Unknown, _) | (_, Unknown) => Unknown,
            _ => Valid,
        }
    }

    /// Maelstrom's exit code for the verdict: 0, 1 or 2.
    pub fn exit_code(self) -> u8 {
        match self {
            Validity::Valid => 0,
            Validity::Invalid => 1,
            Validity::Unknown => 2,
        }
    }
}

impl Serialize for Validity {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Validity::Valid => serializer.serialize_bool(true),
            Validity::Invalid => serializer.serialize_bool(false),
            Validity::Unknown => serializer.serialize_str("unknown"),
        }
    }
}

/// An operation a checker names in its findings, as the summary words it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OpRef {
    /// Its completion's position in the history.
    pub index: usize,
    /// Its process.
    pub process: Option<u64>,
    /// The node its client talked to.
    pub node: Option<String>,
    /// `send` or `poll`.
    pub f: &'static str,
    /// When it completed, in seconds since the main phase began.
    pub time_s: f64,
}

impl OpRef {
    /// The reference to `op` (its completion, for the summary's words).
    pub fn of(op: &Op) -> Self {
        OpRef {
            index: op.index,
            process: match op.process {
                Process::Worker(process) => Some(process),
                Process::Nemesis => None,
            },
            node: op.node.clone(),
            f: op.f,
            time_s: op.time_ns as f64 / 1e9,
        }
    }

    /// `the poll of process 3 (via n1, op 412, 2.31 s)`.
    pub fn words(&self) -> String {
        let process = self
            .process
            .map_or_else(String::new, |process| format!(" of process {process}"));
        let node = self
            .node
            .as_deref()
            .map_or_else(String::new, |node| format!("via {node}, "));
        format!(
            "the {}{process} ({node}op {}, {:.2} s)",
            self.f, self.index, self.time_s
        )
    }
}

/// The quantile points Maelstrom reports, with their `results.json` keys.
pub const QUANTILES: [(f64, &str); 5] = [
    (0.0, "0"),
    (0.5, "0.5"),
    (0.95, "0.95"),
    (0.99, "0.99"),
    (1.0, "1"),
];

/// Jepsen's quantiles: sort ascending, take `x[min(n-1, floor(n*p))]`; empty input, empty map.
pub fn quantiles(values: &[u64]) -> BTreeMap<String, u64> {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let mut result = BTreeMap::new();
    if sorted.is_empty() {
        return result;
    }
    for (point, key) in QUANTILES {
        let index = ((sorted.len() as f64 * point).floor() as usize).min(sorted.len() - 1);
        result.insert(key.to_owned(), sorted[index]);
    }
    result
}

/// Jepsen's `stats` checker over client completions.
#[derive(Debug, Clone, Serialize)]
pub struct StatsResult {
    /// Invalid when some function never completed ok.
    pub valid: Validity,
    /// Completions.
    pub count: usize,
    /// Ok completions.
    pub ok_count: usize,
    /// Failed completions.
    pub fail_count: usize,
    /// Indefinite completions.
    pub info_count: usize,
    /// The same counts per function.
    pub by_f: BTreeMap<String, StatsCounts>,
}

/// Completion counts.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StatsCounts {
    /// Completions.
    pub count: usize,
    /// Ok completions.
    pub ok_count: usize,
    /// Failed completions.
    pub fail_count: usize,
    /// Indefinite completions.
    pub info_count: usize,
    /// Quantiles of the ok completions' latency, invocation to completion, in microseconds
    /// (per function only; not Jepsen's, which plots latencies instead).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub latency_us: BTreeMap<String, u64>,
}

impl StatsCounts {
    fn add(&mut self, kind: OpKind) {
        self.count += 1;
        match kind {
            OpKind::Ok => self.ok_count += 1,
            OpKind::Fail => self.fail_count += 1,
            OpKind::Info => self.info_count += 1,
            OpKind::Invoke => {}
        }
    }
}

/// Operations that need never succeed: a client `crash` always ends `info` by design (Maelstrom
/// wraps its stats checker in Jepsen's kafka `stats-checker`, which excuses these two).
pub const MAY_NEVER_SUCCEED: &[&str] = &["crash", "debug-topic-partitions"];

/// True when function `f`, with these counts, never completed ok and is not excused
/// ([`MAY_NEVER_SUCCEED`]): what makes the stats checker invalid.
pub fn never_succeeded(f: &str, counts: &StatsCounts) -> bool {
    counts.ok_count == 0 && !MAY_NEVER_SUCCEED.contains(&f)
}

/// Counts completions; invalid if any function has no ok completion at all (but those in
/// [`MAY_NEVER_SUCCEED`]).
pub fn stats(history: &[Op]) -> StatsResult {
    let mut total = StatsCounts::default();
    let mut by_f: BTreeMap<String, StatsCounts> = BTreeMap::new();
    for op in history
        .iter()
        .filter(|op| op.is_client() && op.kind != OpKind::Invoke)
    {
        total.add(op.kind);
        by_f.entry(op.f.to_owned()).or_default().add(op.kind);
    }
    let mut latencies: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for (invoke, completion) in crate::history::paired(history) {
        if let Some(done) = completion
            && done.kind == OpKind::Ok
            && invoke.is_client()
        {
            let micros = done.time_ns.saturating_sub(invoke.time_ns) / 1_000;
            latencies.entry(invoke.f).or_default().push(micros);
        }
    }
    for (f, values) in latencies {
        if let Some(counts) = by_f.get_mut(f) {
            counts.latency_us = quantiles(&values);
        }
    }
    let valid = if by_f.iter().any(|(f, counts)| never_succeeded(f, counts)) {
        Validity::Invalid
    } else {
        Validity::Valid
    };
    StatsResult {
        valid,
        count: total.count,
        ok_count: total.ok_count,
        fail_count: total.fail_count,
        info_count: total.info_count,
        by_f,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value as Json, json};

    use super::*;
    use crate::checker::testing::Builder;

    #[test]
    fn quantiles_index_floor_n_p_capped_at_the_end() {
        let values: Vec<u64> = (1..=10).collect();
        let q = quantiles(&values);
        assert_eq!(
            (q["0"], q["0.5"], q["0.95"], q["0.99"], q["1"]),
            (1, 6, 10, 10, 10)
        );
        assert!(quantiles(&[]).is_empty());
        let q = quantiles(&[5, 1, 3]);
        assert_eq!((q["0"], q["0.5"], q["1"]), (1, 3, 5));
    }

    #[test]
    fn stats_is_invalid_when_some_function_never_succeeded() {
        let mut builder = Builder::new();
        builder
            .add(0, 1, 0, 1)
            .op(1, OpKind::Invoke, "read", Json::Null, 2)
            .op(1, OpKind::Fail, "read", Json::Null, 3);
        let result = stats(builder.history.ops());
        assert_eq!(result.valid, Validity::Invalid);
        assert_eq!(
            (result.count, result.ok_count, result.fail_count),
            (2, 1, 1)
        );
        // Latency per function, of ok completions only: invoked at 0 ms, done at 1 ms.
        assert_eq!(result.by_f["broadcast"].latency_us["0.5"], 1_000);
        assert!(result.by_f["read"].latency_us.is_empty());
        builder.read(1, json!([1]), 4, 5);
        assert_eq!(stats(builder.history.ops()).valid, Validity::Valid);
        // A kafka client's crash always ends `info`, and is excused.
        builder.op(2, OpKind::Invoke, "crash", Json::Null, 6).op(
            2,
            OpKind::Info,
            "crash",
            Json::Null,
            6,
        );
        assert_eq!(stats(builder.history.ops()).valid, Validity::Valid);
        builder.op(3, OpKind::Invoke, "poll", Json::Null, 7).op(
            3,
            OpKind::Info,
            "poll",
            Json::Null,
            8,
        );
        assert_eq!(stats(builder.history.ops()).valid, Validity::Invalid);
    }

    #[test]
    fn validity_merges_worst_first_and_serialises_like_maelstrom() {
        assert_eq!(Validity::Valid.and(Validity::Unknown), Validity::Unknown);
        assert_eq!(Validity::Unknown.and(Validity::Invalid), Validity::Invalid);
        assert_eq!(
            serde_json::to_string(&[Validity::Valid, Validity::Invalid, Validity::Unknown])
                .unwrap(),
            r#"[true,false,"unknown"]"#
        );
    }
}
