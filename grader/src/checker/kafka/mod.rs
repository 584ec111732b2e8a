//! Jepsen's kafka checker (`jepsen.tests.kafka`, as Maelstrom runs it: no transactions, assign
//! rather than subscribe, no write-write inference), over one pass each of a history's
//! operations, so that it stays linear in the history's length.
//!
//! Each key is a log. Its *version order* is built from acknowledged sends (their offsets)
//! and acknowledged polls (the `[offset, message]` pairs they returned); Jepsen also takes an
//! `info` send whose message an acknowledged poll saw, but such a send has no offset, so it
//! adds nothing. From the version orders the checker finds:
//!
//! | class | what |
//! |---|---|
//! | `inconsistent-offsets` | one offset of a key holds two messages |
//! | `duplicate` | one message sits at two offsets of a key |
//! | `lost-write` | a message below the highest offset some poll reached was never polled |
//! | `unseen` | an acknowledged send no poll ever returned, by the end |
//! | `G1a` | a poll returned a message whose send failed (a definite error) |
//! | `int-poll-skip`, `int-nonmonotonic-poll` | one poll's messages for a key skip a known message, or go backwards |
//! | `poll-skip`, `nonmonotonic-poll` | one process's successive polls of a key skip a known message or go backwards (an assign starts afresh) |
//! | `nonmonotonic-send` | one process's successive sends to a key land at earlier offsets |
//! | `G1c-process`, `G1c-realtime` | a cycle of polls that read a send and of operations that followed each other in one process or in time: a poll that saw a message sent later |
//!
//! Every class invalidates a run but Jepsen's allowed ones (`int-send-skip`, `G0*`,
//! `PL-1-cycle-exists`), which cannot arise here: each operation sends at most one message, and
//! write-write edges are off, as in Maelstrom. Transactions' classes (`precommitted-read`,
//! `int-send-*`) cannot arise either, for the same reason.
//!
//! One difference, where Jepsen gives no verdict: a poll that returns a message no client ever
//! sent to that key makes Jepsen's checker throw (`no-writer-of-value`), so Maelstrom reports
//! an error and no verdict. Here it is an anomaly of its own, `phantom-message`, and invalid.

mod cycles;
mod rules;
pub mod synthetic;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;
use serde_json::Value as Json;

use self::rules::{Seen, lost_writes, per_process, skips_within_polls};
pub use super::OpRef;
use super::Validity;
use crate::history::{Op, OpKind, Process};

/// How many cases of each class the result keeps (all are counted).
pub const KEPT_CASES: usize = 16;

/// The classes Jepsen allows without invalidating a run.
pub const ALLOWED: &[&str] = &[
    "int-send-skip",
    "G0",
    "G0-process",
    "G0-realtime",
    "PL-1-cycle-exists",
    "strong-PL-1-cycle-exists",
];

/// One case of an anomaly.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Case {
    /// The key (the log).
    pub key: String,
    /// The messages involved, in the order the text names them.
    pub messages: Vec<i64>,
    /// The offsets involved.
    pub offsets: Vec<i64>,
    /// The messages a skip passed over.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<i64>,
    /// The operations involved.
    pub ops: Vec<OpRef>,
    /// The case in a sentence.
    pub words: String,
}

/// Every case of one class: how many, and the first [`KEPT_CASES`].
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Cases {
    /// How many cases there are.
    pub count: usize,
    /// The first of them.
    pub cases: Vec<Case>,
}

