//! The rules that read the version orders: lost writes, skips and going back within one
//! poll, and between one process's polls and sends.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::{Case, Completed, Found, OpRef, Order, list};
use crate::history::{OpKind, Process};

/// Who sent and who polled each message, by key and message.
pub(super) struct Seen<'a, 'k> {
    pub(super) polled: &'a BTreeSet<(&'k str, i64)>,
    pub(super) writer: &'a HashMap<(&'k str, i64), usize>,
    pub(super) first_reader: &'a HashMap<(&'k str, i64), usize>,
}

/// Lost writes: per key, every message at or below the highest position an acknowledged
/// poll reached must have been polled by some acknowledged poll, unless its send is not
/// known to have taken effect.
pub(super) fn lost_writes(
    completed: &[Completed],
    orders: &BTreeMap<&str, Order>,
    seen: &Seen,
    committed: &dyn Fn(usize) -> bool,
    found: &mut Found,
) {
    let Seen {
        polled,
        writer,
        first_reader,
    } = seen;
    for (key, order) in orders {
        // Each message's first and last position in the log.
        let mut first_index: HashMap<i64, usize> = HashMap::new();
        let mut last_index: HashMap<i64, usize> = HashMap::new();
        for (index, messages) in order.log.values().enumerate() {
            for message in messages {
                first_index.entry(*message).or_insert(index);
                last_index.insert(*message, index);
            }
        }
        let bound = polled
            .range((*key, i64::MIN)..=(*key, i64::MAX))
            .filter_map(|(_, message)| first_index.get(message))
            .max();
        let Some(&bound) = bound else { continue };
        let mut must_read: Vec<(usize, i64)> = last_index
            .iter()
            .filter(|(_, index)| **index <= bound)
            .map(|(message, index)| (*index, *message))
            .collect();
        must_read.sort_unstable();
        // The poll that proves the bound was reached.
        let highest = order.by_index[bound];
        let reader = first_reader.get(&(*key, highest)).map(|at| &completed[*at]);
        for (index, message) in must_read {
            if polled.contains(&(*key, message)) {
                continue;
            }
            let Some(&sender) = writer.get(&(*key, message)) else {
                continue;
            };
            if !committed(sender) {
                continue;
            }
            let mut ops = vec![OpRef::of(completed[sender].op)];
            ops.extend(reader.map(|reader| OpRef::of(reader.op)));
            let reached = reader.map_or_else(String::new, |reader| {
                format!(" ({})", OpRef::of(reader.op).words())
            });
            found.add(
                "lost-write",
                Case {
                    key: (*key).to_owned(),
                    words: format!(
                        "key {key}: message {message}, sent by {}, sits at position {index} of the log, below position {bound} that a poll reached{reached}, yet no poll returned it",
                        OpRef::of(completed[sender].op).words()
                    ),
                    messages: vec![message, highest],
                    offsets: Vec::new(),
                    skipped: Vec::new(),
                    ops,
                },
            );
        }
    }
}

/// The difference between two positions in a key's log, or 1 when either is unknown.
fn delta(order: Option<&Order>, from: i64, to: i64) -> (i64, Option<(usize, usize)>) {
    let Some(order) = order else { return (1, None) };
    match (order.index(from), order.index(to)) {
        (Some(i), Some(j)) => (j as i64 - i as i64, Some((i, j))),
        _ => (1, None),
    }
}

/// Within one poll: each key's messages must follow the log one position at a time.
pub(super) fn skips_within_polls(
    completed: &[Completed],
    orders: &BTreeMap<&str, Order>,
    found: &mut Found,
) {
    for op in completed {
        for (key, pairs) in &op.reads {
            let order = orders.get(key.as_str());
            for window in pairs.windows(2) {
                let ((_, from), (_, to)) = (window[0], window[1]);
                let (delta, positions) = delta(order, from, to);
                let class = match delta {
                    1 => continue,
                    d if d > 1 => "int-poll-skip",
                    _ => "int-nonmonotonic-poll",
                };
                let skipped = match (order, positions) {
                    (Some(order), Some((i, j))) if j > i => order.between(i, j),
                    _ => Vec::new(),
                };
                let what = if delta > 1 {
                    format!("skipping message(s) {}", list(&skipped))
                } else {
                    format!("going back {} position(s) in the log", 1 - delta)
                };
                found.add(
                    class,
                    Case {
                        key: key.clone(),
                        words: format!(
                            "key {key}: {} returned message {from} then {to}, {what}",
                            OpRef::of(op.op).words()
                        ),
                        messages: vec![from, to],
                        offsets: vec![window[0].0, window[1].0],
                        skipped,
                        ops: vec![OpRef::of(op.op)],
                    },
                );
            }
        }
    }
}

