//! Gossip Glomers 6c: totally available transactions over several nodes that are also
//! read-committed: no aborted read (G1a), no intermediate read (G1b), no circular information
//! flow (G1c). 6b's node already gives all three, so 6c's node is 6b's
//! ([`glomers_6b_txn::ReplicatedStore`]); why it holds:
//!
//! - **G1a.** A transaction is applied whole or not at all, and no node ever aborts one: no
//!   value of a failed transaction is ever written anywhere.
//! - **G1b.** A transaction's entry carries only its last value for each key, and a peer
//!   applies the entry within one message: no other node ever sees a value its own transaction
//!   overwrote.
//! - **G1c.** A transaction runs at one instant on one node, and its writes reach other nodes
//!   only after it has been answered. For two transactions to read each other's writes, each
//!   would have to run after the other committed, which cannot be.
//!
//! Fly.io's 6c page writes `–-nemesis partition` with an en dash: under Maelstrom that is not
//! a flag, so its command ran no partitions. The graded runs here run the command as meant,
//! with partitions, and as written.

/// The read-committed store: 6b's node.
pub type ReadCommittedStore = glomers_6b_txn::ReplicatedStore;
