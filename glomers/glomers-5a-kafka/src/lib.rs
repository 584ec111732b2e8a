//! Gossip Glomers 5a, a single-node Kafka-style log: clients `send` messages to logs named by
//! string keys and get each message's offset back, `poll` messages from given offsets, and
//! `commit_offsets` and `list_committed_offsets` to remember how far they have read.
//!
//! - **send {key, msg}** appends `msg` to the key's log and answers `send_ok {offset}`: its
//!   position in the log, counted from 0. Offsets of one key strictly increase, so each
//!   producer's sends land in the order it made them.
//! - **poll {offsets}** answers `poll_ok {msgs}`: for each key asked, the messages from the
//!   offset asked, in order and without gaps, as `[offset, msg]` pairs (at most
//!   [`POLL_LIMIT`] a key; a key with nothing there is left out). Contiguity is what the
//!   checker holds a poll to: skipping a message it knows exists is a `poll-skip`.
//! - **commit_offsets {offsets}** records, per key, the highest offset a client has processed;
//!   a commit never moves a key's committed offset back (two clients may commit out of order).
//!   **list_committed_offsets {keys}** answers the committed offsets of the keys that have one.
//!
//! One node holds everything in memory, which is all 5a asks; 5b spreads the logs over nodes.
//!
//! ```
//! use common::{Node, Runtime};
//! use glomers_5a_kafka::SingleLog;
//! use std::time::Duration;
//!
//! let mut node = Runtime::new(SingleLog::new(common::NoFlags {}), 1);
//! let at = Duration::ZERO;
//! node.handle_line(r#"{"src":"c0","dest":"n0","body":{"type":"init","msg_id":1,"node_id":"n0","node_ids":["n0"]}}"#, at);
//! node.handle_line(r#"{"src":"c1","dest":"n0","body":{"type":"send","msg_id":2,"key":"k1","msg":7}}"#, at);
//! let output = node.take_output();
//! assert!(output[1].contains(r#""offset":0"#));
//! ```

use std::collections::{BTreeMap, HashMap};

use common::{Context, Message, NoFlags, NoTimer, Node, RpcError};
use serde_json::Value;

/// The most messages a poll returns for one key.
pub const POLL_LIMIT: usize = 100;

/// Offsets by key.
pub type Offsets = BTreeMap<String, u64>;

/// Messages by key, as `[offset, msg]` pairs in log order.
pub type Polled = BTreeMap<String, Vec<(u64, Value)>>;

/// Declares a node's message enum: the kafka workload's eight messages, plus the node's own
/// (for 5b's and 5c's nodes, which talk to each other and to lin-kv). One definition of the
/// workload's messages serves every exercise of Glomers 5.
///
/// ```
/// glomers_5a_kafka::kafka_payload! {
///     /// A node's messages.
///     pub enum Payload {
///         /// A message between nodes.
///         Hello {
///             /// Who.
///             from: String,
///         },
///     }
/// }
/// let hello: Payload = serde_json::from_str(r#"{"type":"hello","from":"n1"}"#).unwrap();
/// let send: Payload = serde_json::from_str(r#"{"type":"send","key":"1","msg":2}"#).unwrap();
/// assert!(matches!(send, Payload::Send { .. }) && matches!(hello, Payload::Hello { .. }));
/// ```
#[macro_export]
macro_rules! kafka_payload {
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($extra:tt)* }) => {
        common::payload_enum! {
            $(#[$meta])*
            $vis enum $name {
                /// Append `msg` to `key`'s log.
                Send {
                    /// The log.
                    key: String,
                    /// The message (the workload sends integers).
                    msg: serde_json::Value,
                },
                /// The answer to `send`: where the message went.
                SendOk {
                    /// Its offset in the key's log.
                    offset: u64,
                },
                /// Messages from these offsets on.
                Poll {
                    /// The first offset wanted, per key.
                    offsets: $crate::Offsets,
                },
                /// The answer to `poll`.
                PollOk {
                    /// Per key, the messages from the offset asked, in order.
                    msgs: $crate::Polled,
                },
                /// A client has processed each key up to and including these offsets.
                CommitOffsets {
                    /// The highest offset processed, per key.
                    offsets: $crate::Offsets,
                },
                /// The answer to `commit_offsets`.
                CommitOffsetsOk,
                /// The committed offsets of these keys.
                ListCommittedOffsets {
                    /// The keys asked about.
                    keys: Vec<String>,
                },
                /// The answer to `list_committed_offsets`: the keys that have a committed offset.
                ListCommittedOffsetsOk {
                    /// Committed offset per key.
                    offsets: $crate::Offsets,
                },
                $($extra)*
            }
        }

        impl $name {
            /// The answer to `commit_offsets` (recorded in `commits`) or to
            /// `list_committed_offsets`, from one node's `commits`; none for any other message.
            $vis fn answer_commits(&self, commits: &mut $crate::Commits) -> Option<Self> {
                match self {
                    Self::CommitOffsets { offsets } => {
                        commits.commit(offsets);
                        Some(Self::CommitOffsetsOk)
                    }
                    Self::ListCommittedOffsets { keys } => Some(Self::ListCommittedOffsetsOk {
                        offsets: commits.committed(keys),
                    }),
                    _ => None,
                }
            }
        }
    };
}

