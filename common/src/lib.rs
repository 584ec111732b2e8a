//! The Gossiper node runtime: Maelstrom's JSON protocol over stdin/stdout for sans-IO nodes.
//!
//! A stage implements [`Node`]: a state machine whose handlers push effects (replies, sends,
//! RPCs with timeouts, timers) into a [`Context`]. The [`Runtime`] parses input, answers
//! `init`, numbers every outgoing message from one counter (0 at `init_ok`) and answers bad
//! input with Maelstrom's error codes; [`serve`] and [`main`] run it over real pipes.
//!
//! ```
//! use common::{Context, Message, Node, NoFlags, NoTimer, RpcError};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Debug, Serialize, Deserialize)]
//! #[serde(tag = "type", rename_all = "snake_case")]
//! enum Payload {
//!     Echo { echo: String },
//!     EchoOk { echo: String },
//! }
//!
//! struct Echo;
//!
//! impl Node for Echo {
//!     type Payload = Payload;
//!     type Timer = NoTimer;
//!     type Flags = NoFlags;
//!     fn new(_: NoFlags) -> Self {
//!         Echo
//!     }
//!     fn on_message(
//!         &mut self,
//!         msg: Message<Payload>,
//!         ctx: &mut Context<Payload, NoTimer>,
//!     ) -> Result<(), RpcError> {
//!         if let Payload::Echo { echo } = &msg.body.payload {
//!             ctx.reply(&msg, Payload::EchoOk { echo: echo.clone() });
//!         }
//!         Ok(())
//!     }
//! }
//!
//! // In memory: two lines in, two lines out.
//! let input = concat!(
//!     r#"{"src":"c0","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"n1","node_ids":["n1"]}}"#, "\n",
//!     r#"{"src":"c1","dest":"n1","body":{"type":"echo","msg_id":1,"echo":"hi"}}"#, "\n",
//! );
//! let mut output = Vec::new();
//! common::serve(Echo, 7, std::io::Cursor::new(input), &mut output, std::io::sink()).unwrap();
//! let output = String::from_utf8(output).unwrap();
//! assert_eq!(output.lines().count(), 2);
//! assert!(output.lines().nth(1).unwrap().contains(r#""echo":"hi""#));
//! ```

mod context;
mod driver;
mod kv;
mod membership;
mod message;
mod node;
mod runtime;
pub mod testing;

pub use context::{Context, TimerId};
pub use driver::{RuntimeFlags, main, serve};
pub use message::{Body, ErrorCode, Message, NodeId, RpcError, Value};
pub use node::{NoFlags, NoTimer, Node, RpcTimeout};
pub use runtime::Runtime;

#[cfg(test)]
mod tests;
