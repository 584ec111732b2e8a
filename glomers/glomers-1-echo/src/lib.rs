//! Gossip Glomers 1, echo: answer `echo {echo}` with `echo_ok {echo}`, the payload unchanged.
//!
//! Nothing to design, everything to get right once: the runtime answers `init` with `init_ok`,
//! every message the node writes gets its own `msg_id`, and a reply names the request it answers
//! in `in_reply_to`. The payload is any JSON value and goes back as it came, byte for byte in
//! meaning (the grader compares values, so key order and spacing may differ).
//!
//! ```
//! use common::{Node, NoFlags, Runtime};
//! use glomers_1_echo::Echo;
//! use std::time::Duration;
//!
//! let mut node = Runtime::new(Echo::new(NoFlags {}), 0);
//! node.handle_line(r#"{"src":"c0","dest":"n0","body":{"type":"init","msg_id":1,"node_id":"n0","node_ids":["n0"]}}"#, Duration::ZERO);
//! node.handle_line(r#"{"src":"c1","dest":"n0","body":{"type":"echo","msg_id":7,"echo":"Please echo 35"}}"#, Duration::ZERO);
//! let output = node.take_output();
//! assert!(output[1].contains(r#""echo":"Please echo 35""#));
//! assert!(output[1].contains(r#""in_reply_to":7"#));
//! ```

use common::{Context, Message, NoFlags, NoTimer, Node, RpcError};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

/// The echo workload's messages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Payload {
    /// A client's request: answer with the same payload.
    Echo {
        /// Any JSON value (Maelstrom sends a string such as `"Please echo 35"`).
        echo: Json,
    },
    /// The answer to `echo`.
    EchoOk {
        /// The request's payload, unchanged.
        echo: Json,
    },
}

/// The echo node: no state at all.
#[derive(Debug, Default)]
pub struct Echo;

impl Node for Echo {
    type Payload = Payload;
    type Timer = NoTimer;
    type Flags = NoFlags;

    fn new(_: NoFlags) -> Self {
        Echo
    }

    fn on_message(
        &mut self,
        msg: Message<Payload>,
        ctx: &mut Context<Payload, NoTimer>,
    ) -> Result<(), RpcError> {
        match &msg.body.payload {
            Payload::Echo { echo } => {
                let echo = echo.clone();
                ctx.reply(&msg, Payload::EchoOk { echo });
            }
            // An answer addressed to this node needs nothing.
            Payload::EchoOk { .. } => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use common::testing::TestNode;
    use serde_json::json;

    use super::*;

    #[test]
    fn any_json_payload_comes_back_unchanged_to_its_sender() {
        let mut node = TestNode::new(Echo::new(NoFlags {}), "n0", &["n0"], 0);
        for payload in [
            json!("Please echo 35"),
            json!({"b": [1, 2.5, null], "a": true}),
            json!(-3),
        ] {
            let out = node.deliver(
                "c4",
                json!({"type": "echo", "msg_id": 9, "echo": payload}),
                0,
            );
            assert_eq!(out.len(), 1);
            assert_eq!(out[0]["dest"], "c4");
            assert_eq!(out[0]["body"]["type"], "echo_ok");
            assert_eq!(out[0]["body"]["in_reply_to"], 9);
            assert_eq!(out[0]["body"]["echo"], payload);
        }
    }
}
