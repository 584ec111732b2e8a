//! The stage-01-flooding binary: the flooding node over stdin/stdout.

use std::process::ExitCode;

fn main() -> ExitCode {
    common::main::<stage_01_flooding::Flooding>(
        "stage-01-flooding",
        "Stage 01: a Maelstrom broadcast node that floods every new value to its neighbours.",
    )
}
