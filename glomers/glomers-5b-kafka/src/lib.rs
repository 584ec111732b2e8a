//! Gossip Glomers 5b, the Kafka-style log over several nodes: what must be linearizable (each
//! key's next offset) lives in Maelstrom's `lin-kv`; the messages are copied to every node.
//!
//! - **send**: take the key's next offset from lin-kv: `read` the counter `next-KEY` (error 20:
//!   nobody sent to this key yet, so 0), then `cas` it from what was read to one more
//!   (`create_if_not_exists` when it was missing). lin-kv is linearizable, so two nodes racing
//!   for an offset cannot both win: the loser gets error 22, reads again and retries. The
//!   winner stores the message at that offset, copies it to every other node (`replicate` →
//!   `replicate_ok`, asked again until answered: storing twice at one offset is harmless) and
//!   answers the client.
//! - **poll** is answered from the node's own copy: from the offset asked, as far as the copy
//!   is contiguous. A copy can have a gap while another node's message is on its way; stopping
//!   at the gap keeps polls from skipping it (a lagging poll is allowed; a skip is not).
//! - **a cas that times out** may or may not have taken the offset. It is not retried and the
//!   client is not answered: its send stays unknown. If the cas did take it, that offset stays
//!   empty and polls stop there, so the key's later messages are never polled: the price of
//!   not knowing, which a real system pays with a lease or a leader. lin-kv here loses no
//!   message, so this happens only when the node is too slow to hear back in `--kv-timeout-ms`.
//! - **commits** stay on the node that got them (`Commits`, as in 5a): a committed offset
//!   lower than the truth only makes a client poll again, so commits need no linearizable
//!   store.
//!
//! Messages between nodes and lin-kv, per send: a read and a cas (4, more when nodes race for a
//! key) and a copy and its answer per other node (2 each): about 6 per send on 2 nodes, so 3
//! per operation. 5c gets under 1 by giving each key an owner.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use common::{Context, Message, Node, NodeId, RpcError, RpcTimeout};
use glomers_5a_kafka::{Commits, Offsets, Polled, kafka_payload};
use serde_json::Value;

kafka_payload! {
    /// The workload's messages, lin-kv's requests and replies, and the copies between nodes.
    pub enum Payload {
        /// Reads a lin-kv key.
        Read {
            /// The key.
            key: String,
        },
        /// lin-kv's answer to `read`.
        ReadOk {
            /// The key's value.
            value: u64,
        },
        /// Sets a lin-kv key to `to` if it holds `from`.
        Cas {
            /// The key.
            key: String,
            /// The value it must hold.
            from: u64,
            /// Its new value.
            to: u64,
            /// Treat a missing key as holding `from`.
            #[serde(default, skip_serializing_if = "std::ops::Not::not")]
            create_if_not_exists: bool,
        },
        /// lin-kv's answer to a successful `cas`.
        CasOk,
        /// lin-kv's refusal: 20 (no such key), 22 (the cas's `from` did not match).
        Error {
            /// The error code.
            code: u64,
            /// What went wrong.
            #[serde(default)]
            text: String,
        },
        /// A message stored at its offset, copied to another node.
        Replicate {
            /// The log.
            key: String,
            /// The message's offset.
            offset: u64,
            /// The message.
            msg: Value,
        },
        /// The copy is stored.
        ReplicateOk,
    }
}

/// The node's flags.
#[derive(Debug, Clone, clap::Args)]
pub struct Flags {
    /// How long to wait for lin-kv, or for a copy's answer, before giving up or asking again.
    #[arg(long, default_value_t = 1000, value_name = "MS")]
    pub kv_timeout_ms: u64,
}

/// Every key's messages by offset, as this node has them (possibly with gaps).
#[derive(Debug, Default)]
struct Copies(HashMap<String, BTreeMap<u64, Value>>);

impl Copies {
    fn store(&mut self, key: &str, offset: u64, msg: Value) {
        self.0
            .entry(key.to_owned())
            .or_default()
            .insert(offset, msg);
    }

    /// From each offset asked, the messages up to the first gap.
    fn poll(&self, offsets: &Offsets) -> Polled {
        let mut polled = Polled::new();
        for (key, from) in offsets {
            let Some(log) = self.0.get(key) else { continue };
            let pairs: Vec<(u64, Value)> = log
                .range(from..)
                .zip(*from..)
                .take_while(|((offset, _), expected)| *offset == expected)
                .take(glomers_5a_kafka::POLL_LIMIT)
                .map(|((offset, msg), _)| (*offset, msg.clone()))
                .collect();
            if !pairs.is_empty() {
                polled.insert(key.clone(), pairs);
            }
        }
        polled
    }
}

