//! Transactions as the checkers see them: each client `txn` operation with its micro-ops
//! (`["r", k, v]`, `["append", k, v]`, `["w", k, v]`), how it ended, and when.

use serde_json::Value as Json;

use crate::checker::OpRef;
use crate::history::{Op, OpKind, paired};

/// One micro-op. Keys and values are kept as JSON text, so `1` and `"1"` differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mop {
    /// `["append", k, v]`.
    Append(String, String),
    /// `["w", k, v]`.
    Write(String, String),
    /// `["r", k, v]`: for list-append the list read (none: not known, or `null`, the key was
    /// empty… as the reply said); for rw-register the value (as one element).
    Read(String, Option<Vec<String>>),
}

/// How a transaction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Committed: its reads are known.
    Ok,
    /// Certainly did not happen.
    Failed,
    /// May or may not have happened; its reads are not known.
    Unknown,
}

/// One transaction.
#[derive(Debug, Clone)]
pub struct Txn {
    /// The operation, for the findings' words (its completion, or its invocation if none).
    pub op: OpRef,
    /// How it ended.
    pub outcome: Outcome,
    /// When it was invoked and completed, in ns (completed: none if it never did).
    pub invoked_ns: u64,
    /// See `invoked_ns`.
    pub completed_ns: Option<u64>,
    /// Its micro-ops, in order: the completion's for a committed transaction (reads filled
    /// in), the invocation's otherwise.
    pub mops: Vec<Mop>,
}

fn text(value: &Json) -> String {
    value.to_string()
}

/// Parses one micro-op, or says what is wrong with it.
fn mop(value: &Json, known_reads: bool) -> Result<Mop, String> {
    let parts = value
        .as_array()
        .filter(|parts| parts.len() == 3)
        .ok_or_else(|| format!("a micro-op must be [f, key, value], not {value}"))?;
    let key = text(&parts[1]);
    match parts[0].as_str() {
        Some("append") => Ok(Mop::Append(key, text(&parts[2]))),
        Some("w") => Ok(Mop::Write(key, text(&parts[2]))),
        Some("r") if !known_reads => Ok(Mop::Read(key, None)),
        Some("r") => match &parts[2] {
            Json::Null => Ok(Mop::Read(key, Some(Vec::new()))),
            Json::Array(items) => Ok(Mop::Read(key, Some(items.iter().map(text).collect()))),
            single => Ok(Mop::Read(key, Some(vec![text(single)]))),
        },
        _ => Err(format!(
            "a micro-op's f must be \"r\", \"append\" or \"w\", not {}",
            parts[0]
        )),
    }
}

/// The `txn` operations of `ops`, in invocation order. An operation whose micro-ops cannot be
/// read is an error naming it.
pub fn transactions(ops: &[Op]) -> Result<Vec<Txn>, String> {
    let mut txns = Vec::new();
    for (invoke, done) in paired(ops) {
        if invoke.f != "txn" {
            continue;
        }
        let outcome = match done.map(|done| done.kind) {
            Some(OpKind::Ok) => Outcome::Ok,
            Some(OpKind::Fail) => Outcome::Failed,
            _ => Outcome::Unknown,
        };
        let source = match (outcome, done) {
            (Outcome::Ok, Some(done)) => done,
            _ => invoke,
        };
        let at = done.unwrap_or(invoke);
        let mops = source
            .value
            .as_array()
            .ok_or_else(|| format!("op {}: a txn's value must be a list of micro-ops", at.index))?
            .iter()
            .map(|value| mop(value, outcome == Outcome::Ok))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| format!("op {}: {error}", at.index))?;
        txns.push(Txn {
            op: OpRef::of(at),
            outcome,
            invoked_ns: invoke.time_ns,
            completed_ns: done.map(|done| done.time_ns),
            mops,
        });
    }
    Ok(txns)
}

/// How a transaction is named in the findings: `T3 (the txn of process 1 (via n0, op 7, 0.20 s))`.
pub fn name(txns: &[Txn], at: usize) -> String {
    format!("T{at} ({})", txns[at].op.words())
}
