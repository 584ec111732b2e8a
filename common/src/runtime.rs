//! The [`Runtime`]: a node, its context, and the parsing and error rules every stage shares.
//!
//! It is the sans-IO core of every driver: lines and clock readings go in, lines come out.
//! The process driver ([`crate::serve`]) wraps it in pipes and a real clock; the grader's
//! simulated cluster wraps it in virtual time.

use std::borrow::Cow;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Map, Value as Json};

use crate::context::Context;
use crate::message::{ErrorCode, Message, NodeId, RpcError};
use crate::node::{Node, RpcTimeout};

/// A node plus its context: feed it input lines and clock readings, take its output lines.
pub struct Runtime<N: Node> {
    node: N,
    ctx: Context<N::Payload, N::Timer>,
}

impl<N: Node> Runtime<N> {
    /// Wraps a freshly built node; `seed` seeds the node's one random generator.
    pub fn new(node: N, seed: u64) -> Self {
        Self {
            node,
            ctx: Context::new(seed),
        }
    }

    /// The node, for inspection in tests.
    pub fn node(&self) -> &N {
        &self.node
    }

    /// Handles one input line received at `now`. Never panics on bad input: a line that is not
    /// JSON is logged and skipped, an unknown type is answered with error 10, a body that does
    /// not fit its type with error 12.
    pub fn handle_line(&mut self, line: &str, now: Duration) {
        self.ctx.set_now(now);
        let line = line.trim();
        if line.is_empty() {
            return;
        }
        // The common case, parsed straight into the stage's message: an initialised node and
        // a well-formed message of one of its types. Anything else (init, a type it does not
        // know, a malformed body) takes the general path below, which says what was wrong.
        if self.ctx.is_initialised()
            && let Ok(message) = serde_json::from_str::<Message<N::Payload>>(line)
        {
            if let Some(answered) = message.body.in_reply_to {
                self.ctx.settle_rpc(answered);
            }
            let (src, msg_id) = (message.src.clone(), message.body.msg_id);
            if let Err(error) = self.node.on_message(message, &mut self.ctx) {
                let me = self.ctx.node_id().clone();
                self.ctx.write_error(&me, src, msg_id, &error);
            }
            return;
        }
        // A well-formed `init`, read without building a JSON value of every id (a large
        // cluster lists thousands). Anything that does not fit takes the general path.
        if let Ok(init) = serde_json::from_str::<InitLine>(line)
            && init.body.kind == "init"
        {
            let src = NodeId::new(init.src);
            let body = init.body;
            self.initialise(&body.node_id, &body.node_ids, src, body.msg_id, line);
            return;
        }
        let json: Json = match serde_json::from_str(line) {
            Ok(json) => json,
            Err(error) => {
                self.ctx.log(format!(
                    "ignored an input line that is not JSON ({error}): {line}"
                ));
                return;
            }
        };
        let (Some(src), Some(dest)) = (
            json.get("src").and_then(Json::as_str),
            json.get("dest").and_then(Json::as_str),
        ) else {
            self.ctx.log(format!(
                "ignored a message without string `src` and `dest` fields: {line}"
            ));
            return;
        };
        let (src, dest) = (NodeId::new(src), NodeId::new(dest));
        let body = json.get("body");
        let msg_id = body
            .and_then(|body| body.get("msg_id"))
            .and_then(Json::as_u64);
        let in_reply_to = body
            .and_then(|body| body.get("in_reply_to"))
            .and_then(Json::as_u64);
        let kind = body
            .and_then(|body| body.get("type"))
            .and_then(Json::as_str)
            .map(str::to_owned);

        let Some(kind) = kind else {
            let problem = if body.is_some_and(Json::is_object) {
                "the body has no string `type` field"
            } else {
                "the message has no `body` object"
            };
            self.refuse(
                &dest,
                src,
                msg_id,
                in_reply_to,
                ErrorCode::MalformedRequest,
                problem.into(),
                line,
            );
            return;
        };
        let kind = kind.as_str();
        if kind == "init" {
            self.handle_init(&json, src, dest, msg_id, line);
            return;
        }
        if !self.ctx.is_initialised() {
            self.ctx.log(format!(
                "ignored a `{kind}` message that came before `init`: {line}"
            ));
            return;
        }
        if let Some(answered) = in_reply_to {
            self.ctx.settle_rpc(answered);
        }
        match serde_json::from_value::<Message<N::Payload>>(json) {
            Ok(message) => {
                if let Err(error) = self.node.on_message(message, &mut self.ctx) {
                    let me = self.ctx.node_id().clone();
                    self.ctx.write_error(&me, src, msg_id, &error);
                }
            }
            Err(error) => {
                let (code, text) = classify_parse_error(kind, &error);
                let me = self.ctx.node_id().clone();
                self.refuse(&me, src, msg_id, in_reply_to, code, text, line);
            }
        }
    }