kafka_payload! {
    /// The kafka workload's messages.
    pub enum Payload {}
}

/// Logs by key: the state of 5a's node, and each node's copy in 5c.
#[derive(Debug, Default)]
pub struct Logs {
    logs: HashMap<String, Vec<Value>>,
}

/// Each key's committed offset, as one node knows it.
#[derive(Debug, Default)]
pub struct Commits {
    committed: HashMap<String, u64>,
}

impl Logs {
    /// Appends `msg` to `key`'s log; returns its offset.
    pub fn append(&mut self, key: &str, msg: Value) -> u64 {
        let log = self.logs.entry(key.to_owned()).or_default();
        log.push(msg);
        log.len() as u64 - 1
    }

    /// Stores `msg` at `offset` of `key`'s log (a replica's copy of its owner's log), filling
    /// nothing in between: a replica only ever stores its owner's next offset.
    pub fn store(&mut self, key: &str, offset: u64, msg: Value) {
        let log = self.logs.entry(key.to_owned()).or_default();
        if offset == log.len() as u64 {
            log.push(msg);
        }
    }

    /// How many messages `key`'s log holds (its next offset).
    pub fn len(&self, key: &str) -> u64 {
        self.logs.get(key).map_or(0, |log| log.len() as u64)
    }

    /// The messages of each key from each offset asked, contiguous, at most [`POLL_LIMIT`] a
    /// key; keys with nothing there are left out.
    pub fn poll(&self, offsets: &Offsets) -> Polled {
        let mut polled = Polled::new();
        for (key, from) in offsets {
            let Some(log) = self.logs.get(key) else {
                continue;
            };
            let pairs: Vec<(u64, Value)> = (*from..log.len() as u64)
                .take(POLL_LIMIT)
                .map(|offset| (offset, log[offset as usize].clone()))
                .collect();
            if !pairs.is_empty() {
                polled.insert(key.clone(), pairs);
            }
        }
        polled
    }
}

impl Commits {
    /// Records commits; a key's committed offset only moves forwards.
    pub fn commit(&mut self, offsets: &Offsets) {
        for (key, offset) in offsets {
            let committed = self.committed.entry(key.clone()).or_insert(*offset);
            *committed = (*committed).max(*offset);
        }
    }

    /// The committed offsets of those of `keys` that have one.
    pub fn committed(&self, keys: &[String]) -> Offsets {
        keys.iter()
            .filter_map(|key| Some((key.clone(), *self.committed.get(key)?)))
            .collect()
    }
}