/// Between one process's operations: successive polls of a key go on where the last left off
/// (an assign keeps only the keys it assigns), and successive sends to a key go forwards.
pub(super) fn per_process(
    completed: &[Completed],
    orders: &BTreeMap<&str, Order>,
    found: &mut Found,
) {
    let mut by_process: BTreeMap<u64, Vec<&Completed>> = BTreeMap::new();
    for op in completed {
        if let Process::Worker(process) = op.op.process {
            by_process.entry(process).or_default().push(op);
        }
    }
    for ops in by_process.values() {
        // Key → (the op that last polled it, the last message it returned there).
        let mut last_polls: HashMap<&str, (&Completed, Option<i64>)> = HashMap::new();
        let mut last_sends: HashMap<&str, (&Completed, i64)> = HashMap::new();
        for op in ops {
            if let Some(keys) = &op.assigned {
                if matches!(op.op.kind, OpKind::Ok | OpKind::Info) {
                    last_polls.retain(|key, _| keys.iter().any(|k| k == key));
                    last_sends.retain(|key, _| keys.iter().any(|k| k == key));
                }
                continue;
            }
            for (key, pairs) in &op.reads {
                if let Some((last, Some(from))) = last_polls.get(key.as_str())
                    && let Some((_, to)) = pairs.first()
                {
                    let order = orders.get(key.as_str());
                    let (delta, positions) = delta(order, *from, *to);
                    if delta != 1 {
                        let skipped = match (order, positions) {
                            (Some(order), Some((i, j))) if j > i => order.between(i, j),
                            _ => Vec::new(),
                        };
                        let (class, what) = if delta > 1 {
                            (
                                "poll-skip",
                                format!("skipping message(s) {}", list(&skipped)),
                            )
                        } else {
                            (
                                "nonmonotonic-poll",
                                format!("going back {} position(s) in the log", 1 - delta),
                            )
                        };
                        found.add(
                            class,
                            Case {
                                key: key.clone(),
                                words: format!(
                                    "key {key}: {} ended at message {from}, and the next, {}, began at message {to}, {what}",
                                    OpRef::of(last.op).words(),
                                    OpRef::of(op.op).words()
                                ),
                                messages: vec![*from, *to],
                                offsets: Vec::new(),
                                skipped,
                                ops: vec![OpRef::of(last.op), OpRef::of(op.op)],
                            },
                        );
                    }
                }
            }
            if op.op.kind == OpKind::Ok {
                for (key, pairs) in &op.reads {
                    last_polls.insert(key, (op, pairs.last().map(|(_, message)| *message)));
                }
            }
            if let Some(send) = &op.send
                && matches!(op.op.kind, OpKind::Ok | OpKind::Info)
            {
                if let Some((last, from)) = last_sends.get(send.key.as_str()) {
                    let order = orders.get(send.key.as_str());
                    let (delta, _) = delta(order, *from, send.message);
                    if delta < 1 {
                        let key = &send.key;
                        found.add(
                            "nonmonotonic-send",
                            Case {
                                key: key.clone(),
                                words: format!(
                                    "key {key}: {} sent message {from}, and the next, {}, sent message {} at an earlier or the same position in the log",
                                    OpRef::of(last.op).words(),
                                    OpRef::of(op.op).words(),
                                    send.message
                                ),
                                messages: vec![*from, send.message],
                                offsets: Vec::new(),
                                skipped: Vec::new(),
                                ops: vec![OpRef::of(last.op), OpRef::of(op.op)],
                            },
                        );
                    }
                }
                last_sends.insert(&send.key, (op, send.message));
            }
        }
    }
}
