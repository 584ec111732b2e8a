//! The harness end to end with real processes: a Python node (another language) graded valid,
//! broken and misbehaving nodes graded invalid with the reasons named, and no process left
//! behind.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use grader::checker::Validity;
use grader::config::TestConfig;
use grader::run::{TestRun, run_process_test};

use crate::nodes::{gset_node, have_python, python_node, quorum_node};

fn quick(node_count: usize, seconds: f64, rate: f64) -> TestConfig {
    TestConfig::parse_command(&format!(
        "--node-count {node_count} --time-limit {seconds} --rate {rate} --recovery 0.5 --seed 11"
    ))
    .expect("valid flags")
}

fn run(config: &TestConfig, args: &[&str]) -> (TestRun, tempfile::TempDir) {
    let store = tempfile::tempdir().unwrap();
    let args: Vec<String> = args.iter().map(|arg| arg.to_string()).collect();
    let run = run_process_test(config, &python_node(), &args, store.path(), None)
        .expect("the harness runs");
    (run, store)
}

#[test]
fn a_python_node_is_graded_valid_and_its_messages_can_be_counted_by_hand() {
    if !have_python() {
        return;
    }
    let config = quick(3, 2.0, 20.0);
    let (run, _store) = run(&config, &[]);
    let report = &run.report;
    assert_eq!(report.valid, Validity::Valid, "{}", run.summary);
    let broadcasts = report.figure_u64("/workload/attempt_count").unwrap();
    assert!(
        broadcasts > 5 && report.figure_u64("/workload/stable_count").unwrap() == broadcasts,
        "{}",
        run.summary
    );
    // The 3-node grid is n0:[n2,n1] n1:[n0] n2:[n0]: each value crosses both edges once.
    assert_eq!(report.net.servers.msg_count, 2 * broadcasts);
    // Clients: a request and a reply per op, plus init and topology for each node.
    let ops = report.history.client_invocations() as u64;
    assert_eq!(report.net.clients.msg_count, 2 * ops + 4 * 3);
    assert_eq!(
        report.net.all.msg_count,
        report.net.servers.msg_count + report.net.clients.msg_count
    );
    let per_op = report.net.servers.msgs_per_op.unwrap();
    assert!((per_op - (2 * broadcasts) as f64 / ops as f64).abs() < 1e-12);
    // The store holds everything the README promises.
    for file in [
        "results.json",
        "history.txt",
        "history.jsonl",
        "journal.jsonl",
        "harness.log",
        "node-logs/n0.log",
    ] {
        assert!(run.store.join(file).is_file(), "{file} missing");
    }
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.store.join("results.json")).unwrap())
            .unwrap();
    assert_eq!(results["valid"], true);
    for key in ["0", "0.5", "0.95", "0.99", "1"] {
        assert!(
            results["workload"]["stable_latencies"][key].is_u64(),
            "{key}"
        );
    }
    assert!(results["net"]["servers"]["bytes"].as_u64().unwrap() > 0);
}

