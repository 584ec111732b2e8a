//! Hostile nodes: each test runs a node that misbehaves on purpose (the Python test node's
//! flags, or a script) and checks that the harness gives the right verdict, says why, writes
//! its results and leaves no process behind.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use grader::checker::Validity;
use grader::config::TestConfig;
use grader::run::{TestRun, run_process_test, side_by_side};
use serde_json::Value as Json;

use crate::nodes::{have_python, python_node, write_executable};

fn config(node_count: usize, seconds: f64) -> TestConfig {
    TestConfig::parse_command(&format!(
        "--node-count {node_count} --time-limit {seconds} --rate 20 --recovery 0.5 --seed 5"
    ))
    .expect("valid flags")
}

fn run_with(config: &TestConfig, bin: &Path, args: &[&str]) -> (TestRun, tempfile::TempDir) {
    let store = tempfile::tempdir().unwrap();
    let args: Vec<String> = args.iter().map(|arg| arg.to_string()).collect();
    let run = run_process_test(config, bin, &args, store.path(), None).expect("the harness runs");
    (run, store)
}

fn run_node(config: &TestConfig, args: &[&str]) -> (TestRun, tempfile::TempDir) {
    run_with(config, &python_node(), args)
}

/// Every `pid N` a node wrote to its log, across the run's node logs.
fn logged_pids(store: &Path) -> Vec<i32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir(store.join("node-logs")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        pids.extend(
            text.lines()
                .filter_map(|line| line.strip_prefix("pid "))
                .filter_map(|pid| pid.trim().parse::<i32>().ok()),
        );
    }
    pids
}

/// The pids still alive (zombies count as dead), after giving the kernel a moment.
fn alive(pids: &[i32]) -> Vec<i32> {
    std::thread::sleep(Duration::from_millis(100));
    pids.iter()
        .copied()
        .filter(|pid| !grader::procs::is_zombie(*pid))
        .collect()
}

#[test]
fn a_crash_is_seen_even_when_a_forked_child_keeps_stdout_open() {
    if !have_python() {
        return;
    }
    let (run, _store) = run_node(
        &config(3, 3.0),
        &["--fork-holding-stdout", "--crash-after", "12"],
    );
    assert_eq!(run.report.valid, Validity::Invalid, "{}", run.summary);
    let crash = &run.report.crashed[0];
    assert_eq!(crash.exit_code, Some(3), "{}", run.summary);
    assert!(
        run.summary.contains("CRASHED") && run.summary.contains("exited with status 3"),
        "{}",
        run.summary
    );
    assert!(
        run.summary.contains("crashing on purpose"),
        "last stderr lines: {}",
        run.summary
    );
    let pids = logged_pids(&run.store);
    assert!(pids.len() >= 6, "each node and its child: {pids:?}");
    assert_eq!(
        alive(&pids),
        Vec::<i32>::new(),
        "the forked children are gone"
    );
}

#[test]
fn a_node_that_closes_its_stdout_is_said_to_have_closed_it() {
    if !have_python() {
        return;
    }
    let (run, _store) = run_node(&config(3, 2.0), &["--close-stdout-after", "10"]);
    assert_eq!(run.report.valid, Validity::Invalid, "{}", run.summary);
    assert!(run.report.crashed.iter().all(|crash| crash.closed_stdout));
    assert!(
        run.summary.contains("STOPPED") && run.summary.contains("closed its stdout"),
        "{}",
        run.summary
    );
    assert!(!run.summary.contains("a signal"), "{}", run.summary);
}

