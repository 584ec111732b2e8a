//! A stage's learner data (`stages/<stage>/learn.toml`: the spec's messages, the flags the grade
//! passes, the hints) and the starter nodes written from it, in Rust and in Python.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context as _, bail};
use grader::manifest::Stage;
use serde::Deserialize;

/// `stages/<stage>/learn.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LearnData {
    /// From the most general to the most specific.
    pub hints: Vec<String>,
    /// The flags the stage's fixtures and cluster runs pass to the node.
    #[serde(default, rename = "flag")]
    pub flags: Vec<Flag>,
    /// The spec's messages for this stage, requests and replies.
    #[serde(rename = "message")]
    pub messages: Vec<MessageSpec>,
}

/// One command-line flag of the node.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Flag {
    /// Without the leading `--`: `interval-ms`.
    pub name: String,
    /// `uint`, `int` or `string`.
    pub kind: String,
    /// Its default.
    pub default: toml::Value,
    /// What it sets.
    pub doc: String,
}

/// One message type.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageSpec {
    /// The body's `type`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Body fields in order, by name, each with a type from [`FIELD_TYPES`].
    #[serde(default)]
    pub fields: toml::Table,
    /// What a node does on receiving it; absent for messages a node only writes (replies).
    pub handle: Option<String>,
}

/// The field types `learn.toml` may use, with their Rust types.
pub const FIELD_TYPES: &[(&str, &str)] = &[
    ("value", "Value"),
    ("values", "Vec<Value>"),
    ("values?", "Option<Vec<Value>>"),
    ("int", "i64"),
    ("uint", "u64"),
    ("uint?", "Option<u64>"),
    ("float", "f64"),
    ("bool", "bool"),
    ("bool?", "Option<bool>"),
    ("string", "String"),
    ("string?", "Option<String>"),
    ("nodes", "Vec<NodeId>"),
    ("topology", "BTreeMap<NodeId, Vec<NodeId>>"),
    ("json", "serde_json::Value"),
    ("strings", "Vec<String>"),
    ("offsets", "BTreeMap<String, u64>"),
    ("polled", "BTreeMap<String, Vec<(u64, serde_json::Value)>>"),
];

