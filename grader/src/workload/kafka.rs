//! Maelstrom's kafka workload (Gossip Glomers 5): replicated logs keyed by strings.
//!
//! `send {key, msg}` → `send_ok {offset}`; `poll {offsets}` → `poll_ok {msgs: {key: [[offset,
//! msg], …]}}`; `commit_offsets {offsets}` → `commit_offsets_ok`; `list_committed_offsets
//! {keys}` → `list_committed_offsets_ok {offsets}`.
//!
//! The generator is Jepsen's (`jepsen.tests.kafka` as Maelstrom configures it): half sends and
//! half polls over 10 active keys, picked exponentially (slot `i` is `2^i` times likelier than
//! slot 0), messages 1 to 16 per key, a key retired for a fresh one after 16 sends; about one
//! operation in 64 becomes an `assign` of that operation's key instead (and a third of those
//! also assign the keys with acknowledged sends no poll has returned yet); and each client
//! `crash`es about every 30 s, after which a fresh client with a new process id and no
//! offsets takes its place.
//!
//! The client is Jepsen's too: it keeps an offset per assigned key (none until its first
//! assign, so a fresh client polls `{}`); a poll asks from those offsets, moves each past the
//! highest offset returned and then commits the highest polled offsets, all as one operation;
//! an assign fetches the committed offsets and starts each key at its own offset, else the
//! committed one, else 0. Errors follow `with-errors` with `assign` idempotent.
//!
//! The final phase, per worker, for at most 10 s (Maelstrom's cap): a crash, an assign of every
//! key seen with a seek to the beginning, then polls about every 0.2 s until that worker has
//! polled up to the highest offset any operation saw for each key before the phase began.
//!
//! Crashes are drawn per operation (a crash instead of the next operation with probability
//! `concurrency / (30 s × rate)`), which gives Jepsen's rate of one per client per 30 s while
//! operations flow at the rate asked for.

use std::collections::BTreeMap;
use std::time::Duration;

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use serde_json::{Map, Value as Json, json};

use super::{
    CheckContext, Checked, Declaration, ErrorRule, Figure, FinalStep, Operation, RunShape,
    Workload, closed_reply,
};
use crate::checker::kafka::{self, KafkaResult};
use crate::history::{Op, OpKind};

/// Active keys at a time.
const KEY_COUNT: u32 = 10;
/// Sends per key before it is retired.
const WRITES_PER_KEY: i64 = 16;
/// The chance an operation becomes an assign.
const ASSIGN_P: f64 = 1.0 / 64.0;
/// How often each client crashes, on average.
const CRASH_INTERVAL_S: f64 = 30.0;
/// The final phase's cap.
const FINAL_LIMIT: Duration = Duration::from_secs(10);
/// The mean pause between final polls (Jepsen's `stagger 1/5`: uniform up to twice it).
const FINAL_POLL_GAP_S: f64 = 0.2;

/// One worker's client: its offsets by assigned key.
#[derive(Debug, Default, Clone)]
struct Client {
    offsets: BTreeMap<String, i64>,
}

/// The kafka workload.
#[derive(Debug)]
pub struct Kafka {
    /// The active keys, by slot.
    active: Vec<u64>,
    next_key: u64,
    /// Sends generated per key.
    written: BTreeMap<u64, i64>,
    /// An operation an assign took the place of, issued next.
    held: Option<(Operation, u64)>,
    /// Per key: the highest offset acknowledged by a send, and by a poll (poll-unseen), for
    /// keys not caught up.
    sent: BTreeMap<String, i64>,
    polled: BTreeMap<String, i64>,
    /// Per key, the highest offset any acknowledged operation saw.
    max_offsets: BTreeMap<String, i64>,
    crash_p: f64,
    clients: Vec<Client>,
    /// Per worker, in the final phase: the offsets it still has to poll up to.
    final_targets: Vec<Option<BTreeMap<String, i64>>>,
    /// The snapshot of `max_offsets` the final phase aims at, once it began.
    final_goal: Option<BTreeMap<String, i64>>,
    /// Draws the final polls' pauses.
    rng: ChaCha8Rng,
}

impl Default for Kafka {
    fn default() -> Self {
        Kafka {
            active: (0..u64::from(KEY_COUNT)).collect(),
            next_key: u64::from(KEY_COUNT),
            written: BTreeMap::new(),
            held: None,
            sent: BTreeMap::new(),
            polled: BTreeMap::new(),
            max_offsets: BTreeMap::new(),
            crash_p: 0.0,
            clients: Vec::new(),
            final_targets: Vec::new(),
            final_goal: None,
            rng: ChaCha8Rng::seed_from_u64(0),
        }
    }
}