/// The kafka checker's result (`results.json`'s `workload`).
#[derive(Debug, Clone, Serialize)]
pub struct KafkaResult {
    /// The verdict.
    #[serde(rename = "valid?")]
    pub valid: Validity,
    /// The classes found that invalidate the run.
    pub bad_error_types: Vec<&'static str>,
    /// Every class found.
    pub error_types: Vec<&'static str>,
    /// The cases, by class.
    pub errors: BTreeMap<&'static str, Cases>,
    /// The cases in the classes that invalidate the run.
    pub bad_case_count: usize,
    /// Acknowledged sends never polled, by key: how many.
    pub unseen: BTreeMap<String, usize>,
    /// Acknowledged sends never polled, in all.
    pub unseen_count: usize,
    /// Sends acknowledged, unknown (`info`) and failed.
    pub sends: [usize; 3],
    /// Polls acknowledged, and the messages they returned.
    pub polls: usize,
    /// The `[offset, message]` pairs acknowledged polls returned.
    pub polled_pairs: usize,
    /// The keys written or read.
    pub keys: usize,
    /// Why operations ended `info`, each once.
    pub info_causes: Vec<String>,
}

/// A send's outcome, as the history holds it.
#[derive(Debug, Clone)]
struct Send {
    key: String,
    offset: Option<i64>,
    message: i64,
}

/// A completed operation, read once.
struct Completed<'a> {
    op: &'a Op,
    send: Option<Send>,
    /// An acknowledged poll's pairs, by key, in the order it returned them.
    reads: Vec<(String, Vec<(i64, i64)>)>,
    /// An assign's keys.
    assigned: Option<Vec<String>>,
}

/// `[offset, message]` as integers.
fn pair(item: &Json) -> Option<(i64, i64)> {
    let pair = item.as_array()?;
    Some((pair.first()?.as_i64()?, pair.get(1)?.as_i64()?))
}

