//! Stage 13, hybrid: the tree of stage 11 for the first, fast delivery, and periodic random
//! gossip for whatever the tree missed (a subtree cut off by a partition, or below a crashed
//! node).
//!
//! - **Tree push.** A new value goes to every tree neighbour but the one it came from, at once,
//!   with its hop count (`broadcast {message, hops}`). No acknowledgements: the gossip is the
//!   safety net.
//! - **Gossip** every `--gossip-ms`: one random peer (any node, not only tree neighbours) is
//!   sent the values this node holds that the peer is not known to hold
//!   (`gossip {messages, hops}`). The peer merges them and answers `gossip_ok`; only then are
//!   they known to be there. A peer also counts as holding what it sent this node. A dropped
//!   gossip is simply sent again, larger, next time that peer is picked.
//! - **Gossip feeds the tree.** A value new by gossip is pushed along the tree like any other:
//!   the tree neighbours of a node the tree missed were most likely missed too (a cut edge or a
//!   dead parent strands a whole subtree), and one gossip then reaches all of them.
//! - **Where each value came from.** The first arrival decides: a client's broadcast or a tree
//!   forward is `tree`, a gossip is `gossip`; `hops` is the sender's hops plus one (0 at the
//!   node a client gave it to). `delivery_info` and `hybrid_stats` report it.
//!
//! ```
//! use common::{Node, Runtime};
//! use stage_13_hybrid::{Flags, Hybrid};
//! use std::time::Duration;
//!
//! let mut node = Runtime::new(Hybrid::new(Flags { gossip_ms: 60_000 }), 0);
//! let now = Duration::ZERO;
//! node.handle_line(r#"{"src":"c0","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"n1","node_ids":["n0","n1","n2"]}}"#, now);
//! node.handle_line(r#"{"src":"c1","dest":"n1","body":{"type":"topology","msg_id":1,"topology":{"n0":["n1"],"n1":["n0","n2"],"n2":["n1"]}}}"#, now);
//! node.handle_line(r#"{"src":"n0","dest":"n1","body":{"type":"broadcast","msg_id":3,"message":7,"hops":0}}"#, now);
//! let output = node.take_output();
//! // init_ok and topology_ok, then the value goes on to n2, one hop further.
//! assert_eq!(output.len(), 3);
//! assert!(output[2].contains(r#""dest":"n2""#) && output[2].contains(r#""hops":1"#));
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::{Context, ErrorCode, Message, Node, NodeId, RpcError, Value};
use serde::{Deserialize, Serialize};
use stage_11_tree_overlay::Overlay;

/// How a value first reached this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// A client's broadcast, or a forward along the tree.
    Tree,
    /// A gossip message.
    Gossip,
}

/// The messages: the broadcast workload's (forwards carry `hops`), the gossip pair, and the two
/// inspection requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Payload {
    /// The cluster's neighbour lists: the tree.
    Topology {
        /// Neighbours by node id.
        topology: BTreeMap<NodeId, Vec<NodeId>>,
    },
    /// Answer to `topology`.
    TopologyOk,
    /// A value: from a client (answered; no `hops`) or forwarded along the tree (with the
    /// sender's hop count; not answered).
    Broadcast {
        /// The value.
        message: Value,
        /// The sender's hop count for it (absent from clients).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        hops: Option<u64>,
    },
    /// Answer to a client's `broadcast`.
    BroadcastOk,
    /// Values the receiver is not known to hold, with the sender's hop count for each.
    Gossip {
        /// The values.
        messages: Vec<Value>,
        /// The sender's hop count for each value, in the same order.
        hops: Vec<u64>,
    },
    /// The gossip arrived: its values are now known to be here.
    GossipOk,
    /// Asks for every value held.
    Read,
    /// Every value held, sorted, without duplicates.
    ReadOk {
        /// The values.
        messages: Vec<Value>,
    },
    /// Asks how `value` first arrived.
    DeliveryInfo {
        /// The value.
        value: Value,
    },
    /// How it first arrived, and how many hops from the node a client gave it to.
    DeliveryInfoOk {
        /// The value.
        value: Value,
        /// `tree` or `gossip`.
        delivered_via: Via,
        /// Hops from the node a client gave it to (0 there).
        hops: u64,
    },
    /// Asks for the delivery counters.
    HybridStats,
    /// Distinct values held, by how they first arrived.
    HybridStatsOk {
        /// Values first delivered by a client or along the tree.
        tree_deliveries: u64,
        /// Values first delivered by gossip.
        gossip_deliveries: u64,
        /// Their sum: every value held.
        total: u64,
    },
}

