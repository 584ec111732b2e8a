//! Stage 14, partition simulation: the node can cut itself off from chosen peers on its own
//! sending side, and gossips so that both sides agree again after the heal.
//!
//! - `partition {blocked}` replaces the set of blocked nodes; `heal` empties it (the counter of
//!   dropped messages stays). Every message to a blocked node is dropped and counted, replies
//!   to other nodes included; replies to clients never are. `partition_status` reports the set
//!   (sorted), whether it is non-empty, and the count.
//! - Gossip as in stage 08: every `--interval-ms` the node pushes its whole set to `--fanout`
//!   random peers (`gossip_sync {messages}`), who merge it and answer how much was new
//!   (`gossip_sync_ok {new_count}`). Peers are picked among all the others, blocked or not: a
//!   partition is something that happens to messages, not something a node chooses around, so
//!   a push to a blocked peer is dropped like any other message to it.
//! - After a heal every node pushes everything it has every interval, so a value one side
//!   missed spreads like a rumour among the other side's nodes: the number of nodes holding it
//!   roughly multiplies by (1 + fanout) each interval, and the cluster agrees after about
//!   log(n) / log(1 + fanout) intervals, plus a network delay.
//!
//! ```
//! use common::{Node, Runtime};
//! use stage_14_partition_sim::{Flags, PartitionSim};
//! use std::time::Duration;
//!
//! let flags = Flags { interval_ms: 60_000, fanout: 2, blocked: Vec::new() };
//! let mut node = Runtime::new(PartitionSim::new(flags), 0);
//! let now = Duration::ZERO;
//! node.handle_line(r#"{"src":"c0","dest":"n0","body":{"type":"init","msg_id":1,"node_id":"n0","node_ids":["n0","n1"]}}"#, now);
//! node.handle_line(r#"{"src":"c1","dest":"n0","body":{"type":"partition","msg_id":1,"blocked":["n1"]}}"#, now);
//! node.handle_line(r#"{"src":"n1","dest":"n0","body":{"type":"gossip_sync","msg_id":4,"messages":[3]}}"#, now);
//! let output = node.take_output();
//! // init_ok and partition_ok; the answer to n1 is dropped, not written.
//! assert_eq!(output.len(), 2);
//! assert_eq!(node.node().messages_dropped(), 1);
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::{Context, Message, Node, NodeId, RpcError, Value};
use serde::{Deserialize, Serialize};

/// The messages: the broadcast workload's, the partition controls, and the gossip pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Payload {
    /// The cluster's neighbour lists (not used: peers are every other node).
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
    /// Drop every message to these nodes from now on (replaces any earlier set).
    Partition {
        /// The nodes to cut off.
        blocked: Vec<NodeId>,
    },
    /// Answer to `partition`.
    PartitionOk,
    /// Stop dropping: empty the blocked set.
    Heal,
    /// Answer to `heal`.
    HealOk,
    /// Asks for the partition's state.
    PartitionStatus,
    /// The blocked nodes, sorted; whether there are any; messages dropped since the start.
    PartitionStatusOk {
        /// The blocked nodes, sorted.
        blocked: Vec<NodeId>,
        /// True when some node is blocked.
        is_partitioned: bool,
        /// Messages dropped because their destination was blocked, since the start.
        messages_dropped: u64,
    },
    /// The sender's whole set.
    GossipSync {
        /// Every value the sender holds.
        messages: BTreeSet<Value>,
    },
    /// How many of the pushed values the receiver did not hold.
    GossipSyncOk {
        /// That count.
        new_count: usize,
    },
}

/// The node's one timer: a gossip round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Round;

/// The node's flags.
#[derive(Debug, Clone, clap::Args)]
pub struct Flags {
    /// Milliseconds between gossip rounds.
    #[arg(long = "interval-ms", default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..))]
    pub interval_ms: u64,
    /// Peers pushed to per round.
    #[arg(long, default_value_t = 2)]
    pub fanout: usize,
    /// Start partitioned from these nodes, as if `partition {blocked}` had come first (for
    /// experiments; comma-separated ids).
    #[arg(long, value_delimiter = ',', value_name = "IDS")]
    pub blocked: Vec<String>,
}

