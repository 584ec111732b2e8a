//! Gossip Glomers 4, grow-only counter: `add {delta}` → `add_ok`, `read` → `read_ok {value}`,
//! with the total kept in Maelstrom's `seq-kv` service and no state on the nodes, as Fly.io asks.
//!
//! - **add**: read the key `total` from seq-kv, then `cas` it from what was read to that plus
//!   the delta (`create_if_not_exists` when the key was missing). seq-kv applies a successful
//!   cas to its newest state, so two nodes racing on the same total cannot both win: the loser
//!   gets error 22, reads again and retries. A blind `write` of read + delta would let one add
//!   overwrite another.
//! - **read**: seq-kv is sequentially consistent, not linearizable: a plain read may come from a
//!   state a little in the past, and a node that answers from it misses adds that finished
//!   before the client asked. So the node first writes something no one wrote before (its own
//!   key, `sync-NODE`, set to a value unique to this request) which seq-kv applies to its newest
//!   state and shows this node from then on; the read that follows sees every add acknowledged
//!   before it began.
//! - **failures**: a seq-kv request unanswered within `--kv-timeout-ms` is given up. A read
//!   (of an add or of a client's read) is simply tried again. A cas that timed out may or may
//!   not have been applied, so the add is not retried (it could count twice) and the client
//!   gets no answer: its operation stays unknown, which the checker allows for.
//!
//! ```
//! use common::{Node, Runtime};
//! use glomers_4_g_counter::{Flags, SeqCounter};
//! use std::time::Duration;
//!
//! let mut node = Runtime::new(SeqCounter::new(Flags { kv_timeout_ms: 1000 }), 1);
//! let at = Duration::ZERO;
//! node.handle_line(r#"{"src":"c0","dest":"n0","body":{"type":"init","msg_id":1,"node_id":"n0","node_ids":["n0"]}}"#, at);
//! node.handle_line(r#"{"src":"c1","dest":"n0","body":{"type":"add","msg_id":2,"delta":3}}"#, at);
//! let output = node.take_output();
//! assert!(output[1].contains(r#""dest":"seq-kv""#) && output[1].contains(r#""type":"read""#));
//! ```

use std::collections::HashMap;
use std::time::Duration;

use common::{Context, Message, NoTimer, Node, NodeId, RpcError, RpcTimeout};
use rand::RngExt as _;
use serde::{Deserialize, Serialize};

/// The key that holds the total.
pub const TOTAL: &str = "total";

/// The counter workload's messages, and the seq-kv requests and replies the node uses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Payload {
    /// A client adds `delta` (never negative in a g-counter).
    Add {
        /// How much.
        delta: i64,
    },
    /// The answer to `add`.
    AddOk,
    /// A client's read (no key), or the node's read of a seq-kv key.
    Read {
        /// The seq-kv key; absent in a client's read.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<String>,
    },
    /// The answer to a read: the counter's value, or the key's.
    ReadOk {
        /// The value.
        value: i64,
    },
    /// Sets a seq-kv key.
    Write {
        /// The key.
        key: String,
        /// Its new value.
        value: serde_json::Value,
    },
    /// seq-kv's answer to `write`.
    WriteOk,
    /// Sets a seq-kv key to `to` if it holds `from`.
    Cas {
        /// The key.
        key: String,
        /// The value it must hold.
        from: i64,
        /// Its new value.
        to: i64,
        /// Treat a missing key as holding `from`.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        create_if_not_exists: bool,
    },
    /// seq-kv's answer to a successful `cas`.
    CasOk,
    /// seq-kv's refusal: 20 (key does not exist), 22 (cas precondition failed), and so on.
    Error {
        /// The error code.
        code: u64,
        /// What went wrong.
        #[serde(default)]
        text: String,
    },
}

/// The node's flags.
#[derive(Debug, Clone, clap::Args)]
pub struct Flags {
    /// How long to wait for seq-kv before giving a request up.
    #[arg(long, default_value_t = 1000, value_name = "MS")]
    pub kv_timeout_ms: u64,
}

