//! Gossip Glomers 6a: a key-value store with transactions on one node, `txn {txn}` →
//! `txn_ok {txn}`, where `txn` is a list of micro-ops: `["r", k, null]` (answered with the
//! key's value, or `null` if it has none) and `["w", k, v]` (echoed back).
//!
//! One node sees every transaction and handles one message at a time, so applying each
//! transaction whole, micro-op by micro-op, before the next message is already serializable
//! (strict serializable, even: each takes effect between its request and its reply). Nothing
//! ever waits or fails, so the store is totally available: every transaction is answered.
//! 6b and 6c spread the store over several nodes and build on [`Store`].
//!
//! ```
//! use common::Runtime;
//! use glomers_6a_txn::SingleStore;
//! use std::time::Duration;
//!
//! let mut node = Runtime::new(<SingleStore as common::Node>::new(common::NoFlags {}), 1);
//! let at = Duration::ZERO;
//! node.handle_line(r#"{"src":"c0","dest":"n0","body":{"type":"init","msg_id":1,"node_id":"n0","node_ids":["n0"]}}"#, at);
//! node.handle_line(r#"{"src":"c1","dest":"n0","body":{"type":"txn","msg_id":2,"txn":[["w",1,6],["r",1,null],["r",2,null]]}}"#, at);
//! assert!(node.take_output()[1].contains(r#""txn":[["w",1,6],["r",1,6],["r",2,null]]"#));
//! ```

use std::collections::HashMap;

use common::{Context, ErrorCode, Message, NoFlags, NoTimer, Node, RpcError};
use serde_json::{Value, json};

/// Declares a node's message enum: the workload's `txn` and `txn_ok`, then the node's own
/// messages between nodes (6b adds its replication). Every Glomers 6 node uses it, so the
/// workload's messages are written once. Written `txn_payload! { kv; pub enum … }`, the enum
/// also holds the key-value services' messages ([`common::kv_payload!`]), for a node that keeps
/// its data in them (Maelstrom's guide, chapter 5).
#[macro_export]
macro_rules! txn_payload {
    (kv; $($rest:tt)*) => {
        $crate::txn_payload! { @into kv_payload; $($rest)* }
    };
    (@into $declare:ident; $(#[$meta:meta])* $vis:vis enum $name:ident { $($extra:tt)* }) => {
        common::$declare! {
            $(#[$meta])*
            $vis enum $name {
                /// A client's transaction.
                Txn {
                    /// Its micro-ops, in order.
                    txn: Vec<serde_json::Value>,
                },
                /// The answer: the micro-ops with the reads filled in.
                TxnOk {
                    /// The micro-ops as they ran.
                    txn: Vec<serde_json::Value>,
                },
                $($extra)*
            }
        }
    };
    ($($rest:tt)*) => {
        $crate::txn_payload! { @into payload_enum; $($rest)* }
    };
}

txn_payload! {
    /// The workload's messages.
    pub enum Payload {}
}

/// The key-value map; keys are compared as JSON text, so `1` and `"1"` differ.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Store {
    values: HashMap<String, Value>,
}

impl Store {
    /// Runs a transaction's micro-ops in order and returns them with the reads filled in. A
    /// micro-op that is not `["r", k, _]` or `["w", k, v]` is an error (12) saying so, and
    /// nothing of the transaction takes effect.
    pub fn apply(&mut self, txn: &[Value]) -> Result<Vec<Value>, RpcError> {
        let bad = |mop: &Value| {
            RpcError::new(
                ErrorCode::MalformedRequest,
                format!("a micro-op must be [\"r\", key, null] or [\"w\", key, value], not {mop}"),
            )
        };
        let mut staged = self.clone();
        let mut done = Vec::with_capacity(txn.len());
        for mop in txn {
            let parts = mop
                .as_array()
                .filter(|p| p.len() == 3)
                .ok_or_else(|| bad(mop))?;
            let key = parts[1].to_string();
            match parts[0].as_str() {
                Some("r") => {
                    let value = staged.values.get(&key).cloned().unwrap_or(Value::Null);
                    done.push(json!(["r", parts[1], value]));
                }
                Some("w") => {
                    staged.values.insert(key, parts[2].clone());
                    done.push(mop.clone());
                }
                _ => return Err(bad(mop)),
            }
        }
        *self = staged;
        Ok(done)
    }

    /// The value under `key` (JSON text), if any.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.values.get(key)
    }

    /// Sets `key` (JSON text) to `value`.
    pub fn set(&mut self, key: String, value: Value) {
        self.values.insert(key, value);
    }
}

/// The single-node store.
#[derive(Debug, Default)]
pub struct SingleStore {
    store: Store,
}

impl Node for SingleStore {
    type Payload = Payload;
    type Timer = NoTimer;
    type Flags = NoFlags;

    fn new(_: NoFlags) -> Self {
        SingleStore::default()
    }

    fn on_message(
        &mut self,
        msg: Message<Payload>,
        ctx: &mut Context<Payload, NoTimer>,
    ) -> Result<(), RpcError> {
        if let Payload::Txn { txn } = &msg.body.payload {
            let done = self.store.apply(txn)?;
            ctx.reply(&msg, Payload::TxnOk { txn: done });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transaction_reads_its_own_writes_and_a_bad_one_changes_nothing() {
        let mut store = Store::default();
        let done = store
            .apply(&[
                json!(["r", 1, null]),
                json!(["w", 1, 3]),
                json!(["r", 1, null]),
            ])
            .unwrap();
        assert_eq!(
            done,
            [
                json!(["r", 1, null]),
                json!(["w", 1, 3]),
                json!(["r", 1, 3])
            ]
        );
        let error = store
            .apply(&[json!(["w", 1, 4]), json!(["append", 1, 5])])
            .unwrap_err();
        assert_eq!(error.code, ErrorCode::MalformedRequest);
        assert_eq!(store.get("1"), Some(&json!(3)));
    }
}
