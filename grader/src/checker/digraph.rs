//! Directed-graph searches the cycle checkers share (kafka's and the transactions'): strongly
//! connected components by Tarjan's algorithm without recursion (histories make graphs far
//! deeper than a call stack), and a shortest path by breadth-first search. A graph is given as
//! its vertex count and a function from a vertex to its successors.

use std::collections::{HashMap, VecDeque};

/// Each vertex's strongly connected component (numbers from 0; two vertices share a number
/// exactly when each reaches the other).
pub fn components<I: Iterator<Item = usize>>(
    count: usize,
    mut successors: impl FnMut(usize) -> I,
) -> Vec<usize> {
    const UNSEEN: usize = usize::MAX;
    let (mut index, mut low, mut component) =
        (vec![UNSEEN; count], vec![0; count], vec![UNSEEN; count]);
    let mut on_stack = vec![false; count];
    let (mut stack, mut next_index, mut next_component) = (Vec::new(), 0, 0);
    for root in 0..count {
        if index[root] != UNSEEN {
            continue;
        }
        // (vertex, its successors still to follow)
        let mut calls = vec![(root, successors(root))];
        index[root] = next_index;
        low[root] = next_index;
        next_index += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some((vertex, next)) = calls.last_mut() {
            let vertex = *vertex;
            if let Some(to) = next.next() {
                if index[to] == UNSEEN {
                    index[to] = next_index;
                    low[to] = next_index;
                    next_index += 1;
                    stack.push(to);
                    on_stack[to] = true;
                    calls.push((to, successors(to)));
                } else if on_stack[to] {
                    low[vertex] = low[vertex].min(index[to]);
                }
                continue;
            }
            calls.pop();
            if let Some((parent, _)) = calls.last() {
                low[*parent] = low[*parent].min(low[vertex]);
            }
            if low[vertex] == index[vertex] {
                while let Some(member) = stack.pop() {
                    on_stack[member] = false;
                    component[member] = next_component;
                    if member == vertex {
                        break;
                    }
                }
                next_component += 1;
            }
        }
    }
    component
}

/// A shortest path from `from` to `to` (not through `from` again), as the vertices after
/// `from`, ending with `to`; none if there is none, or none found within `budget` visited
/// vertices.
pub fn shortest_path<I: Iterator<Item = usize>>(
    from: usize,
    to: usize,
    mut successors: impl FnMut(usize) -> I,
    budget: usize,
) -> Option<Vec<usize>> {
    let mut came_from: HashMap<usize, usize> = HashMap::new();
    let mut queue = VecDeque::from([from]);
    let mut visited = 0;
    while let Some(vertex) = queue.pop_front() {
        visited += 1;
        if visited > budget {
            return None;
        }
        for next in successors(vertex) {
            if next == from || came_from.contains_key(&next) {
                continue;
            }
            came_from.insert(next, vertex);
            if next == to {
                let mut path = vec![to];
                let mut at = to;
                while let Some(&before) = came_from.get(&at) {
                    if before == from {
                        break;
                    }
                    path.push(before);
                    at = before;
                }
                path.reverse();
                return Some(path);
            }
            queue.push_back(next);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_and_paths_on_a_small_graph() {
        // 0 → 1 → 2 → 0, 2 → 3, 3 → 4 → 3, 5 alone.
        let edges: Vec<Vec<usize>> = vec![vec![1], vec![2], vec![0, 3], vec![4], vec![3], vec![]];
        let of = |v: usize| edges[v].iter().copied();
        let c = components(edges.len(), of);
        assert!(c[0] == c[1] && c[1] == c[2]);
        assert!(c[3] == c[4] && c[3] != c[0]);
        assert!(c[5] != c[0] && c[5] != c[3]);
        assert_eq!(shortest_path(0, 3, of, 100), Some(vec![1, 2, 3]));
        assert_eq!(shortest_path(3, 0, of, 100), None);
        assert_eq!(shortest_path(0, 3, of, 1), None);
        // A deep chain does not overflow the stack.
        let chain = |v: usize| (v + 1 < 1_000_000).then_some(v + 1).into_iter();
        assert_eq!(components(1_000_000, chain)[0], 999_999);
    }
}