#[test]
fn messages_with_someone_elses_src_are_dropped_counted_and_named() {
    if !have_python() {
        return;
    }
    // Claiming to be a client: every forward is dropped, so no server traffic is counted.
    let (run, _store) = run_node(&config(3, 2.0), &["--spoof-src", "c-anything"]);
    let net = &run.report.net;
    assert!(net.spoofed_src.values().sum::<u64>() > 0, "{}", run.summary);
    assert_eq!(net.servers.msg_count, 0, "{}", run.summary);
    assert!(
        run.summary.contains("with a src other than its own id"),
        "{}",
        run.summary
    );
    let journal = std::fs::read_to_string(run.store.join("journal.jsonl")).unwrap();
    assert!(!journal.contains("\"src\":\"c-anything\""));
    // Claiming to be n0: n1's and n2's forwards are dropped; n0's own are honest.
    let (run, _store) = run_node(&config(3, 2.0), &["--spoof-src", "n0"]);
    let net = &run.report.net;
    let liars: Vec<&String> = net.spoofed_src.keys().collect();
    assert!(
        !liars.is_empty() && !liars.contains(&&"n0".to_owned()),
        "{liars:?}"
    );
    assert!(
        net.servers_sent_by_node.keys().all(|node| node == "n0"),
        "{:?}",
        net.servers_sent_by_node
    );
}