    /// Fires every timer and RPC timeout due at or before `now`, earliest first.
    pub fn fire_due(&mut self, now: Duration) {
        self.ctx.set_now(now);
        while let Some(timer) = self.ctx.pop_due_timer(now) {
            self.node.on_timer(timer, &mut self.ctx);
        }
        while let Some((msg_id, dest)) = self.ctx.pop_expired_rpc(now) {
            self.node
                .on_rpc_timeout(RpcTimeout { msg_id, dest }, &mut self.ctx);
        }
    }

    /// When the next timer or RPC timeout is due, if any.
    pub fn next_deadline(&self) -> Option<Duration> {
        self.ctx.next_deadline()
    }

    /// The lines written since the last call, in order, each one JSON message.
    pub fn take_output(&mut self) -> Vec<String> {
        self.ctx.take_outbox()
    }

    /// The log lines (for stderr) written since the last call.
    pub fn take_log(&mut self) -> Vec<String> {
        self.ctx.take_log()
    }

    /// `init` as the general path parsed it: checks its fields, then initialises.
    fn handle_init(
        &mut self,
        json: &Json,
        src: NodeId,
        dest: NodeId,
        msg_id: Option<u64>,
        line: &str,
    ) {
        let body = &json["body"];
        let node_id = body.get("node_id").and_then(Json::as_str);
        let node_ids: Option<Vec<&str>> = body
            .get("node_ids")
            .and_then(Json::as_array)
            .and_then(|ids| ids.iter().map(Json::as_str).collect());
        let (Some(node_id), Some(node_ids)) = (node_id, node_ids) else {
            let text = "init needs `node_id` (a string) and `node_ids` (a list of strings)";
            self.refuse(
                &dest,
                src,
                msg_id,
                None,
                ErrorCode::MalformedRequest,
                text.into(),
                line,
            );
            return;
        };
        self.initialise(node_id, &node_ids, src, msg_id, line);
    }

    /// Takes the node's id and the cluster's, answers `init_ok` and, the first time, runs
    /// [`Node::on_init`].
    fn initialise<S: AsRef<str>>(
        &mut self,
        node_id: &str,
        node_ids: &[S],
        src: NodeId,
        msg_id: Option<u64>,
        line: &str,
    ) {
        let again = self.ctx.is_initialised();
        if again {
            self.ctx.log(format!(
                "a second init arrived; answering it and keeping state: {line}"
            ));
        }
        self.ctx.initialise(NodeId::new(node_id), node_ids);
        let me = self.ctx.node_id().clone();
        self.ctx
            .write_runtime_body(&me, src, msg_id, "init_ok", Map::new());
        if !again {
            self.node.on_init(&mut self.ctx);
        }
    }

    /// Answers a request it cannot handle with an error, unless the message is itself a reply:
    /// answering replies with errors would let two nodes bounce errors at each other forever.
    #[allow(clippy::too_many_arguments)]
    fn refuse(
        &mut self,
        me: &NodeId,
        src: NodeId,
        msg_id: Option<u64>,
        in_reply_to: Option<u64>,
        code: ErrorCode,
        text: String,
        line: &str,
    ) {
        if in_reply_to.is_some() {
            self.ctx
                .log(format!("ignored a reply it cannot read ({text}): {line}"));
            return;
        }
        self.ctx.log(format!(
            "answered error {} ({text}) to: {line}",
            code.code()
        ));
        self.ctx
            .write_error(me, src, msg_id, &RpcError::new(code, text));
    }
}

/// An `init` line, borrowed from the input where it can be: the fields the general path
/// requires, of the types it requires.
#[derive(Deserialize)]
struct InitLine<'a> {
    #[serde(borrow)]
    src: Cow<'a, str>,
    /// Required as the general path requires it, though `init` is answered to `src`.
    #[serde(borrow, rename = "dest")]
    _dest: Cow<'a, str>,
    #[serde(borrow)]
    body: InitBody<'a>,
}

/// The body of an [`InitLine`].
#[derive(Deserialize)]
struct InitBody<'a> {
    #[serde(borrow, rename = "type")]
    kind: Cow<'a, str>,
    msg_id: Option<u64>,
    #[serde(borrow)]
    node_id: Cow<'a, str>,
    #[serde(borrow)]
    node_ids: Vec<Cow<'a, str>>,
}

/// Tells an unknown message type (error 10) from a known type with bad fields (error 12).
///
/// serde reports an unknown tag of an internally tagged enum as "unknown variant"; anything
/// else went wrong inside a type the node does handle.
fn classify_parse_error(kind: &str, error: &serde_json::Error) -> (ErrorCode, String) {
    let detail = error.to_string();
    if detail.starts_with("unknown variant") {
        (
            ErrorCode::NotSupported,
            format!("this node does not handle messages of type `{kind}`"),
        )
    } else {
        (
            ErrorCode::MalformedRequest,
            format!("the `{kind}` body does not fit its schema: {detail}"),
        )
    }
}