fn crash() -> Operation {
    Operation {
        f: "crash",
        value: Json::Null,
        body: Json::Null,
    }
}

fn poll(offsets: &BTreeMap<String, i64>) -> Operation {
    Operation {
        f: "poll",
        value: json!([["poll"]]),
        body: json!({"type": "poll", "offsets": offsets}),
    }
}

fn assign(keys: &[String]) -> Operation {
    Operation {
        f: "assign",
        value: json!(keys),
        body: json!({"type": "list_committed_offsets", "keys": keys}),
    }
}

/// The highest offset per key among `[offset, msg]` pairs by key.
fn max_offsets(msgs: &Map<String, Json>) -> BTreeMap<String, i64> {
    msgs.iter()
        .filter_map(|(key, pairs)| {
            let highest = pairs
                .as_array()?
                .iter()
                .filter_map(|pair| pair.get(0)?.as_i64())
                .max()?;
            Some((key.clone(), highest))
        })
        .collect()
}

/// The highest offsets an acknowledged `send` or `poll` saw, by key.
fn offsets_seen(f: &str, value: &Json) -> BTreeMap<String, i64> {
    let mop = value.get(0);
    match f {
        "send" => mop
            .and_then(|mop| Some((mop.get(1)?.as_str()?, mop.get(2)?.get(0)?.as_i64()?)))
            .map(|(key, offset)| BTreeMap::from([(key.to_owned(), offset)]))
            .unwrap_or_default(),
        "poll" => mop
            .and_then(|mop| mop.get(1)?.as_object())
            .map(max_offsets)
            .unwrap_or_default(),
        _ => BTreeMap::new(),
    }
}

fn merge_max(into: &mut BTreeMap<String, i64>, from: &BTreeMap<String, i64>) {
    for (key, offset) in from {
        let slot = into.entry(key.clone()).or_insert(*offset);
        *slot = (*slot).max(*offset);
    }
}

impl Kafka {
    fn client(&mut self, worker: usize) -> &mut Client {
        if self.clients.len() <= worker {
            self.clients.resize_with(worker + 1, Client::default);
        }
        &mut self.clients[worker]
    }

    /// The next send or poll of the list-append generator, with the key it touches.
    fn send_or_poll(&mut self, worker: usize, rng: &mut ChaCha8Rng) -> (Operation, u64) {
        // Slot i with probability proportional to 2^i.
        let scale = (1u64 << KEY_COUNT) - 1;
        let draw = rng.random_range(0..scale) + 1;
        let slot = (63 - draw.leading_zeros()) as usize;
        let key = self.active[slot.min(self.active.len() - 1)];
        if rng.random_bool(0.5) {
            let offsets = self.client(worker).offsets.clone();
            return (poll(&offsets), key);
        }
        let message = {
            let count = self.written.entry(key).or_insert(0);
            *count += 1;
            *count
        };
        if message >= WRITES_PER_KEY {
            self.active[slot] = self.next_key;
            self.next_key += 1;
        }
        let name = key.to_string();
        let operation = Operation {
            f: "send",
            value: json!([["send", name, message]]),
            body: json!({"type": "send", "key": name, "msg": message}),
        };
        (operation, key)
    }
}

