//! The history: every client operation's invocation and completion, and the nemesis's actions,
//! in the order the harness saw them.

use std::fmt;
use std::io::{self, Write};
use std::time::Duration;

use serde::Serialize;
use serde_json::Value as Json;

/// Who performed an operation: a worker process (Jepsen numbering) or the nemesis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(untagged)]
pub enum Process {
    /// A worker; a worker whose op ends `info` continues as process + concurrency.
    Worker(u64),
    /// The fault injector.
    #[serde(serialize_with = "nemesis_name")]
    Nemesis,
}

fn nemesis_name<S: serde::Serializer>(serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str("nemesis")
}

impl fmt::Display for Process {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Process::Worker(number) => write!(formatter, "{number}"),
            Process::Nemesis => formatter.write_str(":nemesis"),
        }
    }
}

/// The Jepsen op type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    /// The operation starts.
    Invoke,
    /// It took effect.
    Ok,
    /// It certainly did not take effect.
    Fail,
    /// It may or may not have taken effect (timeouts, indefinite errors); also nemesis actions.
    Info,
}

/// One history entry.
#[derive(Debug, Clone, Serialize)]
pub struct Op {
    /// Position in the history, from 0.
    pub index: usize,
    /// Time since the main phase's clock started, in nanoseconds.
    pub time_ns: u64,
    /// Who performed it.
    pub process: Process,
    /// Invoke, ok, fail or info.
    #[serde(rename = "type")]
    pub kind: OpKind,
    /// What it does: a workload's operation (`broadcast`, `read`, `add`…) or a nemesis action
    /// (`start_partition`, `kill`, `pause`…).
    pub f: &'static str,
    /// The value: the broadcast integer, the list read, or the nemesis's grudge.
    pub value: Json,
    /// Why it failed, for `fail` and `info`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The node the client talked to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// One of the final reads after recovery.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub final_read: bool,
}

/// Each client operation's invocation with its completion (the same process's next entry), in
/// invocation order; `None` for one that never completed.
pub fn paired(ops: &[Op]) -> Vec<(&Op, Option<&Op>)> {
    let mut open: std::collections::BTreeMap<Process, usize> = std::collections::BTreeMap::new();
    let mut pairs: Vec<(&Op, Option<&Op>)> = Vec::new();
    for op in ops.iter().filter(|op| op.is_client()) {
        if op.kind == OpKind::Invoke {
            open.insert(op.process, pairs.len());
            pairs.push((op, None));
        } else if let Some(index) = open.remove(&op.process) {
            pairs[index].1 = Some(op);
        }
    }
    pairs
}

impl Op {
    /// True for client operations (everything but the nemesis).
    pub fn is_client(&self) -> bool {
        self.process != Process::Nemesis
    }
}

/// What [`History::push`] appends: an op without its index and time.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Who performed it.
    pub process: Process,
    /// Invoke, ok, fail or info.
    pub kind: OpKind,
    /// What it does.
    pub f: &'static str,
    /// Its value.
    pub value: Json,
    /// Why it failed, for `fail` and `info`.
    pub error: Option<String>,
    /// The node the client talked to.
    pub node: Option<String>,
    /// One of the final reads.
    pub final_read: bool,
}

impl Entry {
    /// A nemesis action, recorded as `info`.
    pub fn nemesis(f: &'static str, value: Json) -> Self {
        Self {
            process: Process::Nemesis,
            kind: OpKind::Info,
            f,
            value,
            error: None,
            node: None,
            final_read: false,
        }
    }
}

/// The ops of one run, appended in the order they happened.
#[derive(Debug, Clone, Default)]
pub struct History {
    ops: Vec<Op>,
}