impl<'a> Completed<'a> {
    fn read(op: &'a Op) -> Self {
        let mut completed = Completed {
            op,
            send: None,
            reads: Vec::new(),
            assigned: None,
        };
        match op.f {
            "assign" => {
                completed.assigned = op.value.as_array().map(|keys| {
                    keys.iter()
                        .filter_map(|key| key.as_str().map(str::to_owned))
                        .collect()
                });
            }
            "send" | "poll" => {
                for mop in op.value.as_array().into_iter().flatten() {
                    let Some(mop) = mop.as_array() else { continue };
                    match mop.first().and_then(Json::as_str) {
                        Some("send") => {
                            let key = mop.get(1).and_then(Json::as_str);
                            let sent = mop.get(2);
                            let (offset, message) = match sent.and_then(pair) {
                                Some((offset, message)) => (Some(offset), Some(message)),
                                None => (None, sent.and_then(Json::as_i64)),
                            };
                            if let (Some(key), Some(message)) = (key, message) {
                                completed.send = Some(Send {
                                    key: key.to_owned(),
                                    offset,
                                    message,
                                });
                            }
                        }
                        Some("poll") if op.kind == OpKind::Ok => {
                            let polled = mop.get(1).and_then(Json::as_object);
                            for (key, pairs) in polled.into_iter().flatten() {
                                let pairs = pairs.as_array().into_iter().flatten();
                                completed
                                    .reads
                                    .push((key.clone(), pairs.filter_map(pair).collect()));
                            }
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
        completed
    }
}

/// One key's log as the history shows it.
#[derive(Debug, Default)]
struct Order {
    /// Offset → the messages seen there.
    log: BTreeMap<i64, BTreeSet<i64>>,
    /// Dense index → the (first) message at that position.
    by_index: Vec<i64>,
    /// Message → its dense index (the last position it is first at, as Jepsen's map has it).
    by_value: HashMap<i64, usize>,
}

impl Order {
    fn index(&self, message: i64) -> Option<usize> {
        self.by_value.get(&message).copied()
    }

    /// The messages strictly between dense indexes `from` and `to`.
    fn between(&self, from: usize, to: usize) -> Vec<i64> {
        self.by_index[from + 1..to].to_vec()
    }
}

/// The cases found so far, by class.
#[derive(Default)]
struct Found(BTreeMap<&'static str, Cases>);

impl Found {
    fn add(&mut self, class: &'static str, case: Case) {
        let cases = self.0.entry(class).or_default();
        cases.count += 1;
        if cases.cases.len() < KEPT_CASES {
            cases.cases.push(case);
        }
    }
}

/// Checks a kafka history.
pub fn check(history: &[Op]) -> KafkaResult {
    let completed: Vec<Completed> = history
        .iter()
        .filter(|op| op.kind != OpKind::Invoke && op.process != Process::Nemesis)
        .map(Completed::read)
        .collect();
    let mut found = Found::default();

    // Who sent what (the last send of a message, as Jepsen's map keeps), what failed, and
    // what acknowledged polls returned.
    let mut writer: HashMap<(&str, i64), usize> = HashMap::new();
    // The first acknowledged poll that returned each message.
    let mut first_reader: HashMap<(&str, i64), usize> = HashMap::new();
    let mut failed: BTreeSet<(&str, i64)> = BTreeSet::new();
    let mut polled: BTreeSet<(&str, i64)> = BTreeSet::new();
    let mut sends = [0; 3];
    let mut polls = 0;
    let mut polled_pairs = 0;
    for (at, op) in completed.iter().enumerate() {
        if let Some(send) = &op.send {
            writer.insert((&send.key, send.message), at);
            match op.op.kind {
                OpKind::Ok => sends[0] += 1,
                OpKind::Info => sends[1] += 1,
                _ => {
                    sends[2] += 1;
                    failed.insert((&send.key, send.message));
                }
            }
        }
        if op.op.f == "poll" && op.op.kind == OpKind::Ok {
            polls += 1;
        }
        for (key, pairs) in &op.reads {
            polled_pairs += pairs.len();
            for (_, message) in pairs {
                polled.insert((key.as_str(), *message));
                first_reader.entry((key.as_str(), *message)).or_insert(at);
            }
        }
    }

    // The version orders: acknowledged sends' offsets and every polled pair.
    let mut orders: BTreeMap<&str, Order> = BTreeMap::new();
    for op in &completed {
        if let Some(send) = &op.send
            && op.op.kind == OpKind::Ok
            && let Some(offset) = send.offset
        {
            let order = orders.entry(&send.key).or_default();
            order.log.entry(offset).or_default().insert(send.message);
        }
        for (key, pairs) in &op.reads {
            let order = orders.entry(key).or_default();
            for (offset, message) in pairs {
                order.log.entry(*offset).or_default().insert(*message);
            }
        }
    }
    for (key, order) in &mut orders {
        for (index, (offset, messages)) in order.log.iter().enumerate() {
            let first = *messages.first().expect("an offset holds a message");
            order.by_index.push(first);
            order.by_value.insert(first, index);
            if messages.len() > 1 {
                let messages: Vec<i64> = messages.iter().copied().collect();
                found.add(
                    "inconsistent-offsets",
                    Case {
                        key: (*key).to_owned(),
                        words: format!(
                            "key {key}: offset {offset} holds {} messages, {}",
                            messages.len(),
                            list(&messages)
                        ),
                        messages,
                        offsets: vec![*offset],
                        skipped: Vec::new(),
                        ops: Vec::new(),
                    },
                );
            }
        }
        let mut offsets_of: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
        for (offset, messages) in &order.log {
            for message in messages {
                offsets_of.entry(*message).or_default().push(*offset);
            }
        }
        for (message, offsets) in offsets_of {
            if offsets.len() > 1 {
                found.add(
                    "duplicate",
                    Case {
                        key: (*key).to_owned(),
                        words: format!(
                            "key {key}: message {message} sits at {} offsets, {}",
                            offsets.len(),
                            list(&offsets)
                        ),
                        messages: vec![message],
                        offsets,
                        skipped: Vec::new(),
                        ops: Vec::new(),
                    },
                );
            }
        }
    }

    // Whether a send took effect for certain: acknowledged, or unknown but polled.
    let committed = |at: usize| {
        let op = &completed[at];
        op.op.kind == OpKind::Ok
            || (op.op.kind == OpKind::Info
                && op
                    .send
                    .as_ref()
                    .is_some_and(|send| polled.contains(&(send.key.as_str(), send.message))))
    };

    for op in &completed {
        for (key, pairs) in &op.reads {
            for (offset, message) in pairs {
                if failed.contains(&(key.as_str(), *message)) {
                    let sender = writer[&(key.as_str(), *message)];
                    found.add(
                        "G1a",
                        Case {
                            key: key.clone(),
                            words: format!(
                                "key {key}: {} returned message {message} at offset {offset}, whose send failed ({})",
                                OpRef::of(op.op).words(),
                                OpRef::of(completed[sender].op).words()
                            ),
                            messages: vec![*message],
                            offsets: vec![*offset],
                            skipped: Vec::new(),
                            ops: vec![OpRef::of(completed[sender].op), OpRef::of(op.op)],
                        },
                    );
                }
                if !writer.contains_key(&(key.as_str(), *message)) {
                    found.add(
                        "phantom-message",
                        Case {
                            key: key.clone(),
                            words: format!(
                                "key {key}: {} returned message {message} at offset {offset}, which no client sent to key {key}",
                                OpRef::of(op.op).words()
                            ),
                            messages: vec![*message],
                            offsets: vec![*offset],
                            skipped: Vec::new(),
                            ops: vec![OpRef::of(op.op)],
                        },
                    );
                }
            }
        }
    }

    let seen = Seen {
        polled: &polled,
        writer: &writer,
        first_reader: &first_reader,
    };
    lost_writes(&completed, &orders, &seen, &committed, &mut found);
    skips_within_polls(&completed, &orders, &mut found);
    per_process(&completed, &orders, &mut found);

    // Unseen: acknowledged sends that no acknowledged poll returned.
    let mut unseen: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for op in &completed {
        if let Some(send) = &op.send
            && op.op.kind == OpKind::Ok
            && !polled.contains(&(send.key.as_str(), send.message))
        {
            unseen
                .entry(send.key.clone())
                .or_default()
                .push(send.message);
        }
    }
    for (key, messages) in &unseen {
        found.add(
            "unseen",
            Case {
                key: key.clone(),
                words: format!(
                    "key {key}: {} acknowledged send(s) never polled: message(s) {}",
                    messages.len(),
                    list(messages)
                ),
                messages: messages.clone(),
                offsets: Vec::new(),
                skipped: Vec::new(),
                ops: Vec::new(),
            },
        );
    }

    cycles::find(history, &completed, &writer, &mut found);

    let error_types: Vec<&'static str> = found.0.keys().copied().collect();
    let bad_error_types: Vec<&'static str> = error_types
        .iter()
        .copied()
        .filter(|class| !ALLOWED.contains(class))
        .collect();
    let info_causes: BTreeSet<String> = completed
        .iter()
        .filter(|op| op.op.kind == OpKind::Info && op.op.f != "crash")
        .filter_map(|op| op.op.error.clone())
        .collect();
    let bad_case_count = bad_error_types
        .iter()
        .map(|class| found.0[class].count)
        .sum();
    let unseen_count = unseen.values().map(Vec::len).sum();
    KafkaResult {
        bad_case_count,
        unseen_count,
        valid: if bad_error_types.is_empty() {
            Validity::Valid
        } else {
            Validity::Invalid
        },
        bad_error_types,
        error_types,
        errors: found.0,
        unseen: unseen
            .into_iter()
            .map(|(key, messages)| (key, messages.len()))
            .collect(),
        sends,
        polls,
        polled_pairs,
        keys: orders.len(),
        info_causes: info_causes.into_iter().collect(),
    }
}

/// `1, 2, 3` (at most 12, then `…`).
fn list(items: &[i64]) -> String {
    let mut shown: Vec<String> = items.iter().take(12).map(i64::to_string).collect();
    if items.len() > 12 {
        shown.push(format!("… ({} in all)", items.len()));
    }
    shown.join(", ")
}

#[cfg(test)]
mod tests;
