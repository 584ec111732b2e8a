//! What a read-write register history tells, much less than a list-append one: a read returns
//! one value, not the history of the key, so the order of versions is known only where Elle's
//! `wfr-keys` inference (the one Maelstrom asks for) gives it: the initial `null` comes before
//! every version, and a transaction that read a key and then wrote it put its write right after
//! what it read. Two blind writes cannot be ordered, so a write cycle (G0) cannot be seen
//! (Maelstrom issue #56).
//!
//! Found without cycles:
//! - `G1a` (aborted read): a committed read of a value only a failed transaction wrote;
//! - `G1b` (intermediate read): a read of a value its writer overwrote in the same transaction;
//! - `internal`: a read that disagrees with its own transaction's earlier read or write of the
//!   key;
//! - `lost-update`: two committed transactions read the same version of a key and then both
//!   wrote it;
//! - `cyclic-versions`: a key's versions inferred in a cycle (each written by a transaction
//!   that read the one before); the inference then contradicts itself, so, as Elle does, only
//!   the initial null's place is kept, for every key.
//!
//! The graph: `wr` from a value's writer to its readers; `ww` from the writer of a value to the
//! transaction that read it and wrote the key after; `rw` from a reader of a value to the
//! writers of the versions known to follow it.

use std::collections::HashMap;

use super::graph::{Graph, Kinds, RW, WR, WW, Why};
use super::txn::{Mop, Outcome, Txn, name};
use super::{Anomaly, Found};

/// The value a read returned: `null` (none) or a value's JSON text.
fn value(read: &[String]) -> Option<&str> {
    read.first().map(String::as_str)
}

/// The inference's results.
pub struct Inferred {
    /// Per anomaly type, the cases.
    pub found: Found,
    /// The dependency graph over the transactions.
    pub graph: Graph,
    /// Per key, the known version order's edges: (version before or `None` for the initial
    /// null, the version after).
    pub follows: HashMap<String, Vec<(Option<String>, String)>>,
    /// Committed reads of a value that only a transaction of unknown outcome wrote: Elle (and
    /// so Maelstrom) leaves such writers out of the graph, so cycles through them go unseen.
    pub unknown_writer_reads: usize,
}

/// Per transaction and key: the value it read before writing the key (if it did), and the
/// last value it wrote.
fn external(txn: &Txn) -> HashMap<&str, (Option<Option<&str>>, Option<&str>)> {
    let mut out: HashMap<&str, (Option<Option<&str>>, Option<&str>)> = HashMap::new();
    for mop in &txn.mops {
        match mop {
            Mop::Read(key, Some(read)) => {
                let entry = out.entry(key.as_str()).or_default();
                if entry.0.is_none() && entry.1.is_none() {
                    entry.0 = Some(value(read));
                }
            }
            Mop::Write(key, written) => {
                out.entry(key.as_str()).or_default().1 = Some(written.as_str());
            }
            _ => {}
        }
    }
    out
}

impl Inferred {
    /// Why the edge `from → to` of `kind` is there, in words.
    pub fn why(&self, txns: &[Txn], from: usize, to: usize, kind: Kinds) -> Why {
        let (a, b) = (external(&txns[from]), external(&txns[to]));
        let show = |v: Option<&str>| v.unwrap_or("null").to_owned();
        let found = match kind {
            WR => b.iter().find_map(|(key, (read, _))| {
                let read = (*read)??;
                (a.get(key)?.1? == read).then(|| Why {
                    key: Some((*key).to_owned()),
                    words: format!("wrote {read} to key {key}, which was read"),
                })
            }),
            WW => b.iter().find_map(|(key, (read, wrote))| {
                let (read, wrote) = ((*read)??, (*wrote)?);
                (a.get(key)?.1? == read).then(|| Why {
                    key: Some((*key).to_owned()),
                    words: format!(
                        "wrote {read} to key {key}, which was read and then overwritten with {wrote}"
                    ),
                })
            }),
            RW => a.iter().find_map(|(key, (read, _))| {
                let read = (*read)?;
                let wrote = b.get(key)?.1?;
                let follows = self.follows.get(*key)?;
                follows
                    .iter()
                    .any(|(before, after)| before.as_deref() == read && after == wrote)
                    .then(|| Why {
                        key: Some((*key).to_owned()),
                        words: format!(
                            "read {} from key {key}, which {wrote} later overwrote",
                            show(read)
                        ),
                    })
            }),
            _ => None,
        };
        found.unwrap_or_else(|| Why {
            key: None,
            words: "completed before the next was invoked".into(),
        })
    }
}

