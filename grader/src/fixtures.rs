//! Protocol fixtures: scripted input for one node process, its output compared as parsed JSON.
//!
//! A fixture is a `*.jsonl` file in `fixtures/<stage>/`: one input message per line, written to
//! the node's stdin in one go, after which stdin is closed. Lines starting with `#` are
//! comments; the first comment lines describe the fixture, and a comment line
//! `# args: --flag value` passes arguments to the node. Blank lines are skipped.
//!
//! Our own nodes' output is pinned by insta snapshots (`fixtures/<stage>/snapshots/<name>.snap`,
//! YAML), written by [`crate::assert_fixture_snapshots!`]. Any other binary is graded against
//! those snapshots the way the public track compares: the snapshot's messages must appear as an
//! ordered prefix of the binary's output, compared as parsed JSON; extra lines after them are
//! allowed.

use std::fmt;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde_json::Value as Json;

/// How long a script may run, input to exit, before the node is killed.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// The seed handed to every node through `GOSSIP_SEED`, so seeded nodes replay exactly.
pub const FIXTURE_SEED: &str = "1";

/// Body fields whose values are the node's own business: wall-clock timestamps (`ts`) and hashes
/// (`digest`, whose function the spec leaves open). They are snapshotted as [`REDACTED`].
pub const VOLATILE_FIELDS: &[&str] = &["ts", "digest"];

/// What a volatile field is snapshotted as; in a comparison it matches any value.
pub const REDACTED: &str = "[redacted]";

/// The most stdout lines kept from one fixture run; a node that writes more is cut off there.
const MAX_OUTPUT_LINES: usize = 10_000;

/// One fixture script.
#[derive(Debug, Clone)]
pub struct Script {
    /// The file name without `.jsonl`; also the snapshot's name.
    pub name: String,
    /// Where the script lives.
    pub path: PathBuf,
    /// The leading comment lines, joined.
    pub description: String,
    /// Extra arguments for the node (`# args:`).
    pub args: Vec<String>,
    /// The input lines, each checked to be a JSON object.
    pub input: Vec<String>,
}

impl Script {
    /// Parses a script file.
    pub fn load(path: &Path) -> anyhow::Result<Script> {
        let text = fs::read_to_string(path)
            .with_context(|| format!("cannot read fixture {}", path.display()))?;
        let name = path
            .file_stem()
            .and_then(|stem| stem.to_str())
            .with_context(|| format!("fixture {} has no usable file name", path.display()))?
            .to_owned();
        let mut description = Vec::new();
        let mut args = Vec::new();
        let mut input = Vec::new();
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            if let Some(comment) = line.strip_prefix('#') {
                let comment = comment.trim();
                if let Some(rest) = comment.strip_prefix("args:") {
                    args.extend(rest.split_whitespace().map(str::to_owned));
                } else if input.is_empty() {
                    description.push(comment.to_owned());
                }
                continue;
            }
            match serde_json::from_str::<Json>(line) {
                Ok(json) if json.is_object() => input.push(line.to_owned()),
                Ok(_) => bail!(
                    "{}:{}: each input line must be a JSON object (a message)",
                    path.display(),
                    number + 1
                ),
                Err(error) => bail!(
                    "{}:{}: not valid JSON ({error}); write one message per line, or start the line with # for a comment",
                    path.display(),
                    number + 1
                ),
            }
        }
        Ok(Script {
            name,
            path: path.to_owned(),
            description: description.join(" "),
            args,
            input,
        })
    }
}

/// Every `*.jsonl` script in `dir`, sorted by name.
pub fn load_scripts(dir: &Path) -> anyhow::Result<Vec<Script>> {
    let entries =
        fs::read_dir(dir).with_context(|| format!("cannot list fixtures in {}", dir.display()))?;
    let mut paths = Vec::new();
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == "jsonl") {
            paths.push(path);
        }
    }
    paths.sort();
    if paths.is_empty() {
        bail!("no fixtures (*.jsonl) in {}", dir.display());
    }
    paths.iter().map(|path| Script::load(path)).collect()
}

