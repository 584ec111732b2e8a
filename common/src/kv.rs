//! Message enums declared by macro: [`payload_enum!`](crate::payload_enum) (the derives and the
//! `type` tag every payload needs) and [`kv_payload!`](crate::kv_payload) (the key-value
//! messages of Maelstrom's services and of the lin-kv workload, declared once for every node
//! that speaks them).

/// Declares a node's message enum: `Debug`, `Clone`, `PartialEq`, serde, and the variant's
/// name in snake case as the body's `type`.
///
/// ```
/// common::payload_enum! {
///     /// Ping and pong.
///     pub enum Payload {
///         /// Are you there?
///         Ping,
///         /// Yes.
///         Pong,
///     }
/// }
/// assert_eq!(serde_json::to_string(&Payload::Ping).unwrap(), r#"{"type":"ping"}"#);
/// ```
#[macro_export]
macro_rules! payload_enum {
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($variants:tt)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(tag = "type", rename_all = "snake_case")]
        $vis enum $name {
            $($variants)*
        }
    };
}

/// Declares a node's message enum holding the key-value messages, with JSON keys and values,
/// then the node's own: `read {key}` → `read_ok {value}`, `write {key, value}` → `write_ok`,
/// `cas {key, from, to, create_if_not_exists}` → `cas_ok`, and `error {code, text}`. They are
/// the requests a node sends `lin-kv`, `seq-kv` or `lww-kv` and their answers, and the lin-kv
/// workload's requests to a node (which never set `create_if_not_exists`). The crate needs
/// `serde` and `serde_json` among its dependencies.
///
/// ```
/// common::kv_payload! {
///     /// A node that also pings.
///     pub enum Payload {
///         /// Are you there?
///         Ping,
///     }
/// }
/// let cas: Payload = serde_json::from_str(r#"{"type":"cas","key":"root","from":1,"to":2}"#).unwrap();
/// assert!(matches!(cas, Payload::Cas { create_if_not_exists: false, .. }));
/// assert_eq!(serde_json::to_string(&Payload::Ping).unwrap(), r#"{"type":"ping"}"#);
/// ```
#[macro_export]
macro_rules! kv_payload {
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($extra:tt)* }) => {
        $crate::payload_enum! {
            $(#[$meta])*
            $vis enum $name {
                /// Reads a key.
                Read {
                    /// The key.
                    key: serde_json::Value,
                },
                /// The answer to `read`.
                ReadOk {
                    /// The key's value.
                    value: serde_json::Value,
                },
                /// Sets a key.
                Write {
                    /// The key.
                    key: serde_json::Value,
                    /// Its value.
                    value: serde_json::Value,
                },
                /// The answer to `write`.
                WriteOk,
                /// Sets a key to `to` if it holds `from`.
                Cas {
                    /// The key.
                    key: serde_json::Value,
                    /// The value it must hold.
                    from: serde_json::Value,
                    /// Its new value.
                    to: serde_json::Value,
                    /// Treat a missing key as holding `from` (services only).
                    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
                    create_if_not_exists: bool,
                },
                /// The answer to a `cas` that took effect.
                CasOk,
                /// An error answer: 20 no such key, 22 a cas whose `from` did not match, or the
                /// node's own (11 try again, 30 txn-conflict…).
                Error {
                    /// The error code.
                    code: u32,
                    /// What went wrong.
                    #[serde(default)]
                    text: String,
                },
                $($extra)*
            }
        }
    };
}
