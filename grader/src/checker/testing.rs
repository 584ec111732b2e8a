//! Hand-built histories for the checkers' tests.

use std::time::Duration;

use serde_json::{Value as Json, json};

use crate::history::{Entry, History, OpKind, Process};

/// Builds histories by hand: `(process, kind, f, value, time_ms)`.
pub(crate) struct Builder {
    pub(crate) history: History,
}

impl Builder {
    pub(crate) fn new() -> Self {
        Self {
            history: History::default(),
        }
    }

    pub(crate) fn op(
        &mut self,
        process: u64,
        kind: OpKind,
        f: &'static str,
        value: Json,
        ms: u64,
    ) -> &mut Self {
        self.op_on(process, &format!("n{process}"), kind, f, value, ms, false)
    }

    /// An entry by `process` talking to `node`, possibly one of the final reads.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn op_on(
        &mut self,
        process: u64,
        node: &str,
        kind: OpKind,
        f: &'static str,
        value: Json,
        ms: u64,
        final_read: bool,
    ) -> &mut Self {
        self.history.push(
            Duration::from_millis(ms),
            Entry {
                process: Process::Worker(process),
                kind,
                f,
                value,
                error: None,
                node: Some(node.to_owned()),
                final_read,
            },
        );
        self
    }

    pub(crate) fn add(&mut self, process: u64, value: i64, ms: u64, ok_ms: u64) -> &mut Self {
        self.op(process, OpKind::Invoke, "broadcast", json!(value), ms)
            .op(process, OpKind::Ok, "broadcast", json!(value), ok_ms)
    }

    pub(crate) fn read(&mut self, process: u64, seen: Json, ms: u64, ok_ms: u64) -> &mut Self {
        self.op(process, OpKind::Invoke, "read", Json::Null, ms).op(
            process,
            OpKind::Ok,
            "read",
            seen,
            ok_ms,
        )
    }

    pub(crate) fn final_read(&mut self, process: u64, seen: Json, ms: u64) -> &mut Self {
        let t = Duration::from_millis(ms);
        self.history.push(
            t,
            Entry {
                process: Process::Worker(process),
                kind: OpKind::Invoke,
                f: "read",
                value: Json::Null,
                error: None,
                node: Some(format!("n{process}")),
                final_read: true,
            },
        );
        self.history.push(
            t,
            Entry {
                process: Process::Worker(process),
                kind: OpKind::Ok,
                f: "read",
                value: seen,
                error: None,
                node: Some(format!("n{process}")),
                final_read: true,
            },
        );
        self
    }
}
