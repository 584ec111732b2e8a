//! The lin-kv log in the simulated cluster, with Fly.io's command: valid, every acknowledged
//! send polled by the end, its offsets taken in lin-kv; and beside 5c's node on the same seeds,
//! where 5c sends fewer messages between nodes.

use glomers_5b_kafka::SharedOffsets;
use glomers_5c_kafka::OwnedLogs;
use grader::checker::Validity;
use grader::sim::simulate_command;

#[test]
fn flyios_run_is_valid_with_offsets_from_lin_kv_and_5c_sends_fewer_messages() {
    // Fly.io: `maelstrom test -w kafka --bin B --node-count 2 --concurrency 2n --time-limit 20
    // --rate 1000`.
    let command = "-w kafka --node-count 2 --concurrency 2n --time-limit 20 --rate 1000 --seed 1";
    let run = simulate_command::<SharedOffsets>(command);
    assert_eq!(run.report.valid, Validity::Valid, "{}", run.summary);
    assert_eq!(run.report.figure_u64("/workload/unseen_count"), Some(0));
    let cas = run.report.net.service_requests["lin-kv"]["cas"];
    let sends = run.report.figure("/workload/sends").unwrap()[0]
        .as_u64()
        .unwrap();
    assert!(cas >= sends, "{cas} cas requests for {sends} sends");
    let per_op = run.report.net.servers.msgs_per_op.unwrap();
    let efficient = simulate_command::<OwnedLogs>(command);
    let per_op_5c = efficient.report.net.servers.msgs_per_op.unwrap();
    assert!(
        per_op_5c * 3.0 < per_op,
        "5c: {per_op_5c} messages between nodes per operation; 5b: {per_op}"
    );
}
