//! Elle's cycles over kafka operations, as Maelstrom's checker draws them: write-read edges
//! (a send's message was returned by a poll) with the process order (`G1c-process`) or the
//! real-time order (`G1c-realtime`: one operation completed before the other began). With no
//! write-write edges, a poll only ever has edges out through the orders, so every cycle is a
//! poll that saw a message sent after it, in its process or in time.
//!
//! The real-time order is quadratic as edges; it is drawn as a chain of history positions
//! instead: an operation links to the position of its completion, each position to the next,
//! and the position of an invocation to its operation, so a path from A to B exists exactly
//! when A completed before B was invoked. Strongly connected components (Tarjan's, without
//! recursion) then find the cycles in linear time, and a breadth-first search inside one
//! component names a shortest cycle through one of its write-read edges.

use std::collections::{BTreeMap, HashMap};

use super::{Case, Completed, Found, OpRef};
use crate::history::{Op, OpKind, Process};

/// An edge's kind, for the words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Write-read: the poll returned the send's message.
    Wr,
    /// The next operation of the same process.
    Process,
    /// Through the real-time chain.
    Time,
}

/// A graph over operations (the first `ops` vertices) and chain positions.
struct Graph {
    ops: usize,
    edges: Vec<Vec<(usize, Kind)>>,
}

impl Graph {
    fn new(ops: usize) -> Self {
        Graph {
            ops,
            edges: vec![Vec::new(); ops],
        }
    }

    fn vertex(&mut self) -> usize {
        self.edges.push(Vec::new());
        self.edges.len() - 1
    }

    fn link(&mut self, from: usize, to: usize, kind: Kind) {
        self.edges[from].push((to, kind));
    }

    /// Each vertex's strongly connected component.
    fn components(&self) -> Vec<usize> {
        crate::checker::digraph::components(self.edges.len(), |vertex| {
            self.edges[vertex].iter().map(|(to, _)| *to)
        })
    }

    /// A shortest path from `from` to `to` inside component `within`, as (vertex, kind of the
    /// edge into it) steps.
    fn path(
        &self,
        from: usize,
        to: usize,
        component: &[usize],
        within: usize,
    ) -> Vec<(usize, Kind)> {
        let successors = |vertex: usize| {
            self.edges[vertex]
                .iter()
                .map(|(next, _)| *next)
                .filter(|next| component[*next] == within)
        };
        let Some(path) = crate::checker::digraph::shortest_path(from, to, successors, usize::MAX)
        else {
            return Vec::new();
        };
        let mut previous = from;
        path.into_iter()
            .map(|vertex| {
                let kind = self.edges[previous]
                    .iter()
                    .find(|(next, _)| *next == vertex)
                    .map_or(Kind::Time, |(_, kind)| *kind);
                previous = vertex;
                (vertex, kind)
            })
            .collect()
    }
}

