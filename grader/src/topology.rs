//! Maelstrom's topologies (`--topology`): neighbour maps computed from the ordered node list.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// A neighbour map: node id to its neighbours, in Maelstrom's order.
pub type NeighbourMap = BTreeMap<String, Vec<String>>;

/// The shapes Maelstrom's broadcast workload offers; there is no random one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topology {
    /// A square grid, row-major, up to four neighbours (the default).
    Grid,
    /// A line: first and last have one neighbour, the rest two.
    Line,
    /// Everyone is everyone's neighbour.
    Total,
    /// A b-ary heap-shaped tree: parent first, then children (`tree` is `tree2`).
    Tree(usize),
}

impl Topology {
    /// The neighbour map for `nodes`, exactly as Maelstrom builds it (maelstrom.md 2.3).
    pub fn build(self, nodes: &[String]) -> NeighbourMap {
        let n = nodes.len();
        let mut map = NeighbourMap::new();
        match self {
            Topology::Grid => {
                let side = (1..=n).find(|side| side * side >= n).unwrap_or(1);
                let at = |row: isize, column: isize| -> Option<&String> {
                    if row < 0 || column < 0 || column as usize >= side {
                        return None;
                    }
                    nodes.get(row as usize * side + column as usize)
                };
                for (index, node) in nodes.iter().enumerate() {
                    let (row, column) = ((index / side) as isize, (index % side) as isize);
                    let neighbours = [
                        (row + 1, column),
                        (row - 1, column),
                        (row, column + 1),
                        (row, column - 1),
                    ]
                    .into_iter()
                    .filter_map(|(r, c)| at(r, c).cloned())
                    .collect();
                    map.insert(node.clone(), neighbours);
                }
            }
            Topology::Line => {
                if n >= 2 {
                    for (index, node) in nodes.iter().enumerate() {
                        let mut neighbours = Vec::new();
                        if index > 0 {
                            neighbours.push(nodes[index - 1].clone());
                        }
                        if index + 1 < n {
                            neighbours.push(nodes[index + 1].clone());
                        }
                        map.insert(node.clone(), neighbours);
                    }
                }
            }
            Topology::Total => {
                for node in nodes {
                    map.insert(
                        node.clone(),
                        nodes
                            .iter()
                            .filter(|other| *other != node)
                            .cloned()
                            .collect(),
                    );
                }
            }
            Topology::Tree(branching) => {
                for (index, node) in nodes.iter().enumerate() {
                    let mut neighbours = Vec::new();
                    if index > 0 {
                        neighbours.push(nodes[(index - 1) / branching].clone());
                    }
                    let first_child = branching * index + 1;
                    let children = nodes.iter().skip(first_child).take(branching);
                    neighbours.extend(children.cloned());
                    map.insert(node.clone(), neighbours);
                }
            }
        }
        map
    }

    /// The interior nodes, by index: for a tree, the nodes with children; for any other shape,
    /// the nodes with more than one neighbour (the ones whose loss can cut others off). Kill and
    /// pause take their targets from these with `--nemesis-targets interior`.
    pub fn interior(self, node_count: usize) -> Vec<usize> {
        match self {
            Topology::Tree(branching) => (0..node_count)
                .filter(|index| branching * index + 1 < node_count)
                .collect(),
            _ => {
                let nodes = node_names(node_count);
                let map = self.build(&nodes);
                (0..node_count)
                    .filter(|index| map.get(&nodes[*index]).is_some_and(|peers| peers.len() > 1))
                    .collect()
            }
        }
    }
}

impl FromStr for Topology {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "grid" => Ok(Topology::Grid),
            "line" => Ok(Topology::Line),
            "total" => Ok(Topology::Total),
            "tree" | "tree2" => Ok(Topology::Tree(2)),
            "tree3" => Ok(Topology::Tree(3)),
            "tree4" => Ok(Topology::Tree(4)),
            other => Err(format!(
                "unknown topology `{other}`; choose grid, line, total, tree, tree2, tree3 or tree4"
            )),
        }
    }
}