#[test]
fn a_node_that_drops_every_tenth_value_is_invalid_with_exactly_those_lost() {
    if !have_python() {
        return;
    }
    let store = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_grader"))
        .args(["test", "-w", "broadcast", "--bin"])
        .arg(python_node())
        .args([
            "--node-count",
            "5",
            "--time-limit",
            "3",
            "--rate",
            "30",
            "--recovery",
            "0.5",
            "--seed",
            "5",
            "--store",
        ])
        .arg(store.path())
        .args(["--", "--drop-every", "10"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    let results: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(store.path().join("latest/results.json")).unwrap(),
    )
    .unwrap();
    let attempted = results["workload"]["attempt_count"].as_i64().unwrap();
    let expected: Vec<i64> = (0..attempted).filter(|value| value % 10 == 9).collect();
    assert!(!expected.is_empty());
    let lost: Vec<i64> = results["workload"]["lost"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    assert_eq!(lost, expected);
    assert!(stdout.contains("LOST       9: acknowledged at"), "{stdout}");
    assert!(
        stdout.contains("--seed 5"),
        "the summary says how to repeat the run: {stdout}"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains("of the planned time"),
        "no progress bar when stderr is not a terminal: {stderr}"
    );
    // The page says why, and draws a second window of messages around the first lost value.
    let page = std::fs::read_to_string(store.path().join("latest/report.html")).unwrap();
    assert!(
        page.contains("<h2>Why</h2>"),
        "the report gives the reasons"
    );
    assert_eq!(page.matches("<h3>").count(), 2, "two Lamport windows");
}

#[test]
fn a_node_that_never_retries_loses_values_under_partitions() {
    if !have_python() {
        return;
    }
    let config = quick(5, 3.0, 30.0)
        .with("--nemesis partition --nemesis-interval 1")
        .unwrap();
    let (run, _store) = run(&config, &[]);
    assert_eq!(run.report.valid, Validity::Invalid, "{}", run.summary);
    assert!(run.report.figure_u64("/workload/lost_count").unwrap() > 0);
    assert!(
        run.report
            .net
            .dropped
            .get("partition")
            .is_some_and(|count| *count > 0)
    );
    let starts = run
        .report
        .history
        .ops()
        .iter()
        .filter(|op| op.f == "start_partition")
        .count();
    assert!(starts >= 1);
    // The first partition comes with the first operations, not a nemesis interval later. Times
    // count from the harness's start, so a node slow to start (a busy machine) delays both.
    let ops = run.report.history.ops();
    let first = |client: bool| {
        ops.iter()
            .find(|op| op.is_client() == client)
            .unwrap()
            .time_ns
    };
    assert!(
        first(false).abs_diff(first(true)) < 1_000_000_000,
        "the first partition starts at once: at {} ns, the first operation at {} ns",
        first(false),
        first(true)
    );
}

#[test]
fn a_node_that_crashes_mid_run_is_named_with_its_last_stderr_lines() {
    if !have_python() {
        return;
    }
    let (run, _store) = run(&quick(3, 2.0, 20.0), &["--crash-after", "12"]);
    assert_eq!(run.report.valid, Validity::Invalid);
    assert!(!run.report.crashed.is_empty(), "{}", run.summary);
    let crash = &run.report.crashed[0];
    assert_eq!(crash.exit_code, Some(3));
    assert!(
        crash
            .stderr_tail
            .iter()
            .any(|line| line.contains("crashing on purpose")),
        "{crash:?}"
    );
    assert!(run.summary.contains("CRASHED"), "{}", run.summary);
    assert!(run.store.join("results.json").is_file());
}

#[test]
fn garbage_lines_and_unknown_destinations_are_dropped_and_counted() {
    if !have_python() {
        return;
    }
    let (run, _store) = run(&quick(3, 1.5, 20.0), &["--garbage", "--unknown-dest"]);
    let net = &run.report.net;
    assert!(net.invalid_lines > 0);
    assert!(net.unknown_destinations > 0);
    assert_eq!(
        run.report.valid,
        Validity::Valid,
        "garbage is dropped, not fatal: {}",
        run.summary
    );
    let log = std::fs::read_to_string(run.store.join("harness.log")).unwrap();
    assert!(
        log.contains("not a message") && log.contains("unknown destination `n999`"),
        "{log}"
    );
}

#[test]
fn a_node_that_never_answers_init_gets_a_clear_error() {
    if !have_python() {
        return;
    }
    let mut config = quick(2, 1.0, 10.0);
    config.init_timeout = Duration::from_millis(800);
    let (run, _store) = run(&config, &["--no-init"]);
    assert_eq!(run.report.valid, Validity::Invalid);
    let error = run.report.error.clone().unwrap();
    assert!(error.contains("n0, n1 did not answer init"), "{error}");
}

#[test]
fn every_node_is_stopped_even_one_that_ignores_the_end_of_its_input() {
    if !have_python() {
        return;
    }
    let (run, _store) = run(&quick(2, 0.5, 10.0), &["--ignore-eof"]);
    assert_eq!(run.report.valid, Validity::Valid, "{}", run.summary);
    for node in ["n0", "n1"] {
        let log = std::fs::read_to_string(run.store.join(format!("node-logs/{node}.log"))).unwrap();
        let pid: u32 = log
            .lines()
            .find_map(|line| line.strip_prefix("pid "))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "{node} (pid {pid}) is still there"
        );
    }
}

#[test]
fn a_node_that_acknowledges_after_a_majority_stays_valid_under_pause_partition_and_kill() {
    if !have_python() {
        return;
    }
    let config = TestConfig::parse_command("--node-count 5 --time-limit 5 --rate 10 --nemesis partition,kill,pause --nemesis-interval 1 --recovery 2 --seed 6").expect("valid flags");
    let store = tempfile::tempdir().unwrap();
    let run = run_process_test(&config, &quorum_node(), &[], store.path(), None).unwrap();
    assert_eq!(run.report.valid, Validity::Valid, "{}", run.summary);
    let ops = run.report.history.ops();
    let actions: BTreeSet<&str> = ops
        .iter()
        .filter(|op| !op.is_client())
        .map(|op| op.f)
        .collect();
    for action in ["start_partition", "kill", "pause"] {
        assert!(actions.contains(action), "no {action} in {actions:?}");
    }
    let journal = std::fs::read(run.store.join("journal.jsonl")).unwrap();
    let early =
        grader::nemesis::pause::sends_while_paused(ops, &journal, Duration::from_millis(300));
    assert!(
        early.is_empty(),
        "stopped processes sent messages: {early:?}"
    );
}

#[test]
fn maelstroms_delivery_grades_a_correct_node_valid_as_processes_too() {
    if !have_python() {
        return;
    }
    let config = TestConfig::parse_command("--node-count 5 --time-limit 4 --rate 20 --latency 20 --latency-dist uniform --delivery maelstrom --recovery 1 --seed 3").expect("valid flags");
    let store = tempfile::tempdir().unwrap();
    let run = run_process_test(&config, &quorum_node(), &[], store.path(), None).unwrap();
    assert_eq!(run.report.valid, Validity::Valid, "{}", run.summary);
    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.store.join("results.json")).unwrap()).unwrap();
    assert_eq!(results["config"]["delivery"], "maelstrom");
}

#[test]
fn the_g_set_workload_is_maelstroms_reading_value_and_can_be_told_to_read_elements() {
    if !have_python() {
        return;
    }
    let config = quick(3, 2.0, 20.0).with("-w g-set").unwrap();
    let store = tempfile::tempdir().unwrap();
    let maelstrom = run_process_test(&config, &gset_node(), &[], store.path(), None).unwrap();
    assert_eq!(
        maelstrom.report.valid,
        Validity::Valid,
        "{}",
        maelstrom.summary
    );
    let attempted = maelstrom
        .report
        .figure_u64("/workload/attempt_count")
        .unwrap();
    assert!(attempted > 5, "{attempted} elements added");
    // Told to read the track's field, the same node's reads are malformed, and say why.
    let config = config
        .with("--workload-options read_field=elements")
        .unwrap();
    let track = run_process_test(&config, &gset_node(), &[], store.path(), None).unwrap();
    assert_ne!(track.report.valid, Validity::Valid, "{}", track.summary);
    assert!(
        track
            .report
            .reasons
            .iter()
            .any(|reason| reason.contains("`elements` list")),
        "{:?}",
        track.report.reasons
    );
}
