//! Stage 02, flat tree: forward each value along one spanning tree, so that every value crosses
//! every tree edge exactly once: n − 1 server messages per broadcast, and no node ever receives
//! a value twice.
//!
//! Every node must pick the *same* tree, or values would loop or stop. When the `topology` is
//! itself a tree (as `--topology tree4` gives), it is the tree. Otherwise every node builds the
//! same b-ary heap over `init`'s node list (`--branching`, default 4): node i's parent is node
//! (i − 1) / b. That needs no agreement protocol, because every node got the same list.
//!
//! ```
//! use common::{Node, Runtime};
//! use stage_02_flat_tree::{FlatTree, Flags};
//! use std::time::Duration;
//!
//! let mut node = Runtime::new(FlatTree::new(Flags { branching: 2 }), 0);
//! let now = Duration::ZERO;
//! node.handle_line(r#"{"src":"c0","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"n1","node_ids":["n0","n1","n2","n3","n4"]}}"#, now);
//! node.handle_line(r#"{"src":"n0","dest":"n1","body":{"type":"broadcast","msg_id":5,"message":7}}"#, now);
//! let output = node.take_output();
//! // In the binary heap n1's tree neighbours are n0 (its parent), n3 and n4: the value goes
//! // on to the children only, never back to n0.
//! assert_eq!(output.len(), 3);
//! assert!(output[1].contains(r#""dest":"n3""#) && output[2].contains(r#""dest":"n4""#));
//! ```

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use common::{Context, Message, NoTimer, Node, NodeId, RpcError, Value};
use serde::{Deserialize, Serialize};

/// The messages of the broadcast workload.
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
}

/// The node's flags.
#[derive(Debug, Clone, clap::Args)]
pub struct Flags {
    /// Children per node in the heap-shaped tree used when the topology is not a tree.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..))]
    pub branching: u64,
}

/// The flat-tree node.
#[derive(Debug)]
pub struct FlatTree {
    branching: usize,
    values: BTreeSet<Value>,
    /// This node's neighbours in the spanning tree; built at `init`, replaced by `topology`.
    tree: Vec<NodeId>,
}

impl FlatTree {
    /// This node's tree neighbours, parent first.
    pub fn tree_neighbours(&self) -> &[NodeId] {
        &self.tree
    }
}

/// `me`'s neighbours (parent first, then children) in a `branching`-ary heap over `nodes`.
pub fn heap_neighbours(nodes: &[NodeId], me: &NodeId, branching: usize) -> Vec<NodeId> {
    let Some(index) = nodes.iter().position(|node| node == me) else {
        return Vec::new();
    };
    let mut neighbours = Vec::new();
    if index > 0 {
        neighbours.push(nodes[(index - 1) / branching].clone());
    }
    neighbours.extend(
        nodes
            .iter()
            .skip(branching * index + 1)
            .take(branching)
            .cloned(),
    );
    neighbours
}

/// True when `topology` over `nodes` is a tree: symmetric, n − 1 edges, connected.
pub fn is_tree(topology: &BTreeMap<NodeId, Vec<NodeId>>, nodes: &[NodeId]) -> bool {
    let neighbours = |node: &NodeId| topology.get(node).map_or(&[][..], Vec::as_slice);
    let symmetric = nodes.iter().all(|a| {
        neighbours(a)
            .iter()
            .all(|b| b != a && neighbours(b).contains(a) && nodes.contains(b))
    });
    let edges: usize = nodes
        .iter()
        .map(|node| neighbours(node).len())
        .sum::<usize>()
        / 2;
    if !symmetric || edges + 1 != nodes.len() {
        return false;
    }
    // n - 1 symmetric edges make a tree exactly when they connect every node.
    let mut seen = BTreeSet::new();
    let mut queue: VecDeque<&NodeId> = nodes.first().into_iter().collect();
    while let Some(node) = queue.pop_front() {
        if seen.insert(node) {
            queue.extend(neighbours(node));
        }
    }
    seen.len() == nodes.len()
}

impl Node for FlatTree {
    type Payload = Payload;
    type Timer = NoTimer;
    type Flags = Flags;