/// How long an unanswered gossip is remembered.
const FORGET_AFTER: Duration = Duration::from_secs(5);

/// The node's one timer: a gossip round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Round;

/// The node's flags.
#[derive(Debug, Clone, clap::Args)]
pub struct Flags {
    /// Milliseconds between gossip rounds.
    #[arg(long = "gossip-ms", default_value_t = 500, value_parser = clap::value_parser!(u64).range(1..))]
    pub gossip_ms: u64,
}

/// The delivery counters `hybrid_stats` reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HybridStats {
    /// Values first delivered by a client or along the tree.
    pub tree_deliveries: u64,
    /// Values first delivered by gossip.
    pub gossip_deliveries: u64,
}

/// The hybrid node.
#[derive(Debug)]
pub struct Hybrid {
    gossip_every: Duration,
    overlay: Overlay,
    /// Every value held, with how it first arrived and its hop count.
    values: BTreeMap<Value, (Via, u64)>,
    /// What each peer is known to hold: what it sent us, and what it acknowledged.
    known_by: BTreeMap<NodeId, BTreeSet<Value>>,
    /// Gossips awaiting `gossip_ok`: (peer, msg_id) → when sent, and the values sent.
    in_flight: BTreeMap<(NodeId, u64), (Duration, Vec<Value>)>,
    stats: HybridStats,
}

impl Hybrid {
    /// The delivery counters.
    pub fn stats(&self) -> HybridStats {
        self.stats
    }

    /// Takes `value` on if it is new: records how it came and returns true.
    fn learn(&mut self, value: &Value, via: Via, hops: u64) -> bool {
        if self.values.contains_key(value) {
            return false;
        }
        self.values.insert(value.clone(), (via, hops));
        match via {
            Via::Tree => self.stats.tree_deliveries += 1,
            Via::Gossip => self.stats.gossip_deliveries += 1,
        }
        true
    }

    fn known_by(&mut self, peer: &NodeId) -> &mut BTreeSet<Value> {
        self.known_by.entry(peer.clone()).or_default()
    }

    /// Pushes a new value along the tree: to every tree neighbour but `from`.
    fn push(
        &mut self,
        message: &Value,
        hops: u64,
        from: &NodeId,
        ctx: &mut Context<Payload, Round>,
    ) {
        for neighbour in self.overlay.forward_targets(from) {
            let forward = Payload::Broadcast {
                message: message.clone(),
                hops: Some(hops),
            };
            ctx.send(neighbour, forward);
        }
    }

    /// One gossip round: one random peer gets what it is not known to hold, if anything.
    fn gossip(&mut self, ctx: &mut Context<Payload, Round>) {
        let Some(peer) = ctx.random_peers(1, None).pop() else {
            return;
        };
        let known = self.known_by.get(&peer);
        let (messages, hops): (Vec<Value>, Vec<u64>) = self
            .values
            .iter()
            .filter(|(value, _)| known.is_none_or(|known| !known.contains(*value)))
            .map(|(value, (_, hops))| (value.clone(), *hops))
            .unzip();
        if messages.is_empty() {
            return;
        }
        let msg_id = ctx.send(
            peer.clone(),
            Payload::Gossip {
                messages: messages.clone(),
                hops,
            },
        );
        self.in_flight.insert((peer, msg_id), (ctx.now(), messages));
    }
}

impl Node for Hybrid {
    type Payload = Payload;
    type Timer = Round;
    type Flags = Flags;

    fn new(flags: Flags) -> Self {
        Self {
            gossip_every: Duration::from_millis(flags.gossip_ms),
            overlay: Overlay::default(),
            values: BTreeMap::new(),
            known_by: BTreeMap::new(),
            in_flight: BTreeMap::new(),
            stats: HybridStats::default(),
        }
    }

    fn on_init(&mut self, ctx: &mut Context<Payload, Round>) {
        ctx.every(self.gossip_every, Round);
    }

