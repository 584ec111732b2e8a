//! The glomers-4-g-counter binary: the counter node over stdin/stdout.

use std::process::ExitCode;

fn main() -> ExitCode {
    common::main::<glomers_4_g_counter::SeqCounter>(
        "glomers-4-g-counter",
        "Gossip Glomers 4: a grow-only counter kept in Maelstrom's seq-kv service by stateless nodes.",
    )
}