impl Workload for Kafka {
    fn name(&self) -> &'static str {
        "kafka"
    }

    fn declaration(&self) -> Declaration {
        Declaration {
            errors: ErrorRule::WithErrors {
                idempotent: &["assign"],
            },
            final_phase_limit: Some(FINAL_LIMIT),
            ..Declaration::MAELSTROM
        }
    }

    fn prepare(&mut self, run: &RunShape) {
        let per_second = run.concurrency as f64 / CRASH_INTERVAL_S;
        self.crash_p = if run.rate > 0.0 {
            (per_second / run.rate).min(1.0)
        } else {
            0.0
        };
        self.rng = ChaCha8Rng::seed_from_u64(run.seed);
        self.clients = vec![Client::default(); run.concurrency];
    }

    fn next_operation(&mut self, worker: usize, rng: &mut ChaCha8Rng) -> Operation {
        if self.crash_p > 0.0 && rng.random_bool(self.crash_p) {
            return crash();
        }
        let (mut operation, key) = match self.held.take() {
            Some(held) => held,
            None => self.send_or_poll(worker, rng),
        };
        if rng.random_bool(ASSIGN_P) {
            // The operation waits for the next call; the assign takes its key (and, a third of
            // the time, every key with sends not yet polled).
            self.held = Some((operation, key));
            let mut keys = vec![key.to_string()];
            if rng.random_bool(1.0 / 3.0) && !self.sent.is_empty() {
                for unseen in self.sent.keys() {
                    if !keys.contains(unseen) {
                        keys.push(unseen.clone());
                    }
                }
            }
            return assign(&keys);
        }
        if operation.f == "poll" {
            // A held poll asks from the offsets the client has now.
            operation = poll(&self.client(worker).offsets.clone());
        }
        operation
    }

    fn done_by_client(&self, operation: &Operation) -> Option<OpKind> {
        match operation.f {
            "crash" => Some(OpKind::Info),
            // An assign that seeks to the beginning asks the server nothing.
            "assign" if operation.body.is_null() => Some(OpKind::Ok),
            _ => None,
        }
    }

    fn judge_reply(&self, f: &str, value: &Json, body: &Json) -> Result<Json, String> {
        match f {
            "send" => {
                let fields = closed_reply(body, "send_ok", &["offset"])?;
                let offset = fields
                    .get("offset")
                    .and_then(Json::as_i64)
                    .ok_or("send_ok needs an integer `offset`")?;
                let mop = value.get(0).ok_or("no send to complete")?;
                Ok(json!([["send", mop[1], [offset, mop[2]]]]))
            }
            "poll" if value.get(0).and_then(|mop| mop.get(1)).is_some() => {
                // The poll was answered; this is its commit.
                closed_reply(body, "commit_offsets_ok", &[])?;
                Ok(value.clone())
            }
            "poll" => {
                let fields = closed_reply(body, "poll_ok", &["msgs"])?;
                let msgs = fields
                    .get("msgs")
                    .and_then(Json::as_object)
                    .ok_or("poll_ok needs `msgs`, an object of keys to [offset, msg] pairs")?;
                for (key, pairs) in msgs {
                    let pairs = pairs
                        .as_array()
                        .ok_or_else(|| format!("msgs[{key:?}] is not an array"))?;
                    for pair in pairs {
                        let ok = pair.as_array().is_some_and(|pair| {
                            pair.len() == 2 && pair[0].is_i64() && pair[1].is_i64()
                        });
                        if !ok {
                            return Err(format!(
                                "msgs[{key:?}] holds {pair}, not an [offset, msg] pair of integers"
                            ));
                        }
                    }
                }
                Ok(json!([["poll", msgs]]))
            }
            "assign" => {
                let fields = closed_reply(body, "list_committed_offsets_ok", &["offsets"])?;
                let offsets = fields.get("offsets").and_then(Json::as_object).ok_or(
                    "list_committed_offsets_ok needs `offsets`, an object of keys to integers",
                )?;
                if let Some((key, offset)) = offsets.iter().find(|(_, offset)| !offset.is_i64()) {
                    return Err(format!("offsets[{key:?}] is {offset}, not an integer"));
                }
                Ok(value.clone())
            }
            other => Err(format!("no reply expected to `{other}`")),
        }
    }

    fn after_reply(&mut self, worker: usize, f: &str, value: &Json, reply: &Json) -> Option<Json> {
        match (f, reply.get("type").and_then(Json::as_str)) {
            ("poll", Some("poll_ok")) => {
                let msgs = value.get(0)?.get(1)?.as_object()?;
                // Each key moves past the highest offset returned (a key returned empty starts
                // at 0 if it was not assigned).
                let client = self.client(worker);
                for (key, pairs) in msgs {
                    let next = pairs
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|pair| pair.get(0)?.as_i64())
                        .max()
                        .map_or(0, |highest| highest + 1);
                    let slot = client.offsets.entry(key.clone()).or_insert(next);
                    *slot = (*slot).max(next);
                }
                let commit = max_offsets(msgs);
                (!commit.is_empty()).then(|| json!({"type": "commit_offsets", "offsets": commit}))
            }
            ("assign", Some("list_committed_offsets_ok")) => {
                let committed = reply.get("offsets").and_then(Json::as_object);
                let keys: Vec<String> = value
                    .as_array()?
                    .iter()
                    .filter_map(|key| key.as_str().map(str::to_owned))
                    .collect();
                let client = self.client(worker);
                let offsets = keys
                    .into_iter()
                    .map(|key| {
                        let offset = client.offsets.get(&key).copied().unwrap_or_else(|| {
                            committed
                                .and_then(|committed| committed.get(&key)?.as_i64())
                                .unwrap_or(0)
                        });
                        (key, offset)
                    })
                    .collect();
                client.offsets = offsets;
                None
            }
            _ => None,
        }
    }

    fn completed(&mut self, worker: usize, f: &str, kind: OpKind, value: &Json) {
        if kind == OpKind::Info {
            // Jepsen's kafka client is not reusable: a fresh one starts with no offsets.
            *self.client(worker) = Client::default();
            return;
        }
        if kind != OpKind::Ok {
            return;
        }
        let seen = offsets_seen(f, value);
        merge_max(&mut self.max_offsets, &seen);
        if f == "send" {
            merge_max(&mut self.sent, &seen);
        } else {
            merge_max(&mut self.polled, &seen);
        }
        // Keys whose polls caught up with their sends are no longer unseen.
        let caught_up: Vec<String> = self
            .sent
            .iter()
            .filter(|(key, sent)| self.polled.get(*key).is_some_and(|polled| polled >= sent))
            .map(|(key, _)| key.clone())
            .collect();
        for key in caught_up {
            self.sent.remove(&key);
            self.polled.remove(&key);
        }
        if let Some(Some(targets)) = self.final_targets.get_mut(worker) {
            targets.retain(|key, target| seen.get(key).is_none_or(|seen| seen < target));
        }
    }

    fn final_step(&mut self, worker: usize, done: usize) -> Option<FinalStep> {
        let goal = self
            .final_goal
            .get_or_insert_with(|| self.max_offsets.clone())
            .clone();
        if self.final_targets.len() <= worker {
            self.final_targets.resize(worker + 1, None);
        }
        let now = |operation| {
            Some(FinalStep {
                operation,
                after: Duration::ZERO,
            })
        };
        match done {
            _ if goal.is_empty() => None,
            0 => now(crash()),
            1 => {
                self.final_targets[worker] = Some(goal.clone());
                let keys: Vec<String> = goal.keys().cloned().collect();
                self.client(worker).offsets = keys.iter().map(|key| (key.clone(), 0)).collect();
                now(Operation {
                    body: Json::Null,
                    ..assign(&keys)
                })
            }
            _ if self.final_targets[worker]
                .as_ref()
                .is_none_or(BTreeMap::is_empty) =>
            {
                None
            }
            _ => {
                let after = self.rng.random_range(0.0..2.0 * FINAL_POLL_GAP_S);
                let offsets = self.client(worker).offsets.clone();
                Some(FinalStep {
                    operation: poll(&offsets),
                    after: Duration::from_secs_f64(after),
                })
            }
        }
    }

    fn check(&self, history: &[Op], _: &CheckContext) -> Checked {
        let result = kafka::check(history);
        let summary = summary(&result);
        let anomalies: Vec<String> = result
            .errors
            .iter()
            .map(|(class, cases)| {
                let first = cases.cases.first().map_or("", |case| case.words.as_str());
                format!("{class}: {} case(s); first: {first}", cases.count)
            })
            .collect();
        let reasons: Vec<String> = result
            .bad_error_types
            .iter()
            .map(|class| {
                let cases = &result.errors[class];
                let first = cases.cases.first().map_or("", |case| case.words.as_str());
                format!(
                    "{class} ({}): {} case(s); the first: {first}",
                    meaning(class),
                    cases.count
                )
            })
            .collect();
        Checked::with_workload_section(result.valid, &result, summary, anomalies, reasons)
    }

    fn headline_figures(&self) -> &'static [Figure] {
        &[
            Figure {
                pointer: "/workload/bad_case_count",
                label: "anomalies",
            },
            Figure {
                pointer: "/workload/unseen_count",
                label: "unseen",
            },
        ]
    }
}

