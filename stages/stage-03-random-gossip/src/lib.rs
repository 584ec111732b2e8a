//! Stage 03, random gossip: every round, each node picks a few random neighbours and sends each
//! the values it does not yet know that neighbour has; the neighbour acknowledges them. What is
//! not acknowledged (because a partition, or anything else, lost the message or its answer)
//! is simply sent again in a later round, so values get through once the network lets them.
//!
//! ```
//! use common::{Node, Runtime};
//! use stage_03_random_gossip::{Flags, RandomGossip};
//! use std::time::Duration;
//!
//! let mut node = Runtime::new(RandomGossip::new(Flags { fanout: 2, interval_ms: 100 }), 1);
//! node.handle_line(r#"{"src":"c0","dest":"n0","body":{"type":"init","msg_id":1,"node_id":"n0","node_ids":["n0","n1"]}}"#, Duration::ZERO);
//! node.handle_line(r#"{"src":"c1","dest":"n0","body":{"type":"broadcast","msg_id":1,"message":4}}"#, Duration::ZERO);
//! node.take_output();
//! node.fire_due(Duration::from_millis(100)); // one round
//! let round = node.take_output();
//! assert!(round[0].contains(r#""type":"gossip""#) && round[0].contains(r#""messages":[4]"#));
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::{Context, Message, Node, NodeId, RpcError, Value};
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

/// The messages: the broadcast workload's, and the gossip pair between nodes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Payload {
    /// The cluster's neighbour lists.
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
    /// Values the sender does not know the receiver has.
    Gossip {
        /// The values.
        messages: BTreeSet<Value>,
    },
    /// The receiver now holds these values (all of those the gossip carried).
    GossipOk {
        /// The values acknowledged.
        messages: BTreeSet<Value>,
    },
}

/// The node's one timer: a gossip round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Round;

/// The node's flags.
#[derive(Debug, Clone, clap::Args)]
pub struct Flags {
    /// Neighbours contacted per round.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..))]
    pub fanout: u64,
    /// Milliseconds between rounds.
    #[arg(long = "interval-ms", default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    pub interval_ms: u64,
}

/// The random-gossip node.
#[derive(Debug)]
pub struct RandomGossip {
    fanout: usize,
    interval: Duration,
    values: BTreeSet<Value>,
    /// `None` until `topology` arrives; until then every other node is a neighbour.
    neighbours: Option<Vec<NodeId>>,
    /// What each peer is known to hold: acknowledged, or sent to us by that peer.
    known: BTreeMap<NodeId, BTreeSet<Value>>,
}

impl RandomGossip {
    /// Values this node has not seen `peer` acknowledge.
    pub fn unacknowledged(&self, peer: &NodeId) -> BTreeSet<Value> {
        match self.known.get(peer) {
            Some(known) => self.values.difference(known).cloned().collect(),
            None => self.values.clone(),
        }
    }

    fn round(&mut self, ctx: &mut Context<Payload, Round>) {
        let mut neighbours = self.neighbours.clone().unwrap_or_else(|| ctx.peers());
        neighbours.shuffle(ctx.rng());
        for peer in neighbours.into_iter().take(self.fanout) {
            let missing = self.unacknowledged(&peer);
            if !missing.is_empty() {
                ctx.send(peer, Payload::Gossip { messages: missing });
            }
        }
    }
}

impl Node for RandomGossip {
    type Payload = Payload;
    type Timer = Round;
    type Flags = Flags;

    fn new(flags: Flags) -> Self {
        Self {
            fanout: usize::try_from(flags.fanout).unwrap_or(usize::MAX),
            interval: Duration::from_millis(flags.interval_ms),
            values: BTreeSet::new(),
            neighbours: None,
            known: BTreeMap::new(),
        }
    }

    fn on_init(&mut self, ctx: &mut Context<Payload, Round>) {
        ctx.every(self.interval, Round);
    }

