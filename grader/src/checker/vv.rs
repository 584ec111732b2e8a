//! The concurrent-writers checker: a multi-value register per key, versioned by vector clocks.
//!
//! Every write carries the context its client saw (a vector clock: the merge of the vectors of
//! what it read and wrote on that key) and is acknowledged with the write's own vector. A write
//! is **superseded** when another write's context includes it (the context is at least its
//! vector in every entry): that client saw it and meant to replace it. An acknowledged write is
//! **lost** when it is not among the final values of its key and nothing superseded it.
//!
//! - **Converged**: every ok final read of a key returns the same values.
//! - **Only written values**: a final value nobody wrote is invalid.
//! - **Well-formed vectors**: an acknowledged write's vector is its context with one entry (the
//!   writer's) raised; anything else breaks the order the checker judges by.
//! - **Mode `vv`**: no acknowledged write is lost, and the final values of a key are pairwise
//!   concurrent (a kept value another one dominates should have been dropped).
//! - **Mode `lww`**: every read returns at most one value; lost writes are counted, not judged
//!   (losing concurrent writes is what last-writer-wins does).
//! - **Conflicts**: ok reads that returned more than one value (siblings), counted.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value as Json;

use super::Validity;
use crate::history::{Op, OpKind};

/// A vector clock: an entry per writer (a client id), missing entries are zero.
pub type Vector = BTreeMap<String, u64>;

/// Reads a vector clock from JSON: an object of non-negative integers.
pub fn vector(json: &Json) -> Option<Vector> {
    json.as_object()?
        .iter()
        .map(|(key, count)| Some((key.clone(), count.as_u64()?)))
        .collect()
}

/// True when `a` ≤ `b` in every entry (`b` includes everything `a` does).
pub fn included(a: &Vector, b: &Vector) -> bool {
    a.iter()
        .all(|(key, count)| b.get(key).copied().unwrap_or(0) >= *count)
}

/// The entry-wise maximum of `a` and `b`, into `a`.
pub fn merge_into(a: &mut Vector, b: &Vector) {
    for (key, count) in b {
        let entry = a.entry(key.clone()).or_insert(0);
        *entry = (*entry).max(*count);
    }
}

/// True when `vc` is `context` with exactly one entry raised (zero entries ignored).
fn extends_by_one_entry(context: &Vector, vc: &Vector) -> bool {
    let keys: BTreeSet<&String> = context.keys().chain(vc.keys()).collect();
    let mut raised = 0;
    for key in keys {
        let before = context.get(key).copied().unwrap_or(0);
        let after = vc.get(key).copied().unwrap_or(0);
        if after < before {
            return false;
        }
        raised += usize::from(after > before);
    }
    raised == 1
}

/// Which behaviour the nodes were asked for (`set_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Last writer wins: one value per key.
    Lww,
    /// Version vectors: concurrent writes kept as siblings.
    Vv,
}

impl Mode {
    /// The mode's name, as `set_mode` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Lww => "lww",
            Mode::Vv => "vv",
        }
    }
}

/// One write, invocation and completion paired.
#[derive(Debug, Clone)]
struct Write {
    key: String,
    value: Json,
    node: String,
    context: Vector,
    /// Its vector, when acknowledged.
    vc: Option<Vector>,
    /// Acknowledged, or its outcome unknown: it may have taken effect.
    may_have_happened: bool,
}

/// An acknowledged write that vanished though no write superseded it.
#[derive(Debug, Clone, Serialize)]
pub struct LostWrite {
    /// Its key.
    pub key: String,
    /// Its value.
    pub value: Json,
    /// The node that took it.
    pub node: String,
    /// Its vector clock.
    pub vc: Vector,
}

/// One key's end state.
#[derive(Debug, Clone, Serialize)]
pub struct KeyReport {
    /// The key.
    pub key: String,
    /// The values its first ok final read returned, sorted.
    pub final_values: Vec<Json>,
    /// Whether every ok final read returned the same values.
    pub agreed: bool,
}

