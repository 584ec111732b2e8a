//! The stage-03-random-gossip binary: the random-gossip node over stdin/stdout.

use std::process::ExitCode;

fn main() -> ExitCode {
    common::main::<stage_03_random_gossip::RandomGossip>(
        "stage-03-random-gossip",
        "Stage 03: a Maelstrom broadcast node that gossips to random neighbours until they acknowledge.",
    )
}
