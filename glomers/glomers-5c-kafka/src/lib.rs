//! Gossip Glomers 5c, the Kafka-style log over several nodes with few messages: each key has
//! one **owner** node, which alone assigns its offsets; the other nodes keep **replicas** it
//! updates in batches.
//!
//! - **owner**: the node at index `fnv1a(key) mod n` of the cluster's ids, the same on every
//!   node, so no node needs to ask who owns what.
//! - **send**: the owner appends the message and answers with its offset. Another node
//!   forwards the send to the owner (`forward_send` → `forward_send_ok {offset}`, two messages)
//!   and answers the client once the owner has. A forward that times out is not retried: the
//!   owner may have appended the message, and a second append would put it at two offsets (a
//!   `duplicate`); the client's send stays unknown, which the checker allows.
//! - **replication**: every `--replicate-ms` (100) the owner sends each other node, in one
//!   `replicate` message, every message of its keys that node has not acknowledged, as
//!   `{key: [first offset, [msg, …]]}`; the node stores what continues its replica and answers
//!   `replicate_ok` with its replica's length per key. One batch at a time per node; a lost one
//!   is sent again, from the lengths last acknowledged, at the next tick after its timeout.
//! - **poll** is answered from the node's own copy, owner's or replica: from the offset asked,
//!   contiguous. A replica may be behind its owner (Kafka's consumers may lag; the checker asks
//!   for no recency), never out of order, so no poll skips or goes back.
//! - **commits** stay on the node that got them: a committed offset lower than the truth (or
//!   none, on another node) only makes a client that assigns a key poll some messages again,
//!   which is allowed; one higher than the truth would skip messages, and cannot happen here.
//!
//! Messages between nodes per operation, for `n` nodes: a send at a node that does not own its
//! key costs 2 (a fraction `(n − 1) / n` of sends), and replication a pair per node pair per
//! tick while there is something new, whatever the rate: at Fly.io's rate of 1,000 operations a
//! second on 2 nodes, about 0.5 + 0.04 per operation.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use common::{Context, Message, Node, NodeId, RpcError, RpcTimeout};
use glomers_5a_kafka::{Commits, Logs, Offsets, kafka_payload};
use serde_json::Value;

/// Messages of one key sent in a batch: the offset of the first, and the messages in order.
pub type Run = (u64, Vec<Value>);

kafka_payload! {
    /// The workload's messages and the ones between nodes.
    pub enum Payload {
        /// A send forwarded to its key's owner.
        ForwardSend {
            /// The log.
            key: String,
            /// The message.
            msg: Value,
        },
        /// The owner's answer: the message's offset.
        ForwardSendOk {
            /// Where it went.
            offset: u64,
        },
        /// An owner's batch: for each of its keys, the messages the replica has not
        /// acknowledged.
        Replicate {
            /// Per key, the offset of the first message and the messages.
            entries: BTreeMap<String, Run>,
        },
        /// A replica's answer: its length per key it was sent.
        ReplicateOk {
            /// How many messages it holds of each key.
            lengths: Offsets,
        },
    }
}

/// The node's timers.
#[derive(Debug, Clone, Copy)]
pub enum Timer {
    /// Send the replicas what they lack.
    Replicate,
}

/// The node's flags.
#[derive(Debug, Clone, clap::Args)]
pub struct Flags {
    /// How often an owner sends its replicas what they lack.
    #[arg(long, default_value_t = 100, value_name = "MS")]
    pub replicate_ms: u64,
}

/// What a request to another node is for.
#[derive(Debug)]
enum Waiting {
    /// A client's send, forwarded to its owner.
    Forward(Message<Payload>),
    /// A batch to this replica.
    Batch(NodeId),
}

/// The node: its copy of every log, and what its replicas have acknowledged.
#[derive(Debug)]
pub struct OwnedLogs {
    flags: Flags,
    logs: Logs,
    commits: Commits,
    /// Per other node, per key this node owns: how many messages that node holds.
    acked: HashMap<NodeId, HashMap<String, u64>>,
    /// The keys this node owns, with messages.
    owned: Vec<String>,
    /// Other nodes with a batch in flight.
    sending: HashSet<NodeId>,
    waiting: HashMap<u64, Waiting>,
}

/// The FNV-1a hash of a key: the same on every node and every run.
fn fnv1a(key: &str) -> u64 {
    key.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The node that owns `key`.
pub fn owner<'a>(key: &str, nodes: &'a [NodeId]) -> &'a NodeId {
    &nodes[(fnv1a(key) % nodes.len() as u64) as usize]
}

