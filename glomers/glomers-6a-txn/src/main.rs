//! The glomers-6a-txn binary: the single-node transactional store over stdin/stdout.

use std::process::ExitCode;

fn main() -> ExitCode {
    common::main::<glomers_6a_txn::SingleStore>(
        "glomers-6a-txn",
        "Gossip Glomers 6a: a single-node, totally available transactional key-value store.",
    )
}
