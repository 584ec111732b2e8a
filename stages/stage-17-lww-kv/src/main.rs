//! The stage-17-lww-kv binary: the LWW key-value node over stdin/stdout.

use std::process::ExitCode;

fn main() -> ExitCode {
    common::main::<stage_17_lww_kv::LwwKv>(
        "stage-17-lww-kv",
        "Stage 17: a last-writer-wins key-value store replicated by merge gossip.",
    )
}