impl OwnedLogs {
    /// The batch for `peer`: each owned key's messages from what it acknowledged on.
    fn batch_for(&self, peer: &NodeId) -> BTreeMap<String, Run> {
        let acked = self.acked.get(peer);
        let mut entries = BTreeMap::new();
        for key in &self.owned {
            let from = acked.and_then(|acked| acked.get(key)).copied().unwrap_or(0);
            let polled = self.logs.poll(&Offsets::from([(key.clone(), from)]));
            if let Some(pairs) = polled.get(key) {
                let messages = pairs.iter().map(|(_, msg)| msg.clone()).collect();
                entries.insert(key.clone(), (from, messages));
            }
        }
        entries
    }

    fn replicate(&mut self, ctx: &mut Context<Payload, Timer>) {
        for peer in ctx.peers() {
            if self.sending.contains(&peer) {
                continue;
            }
            let entries = self.batch_for(&peer);
            if entries.is_empty() {
                continue;
            }
            let timeout = Duration::from_millis(4 * self.flags.replicate_ms.max(250));
            let msg_id = ctx.rpc(peer.clone(), Payload::Replicate { entries }, timeout);
            self.sending.insert(peer.clone());
            self.waiting.insert(msg_id, Waiting::Batch(peer));
        }
    }

    fn send(
        &mut self,
        request: Message<Payload>,
        key: &str,
        msg: &Value,
        ctx: &mut Context<Payload, Timer>,
    ) {
        let owner = owner(key, ctx.node_ids()).clone();
        if &owner == ctx.node_id() {
            if self.logs.len(key) == 0 {
                self.owned.push(key.to_owned());
            }
            let offset = self.logs.append(key, msg.clone());
            ctx.reply(&request, Payload::SendOk { offset });
        } else {
            let forward = Payload::ForwardSend {
                key: key.to_owned(),
                msg: msg.clone(),
            };
            let msg_id = ctx.rpc(owner, forward, Duration::from_secs(2));
            self.waiting.insert(msg_id, Waiting::Forward(request));
        }
    }
}

impl Node for OwnedLogs {
    type Payload = Payload;
    type Timer = Timer;
    type Flags = Flags;

    fn new(flags: Flags) -> Self {
        OwnedLogs {
            flags,
            logs: Logs::default(),
            commits: Commits::default(),
            acked: HashMap::new(),
            owned: Vec::new(),
            sending: HashSet::new(),
            waiting: HashMap::new(),
        }
    }

    fn on_init(&mut self, ctx: &mut Context<Payload, Timer>) {
        ctx.every(
            Duration::from_millis(self.flags.replicate_ms.max(1)),
            Timer::Replicate,
        );
    }

    fn on_message(
        &mut self,
        msg: Message<Payload>,
        ctx: &mut Context<Payload, Timer>,
    ) -> Result<(), RpcError> {
        if let Some(answered) = msg.body.in_reply_to {
            match (self.waiting.remove(&answered), &msg.body.payload) {
                (Some(Waiting::Forward(request)), Payload::ForwardSendOk { offset }) => {
                    ctx.reply(&request, Payload::SendOk { offset: *offset });
                }
                (Some(Waiting::Batch(peer)), Payload::ReplicateOk { lengths }) => {
                    self.sending.remove(&peer);
                    let acked = self.acked.entry(peer).or_default();
                    for (key, length) in lengths {
                        let known = acked.entry(key.clone()).or_insert(0);
                        *known = (*known).max(*length);
                    }
                }
                _ => {}
            }
            return Ok(());
        }
        if let Some(answer) = msg.body.payload.answer_commits(&mut self.commits) {
            ctx.reply(&msg, answer);
            return Ok(());
        }
        let answer = match &msg.body.payload {
            Payload::Send { key, msg: message } => {
                let (key, message) = (key.clone(), message.clone());
                self.send(msg, &key, &message, ctx);
                return Ok(());
            }
            Payload::ForwardSend { key, msg: message } => {
                if self.logs.len(key) == 0 {
                    self.owned.push(key.clone());
                }
                Payload::ForwardSendOk {
                    offset: self.logs.append(key, message.clone()),
                }
            }
            Payload::Replicate { entries } => {
                let mut lengths = Offsets::new();
                for (key, (first, messages)) in entries {
                    for (offset, message) in (*first..).zip(messages) {
                        self.logs.store(key, offset, message.clone());
                    }
                    lengths.insert(key.clone(), self.logs.len(key));
                }
                Payload::ReplicateOk { lengths }
            }
            Payload::Poll { offsets } => Payload::PollOk {
                msgs: self.logs.poll(offsets),
            },
            // Replies are handled above; nothing else is a request.
            _ => return Ok(()),
        };
        ctx.reply(&msg, answer);
        Ok(())
    }

    fn on_timer(&mut self, timer: Timer, ctx: &mut Context<Payload, Timer>) {
        match timer {
            Timer::Replicate => self.replicate(ctx),
        }
    }

