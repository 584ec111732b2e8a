//! Maelstrom's txn-rw-register workload (Gossip Glomers 6a–6c): transactions of up to
//! `--max-txn-length` micro-ops, `["r", k, null]` (answered with the key's value, or `null`)
//! and `["w", k, v]`, as `txn {txn}` → `txn_ok {txn}` with the reads filled in. The generator,
//! options and client are txn-list-append's (see there), with writes in place of appends: each
//! key's values run 1, 2, …, so every write is unique.
//!
//! The checker is [`crate::checker::elle`]'s rw-register inference with `wfr-keys` only, as
//! Maelstrom asks: a read returns one value, so versions are ordered only by the initial `null`
//! and by a transaction's write following its own read. Blind writes cannot be ordered, so a
//! write cycle (G0) is invisible here as in Maelstrom (its issue #56, which Fly.io's 6b page
//! cites); the summary says so. A history with no committed transaction is invalid, as
//! Maelstrom counts Elle's empty transaction graph.

use super::txn_list_append::{Kind, make_kind};
use super::{Options, Workload};

/// The options txn-rw-register takes: txn-list-append's.
pub const OPTIONS: &[(&str, &str)] = super::txn_list_append::OPTIONS;

/// Makes the workload from its options.
pub fn make(options: &Options) -> Result<Box<dyn Workload>, String> {
    make_kind(options, Kind::RwRegister)
}
