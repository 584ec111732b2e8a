//! Stage 16, two-phase set: a set you can remove from, built from two grow-only sets. `added`
//! holds every element ever added, `removed` every element ever removed (its tombstones). An
//! element is present when it is in `added` and not in `removed`. Both sets only grow, so the
//! merge is two unions and the 2P-Set is a CRDT like the G-Set. The price: a removed element
//! can never come back (re-adding it does nothing), and tombstones are kept forever.
//!
//! Why tombstones: with a plain delete, a replica that has not heard of the remove still holds
//! the element, and its next merge hands it back: the element is resurrected. The tombstone
//! travels with the merges and wins over every add, whatever the order they arrive in.
//!
//! - `add {element}` → `add_ok`; `remove {element}` → `remove_ok` (a never-added element gets
//!   its tombstone too, so a late add of it stays invisible); `read` → `read_ok {elements}`,
//!   the present elements, sorted.
//! - Every `--interval-ms` the node sends both sets to `--fanout` random peers as
//!   `merge {add_set, remove_set}`; a peer takes both unions and answers `merge_ok`.
//!
//! ```
//! use common::{Node, Runtime};
//! use stage_16_two_phase_set::{Flags, TwoPhaseSet};
//! use std::time::Duration;
//!
//! let mut node = Runtime::new(TwoPhaseSet::new(Flags { interval_ms: 100, fanout: 1 }), 0);
//! let now = Duration::ZERO;
//! node.handle_line(r#"{"src":"c0","dest":"n0","body":{"type":"init","msg_id":1,"node_id":"n0","node_ids":["n0","n1"]}}"#, now);
//! node.handle_line(r#"{"src":"c1","dest":"n0","body":{"type":"remove","msg_id":1,"element":4}}"#, now);
//! node.handle_line(r#"{"src":"n1","dest":"n0","body":{"type":"merge","msg_id":3,"add_set":[4],"remove_set":[]}}"#, now);
//! node.handle_line(r#"{"src":"c1","dest":"n0","body":{"type":"read","msg_id":2}}"#, now);
//! // The tombstone wins over an add that arrives after it.
//! assert!(node.take_output().last().unwrap().contains(r#""elements":[]"#));
//! ```

use std::collections::BTreeSet;
use std::time::Duration;

use common::{Context, Message, Node, RpcError, Value};
use serde::{Deserialize, Serialize};

/// The messages of the two-phase-set workload, and the merge pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Payload {
    /// Adds an element.
    Add {
        /// The element.
        element: Value,
    },
    /// Answer to `add`.
    AddOk,
    /// Removes an element for good.
    Remove {
        /// The element.
        element: Value,
    },
    /// Answer to `remove`.
    RemoveOk,
    /// Asks for the present elements.
    Read,
    /// The present elements, sorted.
    ReadOk {
        /// The elements.
        elements: Vec<Value>,
    },
    /// A replica's two sets, to merge.
    Merge {
        /// Every element it has seen added.
        add_set: BTreeSet<Value>,
        /// Every element it has seen removed.
        remove_set: BTreeSet<Value>,
    },
    /// Answer to `merge`.
    MergeOk,
}

/// The node's one timer: a gossip round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Round;

/// The node's flags.
#[derive(Debug, Clone, clap::Args)]
pub struct Flags {
    /// Milliseconds between gossip rounds.
    #[arg(long = "interval-ms", default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..))]
    pub interval_ms: u64,
    /// Peers sent the sets per round.
    #[arg(long, default_value_t = 1)]
    pub fanout: usize,
}

/// The 2P-Set replica.
#[derive(Debug)]
pub struct TwoPhaseSet {
    interval: Duration,
    fanout: usize,
    added: BTreeSet<Value>,
    removed: BTreeSet<Value>,
}

impl TwoPhaseSet {
    /// The present elements: added and not removed.
    pub fn present(&self) -> Vec<Value> {
        self.added.difference(&self.removed).cloned().collect()
    }
}

impl Node for TwoPhaseSet {
    type Payload = Payload;
    type Timer = Round;
    type Flags = Flags;

    fn new(flags: Flags) -> Self {
        Self {
            interval: Duration::from_millis(flags.interval_ms),
            fanout: flags.fanout,
            added: BTreeSet::new(),
            removed: BTreeSet::new(),
        }
    }

    fn on_init(&mut self, ctx: &mut Context<Payload, Round>) {
        ctx.every(self.interval, Round);
    }

    fn on_message(
        &mut self,
        msg: Message<Payload>,
        ctx: &mut Context<Payload, Round>,
    ) -> Result<(), RpcError> {
        match &msg.body.payload {
            Payload::Add { element } => {
                self.added.insert(element.clone());
                ctx.reply(&msg, Payload::AddOk);
            }
            Payload::Remove { element } => {
                self.removed.insert(element.clone());
                ctx.reply(&msg, Payload::RemoveOk);
            }
            Payload::Read => {
                let elements = self.present();
                ctx.reply(&msg, Payload::ReadOk { elements });
            }
            Payload::Merge {
                add_set,
                remove_set,
            } => {
                self.added.extend(add_set.iter().cloned());
                self.removed.extend(remove_set.iter().cloned());
                ctx.reply(&msg, Payload::MergeOk);
            }
            Payload::AddOk | Payload::RemoveOk | Payload::ReadOk { .. } | Payload::MergeOk => {}
        }
        Ok(())
    }

    fn on_timer(&mut self, _: Round, ctx: &mut Context<Payload, Round>) {
        if self.added.is_empty() && self.removed.is_empty() {
            return;
        }
        for peer in ctx.random_peers(self.fanout, None) {
            let merge = Payload::Merge {
                add_set: self.added.clone(),
                remove_set: self.removed.clone(),
            };
            ctx.send(peer, merge);
        }
    }
}
