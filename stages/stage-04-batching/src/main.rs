//! The stage-04-batching binary: the batching node over stdin/stdout.

use std::process::ExitCode;

fn main() -> ExitCode {
    common::main::<stage_04_batching::Batching>(
        "stage-04-batching",
        "Stage 04: a Maelstrom broadcast node that batches new values into one message per peer per flush.",
    )
}