/// The gossip node with a simulated partition on its sending side.
#[derive(Debug)]
pub struct PartitionSim {
    interval: Duration,
    fanout: usize,
    values: BTreeSet<Value>,
    blocked: BTreeSet<NodeId>,
    messages_dropped: u64,
    messages_sent: u64,
}

impl PartitionSim {
    /// Messages dropped because their destination was blocked, since the start.
    pub fn messages_dropped(&self) -> u64 {
        self.messages_dropped
    }

    /// Messages written to other nodes (not to clients), since the start.
    pub fn messages_sent(&self) -> u64 {
        self.messages_sent
    }

    /// Sends to another node unless it is blocked; counts either way.
    fn send(&mut self, dest: NodeId, payload: Payload, ctx: &mut Context<Payload, Round>) {
        if self.blocked.contains(&dest) {
            self.messages_dropped += 1;
        } else {
            self.messages_sent += 1;
            ctx.send(dest, payload);
        }
    }

    /// One round: the whole set to `fanout` random peers, unless it is empty.
    fn round(&mut self, ctx: &mut Context<Payload, Round>) {
        if self.values.is_empty() {
            return;
        }
        for peer in ctx.random_peers(self.fanout, None) {
            let messages = self.values.clone();
            self.send(peer, Payload::GossipSync { messages }, ctx);
        }
    }
}

impl Node for PartitionSim {
    type Payload = Payload;
    type Timer = Round;
    type Flags = Flags;

    fn new(flags: Flags) -> Self {
        Self {
            interval: Duration::from_millis(flags.interval_ms),
            fanout: flags.fanout,
            values: BTreeSet::new(),
            blocked: flags.blocked.into_iter().map(NodeId::new).collect(),
            messages_dropped: 0,
            messages_sent: 0,
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
            Payload::Topology { .. } => {
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
            Payload::Partition { blocked } => {
                self.blocked = blocked.iter().cloned().collect();
                ctx.reply(&msg, Payload::PartitionOk);
            }
            Payload::Heal => {
                self.blocked.clear();
                ctx.reply(&msg, Payload::HealOk);
            }
            Payload::PartitionStatus => {
                ctx.reply(
                    &msg,
                    Payload::PartitionStatusOk {
                        blocked: self.blocked.iter().cloned().collect(),
                        is_partitioned: !self.blocked.is_empty(),
                        messages_dropped: self.messages_dropped,
                    },
                );
            }
            Payload::GossipSync { messages } => {
                let new_count = messages.difference(&self.values).count();
                self.values.extend(messages.iter().cloned());
                // An answer to another node is a message to it like any other.
                if self.blocked.contains(&msg.src) {
                    self.messages_dropped += 1;
                } else {
                    self.messages_sent += 1;
                    ctx.reply(&msg, Payload::GossipSyncOk { new_count });
                }
            }
            Payload::TopologyOk
            | Payload::BroadcastOk
            | Payload::ReadOk { .. }
            | Payload::PartitionOk
            | Payload::HealOk
            | Payload::PartitionStatusOk { .. }
            | Payload::GossipSyncOk { .. } => {}
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
    use serde_json::json;

    use super::*;

    fn node() -> TestNode<PartitionSim> {
        let flags = Flags {
            interval_ms: 100,
            fanout: 3,
            blocked: Vec::new(),
        };
        TestNode::new(PartitionSim::new(flags), "n0", &["n0", "n1", "n2", "n3"], 5)
    }

    #[test]
    fn rounds_skip_blocked_peers_and_count_them() {
        let mut runtime = node();
        runtime.deliver(
            "c1",
            json!({"type": "broadcast", "msg_id": 1, "message": 4}),
            0,
        );
        runtime.deliver(
            "c1",
            json!({"type": "partition", "msg_id": 2, "blocked": ["n2"]}),
            0,
        );
        let round = runtime.tick(100);
        let dests: BTreeSet<&str> = round.iter().map(|m| m["dest"].as_str().unwrap()).collect();
        assert_eq!(dests, BTreeSet::from(["n1", "n3"]));
        assert_eq!(runtime.node().messages_dropped(), 1);
        assert_eq!(runtime.node().messages_sent(), 2);
        runtime.deliver("c1", json!({"type": "heal", "msg_id": 3}), 150);
        assert_eq!(runtime.tick(200).len(), 3);
        assert_eq!(runtime.node().messages_dropped(), 1, "heal keeps the count");
    }
}