/// Runs the inference over `txns`. Only committed transactions take part in the graph, as in
/// Elle; with `unknown_writers`, those of unknown outcome do too (their writes, not their
/// reads, which are not known), closing the hole that leaves cycles through them unseen.
pub fn infer(txns: &[Txn], unknown_writers: bool) -> Result<Inferred, String> {
    let mut found = Found::new();
    // Who wrote each value of each key, and whether it was their last write to the key.
    let mut writer: HashMap<(&str, &str), usize> = HashMap::new();
    for (t, txn) in txns.iter().enumerate() {
        for mop in &txn.mops {
            if let Mop::Write(key, written) = mop
                && let Some(other) = writer.insert((key.as_str(), written.as_str()), t)
                && other != t
            {
                return Err(format!(
                    "{} and {} both write {written} to key {key}: rw-register needs every written value to be unique per key",
                    name(txns, other),
                    name(txns, t)
                ));
            }
        }
    }
    let externals: Vec<_> = txns.iter().map(external).collect();
    internal(txns, &mut found);
    super::lost_update::find(txns, &mut found, |read| {
        value(read).unwrap_or("null").to_owned()
    });
    aborted_and_intermediate_reads(txns, &writer, &mut found);
    // Only committed transactions take part in the graph, each by its external writes (its last
    // write of each key), as in Elle, which indexes only ok operations.
    let committed = |t: &usize| {
        txns[*t].outcome == Outcome::Ok || (unknown_writers && txns[*t].outcome == Outcome::Unknown)
    };
    let mut ext_writer: HashMap<(&str, &str), usize> = HashMap::new();
    for t in (0..txns.len()).filter(committed) {
        for (key, (_, wrote)) in &externals[t] {
            if let Some(wrote) = wrote {
                ext_writer.insert((key, wrote), t);
            }
        }
    }
    // The known version order: null first, and each write right after what its transaction
    // read of the key.
    let mut follows: HashMap<String, Vec<(Option<String>, String)>> = HashMap::new();
    for t in (0..txns.len()).filter(committed) {
        for (key, (read, wrote)) in &externals[t] {
            let Some(wrote) = wrote else { continue };
            let edges = follows.entry((*key).to_owned()).or_default();
            edges.push((None, (*wrote).to_owned()));
            if let Some(Some(read)) = read {
                edges.push((Some((*read).to_owned()), (*wrote).to_owned()));
            }
        }
    }
    // A key whose versions go round in a cycle contradicts the inference: as Elle does, the
    // cycle is reported and the writes-follow-reads order is dropped for every key, leaving
    // only the initial null first.
    let cyclic = cyclic_versions(txns, &follows, &writer, &mut found);
    if cyclic {
        for edges in follows.values_mut() {
            edges.retain(|(before, _)| before.is_none());
        }
    }
    let mut graph = Graph::new(txns.len());
    let writer_of = |key: &str, value: &str| ext_writer.get(&(key, value)).copied();
    let unknown_writer_reads = externals
        .iter()
        .enumerate()
        .filter(|(t, _)| txns[*t].outcome == Outcome::Ok)
        .flat_map(|(_, external)| external.iter())
        .filter(|(key, (read, _))| {
            matches!(read, Some(Some(read)) if writer
                .get(&(**key, *read))
                .is_some_and(|&w| txns[w].outcome == Outcome::Unknown))
        })
        .count();
    for t in (0..txns.len()).filter(committed) {
        for (key, (read, wrote)) in &externals[t] {
            let Some(read) = read else { continue };
            // wr: the value's writer to its reader; ww: to the reader that then wrote the key.
            if let Some(read) = read
                && let Some(w) = writer_of(key, read)
            {
                graph.add(w, t, WR);
                if wrote.is_some() && !cyclic {
                    graph.add(w, t, WW);
                }
            }
            // rw: everything known to follow what was read was written after this read.
            for (before, after) in follows.get(*key).into_iter().flatten() {
                if before.as_deref() == *read
                    && let Some(w) = writer_of(key, after)
                {
                    graph.add(t, w, RW);
                }
            }
        }
    }
    Ok(Inferred {
        found,
        graph,
        follows,
        unknown_writer_reads,
    })
}

