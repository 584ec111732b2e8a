//! Maelstrom's command line as Fly.io's challenges write it, with `grader` in place of
//! `./maelstrom`, against a node numbering its messages as Maelstrom's Python demos do: the
//! unique-ids command runs as written (rate 1000, partitions, total availability), the
//! logging flags print what they say, `--test-count` repeats, and a Maelstrom flag we do not
//! take is refused by name with what to do instead.

use std::path::Path;
use std::process::{Command, Output};

use crate::nodes::{have_python, ids_node, text};

fn grader(words: &str, store: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_grader"))
        .args(words.split_whitespace())
        .arg("--store")
        .arg(store)
        .output()
        .unwrap()
}

#[test]
fn flyios_unique_ids_command_runs_as_written_and_a_maelstrom_style_node_passes() {
    if !have_python() {
        return;
    }
    let store = tempfile::tempdir().unwrap();
    // Fly.io's command, but for 3 s rather than 30.
    let command = format!(
        "test -w unique-ids --bin {} --time-limit 3 --rate 1000 --node-count 3 --availability total --nemesis partition --log-stderr",
        ids_node().display()
    );
    let output = grader(&command, store.path());
    let shown = text(&output);
    assert_eq!(output.status.code(), Some(0), "{shown}");
    assert!(
        shown.contains("available  100.0% of operations succeeded"),
        "{shown}"
    );
    assert!(
        shown.contains("n2: n2 ready"),
        "--log-stderr shows stderr: {shown}"
    );
    let results: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(store.path().join("latest/results.json")).unwrap(),
    )
    .unwrap();
    let acknowledged = results["workload"]["acknowledged_count"].as_u64().unwrap();
    assert!(
        acknowledged > 1500,
        "{acknowledged} ids in 3 s at rate 1000"
    );
    assert!(
        !shown.contains("recovery"),
        "unique-ids has no final phase: {shown}"
    );
}

#[test]
fn net_logging_prints_sends_and_deliveries_and_test_count_repeats() {
    if !have_python() {
        return;
    }
    let store = tempfile::tempdir().unwrap();
    let command = format!(
        "test -w echo --bin {} --time-limit 0.5 --rate 10 --node-count 1 --log-net-send --log-net-recv --test-count 2 --seed 3",
        ids_node().display()
    );
    let output = grader(&command, store.path());
    let shown = text(&output);
    assert_eq!(output.status.code(), Some(0), "{shown}");
    assert!(shown.contains(" s  send {\"id\":"), "{shown}");
    assert!(shown.contains(" s  recv {\"id\":"), "{shown}");
    assert!(shown.contains("echo_ok"), "{shown}");
    assert!(shown.contains("test 2 of 2"), "{shown}");
    assert_eq!(
        shown.matches("Everything looks good!").count(),
        2,
        "{shown}"
    );
}

#[test]
fn maelstrom_flags_we_do_not_take_are_refused_by_name_with_what_to_do() {
    let store = tempfile::tempdir().unwrap();
    let output = grader(
        "test -w unique-ids --bin /bin/true --nodes-file nodes.txt",
        store.path(),
    );
    assert_eq!(output.status.code(), Some(254));
    let shown = text(&output);
    assert!(
        shown.contains(
            "Maelstrom's --nodes-file is not supported here: name the nodes with --nodes"
        ),
        "{shown}"
    );
    let serve = grader("serve", store.path());
    assert_eq!(serve.status.code(), Some(254));
    assert!(text(&serve).contains("report.html"), "{}", text(&serve));
    // A node's own flag after `--` is the node's business.
    let output = grader(
        "test -w lin-kv --bin /bin/true -- --logging-json",
        store.path(),
    );
    assert!(
        !text(&output).contains("is not supported here"),
        "{}",
        text(&output)
    );
}
