//! Stage 11, tree overlay: the `topology` message is taken as a spanning tree, and a value is
//! forwarded to every tree neighbour except the one it came from. On a tree that reaches every
//! node exactly once, with n − 1 server messages per broadcast; the latency is the tree's depth
//! in hops.
//!
//! [`Overlay`] is the tree as one node sees it. Stages 12 and 13 build on it: stage 12 asks it
//! for the subtree hanging below a neighbour (who must get a value directly when that neighbour
//! is silent).
//!
//! ```
//! use common::{Node, Runtime, NoFlags};
//! use stage_11_tree_overlay::TreeOverlay;
//! use std::time::Duration;
//!
//! let mut node = Runtime::new(TreeOverlay::new(NoFlags {}), 0);
//! let now = Duration::ZERO;
//! node.handle_line(r#"{"src":"c0","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"n1","node_ids":["n0","n1","n2"]}}"#, now);
//! node.handle_line(r#"{"src":"c1","dest":"n1","body":{"type":"topology","msg_id":1,"topology":{"n0":["n1"],"n1":["n0","n2"],"n2":["n1"]}}}"#, now);
//! node.handle_line(r#"{"src":"n0","dest":"n1","body":{"type":"broadcast","msg_id":3,"message":7}}"#, now);
//! let output = node.take_output();
//! // init_ok and topology_ok, then the value goes on to n2 only: never back to n0.
//! assert_eq!(output.len(), 3);
//! assert!(output[2].contains(r#""dest":"n2""#));
//! ```

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use common::{Context, Message, NoFlags, NoTimer, Node, NodeId, RpcError, Value};
use serde::{Deserialize, Serialize};

/// The spanning tree as one node sees it: the whole `topology` map and this node's place in it.
#[derive(Debug, Clone)]
pub struct Overlay {
    me: NodeId,
    topology: BTreeMap<NodeId, Vec<NodeId>>,
}

impl Default for Overlay {
    /// No tree yet (before `topology`): no neighbours.
    fn default() -> Self {
        Self::new(NodeId::new(""), BTreeMap::new())
    }
}

impl Overlay {
    /// The overlay of node `me` in `topology` (neighbour lists by node id).
    pub fn new(me: NodeId, topology: BTreeMap<NodeId, Vec<NodeId>>) -> Self {
        Self { me, topology }
    }

    /// This node's tree neighbours, in the order the topology gave them.
    pub fn neighbours(&self) -> &[NodeId] {
        self.topology.get(&self.me).map_or(&[], Vec::as_slice)
    }

    /// Where a value that arrived from `from` goes next: every neighbour but `from`.
    pub fn forward_targets(&self, from: &NodeId) -> Vec<NodeId> {
        self.neighbours()
            .iter()
            .filter(|neighbour| *neighbour != from)
            .cloned()
            .collect()
    }

    /// The nodes on `neighbour`'s side of the edge to it: `neighbour` and everything reachable
    /// from it without passing through this node, sorted. For a child that is its subtree; for
    /// the parent, the rest of the tree.
    pub fn subtree(&self, neighbour: &NodeId) -> Vec<NodeId> {
        let mut nodes: Vec<NodeId> = self.beyond(neighbour).into_keys().collect();
        nodes.sort();
        nodes
    }

    /// How many hops from this node the farthest node on `neighbour`'s side is (1 when
    /// `neighbour` has nothing beyond it).
    pub fn reach(&self, neighbour: &NodeId) -> usize {
        self.beyond(neighbour).into_values().max().unwrap_or(0)
    }

    /// The nodes on `neighbour`'s side, each with its distance in hops from this node.
    fn beyond(&self, neighbour: &NodeId) -> BTreeMap<NodeId, usize> {
        let mut seen: BTreeMap<NodeId, usize> = BTreeMap::new();
        let mut queue = VecDeque::from([(neighbour.clone(), 1)]);
        while let Some((node, hops)) = queue.pop_front() {
            if node == self.me || seen.contains_key(&node) {
                continue;
            }
            seen.insert(node.clone(), hops);
            if let Some(next) = self.topology.get(&node) {
                queue.extend(next.iter().map(|next| (next.clone(), hops + 1)));
            }
        }
        seen
    }
}

