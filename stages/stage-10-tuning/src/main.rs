//! The stage-10-tuning binary: the tuned broadcast node over stdin/stdout.

use std::process::ExitCode;

fn main() -> ExitCode {
    common::main::<stage_10_tuning::Tuning>(
        "stage-10-tuning",
        "Stage 10: a tuned Maelstrom broadcast node: throttled batches, relay hubs, anti-entropy.",
    )
}
