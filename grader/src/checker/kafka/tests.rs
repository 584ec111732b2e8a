//! Hand-built histories, one per rule (each fails when its rule is removed), and random
//! histories from a model of a correct log.

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use serde_json::{Value as Json, json};

use super::*;
use crate::checker::testing::Builder;
use crate::history::OpKind::{Fail, Info, Invoke, Ok as Done};

/// Kafka histories by hand. Each operation takes 1 ms from `at`.
struct Kafka {
    builder: Builder,
}

impl Kafka {
    fn new() -> Self {
        Kafka {
            builder: Builder::new(),
        }
    }

    fn send(&mut self, process: u64, key: &str, message: i64, offset: i64, at: u64) -> &mut Self {
        self.send_as(process, key, message, Some(offset), Done, at)
    }

    fn send_as(
        &mut self,
        process: u64,
        key: &str,
        message: i64,
        offset: Option<i64>,
        kind: OpKind,
        at: u64,
    ) -> &mut Self {
        self.builder
            .op(process, Invoke, "send", json!([["send", key, message]]), at);
        let value = match offset {
            Some(offset) if kind == Done => json!([["send", key, [offset, message]]]),
            _ => json!([["send", key, message]]),
        };
        self.builder.op(process, kind, "send", value, at + 1);
        self
    }

    fn poll(&mut self, process: u64, msgs: Json, at: u64) -> &mut Self {
        self.builder
            .op(process, Invoke, "poll", json!([["poll"]]), at);
        self.builder
            .op(process, Done, "poll", json!([["poll", msgs]]), at + 1);
        self
    }

    fn assign(&mut self, process: u64, keys: &[&str], at: u64) -> &mut Self {
        self.builder.op(process, Invoke, "assign", json!(keys), at);
        self.builder
            .op(process, Done, "assign", json!(keys), at + 1);
        self
    }

    fn check(&self) -> KafkaResult {
        check(self.builder.history.ops())
    }
}

fn classes(result: &KafkaResult) -> Vec<&'static str> {
    result.error_types.clone()
}

#[test]
fn a_correct_log_read_in_full_is_valid() {
    let result = Kafka::new()
        .send(0, "a", 1, 0, 0)
        .send(1, "a", 2, 1, 2)
        .poll(0, json!({"a": [[0, 1], [1, 2]]}), 5)
        .send(1, "b", 1, 5, 7)
        .poll(1, json!({"b": [[5, 1]]}), 9)
        .check();
    assert_eq!(classes(&result), Vec::<&str>::new());
    assert_eq!(result.valid, Validity::Valid);
    assert_eq!(result.sends, [3, 0, 0]);
    assert_eq!((result.polls, result.polled_pairs, result.keys), (2, 3, 2));
}

#[test]
fn two_messages_at_one_offset_are_inconsistent() {
    let result = Kafka::new()
        .send(0, "a", 1, 0, 0)
        .send(1, "a", 2, 0, 2)
        .poll(0, json!({"a": [[0, 1]]}), 5)
        .poll(1, json!({"a": [[0, 2]]}), 7)
        .check();
    assert_eq!(classes(&result), ["inconsistent-offsets"]);
    let case = &result.errors["inconsistent-offsets"].cases[0];
    assert_eq!(
        (case.offsets.clone(), case.messages.clone()),
        (vec![0], vec![1, 2])
    );
    assert!(
        case.words.contains("offset 0 holds 2 messages, 1, 2"),
        "{}",
        case.words
    );
    assert_eq!(result.valid, Validity::Invalid);
}

#[test]
fn one_message_at_two_offsets_is_a_duplicate() {
    let result = Kafka::new()
        .send(0, "a", 1, 0, 0)
        .send(0, "a", 2, 1, 2)
        .poll(1, json!({"a": [[0, 1], [1, 2], [2, 1]]}), 5)
        .check();
    assert!(classes(&result).contains(&"duplicate"), "{result:?}");
    let case = &result.errors["duplicate"].cases[0];
    assert_eq!(case.offsets, [0, 2]);
}

#[test]
fn a_message_below_what_a_poll_reached_and_never_polled_is_lost() {
    let result = Kafka::new()
        .send(0, "a", 1, 0, 0)
        .send(0, "a", 2, 1, 2)
        .send(0, "a", 3, 2, 4)
        // One poll reads 1, another 3: 2 sits below 3 and nobody read it.
        .poll(1, json!({"a": [[0, 1]]}), 6)
        .poll(2, json!({"a": [[2, 3]]}), 8)
        .check();
    assert!(classes(&result).contains(&"lost-write"), "{result:?}");
    let case = &result.errors["lost-write"].cases[0];
    assert_eq!(case.messages, [2, 3]);
    assert!(case.words.contains("message 2"), "{}", case.words);
    // The poll that reached past it is named.
    assert_eq!(case.ops.last().map(|op| op.index), Some(9));
}