    fn on_rpc_timeout(&mut self, timeout: RpcTimeout, _: &mut Context<Payload, Timer>) {
        match self.waiting.remove(&timeout.msg_id) {
            // The batch goes again, from what was acknowledged, at the next tick.
            Some(Waiting::Batch(peer)) => {
                self.sending.remove(&peer);
            }
            // The owner may have appended it: not retried (see the module's docs).
            Some(Waiting::Forward(_)) | None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use common::testing::TestNode;
    use serde_json::json;

    use super::*;

    fn node(id: &str) -> TestNode<OwnedLogs> {
        TestNode::new(
            OwnedLogs::new(Flags { replicate_ms: 100 }),
            id,
            &["n0", "n1"],
            1,
        )
    }

    /// A key each node owns.
    fn key_of(id: &str) -> String {
        let nodes = [NodeId::new("n0"), NodeId::new("n1")];
        (0..100)
            .map(|key| key.to_string())
            .find(|key| owner(key, &nodes).as_str() == id)
            .unwrap()
    }

    #[test]
    fn the_owner_appends_and_another_node_forwards_to_it() {
        let (mine, theirs) = (key_of("n0"), key_of("n1"));
        let mut n0 = node("n0");
        let out = n0.deliver(
            "c1",
            json!({"type": "send", "msg_id": 1, "key": mine, "msg": 5}),
            0,
        );
        assert_eq!(out[0]["body"]["type"], "send_ok");
        assert_eq!(out[0]["body"]["offset"], 0);
        let out = n0.deliver(
            "c1",
            json!({"type": "send", "msg_id": 2, "key": theirs, "msg": 6}),
            0,
        );
        assert_eq!(out[0]["dest"], "n1");
        assert_eq!(out[0]["body"]["type"], "forward_send");
        let mut n1 = node("n1");
        let answer = n1.deliver("n0", out[0]["body"].clone(), 0);
        assert_eq!(answer[0]["body"]["type"], "forward_send_ok");
        let reply = n0.deliver("n1", answer[0]["body"].clone(), 0);
        assert_eq!(reply[0]["dest"], "c1");
        assert_eq!(reply[0]["body"]["offset"], 0);
        assert_eq!(reply[0]["body"]["in_reply_to"], 2);
    }

    #[test]
    fn replicas_get_what_they_lack_in_batches_and_store_only_what_continues_their_copy() {
        let mine = key_of("n0");
        let mut n0 = node("n0");
        for (msg_id, msg) in [(1, 5), (2, 6)] {
            n0.deliver(
                "c1",
                json!({"type": "send", "msg_id": msg_id, "key": mine, "msg": msg}),
                0,
            );
        }
        let batch = n0.tick(100);
        assert_eq!(batch.len(), 1);
        assert_eq!(
            batch[0]["body"]["entries"],
            json!({ mine.clone(): [0, [5, 6]] })
        );
        // Nothing more while the batch is in flight.
        n0.deliver(
            "c1",
            json!({"type": "send", "msg_id": 3, "key": mine, "msg": 7}),
            150,
        );
        assert!(n0.tick(200).is_empty());
        let mut n1 = node("n1");
        let ack = n1.deliver("n0", batch[0]["body"].clone(), 210);
        assert_eq!(ack[0]["body"]["lengths"], json!({ mine.clone(): 2 }));
        n0.deliver("n1", ack[0]["body"].clone(), 220);
        let next = n0.tick(300);
        assert_eq!(
            next[0]["body"]["entries"],
            json!({ mine.clone(): [2, [7]] })
        );
        // A replica polled answers its contiguous copy.
        let polled = n1.deliver(
            "c2",
            json!({"type": "poll", "msg_id": 1, "offsets": { mine.clone(): 1 }}),
            310,
        );
        assert_eq!(polled[0]["body"]["msgs"], json!({ mine.clone(): [[1, 6]] }));
        // A batch that does not continue the copy is not stored.
        let gap = json!({"type": "replicate", "msg_id": 9, "entries": { mine.clone(): [5, [9]] }});
        let ack = n1.deliver("n0", gap, 320);
        assert_eq!(ack[0]["body"]["lengths"], json!({ mine: 2 }));
    }

    #[test]
    fn a_lost_batch_goes_again_from_what_was_acknowledged() {
        let mine = key_of("n0");
        let mut n0 = node("n0");
        n0.deliver(
            "c1",
            json!({"type": "send", "msg_id": 1, "key": mine, "msg": 5}),
            0,
        );
        assert_eq!(n0.tick(100).len(), 1);
        // No answer: after the timeout (1 s), the next tick sends the same again.
        assert!(n0.tick(1_150).is_empty());
        let again = n0.tick(1_300);
        assert_eq!(again.len(), 1, "{again:?}");
        assert_eq!(again[0]["body"]["entries"], json!({ mine: [0, [5]] }));
    }
}
