//! The stage-11-tree-overlay binary: the tree-overlay node over stdin/stdout.

use std::process::ExitCode;

fn main() -> ExitCode {
    common::main::<stage_11_tree_overlay::TreeOverlay>(
        "stage-11-tree-overlay",
        "Stage 11: a Maelstrom broadcast node that forwards along the topology's spanning tree.",
    )
}
