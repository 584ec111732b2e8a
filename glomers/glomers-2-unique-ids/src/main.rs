//! The glomers-2-unique-ids binary: the unique-ids node over stdin/stdout.

use std::process::ExitCode;

fn main() -> ExitCode {
    common::main::<glomers_2_unique_ids::UniqueIds>(
        "glomers-2-unique-ids",
        "Gossip Glomers 2: a Maelstrom node that hands out globally unique ids without coordination.",
    )
}
