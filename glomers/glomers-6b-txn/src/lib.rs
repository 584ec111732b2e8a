//! Gossip Glomers 6b: the transactional store of 6a over several nodes, totally available
//! (every transaction answered at once, partitions or not) and read-uncommitted at least.
//!
//! - **Transactions run locally.** A node applies each transaction whole to its own copy of
//!   the store ([`glomers_6a_txn::Store`]) and answers at once: it never waits for a peer, so
//!   a partition cannot make it unavailable.
//! - **Writes are replicated in batches.** A transaction that wrote keeps, in the node's log,
//!   its last value for each key it wrote, stamped with a Lamport clock and the node's id.
//!   Every `--replicate-ms` the node sends each peer the log entries that peer has not
//!   acknowledged (`replicate {from, entries}` → `replicate_ok {upto}`), so what a partition
//!   dropped is sent again after it heals.
//! - **Replicas converge.** A node applies a peer's entry to a key only if its stamp is newer
//!   than the key's (last writer wins, by Lamport clock, then node id), so every node ends with
//!   the same value for each key whatever order the batches came in. Each entry is applied
//!   whole, within one message, and carries only committed, final values: no other node ever
//!   sees a value its transaction overwrote (G1b) or one of a transaction that did not commit
//!   (G1a), which is also what read-committed asks (6c).

use std::collections::BTreeMap;
use std::time::Duration;

use common::{Context, Message, Node, NodeId, RpcError};
use glomers_6a_txn::{Store, txn_payload};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One committed transaction's writes: its stamp and, per key, the last value it wrote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The position in the writing node's log, from 1.
    pub seq: u64,
    /// The Lamport clock of the transaction.
    pub clock: u64,
    /// Its writes, as [key, value] pairs (keys as the client sent them).
    pub writes: Vec<(Value, Value)>,
}

txn_payload! {
    /// The workload's messages and the replication between nodes.
    pub enum Payload {
        /// A peer's log entries the receiver has not acknowledged.
        Replicate {
            /// The node whose log they are.
            from: NodeId,
            /// The entries, in log order.
            entries: Vec<Entry>,
        },
        /// The receiver holds `from`'s log up to `upto`.
        ReplicateOk {
            /// The highest sequence number applied.
            upto: u64,
        },
    }
}

/// The node's flags.
#[derive(Debug, Clone, clap::Args)]
pub struct Flags {
    /// How often to send each peer what it has not acknowledged.
    #[arg(long, default_value_t = 100, value_name = "MS")]
    pub replicate_ms: u64,
}

/// The node's one timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replicate;

/// The replicated store.
#[derive(Debug)]
pub struct ReplicatedStore {
    flags: Flags,
    store: Store,
    /// Per key (JSON text), the stamp of its value: (clock, writing node).
    stamps: BTreeMap<String, (u64, String)>,
    clock: u64,
    /// This node's committed writes, in order.
    log: Vec<Entry>,
    /// Per peer, how much of the log it has acknowledged.
    acked: BTreeMap<NodeId, u64>,
    /// Per peer, how much of its log this node has applied.
    applied: BTreeMap<NodeId, u64>,
}

impl ReplicatedStore {
    /// Applies `writes` stamped (`clock`, `node`) where they are newer than what is held.
    fn merge(&mut self, clock: u64, node: &str, writes: &[(Value, Value)]) {
        self.clock = self.clock.max(clock);
        for (key, value) in writes {
            let key = key.to_string();
            let stamp = (clock, node.to_owned());
            if self.stamps.get(&key).is_none_or(|held| *held < stamp) {
                self.store.set(key.clone(), value.clone());
                self.stamps.insert(key, stamp);
            }
        }
    }
}

impl Node for ReplicatedStore {
    type Payload = Payload;
    type Timer = Replicate;
    type Flags = Flags;

    fn new(flags: Flags) -> Self {
        ReplicatedStore {
            flags,
            store: Store::default(),
            stamps: BTreeMap::new(),
            clock: 0,
            log: Vec::new(),
            acked: BTreeMap::new(),
            applied: BTreeMap::new(),
        }
    }

    fn on_init(&mut self, ctx: &mut Context<Payload, Replicate>) {
        ctx.every(
            Duration::from_millis(self.flags.replicate_ms.max(1)),
            Replicate,
        );
    }