    fn new(flags: Flags) -> Self {
        Self {
            branching: usize::try_from(flags.branching).unwrap_or(usize::MAX),
            values: BTreeSet::new(),
            tree: Vec::new(),
        }
    }

    fn on_init(&mut self, ctx: &mut Context<Payload, NoTimer>) {
        self.tree = heap_neighbours(ctx.node_ids(), ctx.node_id(), self.branching);
    }

    fn on_message(
        &mut self,
        msg: Message<Payload>,
        ctx: &mut Context<Payload, NoTimer>,
    ) -> Result<(), RpcError> {
        match &msg.body.payload {
            Payload::Topology { topology } => {
                if is_tree(topology, ctx.node_ids()) {
                    self.tree = topology.get(ctx.node_id()).cloned().unwrap_or_default();
                } else {
                    ctx.log(
                        "the topology is not a tree; keeping the heap-shaped tree over node_ids",
                    );
                }
                ctx.reply(&msg, Payload::TopologyOk);
            }
            Payload::Broadcast { message } => {
                if !ctx.is_cluster_node(&msg.src) {
                    ctx.reply(&msg, Payload::BroadcastOk);
                }
                // On a tree a value reaches each node once, so "new" is only a guard against a
                // client repeating a value.
                if self.values.insert(message.clone()) {
                    for neighbour in &self.tree {
                        if *neighbour != msg.src {
                            ctx.send(
                                neighbour.clone(),
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
            Payload::TopologyOk | Payload::BroadcastOk | Payload::ReadOk { .. } => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(count: usize) -> Vec<NodeId> {
        (0..count).map(|i| NodeId::new(format!("n{i}"))).collect()
    }

    fn names(ids: &[NodeId]) -> Vec<&str> {
        ids.iter().map(NodeId::as_str).collect()
    }

    #[test]
    fn heap_neighbours_are_parent_then_children() {
        let nodes = ids(25);
        assert_eq!(
            names(&heap_neighbours(&nodes, &nodes[0], 4)),
            ["n1", "n2", "n3", "n4"]
        );
        assert_eq!(
            names(&heap_neighbours(&nodes, &nodes[5], 4)),
            ["n1", "n21", "n22", "n23", "n24"]
        );
        assert_eq!(names(&heap_neighbours(&nodes, &nodes[24], 4)), ["n5"]);
        assert!(heap_neighbours(&nodes, &NodeId::new("x"), 4).is_empty());
    }

    #[test]
    fn the_heap_has_n_minus_one_edges_and_is_a_tree() {
        let nodes = ids(25);
        let topology: BTreeMap<NodeId, Vec<NodeId>> = nodes
            .iter()
            .map(|node| (node.clone(), heap_neighbours(&nodes, node, 3)))
            .collect();
        assert!(is_tree(&topology, &nodes));
    }

    #[test]
    fn grids_lines_and_broken_maps_are_told_from_trees() {
        let nodes = ids(4);
        let map = |edges: &[(usize, usize)]| {
            let mut topology: BTreeMap<NodeId, Vec<NodeId>> = nodes
                .iter()
                .map(|node| (node.clone(), Vec::new()))
                .collect();
            for &(a, b) in edges {
                topology.get_mut(&nodes[a]).unwrap().push(nodes[b].clone());
                topology.get_mut(&nodes[b]).unwrap().push(nodes[a].clone());
            }
            topology
        };
        assert!(
            is_tree(&map(&[(0, 1), (1, 2), (2, 3)]), &nodes),
            "a line is a tree"
        );
        assert!(
            !is_tree(&map(&[(0, 1), (1, 2), (2, 3), (3, 0)]), &nodes),
            "a ring is not"
        );
        assert!(
            !is_tree(&map(&[(0, 1), (2, 3), (0, 1)]), &nodes),
            "three edges, but not connected"
        );
        let mut one_way = map(&[(0, 1), (1, 2)]);
        one_way.get_mut(&nodes[2]).unwrap().push(nodes[3].clone());
        assert!(!is_tree(&one_way, &nodes), "asymmetric");
    }
}