/// What a request in flight is for.
#[derive(Debug)]
enum Step {
    /// A send's read of its key's counter.
    Read {
        request: Message<Payload>,
        key: String,
        msg: Value,
    },
    /// A send's cas of the counter from `from`.
    Cas {
        request: Message<Payload>,
        key: String,
        msg: Value,
        from: u64,
    },
    /// A copy to another node.
    Copy {
        peer: NodeId,
        key: String,
        offset: u64,
        msg: Value,
    },
}

/// The node: its copy of every log, and the requests in flight.
#[derive(Debug)]
pub struct SharedOffsets {
    flags: Flags,
    copies: Copies,
    commits: Commits,
    in_flight: HashMap<u64, Step>,
}

fn lin_kv() -> NodeId {
    NodeId::new("lin-kv")
}

/// The lin-kv key holding `key`'s next offset.
pub fn counter(key: &str) -> String {
    format!("next-{key}")
}

impl SharedOffsets {
    fn timeout(&self) -> Duration {
        Duration::from_millis(self.flags.kv_timeout_ms)
    }

    fn ask(
        &mut self,
        ctx: &mut Context<Payload, common::NoTimer>,
        dest: NodeId,
        payload: Payload,
        step: Step,
    ) {
        let msg_id = ctx.rpc(dest, payload, self.timeout());
        self.in_flight.insert(msg_id, step);
    }

    fn read(
        &mut self,
        ctx: &mut Context<Payload, common::NoTimer>,
        request: Message<Payload>,
        key: String,
        msg: Value,
    ) {
        let read = Payload::Read { key: counter(&key) };
        self.ask(ctx, lin_kv(), read, Step::Read { request, key, msg });
    }

    fn copy(
        &mut self,
        ctx: &mut Context<Payload, common::NoTimer>,
        peer: NodeId,
        key: String,
        offset: u64,
        msg: Value,
    ) {
        let replicate = Payload::Replicate {
            key: key.clone(),
            offset,
            msg: msg.clone(),
        };
        self.ask(
            ctx,
            peer.clone(),
            replicate,
            Step::Copy {
                peer,
                key,
                offset,
                msg,
            },
        );
    }

    /// `step` was answered with `answer`.
    fn step(&mut self, ctx: &mut Context<Payload, common::NoTimer>, step: Step, answer: &Payload) {
        match step {
            Step::Read { request, key, msg } => {
                let (from, missing) = match answer {
                    Payload::ReadOk { value } => (*value, false),
                    _ => (0, true),
                };
                let cas = Payload::Cas {
                    key: counter(&key),
                    from,
                    to: from + 1,
                    create_if_not_exists: missing,
                };
                self.ask(
                    ctx,
                    lin_kv(),
                    cas,
                    Step::Cas {
                        request,
                        key,
                        msg,
                        from,
                    },
                );
            }
            Step::Cas {
                request,
                key,
                msg,
                from,
            } => match answer {
                Payload::CasOk => {
                    self.copies.store(&key, from, msg.clone());
                    for peer in ctx.peers() {
                        self.copy(ctx, peer, key.clone(), from, msg.clone());
                    }
                    ctx.reply(&request, Payload::SendOk { offset: from });
                }
                // Another send took that offset first: read again.
                _ => self.read(ctx, request, key, msg),
            },
            Step::Copy { .. } => {}
        }
    }
}

impl Node for SharedOffsets {
    type Payload = Payload;
    type Timer = common::NoTimer;
    type Flags = Flags;

    fn new(flags: Flags) -> Self {
        SharedOffsets {
            flags,
            copies: Copies::default(),
            commits: Commits::default(),
            in_flight: HashMap::new(),
        }
    }

    fn on_message(
        &mut self,
        msg: Message<Payload>,
        ctx: &mut Context<Payload, common::NoTimer>,
    ) -> Result<(), RpcError> {
        if let Some(answered) = msg.body.in_reply_to {
            if let Some(step) = self.in_flight.remove(&answered) {
                self.step(ctx, step, &msg.body.payload);
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
                self.read(ctx, msg, key, message);
                return Ok(());
            }
            Payload::Replicate {
                key,
                offset,
                msg: message,
            } => {
                self.copies.store(key, *offset, message.clone());
                Payload::ReplicateOk
            }
            Payload::Poll { offsets } => Payload::PollOk {
                msgs: self.copies.poll(offsets),
            },
            // Replies are handled above; nothing else is a request.
            _ => return Ok(()),
        };
        ctx.reply(&msg, answer);
        Ok(())
    }