/// Where a script's snapshot lives: `<dir>/snapshots/<name>.snap`.
pub fn snapshot_path(script: &Script) -> PathBuf {
    let dir = script.path.parent().unwrap_or(Path::new("."));
    dir.join("snapshots").join(format!("{}.snap", script.name))
}

/// How a node process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exit {
    /// It exited by itself with this code.
    Code(i32),
    /// It was ended by a signal it did not ask for (a crash).
    Signal,
    /// It was still running at the timeout and was killed.
    TimedOut(Duration),
}

impl fmt::Display for Exit {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exit::Code(code) => write!(formatter, "exited with code {code}"),
            Exit::Signal => write!(formatter, "was killed by a signal (crashed)"),
            Exit::TimedOut(after) => write!(
                formatter,
                "did not exit within {:.1} s of its input ending and was killed (nodes must exit 0 when stdin closes)",
                after.as_secs_f64()
            ),
        }
    }
}

/// What one run of a script produced.
#[derive(Debug, Clone)]
pub struct Transcript {
    /// Stdout lines that parsed as JSON, in order, with volatile fields redacted.
    pub output: Vec<Json>,
    /// Stdout lines that did not parse as JSON (1-based line number, text).
    pub garbage: Vec<(usize, String)>,
    /// Everything the node wrote to stderr (cut to its last 64 KiB).
    pub stderr: String,
    /// How the process ended.
    pub exit: Exit,
}

/// Runs `bin` (with the script's args) on the script's input, closes stdin and collects its
/// output until it exits, or kills it after `timeout`.
///
/// The node runs in its own process group, tagged for this run ([`crate::procs`]): when it
/// exits or is killed, whatever it started is killed too, so a descendant that holds its
/// stdout open cannot stretch the timeout.
pub fn run_script(bin: &Path, script: &Script, timeout: Duration) -> anyhow::Result<Transcript> {
    let tag = crate::procs::new_run_tag();
    let mut command = Command::new(bin);
    command
        .args(&script.args)
        .env("GOSSIP_SEED", FIXTURE_SEED)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    crate::procs::configure(&mut command, &tag);
    let mut child = command
        .spawn()
        .with_context(|| format!("cannot start {}", bin.display()))?;
    let mut stdin = child.stdin.take().expect("stdin was piped");
    let stdout = child.stdout.take().expect("stdout was piped");
    let stderr = child.stderr.take().expect("stderr was piped");
    let input: String = script
        .input
        .iter()
        .map(|line| format!("{line}\n"))
        .collect();
    // Written from a thread so that a node that never reads cannot block the grader.
    let writer = thread::spawn(move || {
        let _ = stdin.write_all(input.as_bytes());
    });
    let (stdout_sender, stdout_lines) = std::sync::mpsc::channel();
    let (stderr_sender, stderr_text) = std::sync::mpsc::channel();
    thread::spawn(move || {
        let _ = stdout_sender.send(read_lines_bounded(stdout, MAX_OUTPUT_LINES));
    });
    thread::spawn(move || {
        let _ = stderr_sender.send(read_tail(stderr, 64 * 1024));
    });

    let started = Instant::now();
    let exit = loop {
        if let Some(status) = child.try_wait().context("cannot wait for the node")? {
            break status.code().map_or(Exit::Signal, Exit::Code);
        }
        if started.elapsed() >= timeout {
            crate::procs::kill_and_reap(&mut child);
            break Exit::TimedOut(timeout);
        }
        thread::sleep(Duration::from_millis(2));
    };
    // The node is gone; so must be anything it started, which may hold its pipes open.
    crate::procs::signal_group(&child, nix::sys::signal::Signal::SIGKILL);
    crate::procs::kill_tagged(&tag);
    // The pipes close once every holder is dead; should one escape even the tag, its output is
    // given up on rather than waited for.
    let drained = Duration::from_secs(1);
    let lines = stdout_lines.recv_timeout(drained).unwrap_or_default();
    let stderr = stderr_text.recv_timeout(drained).unwrap_or_default();
    if writer.is_finished() {
        let _ = writer.join();
    }
    let mut output = Vec::new();
    let mut garbage = Vec::new();
    for (index, line) in lines.into_iter().enumerate() {
        match serde_json::from_str::<Json>(&line) {
            Ok(mut json) => {
                redact(&mut json);
                output.push(json);
            }
            Err(_) => garbage.push((index + 1, line)),
        }
    }
    Ok(Transcript {
        output,
        garbage,
        stderr,
        exit,
    })
}

