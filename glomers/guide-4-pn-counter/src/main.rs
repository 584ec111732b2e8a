//! The guide-4-pn-counter binary: the PN-counter node over stdin/stdout.

use std::process::ExitCode;

fn main() -> ExitCode {
    common::main::<guide_4_pn_counter::PnCounter>(
        "guide-4-pn-counter",
        "Maelstrom's guide, chapter 4: a PN-counter CRDT whose replicas gossip their counts.",
    )
}