#[test]
fn an_unknown_send_counts_as_lost_only_once_a_poll_proves_it_happened() {
    // Message 2's send timed out: unread, it may never have happened.
    let unproven = Kafka::new()
        .send(0, "a", 1, 0, 0)
        .send_as(0, "a", 2, None, Info, 2)
        .send(1, "a", 3, 2, 4)
        .poll(2, json!({"a": [[0, 1], [2, 3]]}), 8)
        .check();
    assert!(!classes(&unproven).contains(&"lost-write"), "{unproven:?}");
    // It did happen when a poll saw it (at offset 1), yet a later reader skipped it.
    let proven = Kafka::new()
        .send(0, "a", 1, 0, 0)
        .send_as(0, "a", 2, None, Info, 2)
        .send(1, "a", 3, 2, 4)
        .poll(3, json!({"a": [[1, 2]]}), 6)
        .poll(2, json!({"a": [[0, 1], [2, 3]]}), 8)
        .check();
    assert!(
        !classes(&proven).contains(&"lost-write"),
        "read once is seen"
    );
    assert!(classes(&proven).contains(&"int-poll-skip"), "{proven:?}");
}

#[test]
fn acknowledged_sends_never_polled_are_unseen() {
    let result = Kafka::new()
        .send(0, "a", 1, 0, 0)
        .send(0, "a", 2, 1, 2)
        .poll(1, json!({"a": [[0, 1]]}), 5)
        .check();
    assert_eq!(classes(&result), ["unseen"]);
    assert_eq!(result.unseen["a"], 1);
    assert_eq!(result.unseen_count, 1);
    assert_eq!(result.bad_error_types, ["unseen"]);
}

#[test]
fn a_poll_of_a_failed_send_is_g1a() {
    let result = Kafka::new()
        .send_as(0, "a", 1, None, Fail, 0)
        .poll(1, json!({"a": [[0, 1]]}), 5)
        .check();
    assert_eq!(classes(&result), ["G1a"]);
}

#[test]
fn a_polled_message_nobody_sent_is_a_phantom() {
    let result = Kafka::new()
        .send(0, "a", 1, 0, 0)
        .poll(1, json!({"a": [[0, 1]], "b": [[0, 1]]}), 5)
        .check();
    assert_eq!(classes(&result), ["phantom-message"]);
    assert!(
        result.errors["phantom-message"].cases[0]
            .words
            .contains("key b")
    );
}

#[test]
fn one_poll_must_follow_the_log_one_position_at_a_time() {
    let skip = Kafka::new()
        .send(0, "a", 1, 0, 0)
        .send(0, "a", 2, 1, 2)
        .send(0, "a", 3, 2, 4)
        .poll(1, json!({"a": [[0, 1], [1, 2], [2, 3]]}), 6)
        .poll(2, json!({"a": [[0, 1], [2, 3]]}), 8)
        .check();
    assert_eq!(classes(&skip), ["int-poll-skip"]);
    assert_eq!(skip.errors["int-poll-skip"].cases[0].skipped, [2]);
    let backwards = Kafka::new()
        .send(0, "a", 1, 0, 0)
        .send(0, "a", 2, 1, 2)
        .poll(1, json!({"a": [[0, 1], [1, 2], [0, 1]]}), 6)
        .check();
    assert!(
        classes(&backwards).contains(&"int-nonmonotonic-poll"),
        "{backwards:?}"
    );
}

#[test]
fn a_process_polls_on_where_it_left_off_until_it_assigns_again() {
    let base = |k: &mut Kafka| {
        k.send(0, "a", 1, 0, 0)
            .send(0, "a", 2, 1, 2)
            .send(0, "a", 3, 2, 4)
            .poll(2, json!({"a": [[0, 1], [1, 2], [2, 3]]}), 5);
    };
    let mut skip = Kafka::new();
    base(&mut skip);
    skip.poll(1, json!({"a": [[0, 1]]}), 10)
        .poll(1, json!({"a": [[2, 3]]}), 12);
    let result = skip.check();
    assert_eq!(classes(&result), ["poll-skip"]);
    assert_eq!(result.errors["poll-skip"].cases[0].skipped, [2]);
    let mut back = Kafka::new();
    base(&mut back);
    back.poll(1, json!({"a": [[1, 2]]}), 10)
        .poll(1, json!({"a": [[1, 2]]}), 12);
    assert_eq!(classes(&back.check()), ["nonmonotonic-poll"]);
    // An assign starts afresh: going back after it is no anomaly.
    let mut reassigned = Kafka::new();
    base(&mut reassigned);
    reassigned
        .poll(1, json!({"a": [[1, 2]]}), 10)
        .assign(1, &["b"], 11)
        .assign(1, &["a"], 13)
        .poll(1, json!({"a": [[1, 2]]}), 15);
    assert_eq!(classes(&reassigned.check()), Vec::<&str>::new());
}