/// The `workload` section of a concurrent-writers run.
#[derive(Debug, Clone, Serialize)]
pub struct VvResult {
    /// Invalid when a rule of the module docs is broken; unknown without an ok final read.
    pub valid: Validity,
    /// The mode the nodes were asked for.
    pub mode: Mode,
    /// Writes invoked.
    pub write_count: usize,
    /// Writes acknowledged.
    pub acknowledged_count: usize,
    /// Acknowledged writes a later write's context included (replaced on purpose).
    pub superseded_count: usize,
    /// Acknowledged writes neither among the final values nor superseded.
    pub lost_write_count: usize,
    /// The first 100 of them.
    pub lost_writes: Vec<LostWrite>,
    /// Ok reads (final ones included).
    pub read_count: usize,
    /// Ok reads that returned more than one value.
    pub conflict_count: usize,
    /// The most values one read returned.
    pub max_siblings: usize,
    /// Keys whose final reads disagree.
    pub diverged_keys: Vec<String>,
    /// Final values no write wrote, as `key=value`.
    pub unknown_values: Vec<String>,
    /// Acknowledged writes whose vector is not their context with one entry raised, as
    /// `key=value`.
    pub bad_vectors: Vec<String>,
    /// Final values another final value of the same key dominates, as `key=value` (mode vv).
    pub dominated_kept: Vec<String>,
    /// Reads that returned more than one value though the mode is lww.
    pub multi_value_reads_in_lww: usize,
    /// Each key read at the end.
    pub keys: Vec<KeyReport>,
}

/// The values one read returned, each with its vector (none when malformed).
type Read = Vec<(Json, Option<Vector>)>;

/// A value and its vector, as a read returns them.
fn siblings(value: &Json) -> Read {
    value["values"]
        .as_array()
        .map(|values| {
            values
                .iter()
                .map(|sibling| (sibling["value"].clone(), vector(&sibling["vc"])))
                .collect()
        })
        .unwrap_or_default()
}