    fn on_message(
        &mut self,
        msg: Message<Payload>,
        ctx: &mut Context<Payload, Round>,
    ) -> Result<(), RpcError> {
        match &msg.body.payload {
            Payload::Topology { topology } => {
                self.neighbours = Some(topology.get(ctx.node_id()).cloned().unwrap_or_default());
                ctx.reply(&msg, Payload::TopologyOk);
            }
            Payload::Broadcast { message } => {
                ctx.reply(&msg, Payload::BroadcastOk);
                self.values.insert(message.clone());
            }
            Payload::Read => {
                let messages = self.values.iter().cloned().collect();
                ctx.reply(&msg, Payload::ReadOk { messages });
            }
            Payload::Gossip { messages } => {
                ctx.reply(
                    &msg,
                    Payload::GossipOk {
                        messages: messages.clone(),
                    },
                );
                self.values.extend(messages.iter().cloned());
                // The sender holds what it sent: no need to send it back.
                self.known
                    .entry(msg.src.clone())
                    .or_default()
                    .extend(messages.iter().cloned());
            }
            Payload::GossipOk { messages } => {
                self.known
                    .entry(msg.src.clone())
                    .or_default()
                    .extend(messages.iter().cloned());
            }
            Payload::TopologyOk | Payload::BroadcastOk | Payload::ReadOk { .. } => {}
        }
        Ok(())
    }

    fn on_timer(&mut self, _: Round, ctx: &mut Context<Payload, Round>) {
        self.round(ctx);
    }
}

#[cfg(test)]
mod tests {
    use common::testing::TestNode;
    use serde_json::{Value as Json, json};

    use super::*;

    fn node(fanout: u64) -> TestNode<RandomGossip> {
        let flags = Flags {
            fanout,
            interval_ms: 100,
        };
        TestNode::new(RandomGossip::new(flags), "n0", &["n0", "n1", "n2", "n3"], 3)
    }

    fn deliver(bench: &mut TestNode<RandomGossip>, src: &str, body: Json, ms: u64) -> Vec<Json> {
        bench.deliver(src, body, ms)
    }

    fn round(bench: &mut TestNode<RandomGossip>, ms: u64) -> Vec<Json> {
        bench.tick(ms)
    }

    #[test]
    fn each_round_contacts_fanout_distinct_neighbours_with_what_they_lack() {
        let mut runtime = node(2);
        deliver(
            &mut runtime,
            "c1",
            json!({"type": "broadcast", "msg_id": 1, "message": 1}),
            0,
        );
        let sent = round(&mut runtime, 100);
        assert_eq!(sent.len(), 2);
        assert_ne!(sent[0]["dest"], sent[1]["dest"]);
        assert!(sent.iter().all(|m| m["body"]["messages"] == json!([1])));
    }

    #[test]
    fn unacknowledged_values_are_sent_again_and_acknowledged_ones_are_not() {
        let mut runtime = node(3);
        deliver(
            &mut runtime,
            "c1",
            json!({"type": "broadcast", "msg_id": 1, "message": 1}),
            0,
        );
        let first = round(&mut runtime, 100);
        assert_eq!(first.len(), 3);
        // Only n1 answers; the answers from n2 and n3 were lost.
        let to_n1 = first.iter().find(|m| m["dest"] == "n1").unwrap();
        let ack = json!({"type": "gossip_ok", "msg_id": 0, "in_reply_to": to_n1["body"]["msg_id"], "messages": [1]});
        deliver(&mut runtime, "n1", ack, 150);
        let second = round(&mut runtime, 200);
        let dests: BTreeSet<&str> = second.iter().map(|m| m["dest"].as_str().unwrap()).collect();
        assert_eq!(dests, BTreeSet::from(["n2", "n3"]));
    }

    #[test]
    fn a_node_never_sends_a_peer_what_that_peer_sent_it() {
        let mut runtime = node(3);
        let reply = deliver(
            &mut runtime,
            "n2",
            json!({"type": "gossip", "msg_id": 4, "messages": [5, "x"]}),
            0,
        );
        assert_eq!(
            reply[0]["body"],
            json!({"type": "gossip_ok", "msg_id": 1, "in_reply_to": 4, "messages": [5, "x"]})
        );
        let sent = round(&mut runtime, 100);
        assert!(sent.iter().all(|m| m["dest"] != "n2"), "{sent:?}");
        assert_eq!(sent.len(), 2);
    }

    #[test]
    fn nothing_is_sent_when_there_is_nothing_new() {
        let mut runtime = node(3);
        assert!(round(&mut runtime, 100).is_empty());
    }

    #[test]
    fn gossip_follows_the_topology_once_it_arrives() {
        let mut runtime = node(3);
        let topology =
            json!({"type": "topology", "msg_id": 1, "topology": {"n0": ["n3"], "n3": ["n0"]}});
        deliver(&mut runtime, "c9", topology, 0);
        deliver(
            &mut runtime,
            "c1",
            json!({"type": "broadcast", "msg_id": 1, "message": 1}),
            0,
        );
        let sent = round(&mut runtime, 100);
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0]["dest"], "n3");
    }
}
