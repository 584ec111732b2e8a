//! The [`Node`] trait every stage implements, and the empty flag and timer types.

use std::fmt::Debug;

use serde::{Serialize, de::DeserializeOwned};

use crate::context::Context;
use crate::message::{Message, NodeId, RpcError};

/// A sans-IO node: a state machine that reacts to messages and timers by pushing effects
/// (replies, sends, timers) into a [`Context`]. It never touches stdin or stdout.
///
/// The runtime answers `init` itself, then calls [`Node::on_init`]; every later message is
/// parsed into [`Node::Payload`] and handed to [`Node::on_message`].
pub trait Node {
    /// The stage's message bodies: an enum with `#[serde(tag = "type", rename_all = "snake_case")]`.
    type Payload: Serialize + DeserializeOwned + Debug;
    /// The stage's timer kinds; use [`NoTimer`] when the node sets none.
    type Timer: Clone + Debug;
    /// The stage's command-line flags; use [`NoFlags`] when it has none.
    type Flags: clap::Args;

    /// Builds the node from its flags, before `init` arrives.
    fn new(flags: Self::Flags) -> Self;

    /// Runs once after `init_ok` is written: the place to start periodic timers.
    fn on_init(&mut self, _ctx: &mut Context<Self::Payload, Self::Timer>) {}

    /// Handles one message. An `Err` is sent back to `msg.src` as an `error` reply.
    fn on_message(
        &mut self,
        msg: Message<Self::Payload>,
        ctx: &mut Context<Self::Payload, Self::Timer>,
    ) -> Result<(), RpcError>;

    /// Handles a timer set with [`Context::set_timer`] or [`Context::every`].
    fn on_timer(&mut self, _timer: Self::Timer, _ctx: &mut Context<Self::Payload, Self::Timer>) {}

    /// Called when an RPC sent with [`Context::rpc`] got no reply in time.
    fn on_rpc_timeout(
        &mut self,
        _timeout: RpcTimeout,
        _ctx: &mut Context<Self::Payload, Self::Timer>,
    ) {
    }
}

/// An RPC that was not answered before its deadline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcTimeout {
    /// The `msg_id` the request was sent with.
    pub msg_id: u64,
    /// Where the request went.
    pub dest: NodeId,
}

/// The timer type of a node that sets no timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoTimer {}

/// The flag type of a node that takes no flags of its own.
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub struct NoFlags {}
