//! The stage-15-g-set binary: the G-Set node over stdin/stdout.

use std::process::ExitCode;

fn main() -> ExitCode {
    common::main::<stage_15_g_set::GSet>(
        "stage-15-g-set",
        "Stage 15: a grow-only set CRDT replicated by periodic merge gossip (Maelstrom's g-set workload, read field `elements`).",
    )
}