    fn on_rpc_timeout(&mut self, timeout: RpcTimeout, ctx: &mut Context<Payload, common::NoTimer>) {
        match self.in_flight.remove(&timeout.msg_id) {
            // A read changes nothing: ask again.
            Some(Step::Read { request, key, msg }) => self.read(ctx, request, key, msg),
            // Storing a copy twice is harmless: send it again.
            Some(Step::Copy {
                peer,
                key,
                offset,
                msg,
            }) => self.copy(ctx, peer, key, offset, msg),
            // The cas may have taken the offset (see the module's docs).
            Some(Step::Cas { .. }) | None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use common::testing::TestNode;
    use serde_json::{Value, json};

    use super::*;

    fn node() -> TestNode<SharedOffsets> {
        TestNode::new(
            SharedOffsets::new(Flags {
                kv_timeout_ms: 1000,
            }),
            "n0",
            &["n0", "n1"],
            1,
        )
    }

    fn answer_at(
        node: &mut TestNode<SharedOffsets>,
        request: &Value,
        body: Value,
        at_ms: u64,
    ) -> Vec<Value> {
        let mut body = body;
        body["in_reply_to"] = request["body"]["msg_id"].clone();
        let from = request["dest"].as_str().unwrap().to_owned();
        node.deliver(&from, body, at_ms)
    }

    fn answer(node: &mut TestNode<SharedOffsets>, request: &Value, body: Value) -> Vec<Value> {
        answer_at(node, request, body, 0)
    }

    #[test]
    fn a_send_takes_its_offset_from_lin_kv_retrying_when_another_node_came_first() {
        let mut node = node();
        let out = node.deliver(
            "c1",
            json!({"type": "send", "msg_id": 1, "key": "7", "msg": 3}),
            0,
        );
        assert_eq!(out[0]["dest"], "lin-kv");
        assert_eq!(out[0]["body"]["key"], "next-7");
        let out = answer(
            &mut node,
            &out[0],
            json!({"type": "error", "code": 20, "text": "key does not exist"}),
        );
        assert_eq!(
            (
                out[0]["body"]["from"].clone(),
                out[0]["body"]["to"].clone(),
                out[0]["body"]["create_if_not_exists"].clone()
            ),
            (json!(0), json!(1), json!(true))
        );
        let out = answer(
            &mut node,
            &out[0],
            json!({"type": "error", "code": 22, "text": "current value 1 is not 0"}),
        );
        assert_eq!(out[0]["body"]["type"], "read");
        let out = answer(&mut node, &out[0], json!({"type": "read_ok", "value": 1}));
        let out = answer(&mut node, &out[0], json!({"type": "cas_ok"}));
        // Copied to n1, then answered.
        assert_eq!(common::testing::dests(&out), ["n1", "c1"]);
        assert_eq!(
            out[0]["body"],
            json!({"type": "replicate", "key": "7", "offset": 1, "msg": 3, "msg_id": out[0]["body"]["msg_id"]})
        );
        assert_eq!(out[1]["body"]["offset"], 1);
    }

    #[test]
    fn a_poll_stops_at_the_first_gap_in_the_copy() {
        let mut node = node();
        for (offset, msg) in [(0, 5), (1, 6), (3, 8)] {
            node.deliver("n1", json!({"type": "replicate", "msg_id": offset + 1, "key": "k", "offset": offset, "msg": msg}), 0);
        }
        let out = node.deliver(
            "c1",
            json!({"type": "poll", "msg_id": 9, "offsets": {"k": 0}}),
            0,
        );
        assert_eq!(out[0]["body"]["msgs"], json!({"k": [[0, 5], [1, 6]]}));
        let out = node.deliver(
            "c1",
            json!({"type": "poll", "msg_id": 10, "offsets": {"k": 2}}),
            0,
        );
        assert_eq!(out[0]["body"]["msgs"], json!({}));
    }

    #[test]
    fn an_unanswered_copy_is_sent_again_and_an_unanswered_cas_is_left_unknown() {
        let mut node = node();
        let out = node.deliver(
            "c1",
            json!({"type": "send", "msg_id": 1, "key": "7", "msg": 3}),
            0,
        );
        let out = answer(&mut node, &out[0], json!({"type": "read_ok", "value": 4}));
        assert_eq!(out[0]["body"]["type"], "cas");
        assert!(node.tick(1_500).is_empty(), "the cas is not retried");
        let out = node.deliver(
            "c1",
            json!({"type": "send", "msg_id": 2, "key": "8", "msg": 3}),
            2_000,
        );
        let out = answer_at(
            &mut node,
            &out[0],
            json!({"type": "read_ok", "value": 0}),
            2_000,
        );
        let out = answer_at(&mut node, &out[0], json!({"type": "cas_ok"}), 2_000);
        assert_eq!(out[0]["body"]["type"], "replicate");
        let again = node.tick(3_500);
        assert_eq!(again.len(), 1);
        assert_eq!(again[0]["body"]["type"], "replicate");
    }
}
