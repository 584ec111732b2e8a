//! The cycle anomalies, one case per strongly connected component, each with a concrete cycle:
//!
//! - `G0`: a cycle of `ww` edges only;
//! - `G1c`: a cycle of `ww` and `wr` edges with at least one `wr`;
//! - `G-single-item`: exactly one `rw` edge, the rest `ww`/`wr` (read skew);
//! - `G-nonadjacent-item`: several `rw` edges, no two in a row (found exactly, on a graph of
//!   (transaction, was the last edge `rw`) states);
//! - `G2-item`: `rw` edges that cannot be closed without another `rw` (write skew);
//! - with real-time order asked for (strict serializability), the same with `realtime` edges,
//!   named `…-realtime`.
//!
//! An edge `u → v` inside a component lies on a cycle, closed by a path `v → u`; paths are
//! breadth-first within the component, under a budget, so a huge component cannot hang the
//! check.

use super::graph::{Graph, Kinds, REALTIME, RW, WR, WW, Why};
use super::txn::{Outcome, Txn};
use super::{Anomaly, Found, Step};

/// The most nodes one path search visits.
const BUDGET: usize = 200_000;

/// Says why an edge of a kind is there (the inference works it out again on demand).
pub type Explain<'a> = &'a dyn Fn(usize, usize, Kinds) -> Why;

/// What the searches share.
struct Search<'a> {
    txns: &'a [Txn],
    explain: Explain<'a>,
}

fn kind_name(kind: Kinds) -> &'static str {
    match kind {
        WW => "ww",
        WR => "wr",
        RW => "rw",
        _ => "realtime",
    }
}

/// The kind an edge with `kinds` is taken as, among `allowed`: the first of ww, wr, rw and
/// realtime it has (a cycle is named by the weakest dependencies it needs), else `otherwise`.
fn preferred(kinds: Kinds, allowed: Kinds, otherwise: Kinds) -> Kinds {
    [WW, WR, RW, REALTIME]
        .into_iter()
        .find(|k| kinds & k & allowed != 0)
        .unwrap_or(otherwise)
}

/// The cycle `first → path…` (the path ends at `first`'s source) as steps, each edge taken as
/// its kind in `prefer` order among `allowed`.
fn steps(
    explain: Explain<'_>,
    graph: &Graph,
    nodes: &[usize],
    first_kind: Kinds,
    allowed: Kinds,
) -> Vec<Step> {
    let mut out = Vec::new();
    for (at, pair) in nodes.windows(2).enumerate() {
        let (from, to) = (pair[0], pair[1]);
        let kind = if at == 0 {
            first_kind
        } else {
            preferred(graph.kinds(from, to), allowed, WW)
        };
        let why = explain(from, to, kind);
        out.push(Step {
            from: format!("T{from}"),
            kind: kind_name(kind),
            to: format!("T{to}"),
            key: why.key,
            words: why.words,
        });
    }
    out
}

/// Records a cycle anomaly: the edge `u → v` of `kind`, closed by a path back over `allowed`.
fn record(
    search: &Search<'_>,
    graph: &Graph,
    found: &mut Found,
    name: &str,
    (u, v, kind): (usize, usize, Kinds),
    path: Vec<usize>,
    allowed: Kinds,
) {
    let mut nodes = vec![u, v];
    nodes.extend(path);
    let txns = search.txns;
    let cycle = steps(search.explain, graph, &nodes, kind, allowed);
    let words: Vec<String> = cycle
        .iter()
        .map(|step| {
            format!(
                "{} -{}-> {} ({} {})",
                step.from, step.kind, step.to, step.from, step.words
            )
        })
        .collect();
    let members: Vec<usize> = nodes[..nodes.len() - 1].to_vec();
    let names: Vec<String> = members
        .iter()
        .map(|&t| format!("T{t} = {}", txns[t].op.words()))
        .collect();
    found.push(
        name,
        Anomaly {
            words: format!(
                "{} transactions in a cycle no serial order allows: {}; where {}",
                members.len(),
                words.join(", "),
                names.join("; ")
            ),
            ops: members.iter().map(|&t| txns[t].op.clone()).collect(),
            cycle,
        },
    );
}