/// What a seq-kv request in flight is for.
#[derive(Debug)]
enum Step {
    /// An add's read of the total.
    AddRead {
        request: Message<Payload>,
        delta: i64,
    },
    /// An add's cas from `from`.
    AddCas {
        request: Message<Payload>,
        delta: i64,
    },
    /// A client read's unique write, before its read.
    Sync { request: Message<Payload> },
    /// A client read's read of the total.
    ReadTotal { request: Message<Payload> },
}

/// The stateless counter node: it remembers only the seq-kv requests in flight.
#[derive(Debug)]
pub struct SeqCounter {
    flags: Flags,
    in_flight: HashMap<u64, Step>,
    /// Makes each sync write's value unique: this process's random tag and a count.
    boot: u64,
    syncs: u64,
}

fn seq_kv() -> NodeId {
    NodeId::new("seq-kv")
}

impl SeqCounter {
    fn ask(&mut self, ctx: &mut Context<Payload, NoTimer>, payload: Payload, step: Step) {
        let timeout = Duration::from_millis(self.flags.kv_timeout_ms);
        let msg_id = ctx.rpc(seq_kv(), payload, timeout);
        self.in_flight.insert(msg_id, step);
    }

    fn read_total(&mut self, ctx: &mut Context<Payload, NoTimer>, step: Step) {
        let read = Payload::Read {
            key: Some(TOTAL.to_owned()),
        };
        self.ask(ctx, read, step);
    }

    fn sync(&mut self, ctx: &mut Context<Payload, NoTimer>, request: Message<Payload>) {
        self.syncs += 1;
        let write = Payload::Write {
            key: format!("sync-{}", ctx.node_id()),
            value: format!("{:016x}-{}", self.boot, self.syncs).into(),
        };
        self.ask(ctx, write, Step::Sync { request });
    }

    /// seq-kv answered `step` with `answer`.
    fn step(&mut self, ctx: &mut Context<Payload, NoTimer>, step: Step, answer: &Payload) {
        match step {
            Step::AddRead { request, delta } => {
                // Error 20: nobody has added yet, the total is 0 and the cas creates it.
                let (from, missing) = match answer {
                    Payload::ReadOk { value } => (*value, false),
                    _ => (0, true),
                };
                let cas = Payload::Cas {
                    key: TOTAL.to_owned(),
                    from,
                    to: from + delta,
                    create_if_not_exists: missing,
                };
                self.ask(ctx, cas, Step::AddCas { request, delta });
            }
            Step::AddCas { request, delta } => match answer {
                Payload::CasOk => {
                    ctx.reply(&request, Payload::AddOk);
                }
                // Someone else's add came first (or this node read a stale total): try again.
                _ => self.read_total(ctx, Step::AddRead { request, delta }),
            },
            Step::Sync { request } => self.read_total(ctx, Step::ReadTotal { request }),
            Step::ReadTotal { request } => {
                let value = match answer {
                    Payload::ReadOk { value } => *value,
                    _ => 0,
                };
                ctx.reply(&request, Payload::ReadOk { value });
            }
        }
    }
}

impl Node for SeqCounter {
    type Payload = Payload;
    type Timer = NoTimer;
    type Flags = Flags;

    fn new(flags: Flags) -> Self {
        SeqCounter {
            flags,
            in_flight: HashMap::new(),
            boot: 0,
            syncs: 0,
        }
    }

    fn on_init(&mut self, ctx: &mut Context<Payload, NoTimer>) {
        self.boot = ctx.rng().random();
    }

    fn on_message(
        &mut self,
        msg: Message<Payload>,
        ctx: &mut Context<Payload, NoTimer>,
    ) -> Result<(), RpcError> {
        if let Some(answered) = msg.body.in_reply_to {
            if let Some(step) = self.in_flight.remove(&answered) {
                self.step(ctx, step, &msg.body.payload);
            }
            return Ok(());
        }
        match &msg.body.payload {
            Payload::Add { delta } => {
                let delta = *delta;
                self.read_total(
                    ctx,
                    Step::AddRead {
                        request: msg,
                        delta,
                    },
                );
            }
            Payload::Read { key: None } => self.sync(ctx, msg),
            // Nothing else is a request to this node.
            _ => {}
        }
        Ok(())
    }

