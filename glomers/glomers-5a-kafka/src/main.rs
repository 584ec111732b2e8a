//! The glomers-5a-kafka binary: the single-node log over stdin/stdout.

use std::process::ExitCode;

fn main() -> ExitCode {
    common::main::<glomers_5a_kafka::SingleLog>(
        "glomers-5a-kafka",
        "Gossip Glomers 5a: a single-node Kafka-style log of messages per key, with committed offsets.",
    )
}
