//! A node on the test bench: JSON in, JSON out, on a clock the test moves by hand.
//!
//! Stage crates use it in their unit tests instead of each writing the same init, deliver and
//! parse helpers.
//!
//! ```
//! use common::testing::TestNode;
//! use common::{Context, Message, NoFlags, NoTimer, Node, RpcError};
//! use serde::{Deserialize, Serialize};
//! use serde_json::json;
//!
//! #[derive(Debug, Serialize, Deserialize)]
//! #[serde(tag = "type", rename_all = "snake_case")]
//! enum Payload { Ping, Pong }
//!
//! struct Ponger;
//! impl Node for Ponger {
//!     type Payload = Payload;
//!     type Timer = NoTimer;
//!     type Flags = NoFlags;
//!     fn new(_: NoFlags) -> Self { Ponger }
//!     fn on_message(&mut self, msg: Message<Payload>, ctx: &mut Context<Payload, NoTimer>) -> Result<(), RpcError> {
//!         ctx.reply(&msg, Payload::Pong);
//!         Ok(())
//!     }
//! }
//!
//! let mut bench = TestNode::new(Ponger, "n0", &["n0", "n1"], 1);
//! let out = bench.deliver("c1", json!({"type": "ping", "msg_id": 4}), 0);
//! assert_eq!(out[0]["body"], json!({"type": "pong", "msg_id": 1, "in_reply_to": 4}));
//! ```

use std::time::Duration;

use serde_json::{Value as Json, json};

use crate::node::Node;
use crate::runtime::Runtime;

/// A node behind its runtime, already initialised, with its `init_ok` taken.
pub struct TestNode<N: Node> {
    runtime: Runtime<N>,
    id: String,
}

impl<N: Node> TestNode<N> {
    /// Initialises `node` as `id` in a cluster of `ids`, with its generator seeded by `seed`.
    pub fn new(node: N, id: &str, ids: &[&str], seed: u64) -> Self {
        let mut runtime = Runtime::new(node, seed);
        let init = json!({"src": "c0", "dest": id, "body": {"type": "init", "msg_id": 1, "node_id": id, "node_ids": ids}});
        runtime.handle_line(&init.to_string(), Duration::ZERO);
        runtime.take_output();
        Self {
            runtime,
            id: id.to_owned(),
        }
    }

    /// Delivers `body` from `src` at `at_ms` and returns what the node wrote, parsed.
    pub fn deliver(&mut self, src: &str, body: Json, at_ms: u64) -> Vec<Json> {
        let message = json!({"src": src, "dest": self.id, "body": body});
        self.runtime
            .handle_line(&message.to_string(), Duration::from_millis(at_ms));
        self.output()
    }

    /// Moves the clock to `at_ms`, fires what is due and returns what the node wrote.
    pub fn tick(&mut self, at_ms: u64) -> Vec<Json> {
        self.runtime.fire_due(Duration::from_millis(at_ms));
        self.output()
    }

    /// The node itself.
    pub fn node(&self) -> &N {
        self.runtime.node()
    }

    fn output(&mut self) -> Vec<Json> {
        self.runtime
            .take_output()
            .iter()
            .map(|line| serde_json::from_str(line).expect("the runtime writes JSON"))
            .collect()
    }
}

/// The destinations of some output messages, in order.
pub fn dests(messages: &[Json]) -> Vec<&str> {
    messages
        .iter()
        .map(|message| message["dest"].as_str().unwrap_or(""))
        .collect()
}
