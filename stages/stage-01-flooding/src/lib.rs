//! Stage 01, flooding: store every broadcast value and pass each new one to every neighbour
//! except the one it came from.
//!
//! The node is sans-IO ([`common::Node`]); `main.rs` only hands it to the process driver.
//! Flooding needs no acknowledgements and no timers: a value reaches every node connected to
//! the one that received it, as long as no message is lost. It is the baseline later stages
//! improve on (fewer messages, survival of partitions).
//!
//! ```
//! use common::{Node, NoFlags, Runtime};
//! use stage_01_flooding::Flooding;
//! use std::time::Duration;
//!
//! let mut node = Runtime::new(Flooding::new(NoFlags {}), 0);
//! let now = Duration::ZERO;
//! node.handle_line(r#"{"src":"c0","dest":"n0","body":{"type":"init","msg_id":1,"node_id":"n0","node_ids":["n0","n1"]}}"#, now);
//! node.handle_line(r#"{"src":"c1","dest":"n0","body":{"type":"broadcast","msg_id":1,"message":7}}"#, now);
//! let output = node.take_output();
//! assert!(output[1].contains("broadcast_ok"));
//! assert!(output[2].contains(r#""dest":"n1""#)); // forwarded after the reply
//! ```

use std::collections::{BTreeMap, BTreeSet};

use common::{Context, Message, NoFlags, NoTimer, Node, NodeId, RpcError, Value};
use serde::{Deserialize, Serialize};

/// The messages of the broadcast workload, as `spec/stages.md` names them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Payload {
    /// The cluster's neighbour lists; this node uses its own entry.
    Topology {
        /// Neighbours by node id.
        topology: BTreeMap<NodeId, Vec<NodeId>>,
    },
    /// Answer to `topology`.
    TopologyOk,
    /// A value to store: from a client (answered) or forwarded by a peer (not answered).
    Broadcast {
        /// The value.
        message: Value,
    },
    /// Answer to a client's `broadcast`.
    BroadcastOk,
    /// Asks for every value this node holds.
    Read,
    /// Every value held, sorted ascending, without duplicates.
    ReadOk {
        /// The values.
        messages: Vec<Value>,
    },
}

/// The flooding node.
#[derive(Debug, Default)]
pub struct Flooding {
    values: BTreeSet<Value>,
    /// `None` until `topology` arrives; until then every other node counts as a neighbour, so
    /// a value is never stranded on the node that received it.
    neighbours: Option<Vec<NodeId>>,
}

impl Flooding {
    /// The values this node holds, in ascending order.
    pub fn values(&self) -> impl Iterator<Item = &Value> {
        self.values.iter()
    }

    fn neighbours(&self, ctx: &Context<Payload, NoTimer>) -> Vec<NodeId> {
        match &self.neighbours {
            Some(neighbours) => neighbours.clone(),
            None => ctx.peers(),
        }
    }
}

impl Node for Flooding {
    type Payload = Payload;
    type Timer = NoTimer;
    type Flags = NoFlags;

    fn new(_: NoFlags) -> Self {
        Self::default()
    }

