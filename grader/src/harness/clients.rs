//! Clients: ids, one outstanding request each, RPC timeouts, and how a reply or a timeout
//! becomes an operation's completion (Maelstrom's rules, `spec/maelstrom.md` 1.5).

use std::time::Duration;

use common::ErrorCode;
use serde_json::Value as Json;

use crate::history::OpKind;
use crate::workload::Workload;

/// How long nodes get to answer `init`.
pub use crate::config::INIT_TIMEOUT;

/// How long a client waits for any other reply, unless its workload declares otherwise
/// ([`crate::workload::Declaration::rpc_timeout`]).
pub const RPC_TIMEOUT: Duration = crate::workload::DEFAULT_RPC_TIMEOUT;

/// What a client is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    /// Sends `init` to a node at the start.
    Init,
    /// Sends the workload's setup request (broadcast's `topology`).
    Setup,
    /// A worker: the workload's operations. Holds the worker's index.
    Worker(usize),
    /// `init` to a node the kill nemesis restarted.
    RestartInit,
    /// The setup request to a node the kill nemesis restarted.
    RestartSetup,
    /// The harness's own read, timing convergence.
    Probe,
}

/// The request a client is waiting on.
#[derive(Debug, Clone)]
pub(super) struct Pending {
    pub(super) sent_at: Duration,
    /// When the request was written to the node (it may wait behind other messages).
    pub(super) delivered_at: Option<Duration>,
    /// For an operation the workload counts sends for: how many messages the answering node
    /// had sent to other nodes when it wrote its reply.
    pub(super) server_sends: Option<u64>,
    pub(super) msg_id: u64,
    pub(super) f: &'static str,
    /// The operation's value at invocation.
    pub(super) value: Json,
    /// For a later request of an operation that takes several (kafka's poll, then its
    /// commit): the value the earlier replies made of it.
    pub(super) so_far: Option<Json>,
    pub(super) final_read: bool,
}

/// One client: which node it talks to and what it is waiting for.
#[derive(Debug)]
pub(super) struct Client {
    pub(super) role: Role,
    pub(super) node: usize,
    pub(super) next_msg_id: u64,
    pub(super) pending: Option<Pending>,
    pub(super) open: bool,
}

impl Client {
    pub(super) fn new(role: Role, node: usize) -> Self {
        Self {
            role,
            node,
            next_msg_id: 1,
            pending: None,
            open: true,
        }
    }
}

/// A worker thread: its Jepsen process number and its current client.
#[derive(Debug)]
pub(super) struct Worker {
    pub(super) process: u64,
    pub(super) client: crate::net::Endpoint,
}

/// How an operation ended: its kind, its completed value and why it did not succeed.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Completion {
    pub(super) kind: OpKind,
    pub(super) value: Json,
    pub(super) error: Option<String>,
}

/// Judges a reply with Maelstrom's rules: an `error` fails or is `info` by the workload's
/// [`crate::workload::ErrorRule`]; any other reply is judged by the workload's closed schema,
/// and a malformed one is `info`.
pub(super) fn judge_reply(workload: &dyn Workload, pending: &Pending, body: &Json) -> Completion {
    let failed = |kind, error| Completion {
        kind,
        value: pending.value.clone(),
        error: Some(error),
    };
    if body.get("type").and_then(Json::as_str) == Some("error") {
        let code = body.get("code").and_then(Json::as_i64).unwrap_or(-1);
        let text = body.get("text").and_then(Json::as_str).unwrap_or("");
        let definite =
            u32::try_from(code).is_ok_and(|code| ErrorCode::from_code(code).is_definite());
        let kind = if workload.declaration().errors.fails(pending.f, definite) {
            OpKind::Fail
        } else {
            OpKind::Info
        };
        return failed(kind, format!("error {code}: {text}"));
    }
    let so_far = pending.so_far.as_ref().unwrap_or(&pending.value);
    match workload.judge_reply(pending.f, so_far, body) {
        Ok(value) => Completion {
            kind: OpKind::Ok,
            value,
            error: None,
        },
        Err(why) => {
            let mut quoted = body.to_string();
            if quoted.len() > 300 {
                let cut = (0..=300)
                    .rev()
                    .find(|i| quoted.is_char_boundary(*i))
                    .unwrap_or(0);
                quoted.truncate(cut);
                quoted.push('…');
            }
            failed(
                OpKind::Info,
                format!("malformed-rpc-response: {why}; the reply: {quoted}"),
            )
        }
    }
}

/// A timeout: under `with-errors` an idempotent operation certainly failed; any other may
/// still have happened.
pub(super) fn timed_out(workload: &dyn Workload, pending: &Pending) -> Completion {
    Completion {
        kind: if workload.declaration().errors.fails(pending.f, false) {
            OpKind::Fail
        } else {
            OpKind::Info
        },
        value: pending.value.clone(),
        error: Some("net-timeout".into()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::workload::by_name;

    fn pending(f: &'static str) -> Pending {
        Pending {
            sent_at: Duration::ZERO,
            delivered_at: None,
            server_sends: None,
            msg_id: 3,
            f,
            value: json!(7),
            so_far: None,
            final_read: false,
        }
    }

    #[test]
    fn errors_fail_when_definite_and_are_info_otherwise_but_reads_always_fail() {
        let workload = by_name("broadcast").unwrap();
        let judge = |f, body: Json| judge_reply(workload.as_ref(), &pending(f), &body).kind;
        assert_eq!(
            judge("broadcast", json!({"type": "error", "code": 11})),
            OpKind::Fail
        );
        assert_eq!(
            judge("broadcast", json!({"type": "error", "code": 13})),
            OpKind::Info
        );
        assert_eq!(
            judge("broadcast", json!({"type": "error", "code": 1000})),
            OpKind::Info
        );
        assert_eq!(
            judge("read", json!({"type": "error", "code": 13})),
            OpKind::Fail
        );
        assert_eq!(
            judge(
                "broadcast",
                json!({"type": "broadcast_ok", "in_reply_to": 3})
            ),
            OpKind::Ok
        );
        let malformed = judge_reply(
            workload.as_ref(),
            &pending("broadcast"),
            &json!({"type": "broadcast_ok", "in_reply_to": 3, "extra": 1}),
        );
        assert_eq!(malformed.kind, OpKind::Info);
        assert!(
            malformed
                .error
                .unwrap()
                .starts_with("malformed-rpc-response")
        );
        assert_eq!(
            timed_out(workload.as_ref(), &pending("read")).kind,
            OpKind::Fail
        );
        assert_eq!(
            timed_out(workload.as_ref(), &pending("broadcast")).kind,
            OpKind::Info
        );
    }
}
