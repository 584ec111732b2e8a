//! Stage 05, partition healing: a fast path and a safety net. A client's value goes to every
//! other node at once (one hop, no acknowledgement); and every `--sync-ms` each node reconciles
//! its whole set with one random peer, both ways (`resync` carries the sender's set, `resync_ok`
//! answers with what the sender lacked). Whatever a partition dropped from the fast path is
//! repaired by the next reconciliations after the heal.
//!
//! ```
//! use common::{Node, Runtime};
//! use stage_05_partition_healing::{Flags, PartitionHealing};
//! use std::time::Duration;
//!
//! let mut node = Runtime::new(PartitionHealing::new(Flags { sync_ms: 500 }), 1);
//! node.handle_line(r#"{"src":"c0","dest":"n0","body":{"type":"init","msg_id":1,"node_id":"n0","node_ids":["n0","n1"]}}"#, Duration::ZERO);
//! node.handle_line(r#"{"src":"c1","dest":"n0","body":{"type":"broadcast","msg_id":1,"message":3}}"#, Duration::ZERO);
//! node.take_output();
//! node.fire_due(Duration::from_millis(500));
//! let sync = node.take_output();
//! assert!(sync[0].contains(r#""type":"resync""#) && sync[0].contains(r#""messages":[3]"#));
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::{Context, Message, Node, NodeId, RpcError, Value};
use rand::RngExt;
use serde::{Deserialize, Serialize};

/// The messages: the broadcast workload's, and the reconciliation pair between nodes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Payload {
    /// The cluster's neighbour lists (not used: every node talks to every node).
    Topology {
        /// Neighbours by node id.
        topology: BTreeMap<NodeId, Vec<NodeId>>,
    },
    /// Answer to `topology`.
    TopologyOk,
    /// A value: from a client (answered, then sent to every node) or from a peer (stored).
    Broadcast {
        /// The value.
        message: Value,
    },
    /// Answer to a client's `broadcast`.
    BroadcastOk,
    /// Asks for every value held.
    Read,
    /// Every value held, sorted.
    ReadOk {
        /// The values.
        messages: Vec<Value>,
    },
    /// The sender's whole set, to reconcile with the receiver's.
    Resync {
        /// Every value the sender holds.
        messages: BTreeSet<Value>,
    },
    /// The values the receiver held that the `resync` lacked.
    ResyncOk {
        /// Those values.
        messages: BTreeSet<Value>,
    },
}

/// The node's one timer: a reconciliation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sync;

/// The node's flags.
#[derive(Debug, Clone, clap::Args)]
pub struct Flags {
    /// Milliseconds between reconciliations with a random peer.
    #[arg(long = "sync-ms", default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..))]
    pub sync_ms: u64,
}

/// The partition-healing node.
#[derive(Debug)]
pub struct PartitionHealing {
    sync_interval: Duration,
    values: BTreeSet<Value>,
}

impl Node for PartitionHealing {
    type Payload = Payload;
    type Timer = Sync;
    type Flags = Flags;

    fn new(flags: Flags) -> Self {
        Self {
            sync_interval: Duration::from_millis(flags.sync_ms),
            values: BTreeSet::new(),
        }
    }

    fn on_init(&mut self, ctx: &mut Context<Payload, Sync>) {
        ctx.every(self.sync_interval, Sync);
    }

