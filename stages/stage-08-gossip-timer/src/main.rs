//! The stage-08-gossip-timer binary: the gossip-timer node over stdin/stdout.

use std::process::ExitCode;

fn main() -> ExitCode {
    common::main::<stage_08_gossip_timer::GossipTimer>(
        "stage-08-gossip-timer",
        "Stage 08: a Maelstrom broadcast node that pushes its whole set to random peers on a timer.",
    )
}