/// Aborted and intermediate reads, by every read of a committed transaction (as Elle looks,
/// not only its first read of a key): a value only a failed transaction wrote (G1a), or one its
/// writer overwrote in the same transaction (G1b).
fn aborted_and_intermediate_reads(
    txns: &[Txn],
    writer: &HashMap<(&str, &str), usize>,
    found: &mut Found,
) {
    // Per transaction and key, its last write.
    let last = |w: usize, key: &str| {
        txns[w].mops.iter().rev().find_map(|mop| match mop {
            Mop::Write(k, v) if k == key => Some(v.as_str()),
            _ => None,
        })
    };
    for (t, txn) in txns.iter().enumerate() {
        if txn.outcome != Outcome::Ok {
            continue;
        }
        for mop in &txn.mops {
            let Mop::Read(key, Some(read)) = mop else {
                continue;
            };
            let Some(read) = value(read) else { continue };
            let Some(&w) = writer.get(&(key.as_str(), read)) else {
                continue;
            };
            if txns[w].outcome == Outcome::Failed {
                found.push(
                    "G1a",
                    Anomaly::about(
                        txns,
                        &[w, t],
                        format!(
                            "{} read {read} from key {key}, which only {} wrote, and it failed (an aborted write was seen)",
                            name(txns, t),
                            name(txns, w)
                        ),
                    ),
                );
            } else if w != t && last(w, key) != Some(read) {
                found.push(
                    "G1b",
                    Anomaly::about(
                        txns,
                        &[w, t],
                        format!(
                            "{} read {read} from key {key}, which {} overwrote in the same transaction (an intermediate state was seen)",
                            name(txns, t),
                            name(txns, w)
                        ),
                    ),
                );
            }
        }
    }
}

/// Finds the keys whose inferred versions form a cycle (`cyclic-versions`: each written by a
/// transaction that read the one before); true if there is one.
fn cyclic_versions(
    txns: &[Txn],
    follows: &HashMap<String, Vec<(Option<String>, String)>>,
    writer: &HashMap<(&str, &str), usize>,
    found: &mut Found,
) -> bool {
    let mut keys: Vec<&String> = follows.keys().collect();
    keys.sort_unstable();
    let mut any = false;
    for key in keys {
        let edges: Vec<(&str, &str)> = follows[key]
            .iter()
            .filter_map(|(before, after)| Some((before.as_deref()?, after.as_str())))
            .filter(|(before, after)| before != after)
            .collect();
        let mut versions: Vec<&str> = edges.iter().flat_map(|&(a, b)| [a, b]).collect();
        versions.sort_unstable();
        versions.dedup();
        let at = |v: &str| versions.binary_search(&v).expect("a version of the key");
        let mut next: Vec<Vec<usize>> = vec![Vec::new(); versions.len()];
        for &(a, b) in &edges {
            next[at(a)].push(at(b));
        }
        let component =
            crate::checker::digraph::components(versions.len(), |v| next[v].iter().copied());
        let mut sizes: HashMap<usize, Vec<usize>> = HashMap::new();
        for (v, &c) in component.iter().enumerate() {
            sizes.entry(c).or_default().push(v);
        }
        let mut cycles: Vec<Vec<usize>> = sizes.into_values().filter(|vs| vs.len() > 1).collect();
        cycles.sort_unstable();
        for cycle in cycles {
            any = true;
            let values: Vec<&str> = cycle.iter().map(|&v| versions[v]).collect();
            let writers: Vec<usize> = values
                .iter()
                .filter_map(|value| writer.get(&(key.as_str(), *value)).copied())
                .collect();
            found.push(
                "cyclic-versions",
                Anomaly::about(
                    txns,
                    &writers,
                    format!(
                        "key {key}'s versions {} each come after another (written by a transaction that read the one before), so no order of versions holds them all",
                        values.join(", ")
                    ),
                ),
            );
        }
    }
    any
}

