//! Stage 04 in the simulated cluster: the 3e bar, and the flush interval's trade-off.

use grader::checker::Validity;
use grader::config::TestConfig;
use grader::harness::RunReport;
use grader::sim::simulate;
use stage_04_batching::Batching;

fn three_e() -> TestConfig {
    TestConfig::parse_command("--node-count 25 --time-limit 10 --rate 100 --latency 100 --latency-dist constant --recovery 2 --seed 1").expect("valid flags")
}

fn run(flush_ms: u64) -> RunReport {
    let run =
        simulate::<Batching>(&three_e(), &["--flush-ms".into(), flush_ms.to_string()]).unwrap();
    assert_eq!(run.report.valid, Validity::Valid, "{}", run.summary);
    run.report
}

#[test]
fn the_default_meets_the_3e_bar() {
    let run = simulate::<Batching>(&three_e(), &[]).unwrap();
    let report = &run.report;
    assert_eq!(report.valid, Validity::Valid, "{}", run.summary);
    assert!(report.net.servers.msgs_per_op.unwrap() < 20.0);
    assert!(report.figure_u64("/workload/stable_latencies/0.5").unwrap() < 1000);
    assert!(report.figure_u64("/workload/stable_latencies/1").unwrap() < 2000);
}

#[test]
fn longer_flushes_send_fewer_messages_and_wait_longer() {
    let (fast, slow) = (run(100), run(1000));
    assert!(slow.net.servers.msg_count < fast.net.servers.msg_count * 3 / 4);
    assert!(
        slow.figure_u64("/workload/stable_latencies/0.5").unwrap()
            > fast.figure_u64("/workload/stable_latencies/0.5").unwrap() + 300
    );
    // A value waits at most one flush, then one hop.
    assert!(fast.figure_u64("/workload/stable_latencies/1").unwrap() <= 100 + 100);
    assert!(slow.figure_u64("/workload/stable_latencies/1").unwrap() <= 1000 + 100);
}
