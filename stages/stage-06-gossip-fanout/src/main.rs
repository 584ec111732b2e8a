//! The stage-06-gossip-fanout binary: the rumor-spreading node over stdin/stdout.

use std::process::ExitCode;

fn main() -> ExitCode {
    common::main::<stage_06_gossip_fanout::GossipFanout>(
        "stage-06-gossip-fanout",
        "Stage 06: a Maelstrom broadcast node that tells K random peers about each new value, once.",
    )
}
