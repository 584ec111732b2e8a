//! Maelstrom's guide, chapter 4, PN-counter: `add {delta}` (any sign) → `add_ok`, `read` →
//! `read_ok {value}`, with no shared store: each node keeps a replica of the counter and the
//! replicas gossip until they agree.
//!
//! A PN-counter is two grow-only counters: `p` counts the increments and `n` the decrements,
//! each as a map from replica to that replica's own running total. A replica only ever raises
//! its own entries, so merging two maps entry by entry with the maximum loses nothing and is
//! commutative, associative and idempotent: replicas that have seen the same merges agree,
//! whatever order they came in and however often. The value is `Σp − Σn`.
//!
//! Why two maps: one net figure per replica cannot be merged by maximum (after +5 then −3 the
//! replica's figure falls from 5 to 2, and a peer that saw 5 keeps 5 for ever).
//!
//! Each life of a process is its own replica, `NODE.TAG` with a random tag drawn at start: a
//! node killed and restarted counts from zero again, and under its old key its new, smaller
//! totals would lose to the old ones in every merge until they overtook them.
//!
//! Gossip: every `--gossip-ms` the node sends `merge {p, n}` with its whole state to every peer
//! if anything changed since its last send, and every `--sync-ms` whatever changed, so what a
//! partition dropped is sent again after it heals.
//!
//! ```
//! use common::{Node, Runtime};
//! use guide_4_pn_counter::{Flags, PnCounter};
//! use std::time::Duration;
//!
//! let mut node = Runtime::new(PnCounter::new(Flags { gossip_ms: 100, sync_ms: 1000 }), 1);
//! let at = Duration::ZERO;
//! node.handle_line(r#"{"src":"c0","dest":"n0","body":{"type":"init","msg_id":1,"node_id":"n0","node_ids":["n0","n1"]}}"#, at);
//! node.handle_line(r#"{"src":"n1","dest":"n0","body":{"type":"merge","p":{"n1.1":5},"n":{"n1.1":2}}}"#, at);
//! node.handle_line(r#"{"src":"c1","dest":"n0","body":{"type":"add","msg_id":2,"delta":-4}}"#, at);
//! node.handle_line(r#"{"src":"c1","dest":"n0","body":{"type":"read","msg_id":3}}"#, at);
//! assert!(node.take_output()[2].contains(r#""value":-1"#));
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use common::{Context, Message, Node, RpcError};
use rand::RngExt as _;
use serde::{Deserialize, Serialize};

/// Each replica's running total.
pub type Counts = BTreeMap<String, u64>;

/// The pn-counter workload's messages and the gossip between nodes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Payload {
    /// A client adds `delta`, which may be negative.
    Add {
        /// How much.
        delta: i64,
    },
    /// The answer to `add`.
    AddOk,
    /// A client asks for the counter's value.
    Read,
    /// The answer: `Σp − Σn` as this node knows them.
    ReadOk {
        /// The value.
        value: i64,
    },
    /// A peer's whole state; merged entry by entry with the maximum, never answered.
    Merge {
        /// Increments per replica.
        p: Counts,
        /// Decrements per replica (as positive totals).
        n: Counts,
    },
}

/// The node's flags.
#[derive(Debug, Clone, clap::Args)]
pub struct Flags {
    /// Time between gossip rounds; a round sends only when something changed.
    #[arg(long, default_value_t = 100, value_name = "MS")]
    pub gossip_ms: u64,
    /// Time between sends of the whole state to every peer, changed or not.
    #[arg(long, default_value_t = 1000, value_name = "MS")]
    pub sync_ms: u64,
}

/// The node's timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
    /// Send if something changed.
    Gossip,
    /// Send whatever changed.
    Sync,
}

/// The PN-counter replica.
#[derive(Debug)]
pub struct PnCounter {
    flags: Flags,
    /// This life's replica key: `NODE.TAG`.
    me: String,
    p: Counts,
    n: Counts,
    /// Whether anything changed since the last send.
    changed: bool,
}

fn merge(mine: &mut Counts, theirs: &Counts) -> bool {
    let mut grew = false;
    for (replica, &count) in theirs {
        let kept = mine.entry(replica.clone()).or_default();
        if count > *kept {
            *kept = count;
            grew = true;
        }
    }
    grew
}

impl PnCounter {
    /// `Σp − Σn`.
    pub fn value(&self) -> i64 {
        let sum = |counts: &Counts| {
            counts
                .values()
                .map(|&count| i128::from(count))
                .sum::<i128>()
        };
        i64::try_from(sum(&self.p) - sum(&self.n)).unwrap_or(i64::MAX)
    }