impl LearnData {
    /// Reads and checks a stage's data.
    pub fn load(stage_dir: &Path) -> anyhow::Result<LearnData> {
        let path = stage_dir.join("learn.toml");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let data: LearnData =
            toml::from_str(&text).with_context(|| format!("{} is not valid", path.display()))?;
        if data.hints.is_empty() {
            bail!("{}: a stage needs at least one hint", path.display());
        }
        for message in &data.messages {
            for (field, kind) in &message.fields {
                let known = kind
                    .as_str()
                    .is_some_and(|kind| FIELD_TYPES.iter().any(|(name, _)| *name == kind));
                if !known {
                    bail!(
                        "{}: field `{field}` of `{}` has type {kind}; use one of {}",
                        path.display(),
                        message.kind,
                        FIELD_TYPES
                            .iter()
                            .map(|(name, _)| *name)
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                }
            }
        }
        for flag in &data.flags {
            if !["uint", "int", "string"].contains(&flag.kind.as_str()) {
                bail!(
                    "{}: flag --{} has kind {}; use uint, int or string",
                    path.display(),
                    flag.name,
                    flag.kind
                );
            }
        }
        Ok(data)
    }

    /// The reply a request is answered with: its type plus `_ok`, when the stage has one.
    fn reply_of(&self, message: &MessageSpec) -> Option<&MessageSpec> {
        let reply = format!("{}_ok", message.kind);
        self.messages.iter().find(|other| other.kind == reply)
    }

    fn example_body(&self, message: &MessageSpec, python: bool) -> String {
        let mut fields = vec![format!("\"type\": \"{}\"", message.kind)];
        fields.extend(
            message
                .fields
                .keys()
                .map(|field| format!("\"{field}\": ...")),
        );
        if python {
            format!("{{{}}}", fields.join(", "))
        } else {
            let rust: Vec<String> = message
                .fields
                .keys()
                .map(|field| format!("{field}: ..."))
                .collect();
            if rust.is_empty() {
                format!("Payload::{}", camel(&message.kind))
            } else {
                format!(
                    "Payload::{} {{ {} }}",
                    camel(&message.kind),
                    rust.join(", ")
                )
            }
        }
    }
}

/// `broadcast_ok` → `BroadcastOk`.
fn camel(snake: &str) -> String {
    snake
        .split('_')
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// `interval-ms` → `interval_ms`, a Rust keyword as a raw identifier.
fn ident(name: &str) -> String {
    let name = name.replace('-', "_");
    if ["match", "type", "ref", "move", "loop", "in", "as", "fn"].contains(&name.as_str()) {
        format!("r#{name}")
    } else {
        name
    }
}

fn rust_type(kind: &str) -> &'static str {
    FIELD_TYPES
        .iter()
        .find(|(name, _)| *name == kind)
        .map_or("serde_json::Value", |(_, rust)| rust)
}

fn todo_text(message: &MessageSpec) -> String {
    format!(
        "{}: {}",
        message.kind,
        message.handle.as_deref().unwrap_or_default()
    )
}

/// The learner crate's package and binary name for a stage.
pub fn package_name(stage: &str) -> String {
    format!("my-{stage}")
}

/// What an exercise is called in comments: `Stage 01 (flood every neighbour)`, `Glomers 4
/// (a stateless counter on seq-kv, with compare-and-set)`.
fn title(stage: &Stage) -> String {
    let short = stage.short_name();
    let (prefix, id) = short.split_once('-').unwrap_or((short.as_str(), ""));
    let mut letters = prefix.chars();
    let prefix: String = letters
        .next()
        .map(|first| first.to_uppercase().chain(letters).collect())
        .unwrap_or_default();
    format!("{prefix} {id} ({})", stage.summary)
}

/// The Rust starter's `Cargo.toml`. `common` is a path dependency on this checkout's runtime;
/// the profiles match the workspace's so the learner crate shares its compiled dependencies.
pub fn rust_manifest(stage: &str, common: &Path) -> String {
    format!(
        r#"# Your node for {stage}: a crate of its own (not a member of Gossiper's workspace).
[package]
name = "{package}"
version = "0.1.0"
edition = "2024"
publish = false

[dependencies]
common = {{ path = "{common}" }}
serde = {{ version = "1.0", features = ["derive"] }}
serde_json = "1.0"
clap = {{ version = "4.6", features = ["derive"] }}
rand = "0.10"

[workspace]

[profile.release]
debug = "line-tables-only"
"#,
        package = package_name(stage),
        common = common.display(),
    )
}

/// The Rust starter's `src/main.rs`: the stage's messages as an enum, its flags, and a node
/// whose every handler is a `todo!` that says what it must do.
pub fn rust_main(stage: &Stage, data: &LearnData) -> String {
    let short = stage.short_name();
    let mut out = String::new();
    let _ = writeln!(out, "//! {}: your node.", title(stage));
    let _ = writeln!(out, "//!");
    let _ = writeln!(
        out,
        "//! The messages below are the exercise's interface ({}/README.md explains them);",
        stage.dir
    );
    let _ = writeln!(
        out,
        "//! every handler is a `todo!()` saying what it must do. Grade it with `cargo xtask check {short}`"
    );
    let _ = writeln!(
        out,
        "//! (once) or `cargo xtask watch` (on every save); `cargo xtask hint {short}` when stuck."
    );
    let _ = writeln!(out, "//!");
    let _ = writeln!(
        out,
        "//! The runtime (`common`) answers `init`, numbers your messages and answers unknown types"
    );
    let _ = writeln!(
        out,
        "//! with error 10. In a handler: `ctx.reply(&msg, payload)`, `ctx.send(dest, payload)`,"
    );
    let _ = writeln!(
        out,
        "//! `ctx.node_id()`, `ctx.peers()`, `ctx.is_cluster_node(&msg.src)`, `ctx.random_peers(k, except)`,"
    );
    let _ = writeln!(
        out,
        "//! `ctx.every(period, Timer::...)`, `ctx.set_timer(delay, Timer::...)`, and"
    );
    let _ = writeln!(
        out,
        "//! `ctx.rpc(NodeId::new(\"seq-kv\"), payload, timeout)` for a request whose reply comes back to"
    );
    let _ = writeln!(
        out,
        "//! `on_message` with `in_reply_to` set (no reply in time: `on_rpc_timeout`)."
    );
    out.push('\n');
    let _ = writeln!(
        out,
        "// Remove this line once your handlers use what they are given."
    );
    let _ = writeln!(
        out,
        "#![allow(unused_variables, unused_imports, dead_code)]\n"
    );
    out.push_str("use std::collections::BTreeMap;\nuse std::time::Duration;\n\n");
    out.push_str("use common::{Context, ErrorCode, Message, Node, NodeId, RpcError, Value};\n");
    out.push_str("use serde::{Deserialize, Serialize};\n\n");
    out.push_str("/// The stage's messages, as the spec names them. Add your own node-to-node messages here.\n");
    out.push_str("#[derive(Debug, Clone, Serialize, Deserialize)]\n");
    out.push_str("#[serde(tag = \"type\", rename_all = \"snake_case\")]\npub enum Payload {\n");
    for message in &data.messages {
        let doc = match &message.handle {
            Some(handle) => format!("`{}`: {handle}", message.kind),
            None => format!("`{}`: written by a node.", message.kind),
        };
        for line in wrap(&doc, 88) {
            let _ = writeln!(out, "    /// {line}");
        }
        if message.fields.is_empty() {
            let _ = writeln!(out, "    {},", camel(&message.kind));
            continue;
        }
        let _ = writeln!(out, "    {} {{", camel(&message.kind));
        for (field, kind) in &message.fields {
            let kind = kind.as_str().unwrap_or("json");
            if kind.ends_with('?') {
                out.push_str(
                    "        #[serde(default, skip_serializing_if = \"Option::is_none\")]\n",
                );
            }
            let _ = writeln!(out, "        {}: {},", ident(field), rust_type(kind));
        }
        out.push_str("    },\n");
    }
    out.push_str("}\n\n");
    out.push_str("/// Your timers; start periodic ones in `on_init` with `ctx.every(...)`.\n");
    out.push_str("#[derive(Debug, Clone)]\npub enum Timer {\n    /// An example; rename or remove it.\n    Round,\n}\n\n");
    out.push_str("/// The node's flags; the grade passes some of them (see the stage's fixtures and grading.toml).\n");
    out.push_str("#[derive(Debug, Clone, clap::Args)]\npub struct Flags {\n");
    for flag in &data.flags {
        out.push_str(&rust_flag(flag));
    }
    out.push_str("}\n\n");
    out.push_str("/// Your node's state.\npub struct MyNode {\n    flags: Flags,\n}\n\n");
    out.push_str("impl Node for MyNode {\n    type Payload = Payload;\n    type Timer = Timer;\n    type Flags = Flags;\n\n");
    out.push_str("    fn new(flags: Flags) -> Self {\n        MyNode { flags }\n    }\n\n");
    out.push_str("    fn on_init(&mut self, ctx: &mut Context<Payload, Timer>) {\n        // Start periodic timers here, for example:\n        // ctx.every(Duration::from_millis(100), Timer::Round);\n    }\n\n");
    out.push_str("    fn on_message(\n        &mut self,\n        msg: Message<Payload>,\n        ctx: &mut Context<Payload, Timer>,\n    ) -> Result<(), RpcError> {\n        match &msg.body.payload {\n");
    let mut ignored = Vec::new();
    for message in &data.messages {
        let Some(_) = &message.handle else {
            ignored.push(message);
            continue;
        };
        let fields: Vec<String> = message.fields.keys().map(|field| ident(field)).collect();
        let pattern = if fields.is_empty() {
            format!("Payload::{}", camel(&message.kind))
        } else {
            format!(
                "Payload::{} {{ {} }}",
                camel(&message.kind),
                fields.join(", ")
            )
        };
        let _ = writeln!(out, "            {pattern} => {{");
        if let Some(reply) = data.reply_of(message) {
            let _ = writeln!(
                out,
                "                // Answer with: ctx.reply(&msg, {});",
                data.example_body(reply, false)
            );
        }
        // todo! takes a format string: braces in the text are doubled.
        let text = format!("{:?}", todo_text(message))
            .replace('{', "{{")
            .replace('}', "}}");
        let _ = writeln!(out, "                todo!({text})");
        out.push_str("            }\n");
    }
    if !ignored.is_empty() {
        let patterns: Vec<String> = ignored
            .iter()
            .map(|message| {
                if message.fields.is_empty() {
                    format!("Payload::{}", camel(&message.kind))
                } else {
                    format!("Payload::{} {{ .. }}", camel(&message.kind))
                }
            })
            .collect();
        out.push_str("            // Replies addressed to this node.\n");
        let _ = writeln!(out, "            {} => {{}}", patterns.join(" | "));
    }
    out.push_str("        }\n        Ok(())\n    }\n\n");
    out.push_str("    fn on_timer(&mut self, timer: Timer, ctx: &mut Context<Payload, Timer>) {\n        match timer {\n            Timer::Round => {}\n        }\n    }\n}\n\n");
    let _ = writeln!(
        out,
        "fn main() -> std::process::ExitCode {{\n    common::main::<MyNode>(\"{}\", \"{}: a learner's node.\")\n}}",
        package_name(&stage.name),
        title(stage)
    );
    out
}

/// Words in lines of at most `width` characters (a longer word gets a line of its own).
pub(crate) fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// `stage-01-flooding` → `stage-01`.
pub use grader::manifest::short_name;

/// The Python starter: one executable file, standard library only, with the tiny runtime
/// (`runtime.py`) and a handler per request that raises `NotImplementedError` saying what it
/// must do.
pub fn python_node(stage: &Stage, data: &LearnData) -> String {
    let short = stage.short_name();
    let mut out = String::new();
    out.push_str("#!/usr/bin/env python3\n");
    let _ = writeln!(out, "\"\"\"{}: your node.", title(stage));
    out.push('\n');
    let _ = writeln!(
        out,
        "The handlers at the bottom are the exercise's interface ({}/README.md explains",
        stage.dir
    );
    out.push_str("them); each raises NotImplementedError saying what it must do. Grade it with\n");
    let _ = writeln!(
        out,
        "`cargo xtask check {short}` (once) or `cargo xtask watch` (on every save); `cargo xtask hint {short}`"
    );
    out.push_str("when stuck.\n\"\"\"\n");
    out.push_str(include_str!("runtime.py"));
    out.push_str("\n\n# ---- your node ---------------------------------------------------------------------------\n");
    out.push_str("import argparse\n\n\ndef parse_flags():\n");
    let _ = writeln!(
        out,
        "    parser = argparse.ArgumentParser(description={:?})",
        format!("{}: a learner's node.", title(stage))
    );
    out.push_str("    seed = os.environ.get(\"GOSSIP_SEED\")\n");
    out.push_str(
        "    parser.add_argument(\"--seed\", type=int, default=int(seed) if seed else None)\n",
    );
    for flag in &data.flags {
        out.push_str(&python_flag(flag));
    }
    out.push_str("    return parser.parse_args()\n\n\n");
    out.push_str("flags = parse_flags()\nnode = Node(seed=flags.seed)\n\n");
    out.push_str("# Your node's state goes here.\n\n\n");
    out.push_str("def on_init():\n    # Start periodic timers here, for example: node.every(100, gossip_round)\n    pass\n\n\nnode.on_init = on_init\n");
    for message in &data.messages {
        if message.handle.is_none() {
            continue;
        }
        out.push_str("\n\n");
        let required: Vec<String> = message
            .fields
            .iter()
            .filter(|(_, kind)| !kind.as_str().is_some_and(|kind| kind.ends_with('?')))
            .map(|(field, _)| format!("\"{field}\""))
            .collect();
        if required.is_empty() {
            let _ = writeln!(out, "@node.handler(\"{}\")", message.kind);
        } else {
            let _ = writeln!(
                out,
                "@node.handler(\"{}\", fields=[{}])",
                message.kind,
                required.join(", ")
            );
        }
        let _ = writeln!(out, "def on_{}(msg):", message.kind);
        if !message.fields.is_empty() {
            let fields: Vec<String> = message
                .fields
                .keys()
                .map(|field| format!("msg[\"body\"][\"{field}\"]"))
                .collect();
            let _ = writeln!(out, "    # Fields: {}", fields.join(", "));
        }
        if let Some(reply) = data.reply_of(message) {
            let _ = writeln!(
                out,
                "    # Answer with: node.reply(msg, {})",
                data.example_body(reply, true)
            );
        }
        let _ = writeln!(
            out,
            "    raise NotImplementedError({:?})",
            todo_text(message)
        );
    }
    out.push_str("\n\nif __name__ == \"__main__\":\n    node.run()\n");
    out
}

/// A flag as a field of the Rust starter's `Flags` struct (its doc line, its `#[arg]`, the
/// field), each line indented and ended.
pub fn rust_flag(flag: &Flag) -> String {
    let (rust, default) = match flag.kind.as_str() {
        "string" => ("String", format!("{}.to_owned()", flag.default)),
        "int" => ("i64", flag.default.to_string()),
        _ => ("u64", flag.default.to_string()),
    };
    format!(
        "    /// {}\n    #[arg(long = \"{}\", default_value_t = {default})]\n    pub {}: {rust},\n",
        flag.doc,
        flag.name,
        ident(&flag.name)
    )
}

/// A flag as a line of the Python starter's `parse_flags`, indented and ended.
pub fn python_flag(flag: &Flag) -> String {
    let kind = if flag.kind == "string" { "str" } else { "int" };
    format!(
        "    parser.add_argument(\"--{}\", type={kind}, default={}, help={:?})\n",
        flag.name, flag.default, flag.doc
    )
}

/// `text` (a starter's node, perhaps much edited) with `lines` added to its flags: as the first
/// fields of Rust's `Flags` struct (which rustfmt writes as `pub struct Flags {}` while empty),
/// or just before the `return parser.parse_args()` that closes Python's `parse_flags`. `None`
/// when the node has no such place any more.
pub fn insert_flags(text: &str, rust: bool, lines: &str) -> Option<String> {
    if rust {
        if let Some(at) = text.find("pub struct Flags {}") {
            let mut edited = text.to_owned();
            edited.replace_range(
                at..at + "pub struct Flags {}".len(),
                &format!("pub struct Flags {{\n{lines}}}"),
            );
            return Some(edited);
        }
        let anchor = "pub struct Flags {\n";
        let at = text.find(anchor)? + anchor.len();
        let mut edited = text.to_owned();
        edited.insert_str(at, lines);
        Some(edited)
    } else {
        let at = text.find("    return parser.parse_args()\n")?;
        let mut edited = text.to_owned();
        edited.insert_str(at, lines);
        Some(edited)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_rust_names() {
        assert_eq!(camel("broadcast_ok"), "BroadcastOk");
        assert_eq!(camel("read"), "Read");
        assert_eq!(ident("interval-ms"), "interval_ms");
        assert_eq!(ident("match"), "r#match");
        assert_eq!(short_name("stage-01-flooding"), "stage-01");
        assert_eq!(wrap("aa bb cc", 5), ["aa bb", "cc"]);
        assert_eq!(wrap("", 5), Vec::<String>::new());
    }
}
