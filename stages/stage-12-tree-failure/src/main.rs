//! The stage-12-tree-failure binary: the tree node with acknowledged forwards over stdin/stdout.

use std::process::ExitCode;

fn main() -> ExitCode {
    common::main::<stage_12_tree_failure::TreeFailure>(
        "stage-12-tree-failure",
        "Stage 12: a Maelstrom broadcast node that forwards along a tree, expects acknowledgements, and delivers directly to the subtree of a neighbour that stays silent.",
    )
}
