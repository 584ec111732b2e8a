//! The stage-02-flat-tree binary: the flat-tree node over stdin/stdout.

use std::process::ExitCode;

fn main() -> ExitCode {
    common::main::<stage_02_flat_tree::FlatTree>(
        "stage-02-flat-tree",
        "Stage 02: a Maelstrom broadcast node that forwards each value along one spanning tree.",
    )
}