    fn on_rpc_timeout(&mut self, timeout: RpcTimeout, ctx: &mut Context<Payload, NoTimer>) {
        match self.in_flight.remove(&timeout.msg_id) {
            // A read changes nothing: ask again.
            Some(step @ (Step::AddRead { .. } | Step::ReadTotal { .. })) => {
                self.read_total(ctx, step);
            }
            Some(Step::Sync { request }) => self.sync(ctx, request),
            // The cas may have been applied: retrying could count the add twice. The client's
            // operation stays unknown.
            Some(Step::AddCas { .. }) | None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use common::testing::TestNode;
    use serde_json::{Value as Json, json};

    use super::*;

    fn node() -> TestNode<SeqCounter> {
        TestNode::new(
            SeqCounter::new(Flags {
                kv_timeout_ms: 1000,
            }),
            "n1",
            &["n1", "n2"],
            1,
        )
    }

    fn answer(node: &mut TestNode<SeqCounter>, request: &Json, body: Json) -> Vec<Json> {
        let mut body = body;
        body["in_reply_to"] = request["body"]["msg_id"].clone();
        node.deliver("seq-kv", body, 0)
    }

    #[test]
    fn an_add_reads_then_cases_and_retries_when_another_add_came_first() {
        let mut node = node();
        let out = node.deliver("c1", json!({"type": "add", "msg_id": 5, "delta": 3}), 0);
        assert_eq!(
            out[0]["body"],
            json!({"type": "read", "key": "total", "msg_id": out[0]["body"]["msg_id"]})
        );
        let out = answer(
            &mut node,
            &out[0],
            json!({"type": "error", "code": 20, "text": "key does not exist"}),
        );
        assert_eq!(out[0]["body"]["type"], "cas");
        assert_eq!(
            (out[0]["body"]["from"].clone(), out[0]["body"]["to"].clone()),
            (json!(0), json!(3))
        );
        assert_eq!(out[0]["body"]["create_if_not_exists"], true);
        // Another node created the total first: the cas fails, the node reads again.
        let out = answer(
            &mut node,
            &out[0],
            json!({"type": "error", "code": 22, "text": "expected 0"}),
        );
        assert_eq!(out[0]["body"]["type"], "read");
        let out = answer(&mut node, &out[0], json!({"type": "read_ok", "value": 4}));
        assert_eq!(
            (out[0]["body"]["from"].clone(), out[0]["body"]["to"].clone()),
            (json!(4), json!(7))
        );
        assert!(out[0]["body"].get("create_if_not_exists").is_none());
        let out = answer(&mut node, &out[0], json!({"type": "cas_ok"}));
        assert_eq!(out[0]["dest"], "c1");
        assert_eq!(out[0]["body"]["type"], "add_ok");
        assert_eq!(out[0]["body"]["in_reply_to"], 5);
    }

    #[test]
    fn a_read_writes_something_unique_before_it_reads() {
        let mut node = node();
        let mut values = Vec::new();
        for msg_id in [1, 2] {
            let out = node.deliver("c1", json!({"type": "read", "msg_id": msg_id}), 0);
            assert_eq!(out[0]["body"]["type"], "write");
            assert_eq!(out[0]["body"]["key"], "sync-n1");
            values.push(out[0]["body"]["value"].clone());
            let out = answer(&mut node, &out[0], json!({"type": "write_ok"}));
            assert_eq!(out[0]["body"]["type"], "read");
            let out = answer(&mut node, &out[0], json!({"type": "read_ok", "value": 9}));
            assert_eq!(
                out[0]["body"],
                json!({"type": "read_ok", "value": 9, "msg_id": out[0]["body"]["msg_id"], "in_reply_to": msg_id})
            );
        }
        assert_ne!(values[0], values[1], "each sync write is unique");
    }

    #[test]
    fn a_timed_out_read_is_asked_again_and_a_timed_out_cas_is_left_unknown() {
        let mut node = node();
        let out = node.deliver("c1", json!({"type": "add", "msg_id": 1, "delta": 1}), 0);
        assert_eq!(out[0]["body"]["type"], "read");
        let out = node.tick(1_001);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0]["body"]["type"], "read", "the read is asked again");
        let out = answer(&mut node, &out[0], json!({"type": "read_ok", "value": 0}));
        assert_eq!(out[0]["body"]["type"], "cas");
        assert!(
            node.tick(2_500).is_empty(),
            "the cas is not retried, nor the client answered"
        );
    }
}