/// Adds real-time edges: from each transaction that completed to each that was invoked after,
/// without the ones implied through a third (Elle's reduction: a frontier of latest
/// completions).
fn add_realtime(txns: &[Txn], graph: &mut Graph) {
    // At the same instant invocations sort first: only a completion strictly before an
    // invocation orders two transactions.
    #[derive(PartialEq, Eq, PartialOrd, Ord)]
    enum Event {
        Invoke(usize),
        Complete(usize),
    }
    let mut events: Vec<(u64, Event)> = Vec::new();
    for (t, txn) in txns.iter().enumerate() {
        if txn.outcome == Outcome::Failed {
            continue;
        }
        events.push((txn.invoked_ns, Event::Invoke(t)));
        if let (Outcome::Ok, Some(done)) = (txn.outcome, txn.completed_ns) {
            events.push((done, Event::Complete(t)));
        }
    }
    events.sort();
    let mut frontier: Vec<usize> = Vec::new();
    let mut before: Vec<Vec<usize>> = vec![Vec::new(); txns.len()];
    for (_, event) in events {
        match event {
            Event::Invoke(t) => {
                for &f in &frontier {
                    graph.add(f, t, REALTIME);
                }
                before[t] = frontier.clone();
            }
            Event::Complete(t) => {
                frontier.retain(|f| !before[t].contains(f));
                frontier.push(t);
            }
        }
    }
}

/// Finds the cycle anomalies in `graph` (with real-time edges added when `realtime`); their
/// edges are put in words by `explain`.
pub fn search(
    txns: &[Txn],
    graph: &mut Graph,
    found: &mut Found,
    realtime: bool,
    explain: Explain<'_>,
) {
    let search = Search { txns, explain };
    let data = WW | WR | RW;
    let full = graph.components(data);
    let mut size = vec![0usize; graph.len()];
    for &c in &full {
        size[c] += 1;
    }
    if size.iter().any(|&s| s > 1) {
        data_cycles(&search, graph, found, &full, &size);
    }
    if realtime {
        add_realtime(txns, graph);
        let all = graph.components(data | REALTIME);
        let mut seen = std::collections::BTreeSet::new();
        let edges: Vec<(usize, usize, Kinds)> = graph.edges(REALTIME).collect();
        for (u, v, _) in edges {
            if all[u] != all[v] || full[u] == full[v] || !seen.insert(all[u]) {
                continue;
            }
            let inside = |x: usize| all[x] == all[u];
            if let Some(path) = graph.path(v, u, data | REALTIME, inside, BUDGET) {
                // Name it by the data edges the path takes (each edge as its first kind).
                let mut nodes = vec![u, v];
                nodes.extend(path.iter().copied());
                let taken: Vec<Kinds> = nodes
                    .windows(2)
                    .skip(1)
                    .map(|pair| preferred(graph.kinds(pair[0], pair[1]), data | REALTIME, REALTIME))
                    .collect();
                let rw = taken.iter().filter(|&&k| k == RW).count();
                let name = match rw {
                    0 if taken.contains(&WR) => "G1c-realtime",
                    0 => "G0-realtime",
                    1 => "G-single-item-realtime",
                    _ => "G2-item-realtime",
                };
                record(
                    &search,
                    graph,
                    found,
                    name,
                    (u, v, REALTIME),
                    path,
                    data | REALTIME,
                );
            }
        }
    }
}