/// Reads lines until EOF, keeping at most `limit` (the rest is read and dropped, so the
/// writer never blocks on a full pipe).
fn read_lines_bounded(pipe: impl Read, limit: usize) -> Vec<String> {
    let mut reader = std::io::BufReader::new(pipe);
    let mut lines = Vec::new();
    let mut buffer = Vec::new();
    loop {
        buffer.clear();
        match std::io::BufRead::read_until(&mut reader, b'\n', &mut buffer) {
            Ok(0) | Err(_) => return lines,
            Ok(_) if lines.len() < limit => {
                let line = String::from_utf8_lossy(&buffer);
                let line = line.trim_end_matches(['\n', '\r']);
                if !line.trim().is_empty() {
                    lines.push(line.to_owned());
                }
            }
            Ok(_) => {}
        }
    }
}

/// Reads to EOF and keeps the last `limit` bytes.
fn read_tail(mut pipe: impl Read, limit: usize) -> String {
    let mut kept = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        match pipe.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(read) => {
                kept.extend_from_slice(&chunk[..read]);
                if kept.len() > 2 * limit {
                    kept.drain(..kept.len() - limit);
                }
            }
        }
    }
    if kept.len() > limit {
        kept.drain(..kept.len() - limit);
    }
    String::from_utf8_lossy(&kept).into_owned()
}

/// Replaces the values of volatile body fields with [`REDACTED`].
pub fn redact(message: &mut Json) {
    if let Some(body) = message.get_mut("body").and_then(Json::as_object_mut) {
        for field in VOLATILE_FIELDS {
            if let Some(value) = body.get_mut(*field) {
                *value = Json::String(REDACTED.to_owned());
            }
        }
    }
}

/// Reads the messages out of an insta snapshot file (a YAML list after the `---` header).
pub fn load_snapshot(path: &Path) -> anyhow::Result<Vec<Json>> {
    let text = fs::read_to_string(path).with_context(|| {
        format!(
            "no snapshot at {}: run the stage's tests to record it (INSTA_UPDATE=always cargo test -p <stage>), then review it",
            path.display()
        )
    })?;
    let body = text
        .strip_prefix("---\n")
        .and_then(|rest| rest.split_once("\n---\n"))
        .map(|(_, body)| body)
        .with_context(|| {
            format!(
                "{} is not an insta snapshot (no `---` header)",
                path.display()
            )
        })?;
    serde_yaml_ng::from_str(body)
        .with_context(|| format!("{} does not hold a YAML list of messages", path.display()))
}

/// Where the expected and the actual output first part ways.
#[derive(Debug, Clone, PartialEq)]
pub struct Mismatch {
    /// The 1-based position of the message among the parsed output lines.
    pub line: usize,
    /// The snapshot's message.
    pub expected: Json,
    /// The node's message there, if it wrote that many.
    pub got: Option<Json>,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(formatter, "output message {} differs", self.line)?;
        writeln!(formatter, "  expected: {}", self.expected)?;
        match &self.got {
            Some(got) => {
                writeln!(formatter, "  got:      {got}")?;
                let what = |message: &Json| {
                    (
                        message["body"]["type"].as_str().unwrap_or("?").to_owned(),
                        message["dest"].as_str().unwrap_or("?").to_owned(),
                    )
                };
                let (want_type, want_dest) = what(&self.expected);
                let (got_type, got_dest) = what(got);
                if (&want_type, &want_dest) != (&got_type, &got_dest) {
                    write!(
                        formatter,
                        "  expected a `{want_type}` to {want_dest} here, got a `{got_type}` to {got_dest}"
                    )?;
                    let reply_expected = self.expected["body"].get("in_reply_to").is_some();
                    if reply_expected && got["body"].get("in_reply_to").is_none() {
                        write!(
                            formatter,
                            " (a reply comes before the messages a request causes)"
                        )?;
                    }
                    return Ok(());
                }
                let (path, want, have) = first_difference(&self.expected, got, String::new());
                write!(
                    formatter,
                    "  first difference at {path}: expected {want}, got {have}"
                )
            }
            None => write!(
                formatter,
                "  got:      nothing (the node wrote only {} message{})",
                self.line - 1,
                if self.line == 2 { "" } else { "s" }
            ),
        }
    }
}