#[test]
fn a_process_whose_sends_land_backwards_is_nonmonotonic() {
    let result = Kafka::new()
        .send(0, "a", 1, 1, 0)
        .send(0, "a", 2, 0, 2)
        .poll(1, json!({"a": [[0, 2], [1, 1]]}), 5)
        .check();
    assert_eq!(classes(&result), ["nonmonotonic-send"]);
}

#[test]
fn a_poll_that_saw_a_later_send_of_its_own_process_is_a_process_cycle() {
    // Process 0 polls message 1, then sends it.
    let result = Kafka::new()
        .poll(0, json!({"a": [[0, 1]]}), 0)
        .send(0, "a", 1, 0, 2)
        .check();
    assert_eq!(classes(&result), ["G1c-process"]);
    let words = &result.errors["G1c-process"].cases[0].words;
    assert!(words.contains("came next in its process"), "{words}");
}

#[test]
fn a_poll_that_saw_a_send_begun_after_it_completed_is_a_realtime_cycle() {
    // Process 1 polls message 1 and is done before process 0 even sends it.
    let result = Kafka::new()
        .poll(1, json!({"a": [[0, 1]]}), 0)
        .send(0, "a", 1, 0, 5)
        .check();
    assert_eq!(classes(&result), ["G1c-realtime"]);
    let words = &result.errors["G1c-realtime"].cases[0].words;
    assert!(words.contains("began after"), "{words}");
    // Overlapping, the same two are fine: the poll may have taken effect last.
    let mut overlapping = Kafka::new();
    let b = &mut overlapping.builder;
    b.op(1, Invoke, "poll", json!([["poll"]]), 0);
    b.op(0, Invoke, "send", json!([["send", "a", 1]]), 5);
    b.op(0, Done, "send", json!([["send", "a", [0, 1]]]), 6);
    b.op(1, Done, "poll", json!([["poll", {"a": [[0, 1]]}]]), 10);
    let overlapping = overlapping.check();
    assert_eq!(classes(&overlapping), Vec::<&str>::new());
}

/// One operation of a model run: who, what, and how it completed.
struct Planned {
    process: u64,
    f: &'static str,
    invoked: Json,
    kind: OpKind,
    completed: Json,
}