/// The single-node log.
#[derive(Debug, Default)]
pub struct SingleLog {
    logs: Logs,
    commits: Commits,
}

impl Node for SingleLog {
    type Payload = Payload;
    type Timer = NoTimer;
    type Flags = NoFlags;

    fn new(_: NoFlags) -> Self {
        SingleLog::default()
    }

    fn on_message(
        &mut self,
        msg: Message<Payload>,
        ctx: &mut Context<Payload, NoTimer>,
    ) -> Result<(), RpcError> {
        if let Some(answer) = msg.body.payload.answer_commits(&mut self.commits) {
            ctx.reply(&msg, answer);
            return Ok(());
        }
        let answer = match &msg.body.payload {
            Payload::Send { key, msg: message } => Payload::SendOk {
                offset: self.logs.append(key, message.clone()),
            },
            Payload::Poll { offsets } => Payload::PollOk {
                msgs: self.logs.poll(offsets),
            },
            // Replies are for clients, not for this node.
            _ => return Ok(()),
        };
        ctx.reply(&msg, answer);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use common::testing::TestNode;
    use serde_json::json;

    use super::*;

    fn node() -> TestNode<SingleLog> {
        TestNode::new(SingleLog::new(NoFlags {}), "n0", &["n0"], 1)
    }

    fn ask(node: &mut TestNode<SingleLog>, body: Value) -> Value {
        let out = node.deliver("c1", body, 0);
        assert_eq!(out.len(), 1, "{out:?}");
        out[0]["body"].clone()
    }

    #[test]
    fn offsets_count_from_zero_per_key_and_polls_return_contiguous_runs() {
        let mut node = node();
        for (msg_id, key, msg, offset) in [(1, "a", 5, 0), (2, "a", 6, 1), (3, "b", 7, 0)] {
            let reply = ask(
                &mut node,
                json!({"type": "send", "msg_id": msg_id, "key": key, "msg": msg}),
            );
            assert_eq!(reply["offset"], offset);
        }
        let reply = ask(
            &mut node,
            json!({"type": "poll", "msg_id": 4, "offsets": {"a": 1, "b": 0, "c": 0, "d": 9}}),
        );
        assert_eq!(reply["msgs"], json!({"a": [[1, 6]], "b": [[0, 7]]}));
    }

    #[test]
    fn a_poll_returns_at_most_its_limit_per_key() {
        let mut logs = Logs::default();
        for msg in 0..POLL_LIMIT + 5 {
            logs.append("a", json!(msg));
        }
        let polled = logs.poll(&Offsets::from([("a".to_owned(), 2)]));
        assert_eq!(polled["a"].len(), POLL_LIMIT);
        assert_eq!(polled["a"][0], (2, json!(2)));
    }

    #[test]
    fn committed_offsets_never_go_back_and_only_known_keys_are_listed() {
        let mut node = node();
        ask(
            &mut node,
            json!({"type": "commit_offsets", "msg_id": 1, "offsets": {"a": 4}}),
        );
        ask(
            &mut node,
            json!({"type": "commit_offsets", "msg_id": 2, "offsets": {"a": 2, "b": 1}}),
        );
        let reply = ask(
            &mut node,
            json!({"type": "list_committed_offsets", "msg_id": 3, "keys": ["a", "b", "c"]}),
        );
        assert_eq!(reply["offsets"], json!({"a": 4, "b": 1}));
    }

    #[test]
    fn a_replica_stores_only_its_owners_next_offset() {
        let mut logs = Logs::default();
        logs.store("a", 1, json!(9));
        assert_eq!(logs.len("a"), 0, "offset 1 before 0 is not stored");
        logs.store("a", 0, json!(8));
        logs.store("a", 1, json!(9));
        logs.store("a", 1, json!(10));
        assert_eq!(
            logs.poll(&Offsets::from([("a".to_owned(), 0)]))["a"],
            [(0, json!(8)), (1, json!(9))]
        );
    }
}