/// Reads that disagree with their own transaction's earlier read or write of the key.
fn internal(txns: &[Txn], found: &mut Found) {
    for (t, txn) in txns.iter().enumerate() {
        if txn.outcome != Outcome::Ok {
            continue;
        }
        let mut known: HashMap<&str, Option<&str>> = HashMap::new();
        for mop in &txn.mops {
            match mop {
                Mop::Write(key, written) => {
                    known.insert(key, Some(written));
                }
                Mop::Read(key, Some(read)) => {
                    let seen = value(read);
                    if let Some(&expected) = known.get(key.as_str())
                        && expected != seen
                    {
                        found.push(
                            "internal",
                            Anomaly::about(
                                txns,
                                &[t],
                                format!(
                                    "{} read {} from key {key}, but its own earlier read or write of it says {}",
                                    name(txns, t),
                                    seen.unwrap_or("null"),
                                    expected.unwrap_or("null")
                                ),
                            ),
                        );
                    }
                    known.insert(key, seen);
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value as Json, json};

    use crate::checker::Validity::{Invalid, Valid};
    use crate::checker::elle::{TxnResult, check_rw_register, check_rw_register_with};
    use crate::checker::testing::Builder;
    use crate::history::OpKind;

    /// (process, completed micro-ops or, failed, the request's, committed?)
    fn check(txns: &[(u64, Json, bool)], model: &'static str) -> TxnResult {
        let mut b = Builder::new();
        for (at, (process, mops, ok)) in txns.iter().enumerate() {
            let asked: Vec<Json> = mops
                .as_array()
                .unwrap()
                .iter()
                .map(|m| {
                    if m[0] == "r" {
                        json!(["r", m[1], null])
                    } else {
                        m.clone()
                    }
                })
                .collect();
            let t = at as u64 * 10;
            b.op(*process, OpKind::Invoke, "txn", Json::Array(asked), t);
            let kind = if *ok { OpKind::Ok } else { OpKind::Fail };
            b.op(*process, kind, "txn", mops.clone(), t + 5);
        }
        check_rw_register(b.history.ops(), &[model]).unwrap()
    }

    #[test]
    fn two_writes_after_one_read_of_the_same_value_are_a_lost_update() {
        let txns = [
            (0, json!([["w", 1, 1]]), true),
            (1, json!([["r", 1, 1], ["w", 1, 2]]), true),
            (2, json!([["r", 1, 1], ["w", 1, 3]]), true),
        ];
        let result = check(&txns, "snapshot-isolation");
        assert_eq!(result.valid, Invalid, "{result:?}");
        assert!(result.anomaly_types.contains(&"lost-update".to_owned()));
        assert!(
            result.anomalies.0["lost-update"].examples[0]
                .words
                .contains("read key 1 as 1")
        );
        assert_eq!(check(&txns, "read-committed").valid, Valid);
    }

    #[test]
    fn versions_that_follow_each_other_round_a_cycle_fail_read_uncommitted() {
        // Each read the other's write and then wrote what the other read.
        let txns = [
            (0, json!([["r", 1, 2], ["w", 1, 1]]), true),
            (1, json!([["r", 1, 1], ["w", 1, 2]]), true),
        ];
        let result = check(&txns, "read-uncommitted");
        assert_eq!(result.valid, Invalid, "{result:?}");
        assert!(result.anomaly_types.contains(&"cyclic-versions".to_owned()));
        let words = &result.anomalies.0["cyclic-versions"].examples[0].words;
        assert!(words.contains("key 1's versions 1, 2"), "{words}");
    }

    #[test]
    fn a_cycle_through_a_writer_of_unknown_outcome_is_seen_only_in_strict_mode() {
        // T1 (unknown outcome) wrote x=1, which T2 read; T3 read x as null and y as T2's 1:
        // T3 -rw-> T1 -wr-> T2 -wr-> T3. Elle leaves T1 out of the graph.
        let mut b = Builder::new();
        b.op(1, OpKind::Invoke, "txn", json!([["w", "x", 1]]), 0)
            .op(
                2,
                OpKind::Invoke,
                "txn",
                json!([["r", "x", null], ["w", "y", 1]]),
                1,
            )
            .op(
                2,
                OpKind::Ok,
                "txn",
                json!([["r", "x", 1], ["w", "y", 1]]),
                2,
            )
            .op(
                3,
                OpKind::Invoke,
                "txn",
                json!([["r", "y", null], ["r", "x", null]]),
                3,
            )
            .op(
                3,
                OpKind::Ok,
                "txn",
                json!([["r", "y", 1], ["r", "x", null]]),
                4,
            )
            .op(1, OpKind::Info, "txn", json!([["w", "x", 1]]), 5);
        let elle = check_rw_register_with(b.history.ops(), &["serializable"], false).unwrap();
        assert_eq!(elle.valid, Valid, "{elle:?}");
        assert_eq!(elle.unknown_writer_reads, Some(1));
        let strict = check_rw_register_with(b.history.ops(), &["serializable"], true).unwrap();
        assert_eq!(strict.valid, Invalid, "{strict:?}");
        assert_eq!(strict.anomaly_types, ["G-single-item"]);
    }

    /// Every anomaly the register inference can see, under every model, as Elle relates them
    /// (worked out by hand).
    #[test]
    fn each_anomaly_is_judged_under_each_model() {
        use crate::checker::elle::models::MODELS;
        let above_ru = &MODELS[1..];
        let beyond_rc = &MODELS[2..];
        // (anomaly, transactions, models under which it must be invalid)
        type Case = (
            &'static str,
            Vec<(u64, Json, bool)>,
            &'static [&'static str],
        );
        let cases: Vec<Case> = vec![
            (
                "G1a",
                vec![
                    (0, json!([["w", 1, 1]]), false),
                    (1, json!([["r", 1, 1]]), true),
                ],
                above_ru,
            ),
            (
                "G1b",
                vec![
                    (0, json!([["w", 1, 1], ["w", 1, 2]]), true),
                    (1, json!([["r", 1, 1]]), true),
                ],
                above_ru,
            ),
            (
                "G1c",
                vec![
                    (0, json!([["w", 1, 1], ["r", 2, 2]]), true),
                    (1, json!([["w", 2, 2], ["r", 1, 1]]), true),
                ],
                above_ru,
            ),
            (
                "G-single-item",
                vec![
                    (0, json!([["w", 1, 1], ["w", 2, 1]]), true),
                    (1, json!([["r", 1, null], ["r", 2, 1]]), true),
                ],
                beyond_rc,
            ),
            (
                "G2-item",
                vec![
                    (
                        0,
                        json!([["r", 1, null], ["r", 2, null], ["w", 1, 1]]),
                        true,
                    ),
                    (
                        1,
                        json!([["r", 1, null], ["r", 2, null], ["w", 2, 1]]),
                        true,
                    ),
                ],
                &["repeatable-read", "serializable", "strict-serializable"],
            ),
            (
                "lost-update",
                vec![
                    (0, json!([["w", 1, 1]]), true),
                    (1, json!([["r", 1, 1], ["w", 1, 2]]), true),
                    (2, json!([["r", 1, 1], ["w", 1, 3]]), true),
                ],
                beyond_rc,
            ),
            (
                "internal",
                vec![
                    (0, json!([["w", 1, 2]]), true),
                    (1, json!([["w", 1, 1], ["r", 1, 2]]), true),
                ],
                &["snapshot-isolation", "serializable", "strict-serializable"],
            ),
            (
                "cyclic-versions",
                vec![
                    (0, json!([["r", 1, 2], ["w", 1, 1]]), true),
                    (1, json!([["r", 1, 1], ["w", 1, 2]]), true),
                ],
                MODELS,
            ),
        ];
        for (anomaly, txns, invalid) in &cases {
            let found = check(txns, "strict-serializable").anomaly_types;
            assert!(
                found.contains(&(*anomaly).to_owned()),
                "{anomaly}: {found:?}"
            );
            for model in MODELS {
                let want = if invalid.contains(model) {
                    Invalid
                } else {
                    Valid
                };
                let result = check(txns, model);
                assert_eq!(result.valid, want, "{anomaly} under {model}: {result:?}");
            }
        }
    }

    #[test]
    fn a_serial_history_is_valid() {
        let txns = [
            (0, json!([["w", 1, 1]]), true),
            (1, json!([["r", 1, 1], ["w", 1, 2]]), true),
            (0, json!([["r", 1, 2], ["r", 2, null]]), true),
        ];
        for model in [
            "read-uncommitted",
            "read-committed",
            "serializable",
            "strict-serializable",
        ] {
            assert_eq!(check(&txns, model).valid, Valid, "{model}");
        }
    }

    #[test]
    fn aborted_and_intermediate_reads_fail_read_committed() {
        let aborted = [
            (0, json!([["w", 1, 1]]), false),
            (1, json!([["r", 1, 1]]), true),
        ];
        assert_eq!(check(&aborted, "read-uncommitted").valid, Valid);
        assert_eq!(check(&aborted, "read-committed").anomaly_types, ["G1a"]);
        assert_eq!(check(&aborted, "read-committed").valid, Invalid);
        let intermediate = [
            (0, json!([["w", 1, 1], ["w", 1, 2]]), true),
            (1, json!([["r", 1, 1]]), true),
        ];
        let result = check(&intermediate, "read-committed");
        assert_eq!(result.valid, Invalid);
        assert!(
            result.anomaly_types.contains(&"G1b".to_owned()),
            "{result:?}"
        );
    }

    #[test]
    fn circular_information_flow_is_g1c_and_read_skew_g_single() {
        let flow = [
            (0, json!([["w", 1, 1], ["r", 2, 1]]), true),
            (1, json!([["w", 2, 1], ["r", 1, 1]]), true),
        ];
        assert_eq!(check(&flow, "read-uncommitted").valid, Valid);
        assert_eq!(check(&flow, "read-committed").anomaly_types, ["G1c"]);
        let skew = [
            (0, json!([["w", 1, 1], ["w", 2, 1]]), true),
            (1, json!([["r", 1, null], ["r", 2, 1]]), true),
        ];
        assert_eq!(check(&skew, "read-committed").valid, Valid);
        let result = check(&skew, "serializable");
        assert_eq!(result.valid, Invalid);
        assert!(
            result.anomaly_types.contains(&"G-single-item".to_owned()),
            "{result:?}"
        );
    }

    #[test]
    fn a_read_against_its_own_write_is_internal() {
        let txns = [
            (1, json!([["w", 1, 2]]), true),
            (0, json!([["w", 1, 1], ["r", 1, 2]]), true),
        ];
        assert!(
            check(&txns, "serializable")
                .anomaly_types
                .contains(&"internal".to_owned())
        );
    }

    #[test]
    fn blind_write_cycles_cannot_be_seen_and_nothing_committed_is_invalid() {
        // x: 1 then 2, y: 2 then 1 would be G0, but no read orders the blind writes.
        let blind = [
            (0, json!([["w", 1, 1], ["w", 2, 2]]), true),
            (1, json!([["w", 1, 2], ["w", 2, 1]]), true),
            (2, json!([["r", 1, 2], ["r", 2, 2]]), true),
        ];
        assert_eq!(check(&blind, "read-uncommitted").valid, Valid);
        let nothing = [(0, json!([["w", 1, 1]]), false)];
        let result = check(&nothing, "read-uncommitted");
        assert_eq!(result.valid, Invalid);
        assert_eq!(result.anomaly_types, ["empty-transaction-graph"]);
    }
}
