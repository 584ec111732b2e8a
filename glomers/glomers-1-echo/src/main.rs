//! The glomers-1-echo binary: the echo node over stdin/stdout.

use std::process::ExitCode;

fn main() -> ExitCode {
    common::main::<glomers_1_echo::Echo>(
        "glomers-1-echo",
        "Gossip Glomers 1: a Maelstrom node that answers echo with the same payload.",
    )
}
