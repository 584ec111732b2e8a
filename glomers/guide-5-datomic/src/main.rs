//! The guide-5-datomic binary: the Datomic-style transactional node over stdin/stdout.

use std::process::ExitCode;

fn main() -> ExitCode {
    common::main::<guide_5_datomic::Datomic>(
        "guide-5-datomic",
        "Maelstrom's guide, chapter 5: list-append transactions kept in lin-kv and lww-kv, as Datomic does them.",
    )
}