/// Checks that `expected` is an ordered prefix of `got`, message by message, as parsed JSON.
/// A [`REDACTED`] string in `expected` matches any value, and the `text` of an `error` body is
/// not compared (its code is).
pub fn compare_prefix(expected: &[Json], got: &[Json]) -> Result<(), Mismatch> {
    for (index, want) in expected.iter().enumerate() {
        let have = got.get(index);
        if !have.is_some_and(|have| matches(&without_error_text(want), &without_error_text(have))) {
            return Err(Mismatch {
                line: index + 1,
                expected: want.clone(),
                got: have.cloned(),
            });
        }
    }
    Ok(())
}

/// The path of the first place two JSON values differ, with the two values there.
fn first_difference(want: &Json, have: &Json, path: String) -> (String, String, String) {
    if let (Json::Object(want_map), Json::Object(have_map)) = (want, have) {
        for (key, value) in want_map {
            let here = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            match have_map.get(key) {
                None => return (here, value.to_string(), "no such field".into()),
                Some(other) if !matches(value, other) => {
                    return first_difference(value, other, here);
                }
                Some(_) => {}
            }
        }
        if let Some(key) = have_map.keys().find(|key| !want_map.contains_key(*key)) {
            let here = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            return (here, "no such field".into(), have_map[key].to_string());
        }
    }
    let path = if path.is_empty() {
        "the message".into()
    } else {
        path
    };
    (path, want.to_string(), have.to_string())
}

/// Error texts are free-form prose, so only an error's code and ids are compared.
fn without_error_text(message: &Json) -> Json {
    let mut message = message.clone();
    if let Some(body) = message.get_mut("body").and_then(Json::as_object_mut)
        && body.get("type").and_then(Json::as_str) == Some("error")
    {
        body.remove("text");
    }
    message
}

fn matches(want: &Json, have: &Json) -> bool {
    match (want, have) {
        (Json::String(text), _) if text == REDACTED => true,
        // JSON has one number type: 1 and 1.0 are the same number, whichever way a node
        // writes it (a YAML snapshot reads a whole float back as an integer).
        (Json::Number(want), Json::Number(have)) => {
            if want.is_f64() || have.is_f64() {
                want.as_f64() == have.as_f64()
            } else {
                want == have
            }
        }
        (Json::Object(want), Json::Object(have)) => {
            want.len() == have.len()
                && want
                    .iter()
                    .all(|(key, value)| have.get(key).is_some_and(|other| matches(value, other)))
        }
        (Json::Array(want), Json::Array(have)) => {
            want.len() == have.len()
                && want
                    .iter()
                    .zip(have)
                    .all(|(value, other)| matches(value, other))
        }
        _ => want == have,
    }
}

/// The verdict on one fixture.
#[derive(Debug, Clone)]
pub struct FixtureOutcome {
    /// The script's name.
    pub name: String,
    /// True when the output matched and the node exited cleanly.
    pub passed: bool,
    /// One line for the table, more lines (a diff, stderr) for a failure.
    pub detail: String,
}

/// Which numbering of a node's own messages the fixtures expect.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Conventions {
    /// The track's: one counter from 0 at `init_ok`, compared by value.
    #[default]
    Track,
    /// Maelstrom's libraries number messages their own way: a node's `msg_id`s must be present
    /// and unique, whatever their values, and `init_ok` may leave it out.
    Maelstrom,
}