impl fmt::Display for Topology {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Topology::Grid => formatter.write_str("grid"),
            Topology::Line => formatter.write_str("line"),
            Topology::Total => formatter.write_str("total"),
            Topology::Tree(branching) => write!(formatter, "tree{branching}"),
        }
    }
}

/// `n0 … n(count-1)`, as `--node-count` names servers.
pub fn node_names(count: usize) -> Vec<String> {
    (0..count).map(|index| format!("n{index}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interior_nodes_are_those_with_children_or_several_neighbours() {
        // tree4 on 25 nodes: n0 to n5 have children (n5's are n21 to n24).
        assert_eq!(Topology::Tree(4).interior(25), [0, 1, 2, 3, 4, 5]);
        assert_eq!(Topology::Tree(2).interior(5), [0, 1]);
        assert_eq!(Topology::Line.interior(4), [1, 2]);
        assert_eq!(Topology::Tree(4).interior(1), Vec::<usize>::new());
    }

    fn render(map: &NeighbourMap) -> String {
        let mut nodes: Vec<&String> = map.keys().collect();
        nodes.sort_by_key(|id| id[1..].parse::<usize>().unwrap());
        nodes
            .iter()
            .map(|node| format!("{node}:[{}]", map[*node].join(",")))
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn grid_of_five_matches_the_spec_example() {
        let map = Topology::Grid.build(&node_names(5));
        assert_eq!(
            render(&map),
            "n0:[n3,n1] n1:[n4,n2,n0] n2:[n1] n3:[n0,n4] n4:[n1,n3]"
        );
    }

    #[test]
    fn tree2_of_five_matches_the_spec_example() {
        let map = Topology::Tree(2).build(&node_names(5));
        assert_eq!(
            render(&map),
            "n0:[n1,n2] n1:[n0,n3,n4] n2:[n0] n3:[n1] n4:[n1]"
        );
    }

    #[test]
    fn tree4_of_twenty_five_matches_the_spec_example() {
        let map = Topology::Tree(4).build(&node_names(25));
        assert_eq!(map["n5"], ["n1", "n21", "n22", "n23", "n24"]);
        assert_eq!(
            map.values().map(Vec::len).sum::<usize>(),
            2 * 24,
            "a tree has n-1 edges"
        );
    }

    #[test]
    fn single_nodes_and_lines() {
        assert_eq!(render(&Topology::Grid.build(&node_names(1))), "n0:[]");
        assert_eq!(render(&Topology::Tree(4).build(&node_names(1))), "n0:[]");
        assert!(Topology::Line.build(&node_names(1)).is_empty());
        assert_eq!(
            render(&Topology::Line.build(&node_names(3))),
            "n0:[n1] n1:[n0,n2] n2:[n1]"
        );
    }

    #[test]
    fn total_lists_every_other_node_in_order() {
        assert_eq!(
            render(&Topology::Total.build(&node_names(3))),
            "n0:[n1,n2] n1:[n0,n2] n2:[n0,n1]"
        );
    }

    #[test]
    fn grid_of_twenty_five_has_forty_edges() {
        let map = Topology::Grid.build(&node_names(25));
        assert_eq!(map.values().map(Vec::len).sum::<usize>(), 80);
        assert_eq!(map["n12"], ["n17", "n7", "n13", "n11"]);
    }

    #[test]
    fn names_parse_and_print() {
        for name in ["grid", "line", "total", "tree2", "tree3", "tree4"] {
            assert_eq!(name.parse::<Topology>().unwrap().to_string(), name);
        }
        assert_eq!("tree".parse::<Topology>().unwrap(), Topology::Tree(2));
        assert!("ring".parse::<Topology>().unwrap_err().contains("tree4"));
    }
}
