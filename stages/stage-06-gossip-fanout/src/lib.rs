//! Stage 06, gossip fanout: pure rumor spreading. On learning a new value, a node tells `K`
//! distinct random peers (never itself, never the node it heard from), once; a value it already
//! knew goes nowhere. Nothing is acknowledged or repeated, so at small K some nodes never hear
//! a value at all. How many do is exactly what this stage measures against theory: with
//! infect-and-forward-once push, the fraction x of nodes reached solves x = 1 − e^(−K·x) for
//! large clusters ([`reach_fraction`]).
//!
//! ```
//! use common::{Node, Runtime};
//! use stage_06_gossip_fanout::{Flags, GossipFanout};
//! use std::time::Duration;
//!
//! let mut node = Runtime::new(GossipFanout::new(Flags { fanout: 2 }), 1);
//! node.handle_line(r#"{"src":"c0","dest":"n0","body":{"type":"init","msg_id":1,"node_id":"n0","node_ids":["n0","n1","n2","n3"]}}"#, Duration::ZERO);
//! node.handle_line(r#"{"src":"n1","dest":"n0","body":{"type":"broadcast","msg_id":1,"message":7}}"#, Duration::ZERO);
//! let output = node.take_output();
//! assert_eq!(output.len(), 3); // init_ok, then two peers, neither of them n1
//! assert!(output[1..].iter().all(|line| !line.contains(r#""dest":"n1""#)));
//! ```

use std::collections::{BTreeMap, BTreeSet};

use common::{Context, Message, NoTimer, Node, NodeId, RpcError, Value};
use serde::{Deserialize, Serialize};

/// The broadcast workload's messages.
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
    /// A value: from a client (answered) or a peer's gossip (not answered).
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
}

/// The node's flags.
#[derive(Debug, Clone, clap::Args)]
pub struct Flags {
    /// Distinct random peers told about each new value.
    #[arg(long, default_value_t = 2)]
    pub fanout: usize,
}

/// The rumor-spreading node.
#[derive(Debug)]
pub struct GossipFanout {
    fanout: usize,
    values: BTreeSet<Value>,
}

/// The fraction x of a large cluster that infect-and-forward-once push with fanout `k` reaches:
/// the positive root of x = 1 − e^(−k·x) (0 when k ≤ 1, where the rumor dies out).
pub fn reach_fraction(k: f64) -> f64 {
    if k <= 1.0 {
        return 0.0;
    }
    // The map x ↦ 1 − e^(−kx) is increasing and concave, so iterating from 1 falls to the root.
    let mut x = 1.0_f64;
    for _ in 0..10_000 {
        let next = 1.0 - (-k * x).exp();
        if (next - x).abs() < 1e-15 {
            return next;
        }
        x = next;
    }
    x
}

/// The same fixed point for a cluster of `n` nodes: each of the n·x informed nodes tells `k`
/// distinct peers among the n − 2 that are neither itself nor its informant, so a given node
/// escapes one teller with probability 1 − k/(n − 2), and x = 1 − (1 − k/(n − 2))^(n·x).
/// As n grows this tends to [`reach_fraction`]; at n = 25 it is noticeably higher.
pub fn reach_fraction_in(k: f64, n: usize) -> f64 {
    let others = n as f64 - 2.0;
    if others <= k {
        return 1.0;
    }
    let miss = (1.0 - k / others).ln() * n as f64;
    let mut x = 1.0_f64;
    for _ in 0..10_000 {
        let next = 1.0 - (miss * x).exp();
        if (next - x).abs() < 1e-15 {
            return next;
        }
        x = next;
    }
    x
}

impl Node for GossipFanout {
    type Payload = Payload;
    type Timer = NoTimer;
    type Flags = Flags;

    fn new(flags: Flags) -> Self {
        Self {
            fanout: flags.fanout,
            values: BTreeSet::new(),
        }
    }

    fn on_message(
        &mut self,
        msg: Message<Payload>,
        ctx: &mut Context<Payload, NoTimer>,
    ) -> Result<(), RpcError> {
        match &msg.body.payload {
            Payload::Topology { .. } => {
                ctx.reply(&msg, Payload::TopologyOk);
            }
            Payload::Broadcast { message } => {
                if !ctx.is_cluster_node(&msg.src) {
                    ctx.reply(&msg, Payload::BroadcastOk);
                }
                if self.values.insert(message.clone()) {
                    for peer in ctx.random_peers(self.fanout, Some(&msg.src)) {
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
            Payload::TopologyOk | Payload::BroadcastOk | Payload::ReadOk { .. } => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {

    use common::testing::TestNode;
    use serde_json::{Value as Json, json};

    use super::*;

    #[test]
    fn the_reach_fraction_solves_its_equation() {
        for k in [1.5, 2.0, 3.0, 4.0, 6.0] {
            let x = reach_fraction(k);
            assert!((x - (1.0 - (-k * x).exp())).abs() < 1e-12, "k = {k}");
            assert!(x > 0.0 && x < 1.0);
        }
        assert!((reach_fraction(2.0) - 0.796_812).abs() < 1e-6);
        assert!((reach_fraction(4.0) - 0.980_172).abs() < 1e-6);
        assert_eq!(reach_fraction(1.0), 0.0);
    }

    #[test]
    fn the_finite_cluster_fixed_point_tends_to_the_limit() {
        assert!((reach_fraction_in(2.0, 25) - 0.8579).abs() < 1e-3);
        assert!((reach_fraction_in(4.0, 25) - 0.9912).abs() < 1e-3);
        assert!((reach_fraction_in(2.0, 1_000_000) - reach_fraction(2.0)).abs() < 1e-4);
    }

    fn node(fanout: usize, nodes: usize) -> TestNode<GossipFanout> {
        let ids: Vec<String> = (0..nodes).map(|i| format!("n{i}")).collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        TestNode::new(GossipFanout::new(Flags { fanout }), "n0", &ids, 9)
    }

    fn deliver(bench: &mut TestNode<GossipFanout>, src: &str, value: i64) -> Vec<Json> {
        bench.deliver(
            src,
            json!({"type": "broadcast", "msg_id": 1, "message": value}),
            0,
        )
    }

    #[test]
    fn a_new_value_goes_to_k_distinct_peers_other_than_the_sender() {
        let mut runtime = node(3, 10);
        for value in 0..50 {
            let out = deliver(&mut runtime, "n4", value);
            let dests: BTreeSet<&str> = out.iter().map(|m| m["dest"].as_str().unwrap()).collect();
            assert_eq!(dests.len(), 3);
            assert!(!dests.contains("n4") && !dests.contains("n0"));
        }
    }

    #[test]
    fn a_known_value_goes_nowhere_and_k_is_capped_by_the_peers_there_are() {
        let mut runtime = node(5, 3);
        assert_eq!(deliver(&mut runtime, "c1", 1).len(), 1 + 2);
        assert!(deliver(&mut runtime, "n1", 1).is_empty());
    }
}
