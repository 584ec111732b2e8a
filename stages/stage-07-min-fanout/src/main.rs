//! The stage-07-min-fanout binary: the fanout-probability node over stdin/stdout.

use std::process::ExitCode;

fn main() -> ExitCode {
    common::main::<stage_07_min_fanout::MinFanout>(
        "stage-07-min-fanout",
        "Stage 07: answers calc_fanout and simulate_gossip: gossip theory as a service.",
    )
}
