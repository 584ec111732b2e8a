//! Stage 04, batching: instead of one message per value per peer, a node buffers the values
//! clients give it and, every `--flush-ms` (or as soon as `--max-batch` values are waiting),
//! sends them to every other node in **one** `batch` message per peer. Messages per value fall
//! with the batch size; the price is up to one flush interval of extra latency.
//!
//! ```
//! use common::{Node, Runtime};
//! use stage_04_batching::{Batching, Flags};
//! use std::time::Duration;
//!
//! let mut node = Runtime::new(Batching::new(Flags { flush_ms: 200, max_batch: 0 }), 1);
//! node.handle_line(r#"{"src":"c0","dest":"n0","body":{"type":"init","msg_id":1,"node_id":"n0","node_ids":["n0","n1"]}}"#, Duration::ZERO);
//! for value in 1..=3 {
//!     node.handle_line(&format!(r#"{{"src":"c1","dest":"n0","body":{{"type":"broadcast","msg_id":{value},"message":{value}}}}}"#), Duration::ZERO);
//! }
//! assert_eq!(node.take_output().len(), 4); // init_ok and three broadcast_oks, nothing sent yet
//! node.fire_due(Duration::from_millis(200));
//! let flush = node.take_output();
//! assert_eq!(flush.len(), 1);
//! assert!(flush[0].contains(r#""type":"batch""#) && flush[0].contains(r#""messages":[1,2,3]"#));
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::{Context, Message, Node, NodeId, RpcError, Value};
use serde::{Deserialize, Serialize};

/// The messages: the broadcast workload's, and the batch between nodes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Payload {
    /// The cluster's neighbour lists (not used: batches go to every node).
    Topology {
        /// Neighbours by node id.
        topology: BTreeMap<NodeId, Vec<NodeId>>,
    },
    /// Answer to `topology`.
    TopologyOk,
    /// A value from a client.
    Broadcast {
        /// The value.
        message: Value,
    },
    /// Answer to `broadcast`.
    BroadcastOk,
    /// Asks for every value held.
    Read,
    /// Every value held, sorted.
    ReadOk {
        /// The values.
        messages: Vec<Value>,
    },
    /// Values clients gave the sender since its last flush. Not answered, not passed on.
    Batch {
        /// The values, sorted.
        messages: BTreeSet<Value>,
    },
}

/// The node's one timer: a flush.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flush;

/// The node's flags.
#[derive(Debug, Clone, clap::Args)]
pub struct Flags {
    /// Milliseconds between flushes.
    #[arg(long = "flush-ms", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..))]
    pub flush_ms: u64,
    /// Flush at once when this many values wait (0: only on the timer).
    #[arg(long = "max-batch", default_value_t = 0)]
    pub max_batch: usize,
}

/// The batching node.
#[derive(Debug)]
pub struct Batching {
    flush_interval: Duration,
    max_batch: usize,
    values: BTreeSet<Value>,
    /// Values from clients not yet sent to the other nodes.
    pending: BTreeSet<Value>,
}

impl Batching {
    /// Values waiting for the next flush.
    pub fn pending(&self) -> &BTreeSet<Value> {
        &self.pending
    }

    fn flush(&mut self, ctx: &mut Context<Payload, Flush>) {
        if self.pending.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.pending);
        for peer in ctx.peers() {
            ctx.send(
                peer,
                Payload::Batch {
                    messages: batch.clone(),
                },
            );
        }
    }
}

impl Node for Batching {
    type Payload = Payload;
    type Timer = Flush;
    type Flags = Flags;

    fn new(flags: Flags) -> Self {
        Self {
            flush_interval: Duration::from_millis(flags.flush_ms),
            max_batch: flags.max_batch,
            values: BTreeSet::new(),
            pending: BTreeSet::new(),
        }
    }

    fn on_init(&mut self, ctx: &mut Context<Payload, Flush>) {
        ctx.every(self.flush_interval, Flush);
    }

