//! The guide-6-raft binary: the Raft key-value node over stdin/stdout.

use std::process::ExitCode;

fn main() -> ExitCode {
    common::main::<guide_6_raft::Raft>(
        "guide-6-raft",
        "Maelstrom's guide, chapter 6: a linearizable key-value store replicated with Raft.",
    )
}
