//! The stage-19-kv-bench binary: the benchmarked gossip key-value node over stdin/stdout.

use std::process::ExitCode;

fn main() -> ExitCode {
    common::main::<stage_19_kv_bench::KvBench>(
        "stage-19-kv-bench",
        "Stage 19: a gossip key-value store that counts its own gossip, for benchmarking.",
    )
}