/// Judges a history of `write {key, value, context}` (completed with `{…, vc}`) and `read
/// {key}` (completed with `{key, values: [{value, vc}], conflict}`) operations, run in `mode`.
pub fn check(history: &[Op], mode: Mode) -> VvResult {
    let mut writes: Vec<Write> = Vec::new();
    let mut finals: BTreeMap<String, Vec<Read>> = BTreeMap::new();
    let mut read_count = 0;
    let mut conflict_count = 0;
    let mut max_siblings = 0;
    for (invocation, completion) in crate::history::paired(history) {
        let key = invocation.value["key"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let kind = completion.map(|op| op.kind);
        if invocation.f == "write" {
            let ok = completion.filter(|op| op.kind == OpKind::Ok);
            writes.push(Write {
                key,
                value: invocation.value["value"].clone(),
                node: completion
                    .and_then(|op| op.node.clone())
                    .or_else(|| invocation.node.clone())
                    .unwrap_or_default(),
                context: vector(&invocation.value["context"]).unwrap_or_default(),
                vc: ok.and_then(|op| vector(&op.value["vc"])),
                may_have_happened: kind != Some(OpKind::Fail),
            });
        } else if let Some(op) = completion.filter(|op| op.kind == OpKind::Ok) {
            let mut read = siblings(&op.value);
            read_count += 1;
            conflict_count += usize::from(read.len() > 1);
            max_siblings = max_siblings.max(read.len());
            if op.final_read {
                read.sort_by_key(|(value, _)| value.to_string());
                finals.entry(key).or_default().push(read);
            }
        }
    }
    // A write is superseded when another write that may have happened had a context that
    // includes it.
    let superseded = |write: &Write| {
        write.vc.as_ref().is_some_and(|vc| {
            writes.iter().any(|other| {
                other.may_have_happened
                    && other.key == write.key
                    && other.value != write.value
                    && included(vc, &other.context)
            })
        })
    };
    let bad_vectors: Vec<String> = writes
        .iter()
        .filter(|write| {
            write
                .vc
                .as_ref()
                .is_some_and(|vc| !extends_by_one_entry(&write.context, vc))
        })
        .map(|write| format!("{}={}", write.key, write.value))
        .collect();
    let mut keys = Vec::new();
    let mut diverged_keys = Vec::new();
    let mut unknown_values = Vec::new();
    let mut dominated_kept = Vec::new();
    let mut lost_writes = Vec::new();
    for (key, reads) in &finals {
        let values: Vec<Json> = reads[0].iter().map(|(value, _)| value.clone()).collect();
        let agreed = reads
            .iter()
            .all(|read| read.iter().map(|(value, _)| value).eq(values.iter()));
        if !agreed {
            diverged_keys.push(key.clone());
        }
        for value in &values {
            if !writes
                .iter()
                .any(|write| &write.key == key && &write.value == value)
            {
                unknown_values.push(format!("{key}={value}"));
            }
        }
        for (value, vc) in &reads[0] {
            let dominated = vc.as_ref().is_some_and(|vc| {
                reads[0].iter().any(|(other, other_vc)| {
                    other != value && other_vc.as_ref().is_some_and(|o| included(vc, o))
                })
            });
            if dominated {
                dominated_kept.push(format!("{key}={value}"));
            }
        }
        if agreed {
            for write in writes.iter().filter(|write| &write.key == key) {
                let Some(vc) = &write.vc else { continue };
                if !values.contains(&write.value) && !superseded(write) {
                    lost_writes.push(LostWrite {
                        key: key.clone(),
                        value: write.value.clone(),
                        node: write.node.clone(),
                        vc: vc.clone(),
                    });
                }
            }
        }
        keys.push(KeyReport {
            key: key.clone(),
            final_values: values,
            agreed,
        });
    }
    let multi_value_reads_in_lww = if mode == Mode::Lww { conflict_count } else { 0 };
    let broken = !diverged_keys.is_empty()
        || !unknown_values.is_empty()
        || !bad_vectors.is_empty()
        || multi_value_reads_in_lww > 0
        || (mode == Mode::Vv && (!lost_writes.is_empty() || !dominated_kept.is_empty()));
    let valid = if broken {
        Validity::Invalid
    } else if finals.is_empty() {
        Validity::Unknown
    } else {
        Validity::Valid
    };
    VvResult {
        valid,
        mode,
        write_count: writes.len(),
        acknowledged_count: writes.iter().filter(|write| write.vc.is_some()).count(),
        superseded_count: writes.iter().filter(|write| superseded(write)).count(),
        lost_write_count: lost_writes.len(),
        lost_writes: lost_writes.into_iter().take(100).collect(),
        read_count,
        conflict_count,
        max_siblings,
        diverged_keys,
        unknown_values,
        bad_vectors,
        dominated_kept,
        multi_value_reads_in_lww,
        keys,
    }
}

#[cfg(test)]
mod tests {
    use rand::rngs::ChaCha8Rng;
    use rand::{RngExt, SeedableRng};
    use serde_json::json;

    use super::*;
    use crate::checker::testing::Builder;

    fn vc(entries: &[(&str, u64)]) -> Json {
        entries
            .iter()
            .map(|(key, count)| ((*key).to_owned(), json!(count)))
            .collect::<serde_json::Map<_, _>>()
            .into()
    }

    /// A write of `value` to k0 from `context` by `process` on `n0`, completed `kind` (with
    /// vector `vc` when ok).
    fn write(b: &mut Builder, process: u64, value: i64, context: Json, kind: OpKind, vc: Json) {
        let at = 10 * b.history.ops().len() as u64;
        let invoked = json!({"key": "k0", "value": value, "context": context});
        b.op_on(
            process,
            "n0",
            OpKind::Invoke,
            "write",
            invoked.clone(),
            at,
            false,
        );
        let mut done = invoked;
        if kind == OpKind::Ok {
            done["vc"] = vc;
        }
        b.op_on(process, "n0", kind, "write", done, at + 5, false);
    }

    /// A read of k0 on `node` returning `values` (value, vector).
    fn read(b: &mut Builder, process: u64, node: &str, values: &[(i64, Json)], final_read: bool) {
        let siblings: Vec<Json> = values
            .iter()
            .map(|(value, vc)| json!({"value": value, "vc": vc}))
            .collect();
        let done = json!({"key": "k0", "values": siblings, "conflict": values.len() > 1});
        let at = 10 * b.history.ops().len() as u64;
        b.op_on(
            process,
            node,
            OpKind::Invoke,
            "read",
            json!({"key": "k0"}),
            at,
            final_read,
        );
        b.op_on(process, node, OpKind::Ok, "read", done, at + 5, final_read);
    }

    fn finals(b: &mut Builder, values: &[(i64, Json)]) {
        read(b, 100, "n0", values, true);
        read(b, 101, "n1", values, true);
    }

    #[test]
    fn concurrent_writes_kept_as_siblings_then_superseded_lose_nothing() {
        let mut b = Builder::new();
        write(&mut b, 0, 1, json!({}), OpKind::Ok, vc(&[("c1", 1)]));
        write(&mut b, 1, 2, json!({}), OpKind::Ok, vc(&[("c2", 1)]));
        read(
            &mut b,
            2,
            "n0",
            &[(1, vc(&[("c1", 1)])), (2, vc(&[("c2", 1)]))],
            false,
        );
        let both = vc(&[("c1", 1), ("c2", 1)]);
        write(
            &mut b,
            2,
            3,
            both,
            OpKind::Ok,
            vc(&[("c1", 1), ("c2", 1), ("c3", 1)]),
        );
        finals(&mut b, &[(3, vc(&[("c1", 1), ("c2", 1), ("c3", 1)]))]);
        let result = check(b.history.ops(), Mode::Vv);
        assert_eq!(result.valid, Validity::Valid, "{result:?}");
        assert_eq!(
            (
                result.lost_write_count,
                result.superseded_count,
                result.conflict_count
            ),
            (0, 2, 1)
        );
        assert_eq!(result.max_siblings, 2);
    }

    #[test]
    fn a_concurrent_write_overwritten_is_lost_invalid_in_vv_and_counted_in_lww() {
        let mut b = Builder::new();
        write(&mut b, 0, 1, json!({}), OpKind::Ok, vc(&[("c1", 1)]));
        write(&mut b, 1, 2, json!({}), OpKind::Ok, vc(&[("c2", 1)]));
        finals(&mut b, &[(2, vc(&[("c2", 1)]))]);
        let vv = check(b.history.ops(), Mode::Vv);
        assert_eq!(vv.valid, Validity::Invalid);
        assert_eq!(vv.lost_write_count, 1);
        assert_eq!(vv.lost_writes[0].value, json!(1));
        let lww = check(b.history.ops(), Mode::Lww);
        assert_eq!(lww.valid, Validity::Valid, "{lww:?}");
        assert_eq!(lww.lost_write_count, 1);
        // A write whose outcome is unknown and whose context included the lost one supersedes it.
        write(&mut b, 2, 3, vc(&[("c1", 1)]), OpKind::Info, Json::Null);
        assert_eq!(check(b.history.ops(), Mode::Vv).lost_write_count, 0);
    }

    #[test]
    fn each_kind_of_broken_end_state_is_invalid_and_named() {
        let with = |finals_n1: &[(i64, Json)], finals_n0: &[(i64, Json)], mode, vc2: Json| {
            let mut b = Builder::new();
            write(&mut b, 0, 1, json!({}), OpKind::Ok, vc(&[("c1", 1)]));
            write(&mut b, 1, 2, vc(&[("c1", 1)]), OpKind::Ok, vc2);
            read(&mut b, 100, "n0", finals_n0, true);
            read(&mut b, 101, "n1", finals_n1, true);
            check(b.history.ops(), mode)
        };
        let good = vc(&[("c1", 1), ("c2", 1)]);
        let two = [(2, good.clone())];
        assert_eq!(
            with(&two, &two, Mode::Vv, good.clone()).valid,
            Validity::Valid
        );
        let split = with(&[(1, vc(&[("c1", 1)]))], &two, Mode::Vv, good.clone());
        assert_eq!(split.diverged_keys, ["k0"]);
        let stranger = [(9, good.clone())];
        let unknown = with(&stranger, &stranger, Mode::Vv, good.clone());
        assert_eq!(unknown.unknown_values, ["k0=9"]);
        let bad = with(&two, &two, Mode::Vv, vc(&[("c2", 1)]));
        assert_eq!(
            (bad.valid, bad.bad_vectors.clone()),
            (Validity::Invalid, vec!["k0=2".to_owned()])
        );
        let kept = [(1, vc(&[("c1", 1)])), (2, good.clone())];
        let dominated = with(&kept, &kept, Mode::Vv, good.clone());
        assert_eq!(dominated.dominated_kept, ["k0=1"]);
        let lww = with(&kept, &kept, Mode::Lww, good);
        assert_eq!(
            (lww.valid, lww.multi_value_reads_in_lww),
            (Validity::Invalid, 2)
        );
        assert_eq!(check(&[], Mode::Vv).valid, Validity::Unknown);
    }

    /// A replica in the model: its siblings, each with a vector, the set of writes it knows
    /// of (its causal past, kept as ids, not vectors) and an LWW stamp.
    #[derive(Clone, Debug)]
    struct Sibling {
        value: i64,
        vc: Vector,
        stamp: u64,
    }

    #[test]
    fn agrees_with_a_causal_history_model_on_small_random_histories() {
        let mut rng = ChaCha8Rng::seed_from_u64(23);
        let mut seen = [0usize; 3];
        for round in 0..400 {
            // 0: vv, 1: lww, 2: vv that sometimes drops a concurrent sibling (a bug).
            let behaviour = rng.random_range(0..3);
            let mode = if behaviour == 1 { Mode::Lww } else { Mode::Vv };
            let mut replicas: Vec<Vec<Sibling>> = vec![Vec::new(); 2];
            // Per client slot: its id, replica, context vector and causal past (write values).
            let mut clients: Vec<(String, usize, Vector, BTreeSet<i64>)> = (0..3)
                .map(|c| (format!("c{c}"), c % 2, Vector::new(), BTreeSet::new()))
                .collect();
            let mut next_id = 3;
            let mut pasts: BTreeMap<i64, BTreeSet<i64>> = BTreeMap::new();
            let mut acked: Vec<i64> = Vec::new();
            let mut b = Builder::new();
            let mut stamp = 0;
            for step in 0..rng.random_range(2..10) {
                let slot = rng.random_range(0..clients.len());
                let (id, replica, context, past) = clients[slot].clone();
                match rng.random_range(0..4) {
                    0 | 1 => {
                        let value = step as i64;
                        let mut vc = context.clone();
                        *vc.entry(id.clone()).or_insert(0) += 1;
                        stamp += 1;
                        let stored = &mut replicas[replica];
                        if mode == Mode::Lww {
                            stored.clear();
                        } else {
                            stored.retain(|s| !included(&s.vc, &vc));
                            if behaviour == 2 && !stored.is_empty() && rng.random_bool(0.7) {
                                stored.remove(0);
                            }
                        }
                        stored.push(Sibling {
                            value,
                            vc: vc.clone(),
                            stamp,
                        });
                        pasts.insert(value, past.clone());
                        let ctx = serde_json::to_value(&context).unwrap();
                        if rng.random_bool(0.8) {
                            write(
                                &mut b,
                                slot as u64,
                                value,
                                ctx,
                                OpKind::Ok,
                                serde_json::to_value(&vc).unwrap(),
                            );
                            acked.push(value);
                            clients[slot].2 = vc;
                            clients[slot].3.insert(value);
                        } else {
                            // Unknown outcome (it happened): the client is replaced.
                            write(&mut b, slot as u64, value, ctx, OpKind::Info, Json::Null);
                            clients[slot].0 = format!("c{next_id}");
                            next_id += 1;
                        }
                    }
                    2 => {
                        let stored = replicas[replica].clone();
                        let values: Vec<(i64, Json)> = stored
                            .iter()
                            .map(|s| (s.value, serde_json::to_value(&s.vc).unwrap()))
                            .collect();
                        read(&mut b, slot as u64, &format!("n{replica}"), &values, false);
                        for s in &stored {
                            merge_into(&mut clients[slot].2, &s.vc);
                            clients[slot].3.insert(s.value);
                            let before = pasts[&s.value].clone();
                            clients[slot].3.extend(before);
                        }
                    }
                    _ => {
                        // Replica 0 and 1 exchange everything.
                        let all: Vec<Sibling> = replicas.concat();
                        let merged: Vec<Sibling> = if mode == Mode::Lww {
                            all.iter()
                                .max_by_key(|s| s.stamp)
                                .cloned()
                                .into_iter()
                                .collect()
                        } else {
                            let mut kept: Vec<Sibling> = Vec::new();
                            for s in all {
                                if kept.iter().any(|k| included(&s.vc, &k.vc)) {
                                    continue;
                                }
                                kept.retain(|k| !included(&k.vc, &s.vc));
                                kept.push(s);
                            }
                            kept
                        };
                        replicas = vec![merged.clone(), merged];
                    }
                }
            }
            // Final anti-entropy, then a final read on both replicas.
            let all: Vec<Sibling> = replicas.concat();
            let mut end: Vec<Sibling> = Vec::new();
            if mode == Mode::Lww {
                end.extend(all.iter().max_by_key(|s| s.stamp).cloned());
            } else {
                for s in all {
                    if end.iter().any(|k| included(&s.vc, &k.vc)) {
                        continue;
                    }
                    end.retain(|k| !included(&k.vc, &s.vc));
                    end.push(s);
                }
            }
            let values: Vec<(i64, Json)> = end
                .iter()
                .map(|s| (s.value, serde_json::to_value(&s.vc).unwrap()))
                .collect();
            finals(&mut b, &values);
            // The model: lost = acknowledged, not in the end state, and in no write's causal
            // past (sets of write values, not vectors).
            let survivors: BTreeSet<i64> = end.iter().map(|s| s.value).collect();
            let lost: BTreeSet<i64> = acked
                .iter()
                .copied()
                .filter(|value| {
                    !survivors.contains(value) && !pasts.values().any(|past| past.contains(value))
                })
                .collect();
            let result = check(b.history.ops(), mode);
            let reported: BTreeSet<i64> = result
                .lost_writes
                .iter()
                .map(|lost| lost.value.as_i64().unwrap())
                .collect();
            assert_eq!(reported, lost, "round {round} ({behaviour}): {result:?}");
            assert_eq!(
                result.valid == Validity::Valid,
                mode == Mode::Lww || lost.is_empty(),
                "round {round} ({behaviour}): {result:?}"
            );
            if behaviour == 0 {
                // A faithful vv store never loses a write; count the rounds with siblings.
                assert!(lost.is_empty(), "round {round}: the model lost {lost:?}");
                seen[0] += usize::from(result.max_siblings > 1);
            } else {
                seen[behaviour] += usize::from(!lost.is_empty());
            }
        }
        assert!(seen.iter().all(|count| *count >= 10), "{seen:?}");
    }
}
