//! [`Membership`]: the cluster's node ids as `init` listed them, shared by the nodes of a
//! process that were given the same list.
//!
//! A node keeps the whole list (for [`Context::node_ids`](crate::Context::node_ids), `peers`
//! and `random_peers`) and an index of it (for `is_cluster_node`). A process that runs one
//! node holds one copy. The grader's simulated cluster runs every node in one process: a
//! thousand nodes each holding a thousand ids would be a million strings, and every lookup
//! would miss the cache. So a list equal to one built lately, and still in use, is shared rather
//! built again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use crate::message::NodeId;

/// The node ids of a cluster, in `init` order, with an index for membership tests.
#[derive(Debug, Default)]
pub(crate) struct Membership {
    ids: Vec<NodeId>,
    /// Where each id stands in `ids` (the first place, should `init` list one twice).
    index: HashMap<NodeId, usize>,
}

/// The lists built lately, newest last; a node given the same ids shares one while anyone
/// still holds it. Several, because threads (tests, say) may run clusters side by side.
static RECENT: Mutex<Vec<Weak<Membership>>> = Mutex::new(Vec::new());

/// How many lists [`RECENT`] remembers.
const REMEMBERED: usize = 16;

impl Membership {
    /// The membership of `ids`: one built lately if it lists the very same ids, else a new
    /// one.
    pub(crate) fn shared<S: AsRef<str>>(ids: &[S]) -> Arc<Membership> {
        // A poisoned lock only means another thread panicked while holding it; the list
        // itself always holds valid weak pointers.
        let mut recent = RECENT
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let same = |known: &Membership| {
            known.ids.len() == ids.len()
                && known
                    .ids
                    .iter()
                    .zip(ids)
                    .all(|(known, id)| known.as_str() == id.as_ref())
        };
        if let Some(known) = recent
            .iter()
            .rev()
            .filter_map(Weak::upgrade)
            .find(|known| same(known))
        {
            return known;
        }
        let ids: Vec<NodeId> = ids.iter().map(|id| NodeId::new(id.as_ref())).collect();
        let mut index = HashMap::with_capacity(ids.len());
        for (position, id) in ids.iter().enumerate() {
            index.entry(id.clone()).or_insert(position);
        }
        let membership = Arc::new(Membership { ids, index });
        recent.retain(|known| known.strong_count() > 0);
        if recent.len() >= REMEMBERED {
            recent.remove(0);
        }
        recent.push(Arc::downgrade(&membership));
        membership
    }

    /// The ids, in `init` order.
    pub(crate) fn ids(&self) -> &[NodeId] {
        &self.ids
    }

    /// True when the list names some id more than once (a malformed `init`).
    pub(crate) fn has_repeats(&self) -> bool {
        self.index.len() < self.ids.len()
    }

    /// Where `id` stands in the list, if it is there.
    pub(crate) fn position(&self, id: &NodeId) -> Option<usize> {
        self.index.get(id).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_lists_share_one_membership_and_different_ones_do_not() {
        let first = Membership::shared(&["n0", "n1", "n2"]);
        let again = Membership::shared(&[String::from("n0"), "n1".into(), "n2".into()]);
        assert!(Arc::ptr_eq(&first, &again));
        let other = Membership::shared(&["n0", "n1", "n3"]);
        assert!(!Arc::ptr_eq(&first, &other));
        assert_eq!(other.position(&NodeId::new("n3")), Some(2));
        assert_eq!(other.position(&NodeId::new("n2")), None);
        let shorter = Membership::shared(&["n0", "n1"]);
        assert_eq!(shorter.ids().len(), 2);
    }

    #[test]
    fn an_id_listed_twice_stands_at_its_first_place() {
        let membership = Membership::shared(&["n0", "n1", "n0"]);
        assert_eq!(membership.position(&NodeId::new("n0")), Some(0));
        assert_eq!(membership.ids().len(), 3);
        assert!(membership.has_repeats());
        assert!(!Membership::shared(&["n0", "n1"]).has_repeats());
    }
}