#[test]
fn every_invalid_verdict_says_why_with_the_offending_reply() {
    if !have_python() {
        return;
    }
    let cases: [(&str, &str); 4] = [
        ("--extra-key-ok", "no `broadcast` ever succeeded"),
        ("--null-messages", "no `read` ever succeeded"),
        ("--ignore-reads", "net-timeout"),
        ("--bad-in-reply-to", "no `read` ever succeeded"),
    ];
    // The runs are independent and mostly wait on timeouts: side by side, they take the time
    // of the slowest.
    let runs = side_by_side(&cases, |(flag, _)| run_node(&config(2, 2.0), &[flag]));
    for ((flag, why), (run, _store)) in cases.iter().zip(&runs) {
        assert_ne!(run.report.valid, Validity::Valid, "{flag}: {}", run.summary);
        assert!(
            run.summary.contains("why        "),
            "{flag}: {}",
            run.summary
        );
        assert!(run.summary.contains(why), "{flag}: {}", run.summary);
        let results: Json =
            serde_json::from_slice(&std::fs::read(run.store.join("results.json")).unwrap())
                .unwrap();
        assert!(
            results["reasons"]
                .as_array()
                .is_some_and(|reasons| !reasons.is_empty()),
            "{flag}: reasons in results.json"
        );
    }
    let extra_key = &runs[0].0;
    assert!(
        extra_key.summary.contains(r#"the reply: {"#)
            && extra_key.summary.contains(r#""extra":true"#),
        "the first offending reply is quoted: {}",
        extra_key.summary
    );
    let bad_in_reply_to = &runs[3].0;
    assert!(
        bad_in_reply_to.report.net.unmatched_replies > 0,
        "{}",
        bad_in_reply_to.summary
    );
    assert!(
        bad_in_reply_to.summary.contains("matched no request"),
        "{}",
        bad_in_reply_to.summary
    );
}

#[test]
fn a_setup_reply_with_an_extra_key_is_refused_like_any_other() {
    if !have_python() {
        return;
    }
    let (run, _store) = run_node(&config(2, 1.0), &["--topology-extra"]);
    assert_eq!(run.report.valid, Validity::Invalid, "{}", run.summary);
    assert!(
        run.summary
            .contains("topology_ok has unexpected keys [\"note\"]"),
        "{}",
        run.summary
    );
}

#[test]
fn invented_values_are_counted_and_warned_about_but_keep_maelstroms_verdict() {
    if !have_python() {
        return;
    }
    let invented = config(3, 2.0).with("--nemesis partition").unwrap();
    let (run, _store) = run_node(&invented, &["--invent"]);
    assert_eq!(run.report.valid, Validity::Valid, "{}", run.summary);
    let unexpected = run.report.figure_u64("/workload/unexpected_count").unwrap();
    assert!(unexpected > 4000, "{unexpected}");
    assert!(
        run.summary.contains("no client ever broadcast"),
        "{}",
        run.summary
    );
}

#[test]
fn descendants_that_leave_the_group_are_killed_by_the_end_of_the_run() {
    if !have_python() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // A wrapper without `exec`: the node is the shell's child, and it starts an escapee.
    let wrapper = write_executable(
        dir.path(),
        "wrapper",
        &format!(
            "#!/bin/sh\npython3 {} --escapee \"$@\"\n",
            python_node().display()
        ),
    );
    let killing = config(3, 3.0)
        .with("--nemesis kill --nemesis-interval 1")
        .unwrap();
    let (run, _store) = run_with(&killing, &wrapper, &[]);
    let pids = logged_pids(&run.store);
    assert!(pids.len() >= 6, "nodes and escapees: {pids:?}");
    assert_eq!(alive(&pids), Vec::<i32>::new(), "{}", run.summary);
}

#[test]
fn control_characters_from_a_node_are_escaped_in_the_harness_log() {
    if !have_python() {
        return;
    }
    let (run, _store) = run_node(&config(2, 1.0), &["--nul-garbage"]);
    let log = std::fs::read(run.store.join("harness.log")).unwrap();
    assert!(!log.contains(&0), "no raw NUL in harness.log");
    let text = String::from_utf8(log).unwrap();
    assert!(text.contains("before\\u{0}after"), "{text}");
}

fn grader(args: &[&str], store: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_grader"));
    command
        .arg("test")
        .arg("--store")
        .arg(store)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

#[test]
fn sigterm_and_sighup_stop_the_nodes_write_the_results_and_exit_distinctly() {
    if !have_python() {
        return;
    }
    for (signal, code) in [
        (nix::sys::signal::Signal::SIGTERM, 143),
        (nix::sys::signal::Signal::SIGHUP, 129),
    ] {
        let store = tempfile::tempdir().unwrap();
        let node = python_node();
        let child = grader(
            &[
                "--bin",
                node.to_str().unwrap(),
                "--node-count",
                "3",
                "--time-limit",
                "30",
                "--rate",
                "20",
                "--seed",
                "1",
                "--",
                "--ignore-reads",
            ],
            store.path(),
        )
        .spawn()
        .unwrap();
        // Wait until the nodes are running (their logs exist), then signal the grader.
        let logs = || {
            let run = std::fs::read_dir(store.path().join("broadcast"))
                .ok()?
                .next()?
                .ok()?;
            std::fs::read_dir(run.path().join("node-logs")).ok()
        };
        let started = Instant::now();
        while logs().is_none_or(|mut entries| entries.next().is_none()) {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the run started"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(1500));
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        nix::sys::signal::kill(pid, signal).unwrap();
        let output: Output = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&output.stdout);
        assert_eq!(output.status.code(), Some(code), "{signal}: {text}");
        let latest = store.path().join("latest");
        let results: Json =
            serde_json::from_slice(&std::fs::read(latest.join("results.json")).unwrap()).unwrap();
        assert_eq!(results["valid"], "unknown");
        assert!(
            text.contains("still open"),
            "{signal}: an unanswered read: {text}"
        );
        let pids = logged_pids(&latest);
        assert!(!pids.is_empty());
        assert_eq!(alive(&pids), Vec::<i32>::new(), "{signal}: nodes stopped");
    }
}

#[test]
fn executables_that_cannot_run_exit_254_and_leave_no_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    for (name, body, says) in [
        (
            "typo",
            "#!/usr/bin/pyhton3\n",
            "names the interpreter `/usr/bin/pyhton3`",
        ),
        ("empty", "", "is empty"),
        ("text", "print('hi')\n", "neither a binary nor a script"),
    ] {
        let bin = write_executable(dir.path(), name, body);
        let output = grader(
            &["--bin", bin.to_str().unwrap(), "--time-limit", "1"],
            &store,
        )
        .output()
        .unwrap();
        let text = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(254), "{name}: {text}");
        assert!(text.contains(says), "{name}: {text}");
        assert!(!store.exists(), "{name}: no store folder");
    }
    let output = grader(&["--bin", "/bin/sh", "--node-count", "-1"], &store)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(254), "{text}");
    assert!(
        text.contains("--node-count") && !text.contains("-- -1"),
        "{text}"
    );
}