/// The messages: the broadcast workload's and `tree_info`.
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
    /// A value: from a client (answered) or forwarded along the tree (not answered).
    Broadcast {
        /// The value.
        message: Value,
    },
    /// Answer to a client's `broadcast`.
    BroadcastOk,
    /// Asks for every value held.
    Read,
    /// Every value held, sorted, without duplicates.
    ReadOk {
        /// The values.
        messages: Vec<Value>,
    },
    /// Asks for this node's place in the tree.
    TreeInfo,
    /// This node's tree neighbours (as the topology gave them) and how many values it holds.
    TreeInfoOk {
        /// The tree neighbours, in the topology's order.
        neighbors: Vec<NodeId>,
        /// Distinct values held.
        message_count: usize,
    },
}

/// The tree-overlay node.
#[derive(Debug, Default)]
pub struct TreeOverlay {
    overlay: Overlay,
    values: BTreeSet<Value>,
}

impl Node for TreeOverlay {
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
                self.overlay = Overlay::new(ctx.node_id().clone(), topology.clone());
                ctx.reply(&msg, Payload::TopologyOk);
            }
            Payload::Broadcast { message } => {
                if !ctx.is_cluster_node(&msg.src) {
                    ctx.reply(&msg, Payload::BroadcastOk);
                }
                // On a tree each value reaches a node once; "new" guards against a repeated
                // client value and against topologies with cycles.
                if self.values.insert(message.clone()) {
                    for neighbour in self.overlay.forward_targets(&msg.src) {
                        ctx.send(
                            neighbour,
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
            Payload::TreeInfo => {
                let neighbors = self.overlay.neighbours().to_vec();
                let message_count = self.values.len();
                ctx.reply(
                    &msg,
                    Payload::TreeInfoOk {
                        neighbors,
                        message_count,
                    },
                );
            }
            Payload::TopologyOk
            | Payload::BroadcastOk
            | Payload::ReadOk { .. }
            | Payload::TreeInfoOk { .. } => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// tree2 over seven nodes: n0 → n1, n2; n1 → n3, n4; n2 → n5, n6.
    fn tree2(me: &str) -> Overlay {
        let edges = [(0, 1), (0, 2), (1, 3), (1, 4), (2, 5), (2, 6)];
        let mut topology: BTreeMap<NodeId, Vec<NodeId>> = BTreeMap::new();
        for (a, b) in edges {
            let (a, b) = (NodeId::new(format!("n{a}")), NodeId::new(format!("n{b}")));
            topology.entry(a.clone()).or_default().push(b.clone());
            topology.entry(b).or_default().push(a);
        }
        Overlay::new(NodeId::new(me), topology)
    }

    fn names(ids: &[NodeId]) -> Vec<&str> {
        ids.iter().map(NodeId::as_str).collect()
    }

    #[test]
    fn a_subtree_is_everything_beyond_the_edge() {
        let overlay = tree2("n1");
        assert_eq!(names(overlay.neighbours()), ["n0", "n3", "n4"]);
        assert_eq!(names(&overlay.subtree(&NodeId::new("n3"))), ["n3"]);
        assert_eq!(
            names(&overlay.subtree(&NodeId::new("n0"))),
            ["n0", "n2", "n5", "n6"]
        );
        let root = tree2("n0");
        assert_eq!(names(&root.subtree(&NodeId::new("n1"))), ["n1", "n3", "n4"]);
        assert_eq!(root.reach(&NodeId::new("n1")), 2);
        assert_eq!(overlay.reach(&NodeId::new("n3")), 1);
        // From n1 through n0: n0 (1), n2 (2), n5 and n6 (3).
        assert_eq!(overlay.reach(&NodeId::new("n0")), 3);
    }

    #[test]
    fn forwards_skip_only_the_sender() {
        let overlay = tree2("n1");
        assert_eq!(
            names(&overlay.forward_targets(&NodeId::new("n0"))),
            ["n3", "n4"]
        );
        assert_eq!(
            names(&overlay.forward_targets(&NodeId::new("c4"))),
            ["n0", "n3", "n4"]
        );
        assert!(Overlay::default().neighbours().is_empty());
    }
}
