//! The glomers-6b-txn binary: the replicated transactional store over stdin/stdout.

use std::process::ExitCode;

fn main() -> ExitCode {
    common::main::<glomers_6b_txn::ReplicatedStore>(
        "glomers-6b-txn",
        "Gossip Glomers 6b: a totally available transactional store over several nodes, writes replicated in batches.",
    )
}