impl History {
    /// Appends an op at `time` and returns its index.
    pub fn push(&mut self, time: Duration, entry: Entry) -> usize {
        let index = self.ops.len();
        self.ops.push(Op {
            index,
            time_ns: u64::try_from(time.as_nanos()).unwrap_or(u64::MAX),
            process: entry.process,
            kind: entry.kind,
            f: entry.f,
            value: entry.value,
            error: entry.error,
            node: entry.node,
            final_read: entry.final_read,
        });
        index
    }

    /// Every op, in order.
    pub fn ops(&self) -> &[Op] {
        &self.ops
    }

    /// Client invocations (every client op, final reads included): msgs-per-op's denominator.
    pub fn client_invocations(&self) -> usize {
        self.ops
            .iter()
            .filter(|op| op.kind == OpKind::Invoke && op.is_client())
            .count()
    }

    /// Writes `history.txt` as Jepsen does: one op per line, tab-separated
    /// `process :type :f value [error]`, values in EDN (`nil`, `[0 1]`, `{:grudge "one"}`) and
    /// a timeout as `:net-timeout`.
    pub fn write_text(&self, out: &mut impl Write) -> io::Result<()> {
        for op in &self.ops {
            let kind = serde_json::to_value(op.kind).unwrap_or_default();
            write!(
                out,
                "{}\t:{}\t:{}\t{}",
                op.process,
                kind.as_str().unwrap_or(""),
                op.f,
                edn(&op.value)
            )?;
            match op.error.as_deref() {
                Some("net-timeout") => write!(out, "\t:net-timeout")?,
                Some(error) => write!(out, "\t{}", edn(&Json::String(error.to_owned())))?,
                None => {}
            }
            writeln!(out)?;
        }
        Ok(())
    }

    /// Writes `history.jsonl`: one op per line, every field.
    pub fn write_jsonl(&self, out: &mut impl Write) -> io::Result<()> {
        for op in &self.ops {
            serde_json::to_writer(&mut *out, op)?;
            writeln!(out)?;
        }
        Ok(())
    }
}

/// An operation name read from a file, as the `&'static str` ops carry: the same name is kept
/// once for the whole process (names are few: a workload's operations and the nemesis's).
pub(crate) fn intern(name: &str) -> &'static str {
    static NAMES: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());
    let mut names = NAMES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(known) = names.iter().find(|known| **known == name) {
        return known;
    }
    let leaked: &'static str = Box::leak(name.to_owned().into_boxed_str());
    names.push(leaked);
    leaked
}

/// Reads `history.jsonl` as [`History::write_jsonl`] writes it, or elle-cli's JSON lines (no `f`
/// or times: a list of micro-ops is a `txn`, and the line order is the real-time order). A line
/// that is not an op is an
/// error naming the line (1-based) and what is wrong with it.
pub fn read_jsonl(text: &str) -> Result<Vec<Op>, String> {
    let mut ops = Vec::new();
    for (number, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let wrong = |what: &str| format!("line {}: {what}", number + 1);
        let json: Json =
            serde_json::from_str(line).map_err(|error| wrong(&format!("not JSON ({error})")))?;
        let field = |name: &str| json.get(name);
        let process = match field("process") {
            Some(Json::Number(number)) => Process::Worker(
                number
                    .as_u64()
                    .ok_or_else(|| wrong("`process` is not a whole number"))?,
            ),
            Some(Json::String(name)) if name == "nemesis" => Process::Nemesis,
            _ => return Err(wrong("`process` must be a number or \"nemesis\"")),
        };
        let kind = match field("type").and_then(Json::as_str) {
            Some("invoke") => OpKind::Invoke,
            Some("ok") => OpKind::Ok,
            Some("fail") => OpKind::Fail,
            Some("info") => OpKind::Info,
            _ => return Err(wrong("`type` must be invoke, ok, fail or info")),
        };
        // elle-cli's and adya's lines have no `f`: a list of micro-ops is a transaction.
        let transaction = field("value")
            .and_then(Json::as_array)
            .is_some_and(|mops| mops.iter().all(Json::is_array));
        let f = match field("f").and_then(Json::as_str) {
            Some(f) => f,
            None if transaction => "txn",
            None => return Err(wrong("`f` (the operation) is missing")),
        };
        ops.push(Op {
            index: ops.len(),
            // Without times (elle-cli's lines), the line order is the real-time order.
            time_ns: field("time_ns")
                .and_then(Json::as_u64)
                .unwrap_or(number as u64),
            process,
            kind,
            f: intern(f),
            value: field("value").cloned().unwrap_or(Json::Null),
            error: field("error").and_then(Json::as_str).map(str::to_owned),
            node: field("node").and_then(Json::as_str).map(str::to_owned),
            final_read: field("final_read").and_then(Json::as_bool).unwrap_or(false),
        });
    }
    Ok(ops)
}

