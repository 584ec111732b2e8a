//! The Python test node, shared by the grader's and xtask's tests.

use std::path::{Path, PathBuf};
use std::process::Command;

/// `flooding.py`, a stdlib-only Python node (see its docstring for its misbehaviour flags).
#[allow(dead_code)] // Not every test crate that includes this module uses it.
pub fn python_node() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../grader/tests/nodes/flooding.py")
}

/// `quorum.py`, a stdlib-only Python node that acknowledges a broadcast once a majority holds
/// it and pushes its set to a random peer every 200 ms: correct under kills, pauses and
/// partitions.
#[allow(dead_code)] // Not every test crate that includes this module uses it.
pub fn quorum_node() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../grader/tests/nodes/quorum.py")
}

/// `gset.py`, a stdlib-only g-set node answering reads in Maelstrom's field, `value`.
#[allow(dead_code)] // Not every test crate that includes this module uses it.
pub fn gset_node() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../grader/tests/nodes/gset.py")
}

/// The Python node needs python3; a machine without it skips those tests, saying so.
#[allow(dead_code)] // Not every test crate that includes this module uses it.
pub fn have_python() -> bool {
    let found = Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success());
    if !found {
        eprintln!("skipped: python3 is not on PATH, so the Python test node cannot run");
    }
    found
}

/// Writes an executable file (a script, usually) and returns its path.
#[allow(dead_code)] // Not every test crate that includes this module uses it.
pub fn write_executable(dir: &Path, name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, body).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// `kvcast.py`, a stateless broadcast node that keeps its values in a Maelstrom service
/// (`--service lin-kv|seq-kv`, `--trick` for seq-kv's unique write before each read).
#[allow(dead_code)] // Not every test crate that includes this module uses it.
pub fn kvcast_node() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../grader/tests/nodes/kvcast.py")
}

/// Sends SIGINT to a child, as a Ctrl-C in its terminal would.
#[allow(dead_code)] // Not every test crate that includes this module uses it.
pub fn interrupt(child: &std::process::Child) {
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(sent.success(), "kill -INT {} failed", child.id());
}

/// A short run of three nodes with a little latency, optionally under partitions: the
/// configuration the service tests judge a service-backed node in, in both clusters.
#[allow(dead_code)] // Not every test crate that includes this module uses it.
pub fn service_config(seed: u64, partitions: bool) -> grader::config::TestConfig {
    let nemesis = if partitions {
        " --nemesis partition"
    } else {
        ""
    };
    config(&format!(
        "--node-count 3 --time-limit 3 --rate 20 --latency 5 --recovery 0.5 --seed {seed} --nemesis-interval 0.7{nemesis}"
    ))
}

/// A run configuration from `grader test`'s flags (`"-w echo --node-count 3 --seed 1"`),
/// validated as the command line is.
#[allow(dead_code)] // Not every test crate that includes this module uses it.
pub fn config(flags: &str) -> grader::config::TestConfig {
    grader::config::TestConfig::parse_command(flags)
        .unwrap_or_else(|error| panic!("{flags}: {error}"))
}

/// `ids.py`, a unique-ids (and echo) node numbering its messages as Maelstrom's Python demos
/// do, with ids from its node id and a counter kept in memory.
#[allow(dead_code)] // Not every test crate that includes this module uses it.
pub fn ids_node() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../grader/tests/nodes/ids.py")
}

/// What a finished command printed, stdout then stderr, for assertions and their messages.
pub fn text(output: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