/// Grades `bin` on every script in `dir` against the recorded snapshots.
pub fn grade_fixtures(
    bin: &Path,
    dir: &Path,
    timeout: Duration,
    conventions: Conventions,
) -> anyhow::Result<Vec<FixtureOutcome>> {
    let scripts = load_scripts(dir)?;
    let mut outcomes = Vec::new();
    for script in &scripts {
        let expected = load_snapshot(&snapshot_path(script))?;
        let transcript = run_script(bin, script, timeout)?;
        outcomes.push(judge(script, &expected, &transcript, conventions));
    }
    Ok(outcomes)
}

/// Under Maelstrom's conventions: the snapshot with every `msg_id` the node wrote turned into a
/// wildcard (and left out of an `init_ok` the node wrote without one), and the node's messages
/// that reuse a `msg_id`, as problems.
fn maelstrom_expectations(expected: &[Json], got: &[Json]) -> (Vec<Json>, Vec<String>) {
    let loosened = expected
        .iter()
        .enumerate()
        .map(|(index, want)| {
            let mut want = want.clone();
            let have_id = got.get(index).and_then(|have| have["body"].get("msg_id"));
            if let Some(body) = want.get_mut("body").and_then(Json::as_object_mut)
                && body.contains_key("msg_id")
            {
                let init_ok = body.get("type").and_then(Json::as_str) == Some("init_ok");
                if init_ok && have_id.is_none() {
                    body.remove("msg_id");
                } else {
                    body.insert("msg_id".into(), Json::String(REDACTED.to_owned()));
                }
            }
            want
        })
        .collect();
    let mut first_use: std::collections::HashMap<String, usize> = Default::default();
    let mut problems = Vec::new();
    for (index, have) in got.iter().enumerate() {
        let Some(id) = have["body"].get("msg_id") else {
            let wanted = expected.get(index).is_some_and(|want| {
                want["body"].get("msg_id").is_some() && want["body"]["type"] != "init_ok"
            });
            if wanted {
                problems.push(format!(
                    "output message {} has no msg_id: under Maelstrom's conventions every message a node writes carries one (init_ok may leave it out)",
                    index + 1
                ));
            }
            continue;
        };
        match first_use.entry(id.to_string()) {
            std::collections::hash_map::Entry::Occupied(first) => problems.push(format!(
                "output messages {} and {} both carry msg_id {id}: under Maelstrom's conventions every message a node writes needs its own msg_id",
                first.get(),
                index + 1
            )),
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(index + 1);
            }
        }
    }
    (loosened, problems)
}

/// Compares one transcript with its snapshot and explains the verdict.
pub fn judge(
    script: &Script,
    expected: &[Json],
    transcript: &Transcript,
    conventions: Conventions,
) -> FixtureOutcome {
    let mut problems = Vec::new();
    let expected: std::borrow::Cow<'_, [Json]> = match conventions {
        Conventions::Track => expected.into(),
        Conventions::Maelstrom => {
            let (loosened, reused) = maelstrom_expectations(expected, &transcript.output);
            problems.extend(reused);
            loosened.into()
        }
    };
    if let Err(mismatch) = compare_prefix(&expected, &transcript.output) {
        problems.insert(0, mismatch.to_string());
    }
    if transcript.exit != Exit::Code(0) {
        problems.push(format!("the node {}", transcript.exit));
    }
    if let Some((line, text)) = transcript.garbage.first() {
        problems.push(format!(
            "stdout line {line} is not JSON: {text:?} (write logs to stderr; stdout is for messages only)"
        ));
    }
    let passed = problems.is_empty();
    let detail = if passed {
        format!("{} messages match", expected.len())
    } else {
        let mut detail = problems.join("\n");
        // A Rust panic's message sits above its backtrace, out of the tail's reach.
        let lines: Vec<&str> = transcript.stderr.lines().collect();
        if let Some(at) = lines.iter().position(|line| line.contains("panicked at")) {
            detail.push_str("\n  the node panicked: ");
            detail.push_str(lines.get(at + 1).copied().unwrap_or(lines[at]).trim());
        }
        let tail: Vec<&str> = transcript.stderr.lines().rev().take(5).collect();
        if !tail.is_empty() {
            detail.push_str("\n  last stderr lines:");
            for line in tail.into_iter().rev() {
                detail.push_str("\n    ");
                detail.push_str(line);
            }
        }
        detail
    };
    FixtureOutcome {
        name: script.name.clone(),
        passed,
        detail,
    }
}

