//! The glomers-5c-kafka binary: the replicated log over stdin/stdout.

use std::process::ExitCode;

fn main() -> ExitCode {
    common::main::<glomers_5c_kafka::OwnedLogs>(
        "glomers-5c-kafka",
        "Gossip Glomers 5c: a Kafka-style log over several nodes; each key's owner assigns its offsets and replicates it to the others in batches.",
    )
}
