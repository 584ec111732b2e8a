//! The glomers-5b-kafka binary: the multi-node log over stdin/stdout.

use std::process::ExitCode;

fn main() -> ExitCode {
    common::main::<glomers_5b_kafka::SharedOffsets>(
        "glomers-5b-kafka",
        "Gossip Glomers 5b: a Kafka-style log over several nodes; offsets come from a counter per key in lin-kv, and each message is copied to every node.",
    )
}