    fn on_message(
        &mut self,
        msg: Message<Payload>,
        ctx: &mut Context<Payload, Flush>,
    ) -> Result<(), RpcError> {
        match &msg.body.payload {
            Payload::Topology { .. } => {
                ctx.reply(&msg, Payload::TopologyOk);
            }
            Payload::Broadcast { message } => {
                ctx.reply(&msg, Payload::BroadcastOk);
                if self.values.insert(message.clone()) {
                    self.pending.insert(message.clone());
                    if self.max_batch > 0 && self.pending.len() >= self.max_batch {
                        self.flush(ctx);
                    }
                }
            }
            Payload::Read => {
                let messages = self.values.iter().cloned().collect();
                ctx.reply(&msg, Payload::ReadOk { messages });
            }
            // The sender sent the batch to everyone itself, so it goes no further.
            Payload::Batch { messages } => self.values.extend(messages.iter().cloned()),
            Payload::TopologyOk | Payload::BroadcastOk | Payload::ReadOk { .. } => {}
        }
        Ok(())
    }

    fn on_timer(&mut self, _: Flush, ctx: &mut Context<Payload, Flush>) {
        self.flush(ctx);
    }
}

#[cfg(test)]
mod tests {
    use common::testing::TestNode;
    use serde_json::{Value as Json, json};

    use super::*;

    fn node(flush_ms: u64, max_batch: usize) -> TestNode<Batching> {
        let flags = Flags {
            flush_ms,
            max_batch,
        };
        TestNode::new(Batching::new(flags), "n0", &["n0", "n1", "n2"], 1)
    }

    fn broadcast(bench: &mut TestNode<Batching>, value: Json, ms: u64) -> Vec<Json> {
        bench.deliver(
            "c1",
            json!({"type": "broadcast", "msg_id": 1, "message": value}),
            ms,
        )
    }

    fn flush(bench: &mut TestNode<Batching>, ms: u64) -> Vec<Json> {
        bench.tick(ms)
    }

    #[test]
    fn a_flush_sends_one_batch_per_peer_and_empties_the_buffer() {
        let mut runtime = node(100, 0);
        broadcast(&mut runtime, json!(2), 10);
        broadcast(&mut runtime, json!(1), 20);
        let sent = flush(&mut runtime, 100);
        let dests: Vec<&str> = sent.iter().map(|m| m["dest"].as_str().unwrap()).collect();
        assert_eq!(dests, ["n1", "n2"]);
        assert!(sent.iter().all(|m| m["body"]["messages"] == json!([1, 2])));
        assert!(
            flush(&mut runtime, 200).is_empty(),
            "nothing new, nothing sent"
        );
    }

    #[test]
    fn a_full_buffer_flushes_at_once() {
        let mut runtime = node(10_000, 2);
        assert_eq!(broadcast(&mut runtime, json!(1), 0).len(), 1);
        let out = broadcast(&mut runtime, json!(2), 0);
        assert_eq!(
            out.len(),
            3,
            "broadcast_ok then a batch to each of two peers"
        );
        assert_eq!(out[1]["body"]["messages"], json!([1, 2]));
    }

    #[test]
    fn batches_received_are_stored_but_not_passed_on() {
        let mut runtime = node(100, 0);
        assert!(
            runtime
                .deliver(
                    "n1",
                    json!({"type": "batch", "msg_id": 4, "messages": [3, "x"]}),
                    0
                )
                .is_empty()
        );
        assert!(flush(&mut runtime, 100).is_empty());
        assert!(runtime.node().pending().is_empty());
    }

    #[test]
    fn a_repeated_value_is_not_batched_twice() {
        let mut runtime = node(100, 0);
        broadcast(&mut runtime, json!(1), 0);
        flush(&mut runtime, 100);
        broadcast(&mut runtime, json!(1), 150);
        assert!(flush(&mut runtime, 200).is_empty());
    }
}
