//! Stage 08, gossip timer: every `--interval-ms`, pick `--fanout` random peers and push them the
//! whole set (`gossip_sync`); they merge it and say how much was new (`gossip_sync_ok`). Simple,
//! robust (whatever a partition drops is pushed again next round), and wasteful: the same values
//! cross the network again and again. `gossip_round` runs one round on demand, for tests.
//!
//! ```
//! use common::{Node, Runtime};
//! use stage_08_gossip_timer::{Flags, GossipTimer};
//! use std::time::Duration;
//!
//! let mut node = Runtime::new(GossipTimer::new(Flags { interval_ms: 200, fanout: 2 }), 1);
//! node.handle_line(r#"{"src":"c0","dest":"n0","body":{"type":"init","msg_id":1,"node_id":"n0","node_ids":["n0","n1","n2"]}}"#, Duration::ZERO);
//! node.handle_line(r#"{"src":"c1","dest":"n0","body":{"type":"broadcast","msg_id":1,"message":5}}"#, Duration::ZERO);
//! node.take_output();
//! node.fire_due(Duration::from_millis(200));
//! let round = node.take_output();
//! assert_eq!(round.len(), 2);
//! assert!(round.iter().all(|line| line.contains(r#""type":"gossip_sync","messages":[5]"#)));
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::{Context, Message, Node, NodeId, RpcError, Value};
use serde::{Deserialize, Serialize};

/// The messages: the broadcast workload's, the gossip pair, and the test trigger.
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
    /// Runs one gossip round now (a test trigger).
    GossipRound,
    /// What that round did.
    GossipRoundOk {
        /// Peers picked.
        peers_contacted: usize,
        /// `gossip_sync` messages written (0 when the node knows nothing).
        messages_sent: usize,
    },
}

/// The node's one timer: a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Round;

/// The node's flags.
#[derive(Debug, Clone, clap::Args)]
pub struct Flags {
    /// Milliseconds between rounds.
    #[arg(long = "interval-ms", default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..))]
    pub interval_ms: u64,
    /// Peers pushed to per round.
    #[arg(long, default_value_t = 2)]
    pub fanout: usize,
}

/// The periodic-push node.
#[derive(Debug)]
pub struct GossipTimer {
    interval: Duration,
    fanout: usize,
    values: BTreeSet<Value>,
}

impl GossipTimer {
    /// Runs one round: picks up to `fanout` peers and pushes the set to each, unless it is
    /// empty. Returns (peers picked, messages sent).
    pub fn round(&mut self, ctx: &mut Context<Payload, Round>) -> (usize, usize) {
        let peers = ctx.random_peers(self.fanout, None);
        if self.values.is_empty() {
            return (peers.len(), 0);
        }
        for peer in &peers {
            ctx.send(
                peer.clone(),
                Payload::GossipSync {
                    messages: self.values.clone(),
                },
            );
        }
        (peers.len(), peers.len())
    }
}

impl Node for GossipTimer {
    type Payload = Payload;
    type Timer = Round;
    type Flags = Flags;

    fn new(flags: Flags) -> Self {
        Self {
            interval: Duration::from_millis(flags.interval_ms),
            fanout: flags.fanout,
            values: BTreeSet::new(),
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
            Payload::GossipSync { messages } => {
                let new_count = messages.difference(&self.values).count();
                ctx.reply(&msg, Payload::GossipSyncOk { new_count });
                self.values.extend(messages.iter().cloned());
            }
            Payload::GossipRound => {
                // The round's sends follow the reply, so the answer is counted before it runs:
                // peers are picked the same way in both calls.
                let mut preview = ctx.peers();
                preview.truncate(self.fanout);
                let peers_contacted = preview.len();
                let messages_sent = if self.values.is_empty() {
                    0
                } else {
                    peers_contacted
                };
                ctx.reply(
                    &msg,
                    Payload::GossipRoundOk {
                        peers_contacted,
                        messages_sent,
                    },
                );
                self.round(ctx);
            }
            Payload::TopologyOk
            | Payload::BroadcastOk
            | Payload::ReadOk { .. }
            | Payload::GossipSyncOk { .. }
            | Payload::GossipRoundOk { .. } => {}
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

    fn node(fanout: usize) -> TestNode<GossipTimer> {
        let flags = Flags {
            interval_ms: 100,
            fanout,
        };
        TestNode::new(
            GossipTimer::new(flags),
            "n0",
            &["n0", "n1", "n2", "n3", "n4"],
            4,
        )
    }

    fn deliver(bench: &mut TestNode<GossipTimer>, src: &str, body: Json) -> Vec<Json> {
        bench.deliver(src, body, 0)
    }

    #[test]
    fn gossip_round_reports_what_it_does_and_does_it() {
        let mut runtime = node(3);
        let empty = deliver(
            &mut runtime,
            "c1",
            json!({"type": "gossip_round", "msg_id": 1}),
        );
        assert_eq!(empty.len(), 1);
        assert_eq!(empty[0]["body"]["peers_contacted"], 3);
        assert_eq!(empty[0]["body"]["messages_sent"], 0);
        deliver(
            &mut runtime,
            "c1",
            json!({"type": "broadcast", "msg_id": 2, "message": 1}),
        );
        let round = deliver(
            &mut runtime,
            "c1",
            json!({"type": "gossip_round", "msg_id": 3}),
        );
        assert_eq!(round[0]["body"]["messages_sent"], 3);
        assert_eq!(round.len(), 4, "the answer, then three pushes");
        let dests: BTreeSet<&str> = round[1..]
            .iter()
            .map(|m| m["dest"].as_str().unwrap())
            .collect();
        assert_eq!(dests.len(), 3);
    }

    #[test]
    fn gossip_sync_counts_only_what_was_new() {
        let mut runtime = node(2);
        deliver(
            &mut runtime,
            "c1",
            json!({"type": "broadcast", "msg_id": 1, "message": 1}),
        );
        let out = deliver(
            &mut runtime,
            "n2",
            json!({"type": "gossip_sync", "msg_id": 5, "messages": [1, 2, 3]}),
        );
        assert_eq!(out[0]["body"]["new_count"], 2);
    }

    #[test]
    fn timer_rounds_push_the_whole_set_every_interval() {
        let mut runtime = node(2);
        deliver(
            &mut runtime,
            "n1",
            json!({"type": "gossip_sync", "msg_id": 5, "messages": [7]}),
        );
        for round in 1..=3 {
            let out = runtime.tick(100 * round);
            assert_eq!(out.len(), 2, "round {round}");
        }
    }
}