/// The summary's lines about what the operations achieved.
fn summary(result: &KafkaResult) -> Vec<String> {
    let [ok, info, failed] = result.sends;
    vec![format!(
        "kafka      {ok} sends acknowledged ({info} unknown, {failed} failed); {} polls returned {} messages over {} keys",
        result.polls, result.polled_pairs, result.keys
    )]
}

/// What an anomaly class means, in a phrase.
pub fn meaning(class: &str) -> &'static str {
    match class {
        "inconsistent-offsets" => "one offset holds two different messages",
        "duplicate" => "one message sits at two offsets",
        "lost-write" => {
            "a message below what a poll reached was never returned by any poll: the log lost it or hid it"
        }
        "unseen" => "acknowledged sends that no poll returned by the end of the run",
        "G1a" => "a poll returned a message whose send had failed",
        "phantom-message" => "a poll returned a message nobody sent to that key",
        "int-poll-skip" => "one poll skipped over messages it should have returned",
        "int-nonmonotonic-poll" => "one poll returned messages out of log order",
        "poll-skip" => "a client's next poll skipped messages after where its last poll ended",
        "nonmonotonic-poll" => "a client's next poll went back to messages it had already polled",
        "nonmonotonic-send" => {
            "a client's later send landed at an earlier offset than its previous send"
        }
        "G1c-process" => "a poll returned a message its own process sent only later",
        "G1c-realtime" => "a poll returned a message sent only after the poll had completed",
        _ => "an anomaly Jepsen's kafka checker reports",
    }
}

#[cfg(test)]
mod tests;
