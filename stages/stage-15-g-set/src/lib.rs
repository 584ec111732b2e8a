//! Stage 15, G-Set: the simplest CRDT. The state is a set that only grows; merging two replicas
//! is their union, which is commutative, associative and idempotent, so replicas that have
//! merged the same states hold the same set whatever the order, repetition or delay of the
//! merges. No coordination, no acknowledgements between nodes: gossip is enough.
//!
//! - `add {element}` adds locally and answers `add_ok` at once.
//! - Every `--interval-ms` the node sends its whole set to `--fanout` random peers as
//!   `merge {elements}`; a peer takes the union and answers `merge_ok {new_count}` (how many
//!   were new to it). A merge lost to a partition costs nothing: the next round sends the set
//!   again.
//! - `read` answers `read_ok {elements}`, sorted.
//!
//! ```
//! use common::{Node, Runtime};
//! use stage_15_g_set::{Flags, GSet};
//! use std::time::Duration;
//!
//! let mut node = Runtime::new(GSet::new(Flags { interval_ms: 100, fanout: 1 }), 0);
//! node.handle_line(r#"{"src":"c0","dest":"n0","body":{"type":"init","msg_id":1,"node_id":"n0","node_ids":["n0","n1"]}}"#, Duration::ZERO);
//! node.handle_line(r#"{"src":"c1","dest":"n0","body":{"type":"add","msg_id":1,"element":5}}"#, Duration::ZERO);
//! node.take_output();
//! node.fire_due(Duration::from_millis(100));
//! let round = node.take_output();
//! assert!(round[0].contains(r#""dest":"n1""#) && round[0].contains(r#""type":"merge","elements":[5]"#));
//! ```

use std::collections::BTreeSet;
use std::time::Duration;

use common::{Context, Message, Node, RpcError, Value};
use serde::{Deserialize, Serialize};

/// The messages of the g-set workload, and the merge pair.
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
    /// Asks for the set.
    Read,
    /// The set, sorted.
    ReadOk {
        /// The elements.
        elements: Vec<Value>,
    },
    /// A replica's whole set, to merge (from a peer, or a client).
    Merge {
        /// Its elements.
        elements: BTreeSet<Value>,
    },
    /// How many of the merged elements were new here.
    MergeOk {
        /// That count.
        new_count: usize,
    },
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
    /// Peers sent the set per round.
    #[arg(long, default_value_t = 1)]
    pub fanout: usize,
}

/// The G-Set replica.
#[derive(Debug)]
pub struct GSet {
    interval: Duration,
    fanout: usize,
    elements: BTreeSet<Value>,
}

impl Node for GSet {
    type Payload = Payload;
    type Timer = Round;
    type Flags = Flags;

    fn new(flags: Flags) -> Self {
        Self {
            interval: Duration::from_millis(flags.interval_ms),
            fanout: flags.fanout,
            elements: BTreeSet::new(),
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
                self.elements.insert(element.clone());
                ctx.reply(&msg, Payload::AddOk);
            }
            Payload::Read => {
                let elements = self.elements.iter().cloned().collect();
                ctx.reply(&msg, Payload::ReadOk { elements });
            }
            Payload::Merge { elements } => {
                let new_count = elements.difference(&self.elements).count();
                self.elements.extend(elements.iter().cloned());
                ctx.reply(&msg, Payload::MergeOk { new_count });
            }
            Payload::AddOk | Payload::ReadOk { .. } | Payload::MergeOk { .. } => {}
        }
        Ok(())
    }

    fn on_timer(&mut self, _: Round, ctx: &mut Context<Payload, Round>) {
        if self.elements.is_empty() {
            return;
        }
        for peer in ctx.random_peers(self.fanout, None) {
            let elements = self.elements.clone();
            ctx.send(peer, Payload::Merge { elements });
        }
    }
}