/// A JSON value in EDN, as Jepsen prints values: `nil`, `true`, numbers, strings with JSON's
/// escapes, `[a b]` vectors and `{:key value}` maps with keyword keys.
pub fn edn(value: &Json) -> String {
    match value {
        Json::Null => "nil".into(),
        Json::Bool(_) | Json::Number(_) | Json::String(_) => value.to_string(),
        Json::Array(items) => {
            let items: Vec<String> = items.iter().map(edn).collect();
            format!("[{}]", items.join(" "))
        }
        Json::Object(fields) => {
            let fields: Vec<String> = fields
                .iter()
                .map(|(key, value)| format!(":{key} {}", edn(value)))
                .collect();
            format!("{{{}}}", fields.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn history_jsonl_reads_back_as_written_and_bad_lines_are_named() {
        let mut history = History::default();
        for (kind, process) in [
            (OpKind::Invoke, Process::Worker(3)),
            (OpKind::Info, Process::Nemesis),
        ] {
            history.push(
                Duration::from_millis(5),
                Entry {
                    process,
                    kind,
                    f: "read",
                    value: json!([1, 2]),
                    error: Some("net-timeout".into()),
                    node: Some("n1".into()),
                    final_read: true,
                },
            );
        }
        let mut text = Vec::new();
        history.write_jsonl(&mut text).unwrap();
        let read = read_jsonl(std::str::from_utf8(&text).unwrap()).unwrap();
        assert_eq!(read.len(), 2);
        assert_eq!(
            serde_json::to_value(&read).unwrap(),
            serde_json::to_value(history.ops()).unwrap()
        );
        let error = read_jsonl("{\"process\":1,\"type\":\"ok\",\"f\":\"read\"}\n{\"process\":1}")
            .unwrap_err();
        assert!(error.starts_with("line 2: `type`"), "{error}");
    }

    #[test]
    fn history_text_is_edn_as_jepsen_writes_it() {
        assert_eq!(edn(&json!(null)), "nil");
        assert_eq!(edn(&json!([0, 1, "a"])), "[0 1 \"a\"]");
        assert_eq!(
            edn(&json!({"grudge": "one", "components": [["n1"], ["n0"]]})),
            "{:components [[\"n1\"] [\"n0\"]], :grudge \"one\"}"
        );
        let mut history = History::default();
        let entry = |kind, value, error: Option<&str>| Entry {
            process: Process::Worker(0),
            kind,
            f: "read",
            value,
            error: error.map(str::to_owned),
            node: None,
            final_read: false,
        };
        history.push(Duration::ZERO, entry(OpKind::Invoke, Json::Null, None));
        history.push(
            Duration::ZERO,
            entry(OpKind::Fail, Json::Null, Some("net-timeout")),
        );
        history.push(Duration::ZERO, Entry::nemesis("kill", json!(["n1"])));
        let mut text = Vec::new();
        history.write_text(&mut text).unwrap();
        assert_eq!(
            String::from_utf8(text).unwrap(),
            "0\t:invoke\t:read\tnil\n0\t:fail\t:read\tnil\t:net-timeout\n:nemesis\t:info\t:kill\t[\"n1\"]\n"
        );
    }
}