    fn on_message(
        &mut self,
        msg: Message<Payload>,
        ctx: &mut Context<Payload, Sync>,
    ) -> Result<(), RpcError> {
        match &msg.body.payload {
            Payload::Topology { .. } => {
                ctx.reply(&msg, Payload::TopologyOk);
            }
            Payload::Broadcast { message } => {
                let from_client = !ctx.is_cluster_node(&msg.src);
                if from_client {
                    ctx.reply(&msg, Payload::BroadcastOk);
                }
                // Only the node a client told sends the value on: everyone hears it in one hop.
                if self.values.insert(message.clone()) && from_client {
                    for peer in ctx.peers() {
                        ctx.send(
                            peer,
                            Payload::Broadcast {
                                message: message.clone(),
                            },
                        );
                    }
                }
            }
            Payload::Read => {
                let messages = self.values.iter().cloned().collect();
                ctx.reply(&msg, Payload::ReadOk { messages });
            }
            Payload::Resync { messages } => {
                let theirs_lack = self.values.difference(messages).cloned().collect();
                ctx.reply(
                    &msg,
                    Payload::ResyncOk {
                        messages: theirs_lack,
                    },
                );
                self.values.extend(messages.iter().cloned());
            }
            Payload::ResyncOk { messages } => self.values.extend(messages.iter().cloned()),
            Payload::TopologyOk | Payload::BroadcastOk | Payload::ReadOk { .. } => {}
        }
        Ok(())
    }

    fn on_timer(&mut self, _: Sync, ctx: &mut Context<Payload, Sync>) {
        let peers = ctx.peers();
        if peers.is_empty() {
            return;
        }
        let peer = peers[ctx.rng().random_range(0..peers.len())].clone();
        ctx.send(
            peer,
            Payload::Resync {
                messages: self.values.clone(),
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use common::testing::TestNode;
    use serde_json::{Value as Json, json};

    use super::*;

    fn node() -> TestNode<PartitionHealing> {
        TestNode::new(
            PartitionHealing::new(Flags { sync_ms: 100 }),
            "n0",
            &["n0", "n1", "n2"],
            2,
        )
    }

    fn deliver(bench: &mut TestNode<PartitionHealing>, src: &str, body: Json) -> Vec<Json> {
        bench.deliver(src, body, 0)
    }

    #[test]
    fn a_client_value_goes_to_every_peer_at_once() {
        let mut runtime = node();
        let out = deliver(
            &mut runtime,
            "c1",
            json!({"type": "broadcast", "msg_id": 1, "message": 5}),
        );
        let dests: Vec<&str> = out.iter().map(|m| m["dest"].as_str().unwrap()).collect();
        assert_eq!(dests, ["c1", "n1", "n2"]);
    }

    #[test]
    fn a_peer_value_is_stored_and_goes_no_further() {
        let mut runtime = node();
        assert!(
            deliver(
                &mut runtime,
                "n1",
                json!({"type": "broadcast", "msg_id": 1, "message": 5})
            )
            .is_empty()
        );
    }

    #[test]
    fn resync_answers_with_exactly_what_the_sender_lacked_and_takes_what_it_brought() {
        let mut runtime = node();
        for (i, value) in [1, 2].into_iter().enumerate() {
            deliver(
                &mut runtime,
                "c1",
                json!({"type": "broadcast", "msg_id": i, "message": value}),
            );
        }
        let out = deliver(
            &mut runtime,
            "n2",
            json!({"type": "resync", "msg_id": 7, "messages": [2, 3]}),
        );
        assert_eq!(out[0]["body"]["messages"], json!([1]));
        assert_eq!(out[0]["body"]["in_reply_to"], 7);
        let read = deliver(&mut runtime, "c1", json!({"type": "read", "msg_id": 9}));
        assert_eq!(read[0]["body"]["messages"], json!([1, 2, 3]));
    }

    #[test]
    fn every_sync_sends_the_whole_set_to_one_random_peer() {
        let mut runtime = node();
        deliver(
            &mut runtime,
            "n1",
            json!({"type": "broadcast", "msg_id": 1, "message": 8}),
        );
        let mut dests = BTreeSet::new();
        for round in 1..=20 {
            let out = runtime.tick(100 * round);
            assert_eq!(out.len(), 1);
            let message = &out[0];
            assert_eq!(message["body"]["messages"], json!([8]));
            dests.insert(message["dest"].as_str().unwrap().to_owned());
        }
        assert_eq!(
            dests,
            BTreeSet::from(["n1".to_owned(), "n2".to_owned()]),
            "both peers get picked"
        );
    }
}