    fn send_all(&mut self, ctx: &mut Context<Payload, Timer>) {
        for peer in ctx.peers() {
            let state = Payload::Merge {
                p: self.p.clone(),
                n: self.n.clone(),
            };
            ctx.send(peer, state);
        }
        self.changed = false;
    }
}

impl Node for PnCounter {
    type Payload = Payload;
    type Timer = Timer;
    type Flags = Flags;

    fn new(flags: Flags) -> Self {
        PnCounter {
            flags,
            me: String::new(),
            p: Counts::new(),
            n: Counts::new(),
            changed: false,
        }
    }

    fn on_init(&mut self, ctx: &mut Context<Payload, Timer>) {
        let tag: u32 = ctx.rng().random();
        self.me = format!("{}.{tag:08x}", ctx.node_id());
        ctx.every(
            Duration::from_millis(self.flags.gossip_ms.max(1)),
            Timer::Gossip,
        );
        ctx.every(
            Duration::from_millis(self.flags.sync_ms.max(1)),
            Timer::Sync,
        );
    }

    fn on_timer(&mut self, timer: Timer, ctx: &mut Context<Payload, Timer>) {
        if timer == Timer::Sync || self.changed {
            self.send_all(ctx);
        }
    }

    fn on_message(
        &mut self,
        msg: Message<Payload>,
        ctx: &mut Context<Payload, Timer>,
    ) -> Result<(), RpcError> {
        match &msg.body.payload {
            Payload::Add { delta } => {
                let counts = if *delta >= 0 {
                    &mut self.p
                } else {
                    &mut self.n
                };
                *counts.entry(self.me.clone()).or_default() += delta.unsigned_abs();
                self.changed |= *delta != 0;
                ctx.reply(&msg, Payload::AddOk);
            }
            Payload::Read => {
                let value = self.value();
                ctx.reply(&msg, Payload::ReadOk { value });
            }
            Payload::Merge { p, n } => {
                // What grew here is news for the other peers too.
                let grew = merge(&mut self.p, p) | merge(&mut self.n, n);
                self.changed |= grew;
            }
            Payload::AddOk | Payload::ReadOk { .. } => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use common::testing::TestNode;
    use serde_json::json;

    use super::*;

    fn node(id: &str, seed: u64) -> TestNode<PnCounter> {
        let flags = Flags {
            gossip_ms: 100,
            sync_ms: 1000,
        };
        TestNode::new(PnCounter::new(flags), id, &["n1", "n2"], seed)
    }

    fn read(node: &mut TestNode<PnCounter>) -> i64 {
        node.deliver("c9", json!({"type": "read", "msg_id": 1}), 0)[0]["body"]["value"]
            .as_i64()
            .unwrap()
    }

    #[test]
    fn merges_in_any_order_any_number_of_times_agree_and_keep_decrements() {
        let mut one = node("n1", 1);
        one.deliver("c1", json!({"type": "add", "msg_id": 1, "delta": 5}), 0);
        one.deliver("c1", json!({"type": "add", "msg_id": 2, "delta": -3}), 0);
        let state = one.tick(100);
        assert_eq!(state.len(), 1, "one merge to the one peer");
        let mut two = node("n2", 2);
        two.deliver("c2", json!({"type": "add", "msg_id": 1, "delta": -10}), 0);
        for _ in 0..2 {
            two.deliver("n1", state[0]["body"].clone(), 0);
        }
        assert_eq!(read(&mut two), 5 - 3 - 10);
        let back = two.tick(100);
        one.deliver("n2", back[0]["body"].clone(), 0);
        assert_eq!(read(&mut one), -8);
    }

    #[test]
    fn a_restarted_node_counts_under_a_new_key_so_merges_keep_its_new_adds() {
        let mut before = node("n1", 1);
        before.deliver("c1", json!({"type": "add", "msg_id": 1, "delta": 7}), 0);
        let old = before.tick(100);
        // The same node, another life (the grader seeds each differently).
        let mut after = node("n1", 2);
        after.deliver("c1", json!({"type": "add", "msg_id": 1, "delta": 2}), 0);
        after.deliver("n2", old[0]["body"].clone(), 0);
        assert_eq!(read(&mut after), 9);
    }

    #[test]
    fn rounds_send_only_after_a_change_and_the_sync_sends_anyway() {
        let mut node = node("n1", 1);
        assert!(node.tick(100).is_empty(), "nothing changed");
        node.deliver("c1", json!({"type": "add", "msg_id": 1, "delta": 1}), 150);
        assert_eq!(node.tick(200).len(), 1);
        assert!(node.tick(900).is_empty());
        assert_eq!(node.tick(1000).len(), 1, "the sync");
    }
}