/// A random history of a correct log: `processes` clients over a few keys, operations taking
/// effect one after another in the order planned, each invoked up to 3 steps before its effect
/// and completed up to 3 after (so operations of different processes overlap, and the history
/// is linearizable); polls return a contiguous run from the client's offsets, assigns start
/// from committed offsets, crashes make fresh processes; then one poll per key from 0 reads the
/// whole log.
fn correct_history(rng: &mut ChaCha8Rng) -> Kafka {
    let processes = rng.random_range(1..5u64);
    let keys = ["a", "b", "c"];
    let mut logs: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    let mut committed: BTreeMap<&str, i64> = BTreeMap::new();
    let mut next_message = 1;
    // Per process: its id now (fresh after a crash) and its offsets.
    let mut clients: Vec<(u64, BTreeMap<&str, i64>)> =
        (0..processes).map(|p| (p, BTreeMap::new())).collect();
    let mut plan = Vec::new();
    for _ in 0..rng.random_range(5..40) {
        let index = rng.random_range(0..clients.len());
        let (process, offsets) = &mut clients[index];
        let planned = |f, invoked, kind, completed| Planned {
            process: *process,
            f,
            invoked,
            kind,
            completed,
        };
        match rng.random_range(0..10) {
            0..4 => {
                let key = keys[rng.random_range(0..keys.len())];
                let log = logs.entry(key).or_default();
                log.push(next_message);
                let offset = log.len() - 1;
                plan.push(planned(
                    "send",
                    json!([["send", key, next_message]]),
                    Done,
                    json!([["send", key, [offset, next_message]]]),
                ));
                next_message += 1;
            }
            4..8 => {
                let mut msgs = serde_json::Map::new();
                for (key, offset) in offsets.iter_mut() {
                    let log = logs.get(key).map_or(&[][..], Vec::as_slice);
                    let from = usize::try_from(*offset).unwrap().min(log.len());
                    let count = rng.random_range(0..=log.len() - from);
                    let pairs: Vec<Json> =
                        (from..from + count).map(|i| json!([i, log[i]])).collect();
                    if count > 0 {
                        *offset = (from + count) as i64;
                        let highest = committed.entry(key).or_insert(0);
                        *highest = (*highest).max(*offset - 1);
                    }
                    msgs.insert((*key).to_owned(), Json::Array(pairs));
                }
                plan.push(planned(
                    "poll",
                    json!([["poll"]]),
                    Done,
                    json!([["poll", msgs]]),
                ));
            }
            8 => {
                let key = keys[rng.random_range(0..keys.len())];
                offsets.retain(|k, _| *k == key);
                let start = committed.get(key).map_or(0, |c| c + 1);
                offsets.entry(key).or_insert(start);
                plan.push(planned("assign", json!([key]), Done, json!([key])));
            }
            _ => {
                plan.push(planned("crash", Json::Null, Info, Json::Null));
                *process += processes;
                offsets.clear();
            }
        }
    }
    for (key, log) in &logs {
        let pairs: Vec<Json> = log.iter().enumerate().map(|(i, m)| json!([i, m])).collect();
        plan.push(Planned {
            process: 100,
            f: "poll",
            invoked: json!([["poll"]]),
            kind: Done,
            completed: json!([["poll", { *key: pairs }]]),
        });
    }
    // Times: operation i takes effect at about 10 i, after the one before; it is invoked up to 30 before (not before its
    // process's previous completion, nor before the previous operation's invocation, so
    // invocations keep the plan's order) and completes up to 30 after (not before its
    // invocation). A crash's process goes on under a new id, so it is its own process.
    let mut events: Vec<(u64, usize, bool)> = Vec::new();
    let mut free_at: BTreeMap<u64, u64> = BTreeMap::new();
    let (mut last_invoked, mut last_effect) = (0, 0);
    for (i, op) in plan.iter().enumerate() {
        let earliest = free_at
            .get(&op.process)
            .copied()
            .unwrap_or(0)
            .max(last_invoked);
        let effect = (10 * (i as u64 + 1) + 30)
            .max(earliest)
            .max(last_effect + 1);
        last_effect = effect;
        let invoked = rng.random_range(effect.saturating_sub(30).max(earliest)..=effect);
        let completed = rng.random_range(effect..=effect + 30);
        free_at.insert(op.process, completed + 1);
        last_invoked = invoked;
        events.push((invoked, i, false));
        events.push((completed, i, true));
    }
    events.sort_unstable();
    let mut history = Kafka::new();
    for (at, i, completion) in events {
        let op = &plan[i];
        if completion {
            history
                .builder
                .op(op.process, op.kind, op.f, op.completed.clone(), at);
        } else {
            history
                .builder
                .op(op.process, Invoke, op.f, op.invoked.clone(), at);
        }
    }
    history
}

#[test]
fn random_histories_of_a_correct_log_are_valid_and_each_injected_fault_is_named() {
    let mut rng = ChaCha8Rng::seed_from_u64(51);
    let mut faults_found = BTreeMap::<&str, usize>::new();
    for round in 0..400 {
        let history = correct_history(&mut rng);
        let result = history.check();
        assert_eq!(result.valid, Validity::Valid, "round {round}: {result:?}");
        // One fault: the final reader's pair for one message gets another message.
        let mut ops = history.builder.history.ops().to_vec();
        let last = ops.len() - 1;
        let Some((key, pairs)) = ops[last].value[0][1]
            .as_object()
            .and_then(|msgs| msgs.iter().next())
            .map(|(key, pairs)| (key.clone(), pairs.as_array().cloned().unwrap_or_default()))
        else {
            continue;
        };
        if pairs.len() < 2 {
            continue;
        }
        let victim = rng.random_range(0..pairs.len());
        let (kind, changed): (&str, Vec<Json>) = match rng.random_range(0..3) {
            // A message dropped from the middle of the full read: a skip.
            0 if victim > 0 && victim + 1 < pairs.len() => {
                let mut changed = pairs.clone();
                changed.remove(victim);
                ("int-poll-skip", changed)
            }
            // Two pairs swapped: out of order.
            1 if victim + 1 < pairs.len() => {
                let mut changed = pairs.clone();
                changed.swap(victim, victim + 1);
                ("int-nonmonotonic-poll", changed)
            }
            // A message at another message's offset.
            _ => {
                let mut changed = pairs.clone();
                let other = (victim + 1) % pairs.len();
                changed[victim][1] = changed[other][1].clone();
                ("duplicate", changed)
            }
        };
        ops[last].value = json!([["poll", { key: changed }]]);
        let result = check(&ops);
        assert_eq!(result.valid, Validity::Invalid, "round {round}: {kind}");
        assert!(
            result.error_types.contains(&kind),
            "round {round}: expected {kind}, got {:?}",
            result.error_types
        );
        *faults_found.entry(kind).or_default() += 1;
    }
    assert_eq!(faults_found.len(), 3, "{faults_found:?}");
}