/// Runs every fixture of a stage against `bin` and asserts the output against its insta
/// snapshot (recording new ones as insta does). Use it through
/// [`crate::assert_fixture_snapshots!`], which finds the fixture folder for you.
///
/// Every fixture is checked before the test fails, so one run shows every changed snapshot.
pub fn assert_snapshots(bin: &Path, dir: &Path, assert_one: &dyn Fn(&Script, &[Json])) {
    let scripts = load_scripts(dir).unwrap_or_else(|error| panic!("{error:#}"));
    let mut failed = Vec::new();
    for script in &scripts {
        let transcript =
            run_script(bin, script, DEFAULT_TIMEOUT).unwrap_or_else(|error| panic!("{error:#}"));
        let checked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            assert_eq!(
                transcript.exit,
                Exit::Code(0),
                "{}: the node must exit 0 at EOF; stderr:\n{}",
                script.name,
                transcript.stderr
            );
            assert!(
                transcript.garbage.is_empty(),
                "{}: stdout lines that are not JSON: {:?}",
                script.name,
                transcript.garbage
            );
            assert_one(script, &transcript.output);
        }));
        if checked.is_err() {
            failed.push(script.name.clone());
        }
    }
    assert!(
        failed.is_empty(),
        "fixtures whose output changed or failed: {failed:?}; review with `cargo insta review`"
    );
}

