//! `cargo xtask grade --bin` end to end: a Python node passes, a broken one fails with a diff,
//! and a missing or non-executable binary stops the grader with exit code 2.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::nodes::{have_python, python_node, text, write_executable};

fn grade(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("grade")
        .args(args)
        .output()
        .expect("xtask runs")
}

#[test]
fn a_python_node_that_follows_the_conventions_passes() {
    if !have_python() {
        return;
    }
    let output = grade(&["stage-01", "--bin", python_node().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let report = text(&output);
    assert!(
        report.contains("verdict: PASS (5 of 5 fixtures, 2 of 2 cluster runs passed)"),
        "{report}"
    );
    let grid = report
        .lines()
        .find(|line| line.trim_start().starts_with("grid-5"))
        .unwrap();
    assert!(grid.contains("pass") && grid.contains("true"), "{report}");
    assert!(
        report.contains("cluster run `single-node` (1 node, "),
        "one node is one node: {report}"
    );
}

#[test]
fn a_node_that_invents_its_reads_fails_the_stage_though_maelstrom_would_pass_it() {
    if !have_python() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let inventing = write_executable(
        dir.path(),
        "inventing",
        &format!(
            "#!/bin/sh\nexec python3 {} --invent \"$@\"\n",
            python_node().display()
        ),
    );
    let output = grade(&[
        "01",
        "--bin",
        inventing.to_str().unwrap(),
        "--only",
        "cluster",
    ]);
    let report = text(&output);
    assert_eq!(output.status.code(), Some(1), "{report}");
    assert!(
        report
            .lines()
            .any(|line| line.trim_start().starts_with("FAIL  ")
                && line.ends_with(": values read that no client ever sent must be 0")),
        "{report}"
    );
    // Maelstrom's checker passes this node, so the run's page must carry the stage's grade.
    let store = report
        .lines()
        .filter_map(|line| line.trim().strip_prefix("store: "))
        .filter_map(|rest| rest.split(" (").next())
        .find(|store| store.contains("grid-5"))
        .unwrap_or_else(|| panic!("no store line: {report}"));
    let page = fs::read_to_string(Path::new(store).join("report.html")).unwrap();
    assert!(page.contains("fails stage-01-flooding"), "{page}");
    assert!(!page.contains("Every check passed"));
    assert!(Path::new(store).join("grade.json").is_file());
}

#[test]
fn a_child_that_holds_the_nodes_stdout_cannot_stretch_the_fixture_timeout() {
    if !have_python() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pids = dir.path().join("pids");
    // The node forks a 40 s sleeper that inherits its stdout, and logs both pids.
    let forking = write_executable(
        dir.path(),
        "forking",
        &format!(
            "#!/bin/sh\nexec python3 {} --fork-holding-stdout \"$@\" 2>>{}\n",
            python_node().display(),
            pids.display()
        ),
    );
    let started = std::time::Instant::now();
    let output = grade(&[
        "01",
        "--bin",
        forking.to_str().unwrap(),
        "--only",
        "fixtures",
        "--timeout",
        "3",
    ]);
    let report = text(&output);
    // Five fixtures, each bounded by its timeout: far below one sleeper's 40 s.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "took {:?}: {report}",
        started.elapsed()
    );
    assert_eq!(output.status.code(), Some(0), "{report}");
    std::thread::sleep(std::time::Duration::from_millis(100));
    let logged = fs::read_to_string(&pids).unwrap();
    let sleepers: Vec<i32> = logged
        .lines()
        .filter_map(|line| line.strip_prefix("pid "))
        .filter_map(|pid| pid.trim().parse().ok())
        .collect();
    assert!(sleepers.len() >= 10, "{logged}");
    let alive: Vec<&i32> = sleepers
        .iter()
        .filter(|pid| !grader::procs::is_zombie(**pid))
        .collect();
    assert!(alive.is_empty(), "still running: {alive:?}");
}

#[test]
fn a_node_whose_reads_are_empty_fails_with_a_diff_and_writes_json() {
    if !have_python() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let source = fs::read_to_string(python_node())
        .unwrap()
        .replace("sorted(values, key=sort_key)", "[]");
    let broken = write_executable(dir.path(), "empty-reads.py", &source);
    let json_path = dir.path().join("grade.json");
    let output = grade(&[
        "01",
        "--bin",
        broken.to_str().unwrap(),
        "--only",
        "fixtures",
        "--json",
        json_path.to_str().unwrap(),
    ]);
    let report = text(&output);
    assert_eq!(output.status.code(), Some(1), "{report}");
    let row = report
        .lines()
        .find(|line| line.trim_start().starts_with("01-single-node-integers"))
        .unwrap();
    assert!(row.contains("FAIL"), "{report}");
    assert!(
        report.contains(r#"first difference at body.messages: expected [1,3], got []"#),
        "{report}"
    );
}

#[test]
fn a_node_that_never_exits_is_killed_at_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let hung = write_executable(dir.path(), "hung.sh", "#!/bin/sh\nexec sleep 30\n");
    let output = grade(&[
        "stage-01-flooding",
        "--bin",
        hung.to_str().unwrap(),
        "--timeout",
        "0.3",
        "--only",
        "fixtures",
    ]);
    let report = text(&output);
    assert_eq!(output.status.code(), Some(1), "{report}");
    assert!(report.contains("did not exit within 0.3 s"), "{report}");
}

#[test]
fn a_missing_binary_stops_the_grader_with_exit_2() {
    let output = grade(&["01", "--bin", "/no/such/node"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output).contains("/no/such/node does not exist"),
        "{}",
        text(&output)
    );
}

#[test]
fn a_binary_without_execute_permission_stops_the_grader_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.py");
    fs::write(&path, "print()").unwrap();
    let output = grade(&["01", "--bin", path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output).contains("chmod +x"), "{}", text(&output));
}

