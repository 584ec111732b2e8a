//! The wire format: envelopes, bodies, node ids, broadcast values and error codes.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The id of a node or client on the network (`n0`, `c3`, `lin-kv`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct NodeId(pub String);

impl NodeId {
    /// Builds an id from anything string-like.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// True for Maelstrom clients, whose ids start with `c`; everything else is a server.
    pub fn is_client(&self) -> bool {
        self.0.starts_with('c')
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl AsRef<str> for NodeId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<&str> for NodeId {
    fn from(id: &str) -> Self {
        Self(id.to_owned())
    }
}

/// One message on the wire: `{"src", "dest", "body"}`.
///
/// Maelstrom also stamps a top-level `id` on what it delivers; it is accepted and ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message<P> {
    /// The sender.
    pub src: NodeId,
    /// The receiver.
    pub dest: NodeId,
    /// The body: reserved keys plus the stage's payload.
    pub body: Body<P>,
}

/// A message body: the reserved `msg_id` and `in_reply_to` keys beside the payload's fields.
///
/// Absent ids are omitted on the wire, never written as `null`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Body<P> {
    /// The sender's id for this message; every message a Gossiper node writes has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub msg_id: Option<u64>,
    /// The `msg_id` of the request this message answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_reply_to: Option<u64>,
    /// The stage's payload: an enum tagged by `type`.
    #[serde(flatten)]
    pub payload: P,
}

/// A broadcast value: Maelstrom sends integers, the fixtures also use strings.
///
/// The derived order puts every integer before every string, integers numerically and strings
/// by bytes, so read lists sort the same way on every node.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    /// An integer value.
    Int(i64),
    /// A string value.
    Str(String),
}

impl fmt::Display for Value {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(number) => write!(formatter, "{number}"),
            Value::Str(text) => write!(formatter, "{text:?}"),
        }
    }
}

/// Maelstrom's error codes (`resources/errors.edn`); codes of 1000 and above are free.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// 0: the request timed out (indefinite).
    Timeout,
    /// 1: the destination does not exist.
    NodeNotFound,
    /// 10: the message type is not supported by this node.
    NotSupported,
    /// 11: try again later.
    TemporarilyUnavailable,
    /// 12: the request's body is malformed.
    MalformedRequest,
    /// 13: the node crashed while handling the request (indefinite).
    Crash,
    /// 14: the operation was aborted.
    Abort,
    /// 20: the key does not exist.
    KeyDoesNotExist,
    /// 21: the key already exists.
    KeyAlreadyExists,
    /// 22: a precondition (such as a compare-and-set) failed.
    PreconditionFailed,
    /// 30: a transaction conflicted.
    TxnConflict,
    /// Any other code, such as the free range from 1000.
    Other(u32),
}

impl ErrorCode {
    /// The number written on the wire.
    pub fn code(self) -> u32 {
        match self {
            ErrorCode::Timeout => 0,
            ErrorCode::NodeNotFound => 1,
            ErrorCode::NotSupported => 10,
            ErrorCode::TemporarilyUnavailable => 11,
            ErrorCode::MalformedRequest => 12,
            ErrorCode::Crash => 13,
            ErrorCode::Abort => 14,
            ErrorCode::KeyDoesNotExist => 20,
            ErrorCode::KeyAlreadyExists => 21,
            ErrorCode::PreconditionFailed => 22,
            ErrorCode::TxnConflict => 30,
            ErrorCode::Other(code) => code,
        }
    }

    /// The code for a number read off the wire.
    pub fn from_code(code: u32) -> ErrorCode {
        [
            ErrorCode::Timeout,
            ErrorCode::NodeNotFound,
            ErrorCode::NotSupported,
            ErrorCode::TemporarilyUnavailable,
            ErrorCode::MalformedRequest,
            ErrorCode::Crash,
            ErrorCode::Abort,
            ErrorCode::KeyDoesNotExist,
            ErrorCode::KeyAlreadyExists,
            ErrorCode::PreconditionFailed,
            ErrorCode::TxnConflict,
        ]
        .into_iter()
        .find(|known| known.code() == code)
        .unwrap_or(ErrorCode::Other(code))
    }

    /// True when the error means the operation certainly did not happen (Maelstrom's
    /// `errors.edn`): every named code but timeout and crash; codes from 1000 are indefinite.
    pub fn is_definite(self) -> bool {
        !matches!(
            self,
            ErrorCode::Timeout | ErrorCode::Crash | ErrorCode::Other(_)
        )
    }
}

/// An error a handler returns; the runtime answers the request with it as an `error` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcError {
    /// The Maelstrom error code.
    pub code: ErrorCode,
    /// A sentence saying what was wrong and what to send instead.
    pub text: String,
}

impl RpcError {
    /// Builds an error with a code and an explanation.
    pub fn new(code: ErrorCode, text: impl Into<String>) -> Self {
        Self {
            code,
            text: text.into(),
        }
    }
}

impl fmt::Display for RpcError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "error {}: {}", self.code.code(), self.text)
    }
}

impl std::error::Error for RpcError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_read_back_and_only_timeout_crash_and_free_codes_are_indefinite() {
        for code in [0, 1, 10, 11, 12, 13, 14, 20, 21, 22, 30, 1000, 7] {
            assert_eq!(ErrorCode::from_code(code).code(), code);
        }
        let definite: Vec<u32> = [0, 1, 10, 11, 12, 13, 14, 20, 21, 22, 30, 1000]
            .into_iter()
            .filter(|code| ErrorCode::from_code(*code).is_definite())
            .collect();
        assert_eq!(definite, [1, 10, 11, 12, 14, 20, 21, 22, 30]);
    }

    #[test]
    fn values_sort_integers_numerically_before_strings() {
        let mut values = vec![
            Value::Str("b".into()),
            Value::Int(10),
            Value::Str("a".into()),
            Value::Int(-2),
            Value::Int(3),
        ];
        values.sort();
        let text = serde_json::to_string(&values).unwrap();
        assert_eq!(text, r#"[-2,3,10,"a","b"]"#);
    }

    #[test]
    fn absent_ids_are_omitted_not_null() {
        #[derive(Serialize)]
        #[serde(tag = "type", rename_all = "snake_case")]
        enum Payload {
            ReadOk { messages: Vec<Value> },
        }
        let message = Message {
            src: NodeId::new("n1"),
            dest: NodeId::new("c1"),
            body: Body {
                msg_id: None,
                in_reply_to: Some(4),
                payload: Payload::ReadOk { messages: vec![] },
            },
        };
        let text = serde_json::to_string(&message).unwrap();
        assert!(!text.contains("null"), "{text}");
        assert!(!text.contains("msg_id"), "{text}");
        assert!(text.contains(r#""in_reply_to":4"#), "{text}");
    }

    #[test]
    fn client_ids_start_with_c() {
        assert!(NodeId::new("c12").is_client());
        assert!(!NodeId::new("n0").is_client());
        assert!(!NodeId::new("lin-kv").is_client());
    }
}
