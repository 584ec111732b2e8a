//! The stage-09-anti-entropy binary: the anti-entropy node over stdin/stdout.

use std::process::ExitCode;

fn main() -> ExitCode {
    common::main::<stage_09_anti_entropy::AntiEntropy>(
        "stage-09-anti-entropy",
        "Stage 09: a Maelstrom broadcast node that compares digests with random peers and pulls on a difference.",
    )
}