#[test]
fn an_unknown_stage_lists_the_known_ones() {
    let output = grade(&["42", "--bin", python_node().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    let text = text(&output);
    assert!(text.contains("no exercise called `42`"), "{text}");
    assert!(text.contains("stage-01, stage-02"), "{text}");
    assert!(text.contains("glomers-1"), "both tracks are listed: {text}");
}

fn sim(store: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["sim", "stage-01"])
        .args(args)
        .arg("--store")
        .arg(store)
        .output()
        .expect("xtask runs")
}

#[test]
fn a_simulated_run_replays_exactly_from_its_seed() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "--node-count",
        "5",
        "--time-limit",
        "5",
        "--rate",
        "20",
        "--latency",
        "50",
        "--recovery",
        "1",
        "--seed",
        "7",
    ];
    let mut stores = Vec::new();
    for _ in 0..2 {
        let output = sim(dir.path(), &args);
        assert_eq!(output.status.code(), Some(0), "{}", text(&output));
        stores.push(fs::canonicalize(dir.path().join("latest")).unwrap());
    }
    assert_ne!(stores[0], stores[1], "two runs, two stores");
    let journal = |store: &PathBuf| fs::read(store.join("journal.jsonl")).unwrap();
    assert!(
        journal(&stores[0]) == journal(&stores[1]),
        "same seed, different journal"
    );
    let results = |store: &PathBuf| -> serde_json::Value {
        serde_json::from_str(&fs::read_to_string(store.join("results.json")).unwrap()).unwrap()
    };
    let (mut first, mut second) = (results(&stores[0]), results(&stores[1]));
    assert_ne!(
        first["run"], second["run"],
        "the run section holds the wall-clock facts"
    );
    first.as_object_mut().unwrap().remove("run");
    second.as_object_mut().unwrap().remove("run");
    assert_eq!(first, second);
}

#[test]
fn a_failing_simulated_run_prints_its_seed_and_the_command_that_replays_it() {
    let dir = tempfile::tempdir().unwrap();
    let output = sim(
        dir.path(),
        &[
            "--node-count",
            "5",
            "--time-limit",
            "20",
            "--rate",
            "10",
            "--nemesis",
            "partition",
            "--seed",
            "3",
        ],
    );
    let report = text(&output);
    assert_eq!(output.status.code(), Some(1), "{report}");
    assert!(report.contains("seed 3; to repeat this run: cargo xtask sim stage-01-flooding -w broadcast --node-count 5"), "{report}");
    assert!(
        report.contains("--nemesis partition --nemesis-interval 10 --recovery 10 --seed 3"),
        "{report}"
    );
}

