//! The stage-05-partition-healing binary: the partition-healing node over stdin/stdout.

use std::process::ExitCode;

fn main() -> ExitCode {
    common::main::<stage_05_partition_healing::PartitionHealing>(
        "stage-05-partition-healing",
        "Stage 05: a Maelstrom broadcast node that repairs what partitions drop by reconciling with random peers.",
    )
}
