//! [`Due`]: an item due at a time, ordered for a min-heap by (time, sequence).
//!
//! The harness's schedule and each node's writer queue are both "take the earliest, ties in
//! the order they were added"; `std`'s `BinaryHeap` is a max-heap, so the order is reversed.

use std::cmp::Ordering;
use std::time::Duration;

/// `item`, due at `at`; `sequence` breaks ties (the order items were added).
#[derive(Debug)]
pub struct Due<T> {
    /// When it is due.
    pub at: Duration,
    /// Its place among items due at the same time.
    pub sequence: u64,
    /// The item.
    pub item: T,
}

impl<T> PartialEq for Due<T> {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.sequence) == (other.at, other.sequence)
    }
}

impl<T> Eq for Due<T> {}

impl<T> PartialOrd for Due<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T> Ord for Due<T> {
    /// Reversed, so that a max-heap pops the earliest (time, sequence) first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.sequence).cmp(&(self.at, self.sequence))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BinaryHeap;

    use super::*;

    #[test]
    fn a_heap_of_due_items_pops_the_earliest_then_the_first_added() {
        let mut heap = BinaryHeap::new();
        for (at, sequence, item) in [(5, 0, "c"), (1, 2, "b"), (1, 1, "a"), (9, 3, "d")] {
            heap.push(Due {
                at: Duration::from_millis(at),
                sequence,
                item,
            });
        }
        let order: Vec<&str> = std::iter::from_fn(|| heap.pop().map(|due| due.item)).collect();
        assert_eq!(order, ["a", "b", "c", "d"]);
    }
}