#[test]
fn a_ctrl_c_during_a_check_stops_the_nodes_writes_the_run_and_exits_130() {
    use std::io::{BufRead as _, BufReader};
    if !have_python() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("stage-01-flooding");
    fs::create_dir_all(&folder).unwrap();
    let node = folder.join("node.py");
    fs::copy(python_node(), &node).unwrap();
    let mut check = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["check", "stage-01", "--dir"])
        .arg(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = check.stdout.take().unwrap();
    let printed = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap());
    let mut stderr = BufReader::new(check.stderr.take().unwrap());
    let mut said = String::new();
    // Once the first cluster run is under way, a Ctrl-C.
    while !said.contains("cluster run `") {
        let mut line = String::new();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "{said}");
        said.push_str(&line);
    }
    std::thread::sleep(std::time::Duration::from_millis(1000));
    crate::nodes::interrupt(&check);
    let status = check.wait().unwrap();
    said.push_str(&std::io::read_to_string(stderr).unwrap());
    let printed = printed.join().unwrap();
    assert_eq!(status.code(), Some(130), "{printed}{said}");
    assert!(
        said.contains("interrupted: the nodes are stopped"),
        "{said}"
    );
    let store = printed
        .lines()
        .find_map(|line| line.trim().strip_prefix("store: "))
        .and_then(|rest| rest.split(" (").next())
        .unwrap_or_else(|| panic!("no store line: {printed}"));
    let store = Path::new(store);
    assert!(store.join("results.json").is_file(), "{printed}");
    assert!(store.join("report.html").is_file(), "{printed}");
    let results: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(store.join("results.json")).unwrap()).unwrap();
    assert_eq!(results["valid"], "unknown", "{results}");
    // No node of this run is left, and nothing was remembered as a grade.
    let left = Command::new("pgrep")
        .args(["-f", node.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(left.stdout.is_empty(), "left running: {left:?}");
    assert!(!dir.path().join("progress.json").exists());
    fs::remove_dir_all(store).unwrap();
}

#[test]
fn a_node_written_in_maelstroms_library_style_passes_the_glomers_fixtures_with_maelstrom_conventions()
 {
    if !have_python() {
        return;
    }
    // ids.py numbers its messages from 1 and answers echo, generate and error 10 as Maelstrom's
    // Python demos do.
    let bin = crate::nodes::ids_node();
    for exercise in ["glomers-1", "glomers-2"] {
        let strict = grade(&[
            exercise,
            "--bin",
            bin.to_str().unwrap(),
            "--only",
            "fixtures",
        ]);
        let report = text(&strict);
        assert_eq!(strict.status.code(), Some(1), "{report}");
        assert!(
            report.contains("first difference at body.msg_id"),
            "the first difference is a msg_id: {report}"
        );
        let loose = grade(&[
            exercise,
            "--bin",
            bin.to_str().unwrap(),
            "--only",
            "fixtures",
            "--conventions",
            "maelstrom",
        ]);
        let report = text(&loose);
        assert_eq!(loose.status.code(), Some(0), "{exercise}: {report}");
        assert!(report.contains("verdict: PASS"), "{report}");
    }
}

/// A learner's handlers for glomers-4 on the Python starter's runtime, asking seq-kv with
/// `node.rpc` (read, cas and retry for an add; a unique write before a read).
const PYTHON_G_COUNTER: &str = r#"
TAG = None
SYNCS = [0]


def on_init():
    global TAG
    TAG = node.random.getrandbits(64)


node.on_init = on_init


def add(msg, delta):
    def got_total(reply):
        body = reply["body"]
        current = body["value"] if body["type"] == "read_ok" else 0
        cas = {"type": "cas", "key": "total", "from": current, "to": current + delta}
        if body["type"] != "read_ok":
            cas["create_if_not_exists"] = True

        def cased(answer):
            if answer["body"]["type"] == "cas_ok":
                node.reply(msg, {"type": "add_ok"})
            else:
                add(msg, delta)

        node.rpc("seq-kv", cas, cased, flags.kv_timeout_ms)

    node.rpc("seq-kv", {"type": "read", "key": "total"}, got_total, flags.kv_timeout_ms,
             on_timeout=lambda: add(msg, delta))


@node.handler("add", fields=["delta"])
def on_add(msg):
    add(msg, msg["body"]["delta"])


@node.handler("read")
def on_read(msg):
    SYNCS[0] += 1
    unique = f"{TAG:016x}-{SYNCS[0]}"

    def synced(_):
        def got(reply):
            body = reply["body"]
            node.reply(msg, {"type": "read_ok", "value": body["value"] if body["type"] == "read_ok" else 0})

        node.rpc("seq-kv", {"type": "read", "key": "total"}, got, flags.kv_timeout_ms)

    node.rpc("seq-kv", {"type": "write", "key": "sync-" + node.node_id, "value": unique}, synced, flags.kv_timeout_ms)
"#;

#[test]
fn a_python_starter_completed_with_rpc_calls_passes_the_seq_kv_fixtures() {
    if !have_python() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let started = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["start", "glomers-4", "--lang", "python", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(started.status.success(), "{}", text(&started));
    let path = dir.path().join("glomers-4-g-counter/node.py");
    let starter = fs::read_to_string(&path).unwrap();
    // Keep the starter's runtime and flags; put the handlers in place of its own.
    let from = starter
        .find("def on_init():")
        .expect("the starter's on_init");
    let to = starter.find("if __name__").expect("the starter's main");
    fs::write(
        &path,
        format!(
            "{}{PYTHON_G_COUNTER}\n\n{}",
            &starter[..from],
            &starter[to..]
        ),
    )
    .unwrap();
    let output = grade(&[
        "glomers-4",
        "--bin",
        path.to_str().unwrap(),
        "--only",
        "fixtures",
    ]);
    let report = text(&output);
    assert_eq!(output.status.code(), Some(0), "{report}");
    assert!(
        report.contains("verdict: PASS (3 of 3 fixtures"),
        "{report}"
    );
}