    fn on_message(
        &mut self,
        msg: Message<Payload>,
        ctx: &mut Context<Payload, Round>,
    ) -> Result<(), RpcError> {
        match &msg.body.payload {
            Payload::Topology { topology } => {
                self.overlay = Overlay::new(ctx.node_id().clone(), topology.clone());
                ctx.reply(&msg, Payload::TopologyOk);
            }
            Payload::Broadcast { message, hops } => {
                let from_peer = ctx.is_cluster_node(&msg.src);
                let hops = if from_peer {
                    self.known_by(&msg.src).insert(message.clone());
                    hops.unwrap_or(0) + 1
                } else {
                    ctx.reply(&msg, Payload::BroadcastOk);
                    0
                };
                if self.learn(message, Via::Tree, hops) {
                    self.push(message, hops, &msg.src, ctx);
                }
            }
            Payload::Gossip { messages, hops } => {
                ctx.reply(&msg, Payload::GossipOk);
                self.known_by(&msg.src).extend(messages.iter().cloned());
                for (index, message) in messages.iter().enumerate() {
                    let hops = hops.get(index).copied().unwrap_or(0) + 1;
                    if self.learn(message, Via::Gossip, hops) {
                        self.push(message, hops, &msg.src, ctx);
                    }
                }
            }
            Payload::GossipOk => {
                let sent = msg
                    .body
                    .in_reply_to
                    .and_then(|id| self.in_flight.remove(&(msg.src.clone(), id)));
                if let Some((_, sent)) = sent {
                    self.known_by(&msg.src).extend(sent);
                }
            }
            Payload::Read => {
                let messages = self.values.keys().cloned().collect();
                ctx.reply(&msg, Payload::ReadOk { messages });
            }
            Payload::DeliveryInfo { value } => {
                let Some((via, hops)) = self.values.get(value).copied() else {
                    return Err(RpcError::new(
                        ErrorCode::KeyDoesNotExist,
                        format!("this node has not received {value}"),
                    ));
                };
                ctx.reply(
                    &msg,
                    Payload::DeliveryInfoOk {
                        value: value.clone(),
                        delivered_via: via,
                        hops,
                    },
                );
            }
            Payload::HybridStats => {
                let HybridStats {
                    tree_deliveries,
                    gossip_deliveries,
                } = self.stats;
                ctx.reply(
                    &msg,
                    Payload::HybridStatsOk {
                        tree_deliveries,
                        gossip_deliveries,
                        total: tree_deliveries + gossip_deliveries,
                    },
                );
            }
            Payload::TopologyOk
            | Payload::BroadcastOk
            | Payload::ReadOk { .. }
            | Payload::DeliveryInfoOk { .. }
            | Payload::HybridStatsOk { .. } => {}
        }
        Ok(())
    }

    fn on_timer(&mut self, _: Round, ctx: &mut Context<Payload, Round>) {
        // Gossips unanswered for long (a partition, a crashed peer) are forgotten: their values
        // go again when that peer is picked next, whether or not they are forgotten.
        let now = ctx.now();
        self.in_flight
            .retain(|_, (sent, _)| now.saturating_sub(*sent) < FORGET_AFTER);
        self.gossip(ctx);
    }
}

#[cfg(test)]
mod tests {
    use common::testing::TestNode;
    use serde_json::json;

    use super::*;

    #[test]
    fn gossip_sends_only_what_the_peer_is_not_known_to_hold() {
        let mut node = TestNode::new(
            Hybrid::new(Flags { gossip_ms: 100 }),
            "n0",
            &["n0", "n1"],
            3,
        );
        node.deliver(
            "c1",
            json!({"type": "broadcast", "msg_id": 1, "message": 1}),
            0,
        );
        // n1 sent 2 itself: it holds 2.
        node.deliver(
            "n1",
            json!({"type": "gossip", "msg_id": 1, "messages": [2], "hops": [0]}),
            0,
        );
        let round = node.tick(100);
        assert_eq!(round.len(), 1, "{round:?}");
        assert_eq!(round[0]["body"]["messages"], json!([1]));
        assert_eq!(round[0]["body"]["hops"], json!([0]));
        // Unanswered, the next round sends 1 again; answered, nothing is left to send.
        let again = node.tick(200);
        assert_eq!(again[0]["body"]["messages"], json!([1]));
        let msg_id = again[0]["body"]["msg_id"].clone();
        node.deliver(
            "n1",
            json!({"type": "gossip_ok", "in_reply_to": msg_id}),
            250,
        );
        assert!(node.tick(300).is_empty());
        node.deliver(
            "c1",
            json!({"type": "broadcast", "msg_id": 2, "message": 3}),
            350,
        );
        assert_eq!(node.tick(400)[0]["body"]["messages"], json!([3]));
    }
}