    fn on_timer(&mut self, _: Replicate, ctx: &mut Context<Payload, Replicate>) {
        let me = ctx.node_id().clone();
        for peer in ctx.peers() {
            let acked = self.acked.get(&peer).copied().unwrap_or(0);
            let entries: Vec<Entry> = self
                .log
                .iter()
                .filter(|entry| entry.seq > acked)
                .cloned()
                .collect();
            if !entries.is_empty() {
                let from = me.clone();
                ctx.send(peer, Payload::Replicate { from, entries });
            }
        }
    }

    fn on_message(
        &mut self,
        msg: Message<Payload>,
        ctx: &mut Context<Payload, Replicate>,
    ) -> Result<(), RpcError> {
        match &msg.body.payload {
            Payload::Txn { txn } => {
                let done = self.store.apply(txn)?;
                // The transaction's last value for each key it wrote.
                let mut writes: BTreeMap<String, (Value, Value)> = BTreeMap::new();
                for mop in &done {
                    if mop[0] == "w" {
                        writes.insert(mop[1].to_string(), (mop[1].clone(), mop[2].clone()));
                    }
                }
                if !writes.is_empty() {
                    self.clock += 1;
                    let me = ctx.node_id().to_string();
                    let writes: Vec<(Value, Value)> = writes.into_values().collect();
                    for (key, _) in &writes {
                        self.stamps
                            .insert(key.to_string(), (self.clock, me.clone()));
                    }
                    let seq = self.log.len() as u64 + 1;
                    self.log.push(Entry {
                        seq,
                        clock: self.clock,
                        writes,
                    });
                }
                ctx.reply(&msg, Payload::TxnOk { txn: done });
            }
            Payload::Replicate { from, entries } => {
                let mut upto = self.applied.get(from).copied().unwrap_or(0);
                for entry in entries {
                    // In order, each once: a batch may repeat entries or follow a lost one.
                    if entry.seq == upto + 1 {
                        self.merge(entry.clock, from.as_str(), &entry.writes);
                        upto = entry.seq;
                    }
                }
                self.applied.insert(from.clone(), upto);
                ctx.reply(&msg, Payload::ReplicateOk { upto });
            }
            Payload::ReplicateOk { upto } => {
                let acked = self.acked.entry(msg.src.clone()).or_default();
                *acked = (*acked).max(*upto);
            }
            Payload::TxnOk { .. } => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use common::testing::TestNode;
    use serde_json::json;

    use super::*;

    fn node(id: &str) -> TestNode<ReplicatedStore> {
        let flags = Flags { replicate_ms: 100 };
        TestNode::new(ReplicatedStore::new(flags), id, &["n0", "n1"], 1)
    }

    #[test]
    fn writes_reach_the_peer_batched_once_acknowledged_and_newest_wins() {
        let mut n0 = node("n0");
        let mut n1 = node("n1");
        let txn =
            json!({"type": "txn", "msg_id": 1, "txn": [["w", 1, 1], ["w", 1, 2], ["w", 2, 5]]});
        n0.deliver("c1", txn, 0);
        // n1 writes key 1 too, at the same clock: the tie goes to the larger node id, n1.
        n1.deliver(
            "c2",
            json!({"type": "txn", "msg_id": 1, "txn": [["w", 1, 7]]}),
            0,
        );
        let batch = n0.tick(100);
        assert_eq!(batch.len(), 1, "{batch:?}");
        // Only the transaction's last value for key 1.
        assert_eq!(
            batch[0]["body"]["entries"][0]["writes"],
            json!([[1, 2], [2, 5]])
        );
        let ack = n1.deliver("n0", batch[0]["body"].clone(), 110);
        assert_eq!(ack[0]["body"]["upto"], 1);
        let read = json!({"type": "txn", "msg_id": 2, "txn": [["r", 1, null], ["r", 2, null]]});
        let seen = n1.deliver("c2", read, 120);
        assert_eq!(seen[0]["body"]["txn"], json!([["r", 1, 7], ["r", 2, 5]]));
        // A repeated batch is applied once, and once acknowledged nothing is sent again.
        let again = n1.deliver("n0", batch[0]["body"].clone(), 125);
        assert_eq!(again[0]["body"]["upto"], 1);
        n0.deliver("n1", ack[0]["body"].clone(), 130);
        assert!(n0.tick(200).is_empty());
    }
}