/// Asserts every fixture of a stage against its snapshot; call it from a test in the stage's
/// crate: `grader::assert_fixture_snapshots!("stage-01-flooding", env!("CARGO_BIN_EXE_stage-01-flooding"))`.
///
/// The stage crate needs `insta` (feature `yaml`) as a dev-dependency.
#[macro_export]
macro_rules! assert_fixture_snapshots {
    ($stage:literal, $bin:expr) => {{
        let dir = ::std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(concat!("../../fixtures/", $stage));
        let snapshots = dir.join("snapshots");
        $crate::fixtures::assert_snapshots(
            ::std::path::Path::new($bin),
            &dir,
            &|script, output| {
                let mut settings = ::insta::Settings::clone_current();
                settings.set_snapshot_path(&snapshots);
                settings.set_prepend_module_to_snapshot(false);
                settings.set_omit_expression(true);
                settings.set_description(script.description.clone());
                settings.set_input_file(&script.path);
                settings.bind(|| ::insta::assert_yaml_snapshot!(script.name.as_str(), output));
            },
        );
    }};
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn transcript(output: Vec<Json>) -> Transcript {
        Transcript {
            output,
            garbage: Vec::new(),
            stderr: String::new(),
            exit: Exit::Code(0),
        }
    }

    fn script() -> Script {
        Script {
            name: "demo".into(),
            path: PathBuf::from("demo.jsonl"),
            description: String::new(),
            args: Vec::new(),
            input: Vec::new(),
        }
    }

    fn message(kind: &str, msg_id: Option<u64>, in_reply_to: u64) -> Json {
        let mut body = json!({"type": kind, "in_reply_to": in_reply_to});
        if let Some(id) = msg_id {
            body["msg_id"] = json!(id);
        }
        json!({"src": "n0", "dest": "c1", "body": body})
    }

    #[test]
    fn a_rust_panic_is_quoted_above_its_backtrace() {
        let mut panicked = transcript(Vec::new());
        panicked.exit = Exit::Code(101);
        panicked.stderr = "thread 'main' panicked at src/main.rs:9:17:\nnot yet implemented: read: answer read_ok\nstack backtrace:\n   0: one\n   1: two\n   2: three\n   3: four\n   4: five\n".into();
        let outcome = judge(
            &script(),
            &[message("init_ok", Some(0), 1)],
            &panicked,
            Conventions::Track,
        );
        assert!(!outcome.passed);
        assert!(
            outcome
                .detail
                .contains("the node panicked: not yet implemented: read: answer read_ok"),
            "{}",
            outcome.detail
        );
    }

    #[test]
    fn maelstrom_conventions_accept_other_msg_ids_but_not_reused_or_missing_ones() {
        let expected = [
            message("init_ok", Some(0), 1),
            message("read_ok", Some(1), 2),
        ];
        // Maelstrom's libraries: no msg_id on init_ok, their own numbering after it.
        let theirs = transcript(vec![
            message("init_ok", None, 1),
            message("read_ok", Some(7), 2),
        ]);
        let track = judge(&script(), &expected, &theirs, Conventions::Track);
        assert!(!track.passed, "the track compares msg_ids by value");
        assert!(track.detail.contains("msg_id"), "{}", track.detail);
        let maelstrom = judge(&script(), &expected, &theirs, Conventions::Maelstrom);
        assert!(maelstrom.passed, "{}", maelstrom.detail);

        let reused = transcript(vec![
            message("init_ok", Some(3), 1),
            message("read_ok", Some(3), 2),
        ]);
        let outcome = judge(&script(), &expected, &reused, Conventions::Maelstrom);
        assert!(!outcome.passed);
        assert!(
            outcome
                .detail
                .contains("output messages 1 and 2 both carry msg_id 3"),
            "{}",
            outcome.detail
        );

        let missing = transcript(vec![
            message("init_ok", None, 1),
            message("read_ok", None, 2),
        ]);
        let outcome = judge(&script(), &expected, &missing, Conventions::Maelstrom);
        assert!(!outcome.passed);
        assert!(
            outcome.detail.contains("output message 2 has no msg_id"),
            "{}",
            outcome.detail
        );

        // Everything else is still compared by value.
        let wrong_reply = transcript(vec![
            message("init_ok", None, 1),
            message("read_ok", Some(5), 9),
        ]);
        let outcome = judge(&script(), &expected, &wrong_reply, Conventions::Maelstrom);
        assert!(!outcome.passed);
        assert!(outcome.detail.contains("in_reply_to"), "{}", outcome.detail);
    }

    #[test]
    fn scripts_take_descriptions_args_and_json_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("01-demo.jsonl");
        fs::write(&path, "# Two lines.\n# args: --fanout 3\n\n{\"src\":\"c0\"}\n# later comment\n{\"src\":\"c1\"}\n").unwrap();
        let script = Script::load(&path).unwrap();
        assert_eq!(script.name, "01-demo");
        assert_eq!(script.description, "Two lines.");
        assert_eq!(script.args, ["--fanout", "3"]);
        assert_eq!(script.input.len(), 2);
    }

    #[test]
    fn a_bad_script_line_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.jsonl");
        fs::write(&path, "{\"ok\":1}\n{oops\n").unwrap();
        let error = Script::load(&path).unwrap_err().to_string();
        assert!(error.contains("bad.jsonl:2"), "{error}");
    }

    #[test]
    fn prefix_comparison_allows_trailing_lines_only() {
        let a = json!({"body": {"type": "a"}});
        let b = json!({"body": {"type": "b"}});
        assert!(compare_prefix(std::slice::from_ref(&a), &[a.clone(), b.clone()]).is_ok());
        let mismatch =
            compare_prefix(&[a.clone(), b.clone()], &[a.clone(), a.clone()]).unwrap_err();
        assert_eq!(mismatch.line, 2);
        assert_eq!(mismatch.got, Some(a.clone()));
        assert!(
            mismatch
                .to_string()
                .contains("expected a `b` to ? here, got a `a` to ?"),
            "{mismatch}"
        );
        let short = compare_prefix(&[a.clone(), b], &[a]).unwrap_err();
        assert!(short.to_string().contains("only 1 message"), "{short}");
        // A node that forwards before it replies is told which message was due.
        let reply = json!({"dest": "c1", "body": {"type": "broadcast_ok", "in_reply_to": 1}});
        let forward = json!({"dest": "n2", "body": {"type": "broadcast", "message": 4}});
        let early = compare_prefix(&[reply], &[forward])
            .unwrap_err()
            .to_string();
        assert!(
            early.contains("expected a `broadcast_ok` to c1 here, got a `broadcast` to n2 (a reply comes before"),
            "{early}"
        );
        let value = json!({"dest": "c1", "body": {"type": "read_ok", "messages": [1]}});
        let other = json!({"dest": "c1", "body": {"type": "read_ok", "messages": [2]}});
        let field = compare_prefix(&[value], &[other]).unwrap_err().to_string();
        assert!(
            field.contains("first difference at body.messages"),
            "{field}"
        );
    }

    #[test]
    fn comparison_is_on_parsed_json_and_redacted_fields_match_anything() {
        let want = json!({"body": {"type": "write_ok", "ts": REDACTED, "n": 1}});
        let have = json!({"body": {"n": 1, "ts": 17.25, "type": "write_ok"}});
        assert!(compare_prefix(std::slice::from_ref(&want), &[have]).is_ok());
        let extra_key = json!({"body": {"n": 1, "ts": 1, "type": "write_ok", "x": 0}});
        assert!(compare_prefix(&[want], &[extra_key]).is_err());
    }

    #[test]
    fn snapshots_are_read_after_their_header_with_quoted_strings_kept_as_strings() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.snap");
        let text = "---\nsource: stages/x/tests/fixtures.rs\ndescription: demo\n---\n- body:\n    messages:\n      - 1\n      - \"1\"\n      - \"true\"\n      - \"\"\n    ts: \"[redacted]\"\n  dest: c1\n";
        fs::write(&path, text).unwrap();
        let expected =
            json!([{"body": {"messages": [1, "1", "true", ""], "ts": REDACTED}, "dest": "c1"}]);
        assert_eq!(Json::Array(load_snapshot(&path).unwrap()), expected);
        fs::write(&path, "no header").unwrap();
        assert!(
            load_snapshot(&path)
                .unwrap_err()
                .to_string()
                .contains("not an insta snapshot")
        );
    }

    #[test]
    fn numbers_compare_by_value_not_by_spelling() {
        assert!(compare_prefix(&[json!({"x": 1})], &[json!({"x": 1.0})]).is_ok());
        assert!(compare_prefix(&[json!({"x": 0.5})], &[json!({"x": 0.5})]).is_ok());
        assert!(compare_prefix(&[json!({"x": 1})], &[json!({"x": 1.5})]).is_err());
        assert!(compare_prefix(&[json!({"x": u64::MAX})], &[json!({"x": u64::MAX - 1})]).is_err());
    }

    #[test]
    fn error_texts_are_not_compared_but_codes_are() {
        let want = json!({"body": {"type": "error", "code": 10, "text": "ours"}});
        let other_text = json!({"body": {"type": "error", "code": 10, "text": "theirs"}});
        let no_text = json!({"body": {"type": "error", "code": 10}});
        let other_code = json!({"body": {"type": "error", "code": 12, "text": "ours"}});
        assert!(compare_prefix(std::slice::from_ref(&want), &[other_text]).is_ok());
        assert!(compare_prefix(std::slice::from_ref(&want), &[no_text]).is_ok());
        assert!(compare_prefix(&[want], &[other_code]).is_err());
    }

    #[test]
    fn redaction_replaces_only_volatile_body_fields() {
        let mut message = json!({"src": "n1", "body": {"ts": 3.5, "value": 2}});
        redact(&mut message);
        assert_eq!(
            message,
            json!({"src": "n1", "body": {"ts": REDACTED, "value": 2}})
        );
    }
}
