//! The stage-13-hybrid binary: the hybrid tree + gossip node over stdin/stdout.

use std::process::ExitCode;

fn main() -> ExitCode {
    common::main::<stage_13_hybrid::Hybrid>(
        "stage-13-hybrid",
        "Stage 13: a Maelstrom broadcast node that pushes along a tree and gossips what the tree missed.",
    )
}