    fn on_message(
        &mut self,
        msg: Message<Payload>,
        ctx: &mut Context<Payload, NoTimer>,
    ) -> Result<(), RpcError> {
        match &msg.body.payload {
            Payload::Topology { topology } => {
                // A node missing from the map (a one-node `line` topology) has no neighbours.
                let own = topology.get(ctx.node_id()).cloned().unwrap_or_default();
                self.neighbours = Some(own);
                ctx.reply(&msg, Payload::TopologyOk);
            }
            Payload::Broadcast { message } => {
                // Peers forward without expecting an answer; only clients get broadcast_ok.
                if !ctx.is_cluster_node(&msg.src) {
                    ctx.reply(&msg, Payload::BroadcastOk);
                }
                if self.values.insert(message.clone()) {
                    for neighbour in self.neighbours(ctx) {
                        if neighbour != msg.src && neighbour != *ctx.node_id() {
                            ctx.send(
                                neighbour,
                                Payload::Broadcast {
                                    message: message.clone(),
                                },
                            );
                        }
                    }
                }
            }
            Payload::Read => {
                let messages = self.values.iter().cloned().collect();
                ctx.reply(&msg, Payload::ReadOk { messages });
            }
            // Answers addressed to this node need no action.
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

    fn node(id: &str, ids: &[&str]) -> TestNode<Flooding> {
        TestNode::new(Flooding::new(NoFlags {}), id, ids, 0)
    }

    fn deliver(bench: &mut TestNode<Flooding>, src: &str, body: Json) -> Vec<Json> {
        bench.deliver(src, body, 0)
    }

    fn grid_of_three() -> TestNode<Flooding> {
        let mut runtime = node("n1", &["n0", "n1", "n2"]);
        let topology = json!({"type": "topology", "msg_id": 1, "topology": {"n0": ["n1"], "n1": ["n0", "n2"], "n2": ["n1"]}});
        deliver(&mut runtime, "c3", topology);
        runtime
    }

    #[test]
    fn a_client_broadcast_is_answered_then_sent_to_every_neighbour() {
        let mut runtime = grid_of_three();
        let out = deliver(
            &mut runtime,
            "c4",
            json!({"type": "broadcast", "msg_id": 2, "message": 5}),
        );
        let dests: Vec<&str> = out.iter().map(|m| m["dest"].as_str().unwrap()).collect();
        assert_eq!(dests, ["c4", "n0", "n2"]);
        assert_eq!(out[0]["body"]["type"], "broadcast_ok");
        assert_eq!(
            out[1]["body"],
            json!({"type": "broadcast", "message": 5, "msg_id": 3})
        );
    }

    #[test]
    fn a_peer_forward_is_not_answered_nor_sent_back() {
        let mut runtime = grid_of_three();
        let out = deliver(
            &mut runtime,
            "n0",
            json!({"type": "broadcast", "msg_id": 9, "message": "x"}),
        );
        let dests: Vec<&str> = out.iter().map(|m| m["dest"].as_str().unwrap()).collect();
        assert_eq!(dests, ["n2"]);
    }

    #[test]
    fn a_value_already_held_is_never_forwarded_again() {
        let mut runtime = grid_of_three();
        deliver(
            &mut runtime,
            "n0",
            json!({"type": "broadcast", "msg_id": 9, "message": 1}),
        );
        assert!(
            deliver(
                &mut runtime,
                "n2",
                json!({"type": "broadcast", "msg_id": 3, "message": 1})
            )
            .is_empty()
        );
        let from_client = deliver(
            &mut runtime,
            "c2",
            json!({"type": "broadcast", "msg_id": 4, "message": 1}),
        );
        assert_eq!(
            from_client.len(),
            1,
            "only the broadcast_ok: {from_client:?}"
        );
    }

    #[test]
    fn reads_are_sorted_and_deduplicated() {
        let mut runtime = grid_of_three();
        for (i, value) in [json!(3), json!("b"), json!(-1), json!(3), json!("a")]
            .into_iter()
            .enumerate()
        {
            deliver(
                &mut runtime,
                "c1",
                json!({"type": "broadcast", "msg_id": i, "message": value}),
            );
        }
        let out = deliver(&mut runtime, "c1", json!({"type": "read", "msg_id": 99}));
        assert_eq!(out[0]["body"]["messages"], json!([-1, 3, "a", "b"]));
    }

    #[test]
    fn without_a_topology_every_other_node_is_a_neighbour() {
        let mut runtime = node("n1", &["n0", "n1", "n2"]);
        let out = deliver(
            &mut runtime,
            "c1",
            json!({"type": "broadcast", "msg_id": 1, "message": 1}),
        );
        assert_eq!(out.len(), 3);
    }

    #[test]
    fn a_node_missing_from_the_topology_has_no_neighbours() {
        let mut runtime = node("n1", &["n1"]);
        deliver(
            &mut runtime,
            "c1",
            json!({"type": "topology", "msg_id": 1, "topology": {}}),
        );
        let out = deliver(
            &mut runtime,
            "c1",
            json!({"type": "broadcast", "msg_id": 2, "message": 1}),
        );
        assert_eq!(out.len(), 1);
    }
}
