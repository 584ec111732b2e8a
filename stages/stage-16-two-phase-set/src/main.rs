//! The stage-16-two-phase-set binary: the 2P-Set node over stdin/stdout.

use std::process::ExitCode;

fn main() -> ExitCode {
    common::main::<stage_16_two_phase_set::TwoPhaseSet>(
        "stage-16-two-phase-set",
        "Stage 16: a two-phase set CRDT (an add set and a permanent tombstone set) replicated by merge gossip.",
    )
}
