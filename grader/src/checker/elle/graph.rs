//! The dependency graph between transactions: edges labelled by kind (`ww`, `wr`, `rw`,
//! `realtime`), with strongly connected components and shortest paths restricted to some
//! kinds. Why an edge is there is worked out only for the edges of a reported cycle (see
//! [`Why`]), so building the graph allocates nothing per edge but the edge.

/// Edge kinds, as bits.
pub type Kinds = u8;
/// T1 installed a version T2 overwrote (appended the element just before T2's).
pub const WW: Kinds = 1;
/// T2 read T1's version.
pub const WR: Kinds = 2;
/// T1 read a version T2 overwrote.
pub const RW: Kinds = 4;
/// T1 completed before T2 was invoked.
pub const REALTIME: Kinds = 8;

/// Why an edge is there: the key and, in words, the elements that tie the two transactions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Why {
    /// The key, as JSON text (none for a realtime edge).
    pub key: Option<String>,
    /// What ties them: "appended 3 right after 2", "read [1 2], which ends with its 2".
    pub words: String,
}

/// A directed graph over transactions `0..n`.
#[derive(Debug, Default)]
pub struct Graph {
    out: Vec<Vec<(usize, Kinds)>>,
}

impl Graph {
    /// A graph of `n` transactions and no edges.
    pub fn new(n: usize) -> Self {
        Graph {
            out: vec![Vec::new(); n],
        }
    }

    /// How many transactions.
    pub fn len(&self) -> usize {
        self.out.len()
    }

    /// True when there are no transactions.
    pub fn is_empty(&self) -> bool {
        self.out.is_empty()
    }

    /// Adds an edge of `kind` (never a self-edge).
    pub fn add(&mut self, from: usize, to: usize, kind: Kinds) {
        if from == to {
            return;
        }
        let edges = &mut self.out[from];
        match edges.iter_mut().find(|(target, _)| *target == to) {
            Some((_, kinds)) => *kinds |= kind,
            None => edges.push((to, kind)),
        }
    }

    /// The kinds of the edge `from → to` (0 when none).
    pub fn kinds(&self, from: usize, to: usize) -> Kinds {
        self.out[from]
            .iter()
            .find(|(target, _)| *target == to)
            .map_or(0, |(_, kinds)| *kinds)
    }

    /// Every edge that has one of `kinds`: (from, to, its kinds).
    pub fn edges(&self, kinds: Kinds) -> impl Iterator<Item = (usize, usize, Kinds)> + '_ {
        self.out.iter().enumerate().flat_map(move |(from, edges)| {
            edges
                .iter()
                .filter(move |(_, k)| k & kinds != 0)
                .map(move |(to, k)| (from, *to, *k))
        })
    }

    /// Strongly connected components over the edges that have one of `kinds`: each node's
    /// component number.
    pub fn components(&self, kinds: Kinds) -> Vec<usize> {
        crate::checker::digraph::components(self.len(), |node| self.successors(node, kinds))
    }

    /// The successors of `node` over edges of `kinds`.
    fn successors(&self, node: usize, kinds: Kinds) -> impl Iterator<Item = usize> + '_ {
        self.out[node]
            .iter()
            .filter(move |(_, k)| k & kinds != 0)
            .map(|(to, _)| *to)
    }

    /// A shortest path from `from` to `to` over edges of `kinds` whose ends both satisfy
    /// `inside`, as the nodes after `from` (ending with `to`); none if there is none within
    /// `budget` visited nodes.
    pub fn path(
        &self,
        from: usize,
        to: usize,
        kinds: Kinds,
        inside: impl Fn(usize) -> bool,
        budget: usize,
    ) -> Option<Vec<usize>> {
        crate::checker::digraph::shortest_path(
            from,
            to,
            |node| self.successors(node, kinds).filter(|next| inside(*next)),
            budget,
        )
    }
}
