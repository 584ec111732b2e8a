//! Transactional checkers in the manner of Elle (Kingsbury and Alvaro, VLDB 2020): infer the
//! dependencies between transactions from what clients saw, look for the anomalies Adya
//! defines (cycles of `ww`, `wr` and `rw` edges, and the aborted, intermediate and internal
//! reads that need no cycle), and say which consistency models they rule out.
//!
//! - [`txn`]: transactions out of a history;
//! - [`list_append`]: the list-append inference (version orders from reads, the non-cycle
//!   anomalies, the graph);
//! - [`rw_register`]: the read-write register inference (Elle's `wfr-keys`, as Maelstrom
//!   asks), which sees much less;
//! - [`graph`]: the labelled graph, its components and paths;
//! - `cycles`: the cycle anomalies (G0, G1c, G-single-item, G-nonadjacent-item, G2-item, and
//!   their realtime variants when a model needs real-time order);
//! - [`models`]: the models and what each proscribes, as Elle relates them.

mod cycles;
pub mod graph;
pub mod list_append;
mod lost_update;
pub mod models;
pub mod rw_register;
pub mod synthetic;
pub mod txn;

use std::collections::BTreeMap;

use serde::Serialize;

use super::{OpRef, Validity};
use crate::history::Op;
use txn::Txn;

/// How many cases of one anomaly type are kept with their words (all are counted).
pub const KEPT: usize = 8;

/// One step of a cycle: `from` reaches `to` by an edge of `kind`, for the reason in `words`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    /// The transaction the edge leaves (`T3`).
    pub from: String,
    /// `ww`, `wr`, `rw` or `realtime`.
    pub kind: &'static str,
    /// The transaction it reaches.
    pub to: String,
    /// The key behind it, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Why the edge is there.
    pub words: String,
}

/// One case of an anomaly.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Anomaly {
    /// What happened, in words.
    pub words: String,
    /// The transactions involved.
    pub ops: Vec<OpRef>,
    /// For a cycle, its edges in order (the last returns to the first transaction).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cycle: Vec<Step>,
}

impl Anomaly {
    /// A case about the transactions `at`.
    pub fn about(txns: &[Txn], at: &[usize], words: String) -> Self {
        Anomaly {
            words,
            ops: at.iter().map(|&t| txns[t].op.clone()).collect(),
            cycle: Vec::new(),
        }
    }
}

/// The cases of one anomaly type: how many, and the first few.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Cases {
    /// How many were found.
    pub count: usize,
    /// The first [`KEPT`].
    pub examples: Vec<Anomaly>,
}

/// Anomalies found, by type.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Found(pub BTreeMap<String, Cases>);

impl Found {
    /// Nothing found yet.
    pub fn new() -> Self {
        Found::default()
    }

    /// Records one case of `kind`.
    pub fn push(&mut self, kind: &str, anomaly: Anomaly) {
        let cases = self.0.entry(kind.to_owned()).or_default();
        cases.count += 1;
        if cases.examples.len() < KEPT {
            cases.examples.push(anomaly);
        }
    }

    /// The types found.
    pub fn types(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

/// A transactional checker's verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TxnResult {
    /// False when an anomaly the models proscribe was found; unknown with no transactions.
    #[serde(rename = "valid?")]
    pub valid: Validity,
    /// The models checked.
    pub models: Vec<&'static str>,
    /// Transactions read from the history.
    pub txn_count: usize,
    /// The anomaly types found, proscribed or not.
    pub anomaly_types: Vec<String>,
    /// Each type's cases.
    pub anomalies: Found,
    /// The weakest models the anomalies rule out (Elle's `:not`).
    pub not: Vec<&'static str>,
    /// Every model they rule out.
    pub also_not: Vec<&'static str>,
    /// rw-register: committed reads of values only transactions of unknown outcome wrote, which
    /// Elle's graph leaves out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unknown_writer_reads: Option<usize>,
}

/// Checks a list-append history against `models` (canonical names, see [`models::canonical`]).
/// An error says what in the history cannot be read.
pub fn check_list_append(ops: &[Op], models: &[&'static str]) -> Result<TxnResult, String> {
    let txns = txn::transactions(ops)?;
    let mut inferred = list_append::infer(&txns)?;
    let (graph, found) = (
        std::mem::take(&mut inferred.graph),
        std::mem::take(&mut inferred.found),
    );
    let found = with_cycles(&txns, graph, found, models, &|from, to, kind| {
        inferred.why(&txns, from, to, kind)
    });
    Ok(verdict(txns.len(), found, models))
}

/// Checks a read-write register history against `models`, as Maelstrom does: Elle's
/// `wfr-keys` inference only, and a history without one committed transaction is invalid
/// (Maelstrom's wrapper counts Elle's empty transaction graph as an anomaly).
pub fn check_rw_register(ops: &[Op], models: &[&'static str]) -> Result<TxnResult, String> {
    check_rw_register_with(ops, models, false)
}

/// [`check_rw_register`], with `unknown_writers`: transactions of unknown outcome take part in
/// the graph too (their writes), where Elle leaves them out.
pub fn check_rw_register_with(
    ops: &[Op],
    models: &[&'static str],
    unknown_writers: bool,
) -> Result<TxnResult, String> {
    let txns = txn::transactions(ops)?;
    let mut inferred = rw_register::infer(&txns, unknown_writers)?;
    let (graph, found) = (
        std::mem::take(&mut inferred.graph),
        std::mem::take(&mut inferred.found),
    );
    let mut found = with_cycles(&txns, graph, found, models, &|from, to, kind| {
        inferred.why(&txns, from, to, kind)
    });
    let committed = txns.iter().any(|txn| txn.outcome == txn::Outcome::Ok);
    if !committed {
        found.push(
            "empty-transaction-graph",
            Anomaly {
                words: "no transaction committed, so there was nothing to check".into(),
                ops: Vec::new(),
                cycle: Vec::new(),
            },
        );
    }
    let mut result = verdict(txns.len(), found, models);
    result.unknown_writer_reads = Some(inferred.unknown_writer_reads);
    if !committed {
        result.valid = Validity::Invalid;
    }
    Ok(result)
}

/// `found` with the cycle anomalies of `graph` added (with real-time edges when a model needs
/// them), their edges put in words by `explain`.
fn with_cycles(
    txns: &[Txn],
    mut graph: graph::Graph,
    mut found: Found,
    models: &[&'static str],
    explain: cycles::Explain<'_>,
) -> Found {
    let realtime = models.contains(&"strict-serializable");
    cycles::search(txns, &mut graph, &mut found, realtime, explain);
    found
}

/// The verdict from what was found.
fn verdict(txn_count: usize, found: Found, models: &[&'static str]) -> TxnResult {
    let types = found.types();
    let (ruled_out, weakest) = models::ruled_out(&types);
    let valid = if models.iter().any(|model| ruled_out.contains(model)) {
        Validity::Invalid
    } else if txn_count == 0 {
        Validity::Unknown
    } else {
        Validity::Valid
    };
    TxnResult {
        valid,
        models: models.to_vec(),
        txn_count,
        anomaly_types: types.iter().map(|t| (*t).to_owned()).collect(),
        not: weakest,
        also_not: ruled_out,
        anomalies: found,
        unknown_writer_reads: None,
    }
}

#[cfg(test)]
mod brute_force;
#[cfg(test)]
mod differential;
#[cfg(test)]
mod tests;
