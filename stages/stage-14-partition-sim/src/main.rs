//! The stage-14-partition-sim binary: the partition-simulating gossip node over stdin/stdout.

use std::process::ExitCode;

fn main() -> ExitCode {
    common::main::<stage_14_partition_sim::PartitionSim>(
        "stage-14-partition-sim",
        "Stage 14: a Maelstrom broadcast node that gossips on a timer and can simulate a partition on its own sending side.",
    )
}
