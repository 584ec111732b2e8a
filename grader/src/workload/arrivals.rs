//! [`Arrivals`]: when each node was first handed each value, recorded as the run goes.
//!
//! Every delivery of a value is looked up here (to count duplicates), so the table is laid out
//! for that: the values seen get numbers in the order they first appear, and each node keeps
//! one flat row of first-arrival times indexed by those numbers. A lookup is one hash of the
//! value and one read of the node's row, instead of a walk down a tree per node.

use std::collections::HashMap;
use std::time::Duration;

/// When each node was first handed each value (by a client's request or another node's
/// message, as [`Workload::delivered_values`](super::Workload::delivered_values) reads them),
/// for workloads that time replication and for judging crash-stop survivors.
#[derive(Debug, Clone, Default)]
pub struct Arrivals {
    nodes: Vec<String>,
    /// Each value's column, in the order values first appeared.
    column_of: HashMap<i64, usize>,
    /// The value of each column.
    values: Vec<i64>,
    /// Per node: by column, the first arrival in ns plus one (0: never handed it). A row is
    /// only as long as the highest column the node was handed.
    rows: Vec<Vec<u64>>,
}

impl Arrivals {
    /// An empty table for the nodes `nodes` (their ids, in index order).
    pub fn new(nodes: Vec<String>) -> Self {
        Self {
            rows: vec![Vec::new(); nodes.len()],
            nodes,
            ..Self::default()
        }
    }

    /// The nodes' ids, in index order.
    pub fn nodes(&self) -> &[String] {
        &self.nodes
    }

    /// Notes that node `node` was handed `value` at `at`; true if it had not been before
    /// (since its last restart).
    pub fn record(&mut self, node: usize, value: i64, at: Duration) -> bool {
        let next = self.values.len();
        let column = *self.column_of.entry(value).or_insert(next);
        if column == next {
            self.values.push(value);
        }
        let row = &mut self.rows[node];
        if row.len() <= column {
            row.resize(column + 1, 0);
        }
        if row[column] != 0 {
            return false;
        }
        row[column] = u64::try_from(at.as_nanos()).unwrap_or(u64::MAX - 1) + 1;
        true
    }

    /// When node `node` was first handed `value`, if it was.
    pub fn first(&self, node: usize, value: i64) -> Option<Duration> {
        let column = *self.column_of.get(&value)?;
        let stamp = *self.rows.get(node)?.get(column)?;
        (stamp != 0).then(|| Duration::from_nanos(stamp - 1))
    }

    /// Forgets what node `node` was handed (it was restarted empty).
    pub fn forget(&mut self, node: usize) {
        self.rows[node].clear();
    }

    /// The values node `node` was handed (since its last restart), in the order values first
    /// appeared in the run.
    pub fn handed(&self, node: usize) -> impl Iterator<Item = i64> + '_ {
        self.rows[node]
            .iter()
            .zip(&self.values)
            .filter(|(stamp, _)| **stamp != 0)
            .map(|(_, value)| *value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_arrival_is_kept_per_node_until_the_node_is_forgotten() {
        let ms = Duration::from_millis;
        let mut arrivals = Arrivals::new(vec!["n0".into(), "n1".into()]);
        assert!(arrivals.record(0, 7, ms(5)));
        assert!(arrivals.record(1, 9, Duration::ZERO));
        assert!(!arrivals.record(0, 7, ms(6)), "a duplicate");
        assert!(arrivals.record(1, 7, ms(8)));
        assert!(arrivals.record(0, -3, ms(9)));
        assert_eq!(arrivals.first(0, 7), Some(ms(5)));
        assert_eq!(arrivals.first(1, 9), Some(Duration::ZERO));
        assert_eq!(arrivals.first(0, 9), None);
        assert_eq!(arrivals.first(1, 4), None);
        assert_eq!(arrivals.handed(0).collect::<Vec<_>>(), [7, -3]);
        assert_eq!(arrivals.handed(1).collect::<Vec<_>>(), [7, 9]);
        arrivals.forget(0);
        assert_eq!(arrivals.first(0, 7), None);
        assert_eq!(arrivals.handed(0).count(), 0);
        assert!(arrivals.record(0, 7, ms(20)), "new again after a restart");
        assert_eq!(arrivals.first(0, 7), Some(ms(20)));
        assert_eq!(arrivals.nodes(), ["n0", "n1"]);
    }
}