fn data_cycles(
    search: &Search<'_>,
    graph: &Graph,
    found: &mut Found,
    full: &[usize],
    size: &[usize],
) {
    let edges: Vec<(usize, usize, Kinds)> = graph.edges(WW | WR | RW).collect();
    // G0: a component of ww edges alone.
    let ww = graph.components(WW);
    let mut done = std::collections::BTreeSet::new();
    for &(u, v, kinds) in &edges {
        if kinds & WW != 0 && ww[u] == ww[v] && done.insert(ww[u]) {
            let inside = |x: usize| ww[x] == ww[u];
            if let Some(path) = graph.path(v, u, WW, inside, BUDGET) {
                record(search, graph, found, "G0", (u, v, WW), path, WW);
            }
        }
    }
    // G1c: a wr edge inside a component of ww and wr edges.
    let wwr = graph.components(WW | WR);
    let mut done = std::collections::BTreeSet::new();
    for &(u, v, kinds) in &edges {
        if kinds & WR != 0 && wwr[u] == wwr[v] && done.insert(wwr[u]) {
            let inside = |x: usize| wwr[x] == wwr[u];
            if let Some(path) = graph.path(v, u, WW | WR, inside, BUDGET) {
                record(search, graph, found, "G1c", (u, v, WR), path, WW | WR);
            }
        }
    }
    // Cycles through rw edges, one case per component: a single rw if any closes without
    // another, else write skew.
    let mut by_component: std::collections::BTreeMap<usize, Vec<(usize, usize)>> =
        std::collections::BTreeMap::new();
    for &(u, v, kinds) in &edges {
        if kinds & RW != 0 && full[u] == full[v] && size[full[u]] > 1 {
            by_component.entry(full[u]).or_default().push((u, v));
        }
    }
    for rw_edges in by_component.values() {
        let component = full[rw_edges[0].0];
        let inside = |x: usize| full[x] == component;
        let single = rw_edges.iter().take(64).find_map(|&(u, v)| {
            graph
                .path(v, u, WW | WR, inside, BUDGET)
                .map(|path| (u, v, path))
        });
        match single {
            Some((u, v, path)) => {
                record(
                    search,
                    graph,
                    found,
                    "G-single-item",
                    (u, v, RW),
                    path,
                    WW | WR,
                );
            }
            None => {
                let (u, v) = rw_edges[0];
                if let Some(path) = graph.path(v, u, WW | WR | RW, inside, BUDGET) {
                    record(
                        search,
                        graph,
                        found,
                        "G2-item",
                        (u, v, RW),
                        path,
                        WW | WR | RW,
                    );
                }
            }
        }
    }
    nonadjacent(search, graph, found, &edges, full);
}

/// G-nonadjacent-item: a cycle whose rw edges are never next to each other, found as a cycle
/// on states (transaction, whether the edge into it was rw) through an rw step. Reported only
/// for components where no single-rw cycle was found (a single rw is the simplest case).
fn nonadjacent(
    search: &Search<'_>,
    graph: &Graph,
    found: &mut Found,
    edges: &[(usize, usize, Kinds)],
    full: &[usize],
) {
    if found.0.contains_key("G-single-item") || !edges.iter().any(|e| e.2 & RW != 0) {
        return;
    }
    let n = graph.len();
    let mut states = Graph::new(2 * n);
    for &(u, v, kinds) in edges {
        if full[u] != full[v] {
            continue;
        }
        if kinds & (WW | WR) != 0 {
            states.add(u, v, WW);
            states.add(n + u, v, WW);
        }
        if kinds & RW != 0 {
            states.add(u, n + v, RW);
        }
    }
    let component = states.components(WW | RW);
    let step = states
        .edges(RW)
        .find(|&(from, to, _)| component[from] == component[to]);
    if let Some((from, to, _)) = step {
        let inside = |x: usize| component[x] == component[from];
        if let Some(path) = states.path(to, from, WW | RW, inside, BUDGET) {
            let nodes: Vec<usize> = path.iter().map(|&s| s % n).collect();
            record(
                search,
                graph,
                found,
                "G-nonadjacent-item",
                (from, to - n, RW),
                nodes,
                WW | WR | RW,
            );
        }
    }
}
