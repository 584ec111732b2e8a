//! The glomers-6c-txn binary: 6b's replicated store, which is read-committed, over
//! stdin/stdout.

use std::process::ExitCode;

fn main() -> ExitCode {
    common::main::<glomers_6c_txn::ReadCommittedStore>(
        "glomers-6c-txn",
        "Gossip Glomers 6c: totally available, read-committed transactions over several nodes.",
    )
}
