//! The last-writer-wins register checker, per key. Writes carry unique values; a write's
//! acknowledgement carries its timestamp, and the node that took it (the history's `node`)
//! breaks ties, so every write has a (ts, node) stamp and one of any two wins.
//!
//! - **Converged**: every ok final read of a key returns the same value.
//! - **The right winner**: that value is the acknowledged write with the largest (ts, node), or
//!   a write whose outcome was unknown (a timeout) stamped later still (the final read gives its
//!   ts). Any other final value is **wrong**.
//! - **Lost writes** (reported, not part of the verdict: LWW loses by design): an acknowledged
//!   write that is not the final value, when the final write did not begin after it was
//!   acknowledged, so no client could have meant to replace it: a concurrent write, or one
//!   stamped later on a faster clock, overwrote it.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value as Json;

use super::Validity;
use crate::history::{Op, OpKind};

/// One write, invocation and completion paired.
#[derive(Debug, Clone)]
struct Write {
    key: String,
    value: Json,
    node: String,
    invoked_ns: u64,
    acked_ns: Option<u64>,
    ts: Option<f64>,
    maybe: bool,
}

/// A write overwritten without a later write meaning to.
#[derive(Debug, Clone, Serialize)]
pub struct LostWrite {
    /// Its key.
    pub key: String,
    /// Its value.
    pub value: Json,
    /// The node that took it.
    pub node: String,
    /// Its timestamp.
    pub ts: f64,
    /// The value that won.
    pub overwritten_by: Json,
}

/// One key's end state.
#[derive(Debug, Clone, Serialize)]
pub struct KeyReport {
    /// The key.
    pub key: String,
    /// The distinct values its ok final reads returned (null: not found).
    pub final_values: Vec<Json>,
    /// The value that should have won: the acknowledged write with the largest (ts, node).
    pub expected: Option<Json>,
    /// Whether the final reads agree on an acceptable winner.
    pub ok: bool,
}

/// The `workload` section of an lww-kv run.
#[derive(Debug, Clone, Serialize)]
pub struct LwwResult {
    /// Invalid when a key's final reads disagree or hold the wrong winner; unknown without an
    /// ok final read; else valid.
    pub valid: Validity,
    /// Writes invoked.
    pub write_count: usize,
    /// Writes acknowledged.
    pub acknowledged_count: usize,
    /// Keys whose final reads disagree.
    pub diverged_keys: Vec<String>,
    /// Keys whose agreed final value is not an acceptable winner.
    pub wrong_keys: Vec<String>,
    /// Each key read at the end.
    pub keys: Vec<KeyReport>,
    /// Acknowledged writes lost to a write that did not follow them.
    pub lost_write_count: usize,
    /// The first 100 of them.
    pub lost_writes: Vec<LostWrite>,
}

/// The (ts, node) order of stamps: ts first, then the node id, as text. True when `a` wins.
pub fn later_stamp(a: (f64, &str), b: (f64, &str)) -> bool {
    a.0 > b.0 || (a.0 == b.0 && a.1 > b.1)
}