/// Finds the cycles and adds them to `found`.
pub(super) fn find(
    history: &[Op],
    completed: &[Completed],
    writer: &HashMap<(&str, i64), usize>,
    found: &mut Found,
) {
    // The operations in the graph: acknowledged and unknown sends and polls.
    let members: Vec<usize> = (0..completed.len())
        .filter(|at| {
            let op = completed[*at].op;
            matches!(op.f, "send" | "poll") && matches!(op.kind, OpKind::Ok | OpKind::Info)
        })
        .collect();
    let vertex_of: HashMap<usize, usize> = members
        .iter()
        .enumerate()
        .map(|(vertex, at)| (*at, vertex))
        .collect();
    let mut write_reads: Vec<(usize, usize, String, i64)> = Vec::new();
    for (vertex, at) in members.iter().enumerate() {
        for (key, pairs) in &completed[*at].reads {
            for (_, message) in pairs {
                if let Some(sender) = writer.get(&(key.as_str(), *message))
                    && let Some(&from) = vertex_of.get(sender)
                    && from != vertex
                {
                    write_reads.push((from, vertex, key.clone(), *message));
                }
            }
        }
    }
    if write_reads.is_empty() {
        return;
    }
    let words = |steps: &[(usize, Kind)], start: usize| -> (String, Vec<OpRef>) {
        let mut ops = vec![OpRef::of(completed[members[start]].op)];
        let mut text = Vec::new();
        let mut previous = start;
        for &(vertex, kind) in steps {
            let (a, b) = (
                OpRef::of(completed[members[previous]].op),
                OpRef::of(completed[members[vertex]].op),
            );
            text.push(match kind {
                Kind::Wr => format!("{} returned a message {} sent", b.words(), a.words()),
                Kind::Process => format!("{} came next in its process", b.words()),
                Kind::Time => format!("{} began after {} completed", b.words(), a.words()),
            });
            ops.push(b);
            previous = vertex;
        }
        (text.join("; "), ops)
    };

    // The process order.
    let mut by_process: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
    for (vertex, at) in members.iter().enumerate() {
        if let Process::Worker(process) = completed[*at].op.process {
            by_process.entry(process).or_default().push(vertex);
        }
    }
    let mut process_graph = Graph::new(members.len());
    for &(from, to, _, _) in &write_reads {
        process_graph.link(from, to, Kind::Wr);
    }
    for vertices in by_process.values() {
        for pair in vertices.windows(2) {
            process_graph.link(pair[0], pair[1], Kind::Process);
        }
    }
    let in_process_cycle = report(&process_graph, &write_reads, "G1c-process", &words, found);

    // The real-time order, as a chain of history positions.
    let invoked_at: HashMap<usize, usize> = crate::history::paired(history)
        .into_iter()
        .filter_map(|(invoke, completion)| Some((completion?.index, invoke.index)))
        .collect();
    let mut time_graph = Graph::new(members.len());
    for &(from, to, _, _) in &write_reads {
        time_graph.link(from, to, Kind::Wr);
    }
    // (history position, vertex, true for a completion that links into the chain)
    let mut marks: Vec<(usize, usize, bool)> = Vec::new();
    for (vertex, at) in members.iter().enumerate() {
        let op = completed[*at].op;
        if op.kind == OpKind::Ok {
            marks.push((op.index, vertex, true));
        }
        if let Some(&invoked) = invoked_at.get(&op.index) {
            marks.push((invoked, vertex, false));
        }
    }
    marks.sort_unstable();
    let mut previous_position = None;
    for (_, vertex, completion) in marks {
        let position = time_graph.vertex();
        if let Some(previous) = previous_position {
            time_graph.link(previous, position, Kind::Time);
        }
        if completion {
            time_graph.link(vertex, position, Kind::Time);
        } else {
            time_graph.link(position, vertex, Kind::Time);
        }
        previous_position = Some(position);
    }
    report_excluding(&time_graph, &write_reads, &in_process_cycle, &words, found);
}

type Words<'a> = dyn Fn(&[(usize, Kind)], usize) -> (String, Vec<OpRef>) + 'a;

/// Adds a case of `class` for each component of `graph` with a cycle; returns which
/// operation vertices are in one.
fn report(
    graph: &Graph,
    write_reads: &[(usize, usize, String, i64)],
    class: &'static str,
    words: &Words,
    found: &mut Found,
) -> Vec<bool> {
    let component = graph.components();
    let mut in_cycle = vec![false; graph.ops];
    let mut reported = std::collections::BTreeSet::new();
    for (from, to, key, message) in write_reads {
        let within = component[*from];
        if component[*to] != within || !reported.insert(within) {
            continue;
        }
        let mut steps = vec![(*to, Kind::Wr)];
        steps.extend(graph.path(*to, *from, &component, within));
        let steps: Vec<(usize, Kind)> = compress(graph, steps);
        for (vertex, _) in &steps {
            in_cycle[*vertex] = true;
        }
        let (text, ops) = words(&steps, *from);
        found.add(
            class,
            Case {
                key: key.clone(),
                words: format!("a cycle: {text}"),
                messages: vec![*message],
                offsets: Vec::new(),
                skipped: Vec::new(),
                ops,
            },
        );
    }
    for (vertex, flag) in in_cycle.iter_mut().enumerate() {
        *flag = *flag || reported.contains(&component[vertex]);
    }
    in_cycle
}

/// [`report`] as `G1c-realtime`, for the components whose operations are in no process cycle.
fn report_excluding(
    graph: &Graph,
    write_reads: &[(usize, usize, String, i64)],
    in_process_cycle: &[bool],
    words: &Words,
    found: &mut Found,
) {
    let kept: Vec<(usize, usize, String, i64)> = write_reads
        .iter()
        .filter(|(from, to, _, _)| !in_process_cycle[*from] && !in_process_cycle[*to])
        .cloned()
        .collect();
    let _ = report(graph, &kept, "G1c-realtime", words, found);
}

/// Drops the chain positions from a path: a run of them between two operations becomes one
/// real-time step.
fn compress(graph: &Graph, steps: Vec<(usize, Kind)>) -> Vec<(usize, Kind)> {
    let mut kept = Vec::new();
    let mut through_chain = false;
    for (vertex, kind) in steps {
        if vertex >= graph.ops {
            through_chain = true;
            continue;
        }
        kept.push((vertex, if through_chain { Kind::Time } else { kind }));
        through_chain = false;
    }
    kept
}