/// Judges a history of `write {key, value}` (completed with `{key, value, ts}`) and `read
/// {key}` (completed with `{key, value, ts}`) operations.
pub fn check(history: &[Op]) -> LwwResult {
    let mut writes: Vec<Write> = Vec::new();
    let mut finals: BTreeMap<String, Vec<(Json, Option<f64>)>> = BTreeMap::new();
    for (invocation, completion) in crate::history::paired(history) {
        let key = invocation.value["key"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        match (invocation.f, completion) {
            // A write never completed may have taken effect too.
            ("write", None) => writes.push(Write {
                key,
                value: invocation.value["value"].clone(),
                node: invocation.node.clone().unwrap_or_default(),
                invoked_ns: invocation.time_ns,
                acked_ns: None,
                ts: None,
                maybe: true,
            }),
            ("write", Some(op)) => writes.push(Write {
                key,
                value: invocation.value["value"].clone(),
                node: op.node.clone().unwrap_or_default(),
                invoked_ns: invocation.time_ns,
                acked_ns: (op.kind == OpKind::Ok).then_some(op.time_ns),
                ts: op.value["ts"].as_f64(),
                maybe: op.kind == OpKind::Info,
            }),
            ("read", Some(op)) if op.kind == OpKind::Ok && op.final_read => {
                finals
                    .entry(key)
                    .or_default()
                    .push((op.value["value"].clone(), op.value["ts"].as_f64()));
            }
            // "Key not found" is an answer too: the node holds nothing for the key.
            ("read", Some(op))
                if op.final_read
                    && op
                        .error
                        .as_deref()
                        .is_some_and(|error| error.starts_with("error 20:")) =>
            {
                finals.entry(key).or_default().push((Json::Null, None));
            }
            _ => {}
        }
    }
    let winner = |key: &str| -> Option<&Write> {
        writes
            .iter()
            .filter(|write| write.key == key && write.acked_ns.is_some())
            .filter(|write| write.ts.is_some())
            .fold(None, |best: Option<&Write>, write| match best {
                Some(best)
                    if !later_stamp(
                        (write.ts.unwrap_or(0.0), &write.node),
                        (best.ts.unwrap_or(0.0), &best.node),
                    ) =>
                {
                    Some(best)
                }
                _ => Some(write),
            })
    };
    let mut keys = Vec::new();
    let mut diverged_keys = Vec::new();
    let mut wrong_keys = Vec::new();
    let mut lost_writes = Vec::new();
    for (key, reads) in &finals {
        let values: BTreeSet<String> = reads.iter().map(|(value, _)| value.to_string()).collect();
        let expected = winner(key);
        let agreed = values.len() == 1;
        let (value, ts) = reads[0].clone();
        let acceptable = match expected {
            None => {
                value.is_null()
                    || writes
                        .iter()
                        .any(|write| &write.key == key && write.value == value)
            }
            Some(best) if best.value == value => true,
            Some(best) => writes.iter().any(|write| {
                &write.key == key
                    && write.maybe
                    && write.value == value
                    && ts.is_some_and(|ts| {
                        later_stamp((ts, &write.node), (best.ts.unwrap_or(0.0), &best.node))
                    })
            }),
        };
        if !agreed {
            diverged_keys.push(key.clone());
        } else if !acceptable {
            wrong_keys.push(key.clone());
        }
        if agreed {
            let last = writes
                .iter()
                .find(|write| &write.key == key && write.value == value);
            for write in writes.iter().filter(|write| &write.key == key) {
                let (Some(acked), Some(ts)) = (write.acked_ns, write.ts) else {
                    continue;
                };
                let followed = last.is_some_and(|last| last.invoked_ns > acked);
                if write.value != value && !followed {
                    lost_writes.push(LostWrite {
                        key: key.clone(),
                        value: write.value.clone(),
                        node: write.node.clone(),
                        ts,
                        overwritten_by: value.clone(),
                    });
                }
            }
        }
        keys.push(KeyReport {
            key: key.clone(),
            final_values: values
                .iter()
                .map(|text| serde_json::from_str(text).unwrap_or(Json::Null))
                .collect(),
            expected: expected.map(|write| write.value.clone()),
            ok: agreed && acceptable,
        });
    }
    let valid = if !diverged_keys.is_empty() || !wrong_keys.is_empty() {
        Validity::Invalid
    } else if finals.is_empty() {
        Validity::Unknown
    } else {
        Validity::Valid
    };
    LwwResult {
        valid,
        write_count: writes.len(),
        acknowledged_count: writes
            .iter()
            .filter(|write| write.acked_ns.is_some())
            .count(),
        diverged_keys,
        wrong_keys,
        keys,
        lost_write_count: lost_writes.len(),
        lost_writes: lost_writes.into_iter().take(100).collect(),
    }
}

#[cfg(test)]
mod tests {
    use rand::rngs::ChaCha8Rng;
    use rand::{RngExt, SeedableRng};
    use serde_json::json;

    use super::*;
    use crate::checker::testing::Builder;

    /// A write of `value` to k0 by `process` on node `n{node}`, invoked at `at` ms and
    /// completed `kind` 5 ms later with timestamp `ts`.
    fn write(b: &mut Builder, process: u64, node: u64, value: i64, at: u64, kind: OpKind, ts: f64) {
        let node = format!("n{node}");
        b.op_on(
            process,
            &node,
            OpKind::Invoke,
            "write",
            json!({"key": "k0", "value": value}),
            at,
            false,
        );
        let done = if kind == OpKind::Ok {
            json!({"key": "k0", "value": value, "ts": ts})
        } else {
            json!({"key": "k0", "value": value})
        };
        b.op_on(process, &node, kind, "write", done, at + 5, false);
    }

    fn final_read(b: &mut Builder, process: u64, node: u64, value: Json, ts: f64, at: u64) {
        let node = format!("n{node}");
        b.op_on(
            process,
            &node,
            OpKind::Invoke,
            "read",
            json!({"key": "k0"}),
            at,
            true,
        );
        b.op_on(
            process,
            &node,
            OpKind::Ok,
            "read",
            json!({"key": "k0", "value": value, "ts": ts}),
            at + 1,
            true,
        );
    }

    #[test]
    fn a_later_write_that_followed_wins_and_nothing_is_lost() {
        let mut b = Builder::new();
        write(&mut b, 0, 0, 1, 0, OpKind::Ok, 1.0);
        write(&mut b, 1, 1, 2, 10, OpKind::Ok, 2.0);
        final_read(&mut b, 2, 0, json!(2), 2.0, 100);
        final_read(&mut b, 3, 1, json!(2), 2.0, 100);
        let result = check(b.history.ops());
        assert_eq!(result.valid, Validity::Valid, "{result:?}");
        assert_eq!(result.lost_write_count, 0);
    }

    #[test]
    fn equal_timestamps_break_by_node_id_and_the_loser_is_a_lost_write() {
        let build = |winner_read: i64| {
            let mut b = Builder::new();
            write(&mut b, 0, 0, 1, 0, OpKind::Ok, 5.0);
            write(&mut b, 1, 1, 2, 1, OpKind::Ok, 5.0);
            final_read(&mut b, 2, 0, json!(winner_read), 5.0, 100);
            final_read(&mut b, 3, 1, json!(winner_read), 5.0, 100);
            check(b.history.ops())
        };
        let right = build(2);
        assert_eq!(right.valid, Validity::Valid, "{right:?}");
        assert_eq!(right.lost_write_count, 1);
        assert_eq!(right.lost_writes[0].value, json!(1));
        let wrong = build(1);
        assert_eq!(wrong.valid, Validity::Invalid);
        assert_eq!(wrong.wrong_keys, ["k0"]);
    }

    #[test]
    fn disagreeing_replicas_are_invalid_and_an_unknown_write_stamped_later_may_win() {
        let mut b = Builder::new();
        write(&mut b, 0, 0, 1, 0, OpKind::Ok, 1.0);
        final_read(&mut b, 2, 0, json!(1), 1.0, 100);
        final_read(&mut b, 3, 1, Json::Null, 0.0, 100);
        let split = check(b.history.ops());
        assert_eq!(split.diverged_keys, ["k0"]);
        let mut b = Builder::new();
        write(&mut b, 0, 0, 1, 0, OpKind::Ok, 1.0);
        write(&mut b, 1, 1, 2, 1, OpKind::Info, 0.0);
        final_read(&mut b, 2, 0, json!(2), 3.0, 100);
        final_read(&mut b, 3, 1, json!(2), 3.0, 100);
        assert_eq!(check(b.history.ops()).valid, Validity::Valid);
    }

    #[test]
    fn agrees_with_a_brute_force_model_on_small_random_histories() {
        let mut rng = ChaCha8Rng::seed_from_u64(17);
        let mut seen = [0; 3];
        for round in 0..500 {
            let mut b = Builder::new();
            // (value, node, invoked, acked, ts, unknown)
            let mut writes: Vec<(i64, u64, u64, Option<u64>, f64, bool)> = Vec::new();
            let mut at = 0;
            for value in 0..rng.random_range(1..5) {
                let node = rng.random_range(0..3);
                // A node never stamps two writes alike (its clock only goes forward).
                let mut ts = f64::from(rng.random_range(0..4u32));
                while writes.iter().any(|w| w.1 == node && w.4 == ts) {
                    ts += 0.5;
                }
                let kind = [OpKind::Ok, OpKind::Ok, OpKind::Info][rng.random_range(0..3)];
                write(&mut b, value as u64, node, value, at, kind, ts);
                writes.push((
                    value,
                    node,
                    at,
                    (kind == OpKind::Ok).then_some(at + 5),
                    ts,
                    kind == OpKind::Info,
                ));
                at += rng.random_range(0..10);
            }
            let mut finals = Vec::new();
            for node in 0..3u64 {
                let pick = rng.random_range(0..writes.len());
                let (value, _, _, _, ts, _) = writes[if rng.random_bool(0.7) { 0 } else { pick }];
                // Most rounds read the same write everywhere, some read another.
                let (value, ts) = if node == 0 || rng.random_bool(0.8) {
                    finals.first().copied().unwrap_or((value, ts))
                } else {
                    (writes[pick].0, writes[pick].4)
                };
                final_read(&mut b, 100 + node, node, json!(value), ts, 1000);
                finals.push((value, ts));
            }
            // The model, stated directly.
            let stamp = |w: &(i64, u64, u64, Option<u64>, f64, bool)| (w.4, format!("n{}", w.1));
            let best = writes
                .iter()
                .filter(|w| w.3.is_some())
                .max_by(|a, b| stamp(a).partial_cmp(&stamp(b)).unwrap());
            let agreed = finals.iter().all(|f| f.0 == finals[0].0);
            let (value, ts) = finals[0];
            let writer = writes.iter().find(|w| w.0 == value).unwrap();
            let acceptable = match best {
                None => true,
                Some(best) => {
                    best.0 == value || (writer.5 && (ts, format!("n{}", writer.1)) > stamp(best))
                }
            };
            let lost = if agreed {
                writes
                    .iter()
                    .filter(|w| w.3.is_some() && w.0 != value && writer.2 <= w.3.unwrap())
                    .count()
            } else {
                0
            };
            let result = check(b.history.ops());
            assert_eq!(result.diverged_keys.is_empty(), agreed, "round {round}");
            assert_eq!(
                result.wrong_keys.is_empty(),
                !agreed || acceptable,
                "round {round}: {writes:?} {finals:?}"
            );
            assert_eq!(
                result.lost_write_count, lost,
                "round {round}: {writes:?} {finals:?}"
            );
            seen[0] += usize::from(!agreed);
            seen[1] += usize::from(agreed && !acceptable);
            seen[2] += usize::from(lost > 0);
        }
        assert!(seen.iter().all(|count| *count >= 10), "{seen:?}");
    }
}
