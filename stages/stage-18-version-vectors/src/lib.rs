//! Stage 18, version vectors: a replicated key-value store that does not pick a winner between
//! concurrent writes. Each stored value carries a vector clock (an entry per writer: how many
//! of that writer's writes it has seen). A write names the context it was made from (the
//! vectors its client read); the node raises the writer's entry to make the write's vector.
//! A value whose vector another one includes is **dominated**: its writer's client, or a later
//! one, saw it and replaced it, so it is dropped. Values neither includes are **concurrent**:
//! both stay, as **siblings**, and a read returns them all with `conflict: true`; the next write
//! from a context that saw them all replaces them.
//!
//! Stage 17's last-writer-wins is one `set_mode` away, so the same node shows what LWW throws
//! away: in `lww` mode a write replaces whatever is stored and replicas keep the entry with the
//! larger (ts, node) stamp.
//!
//! - `set_mode {mode: "lww"|"vv"}` → `set_mode_ok` (default `vv`; switching to `lww` keeps each
//!   key's latest-stamped sibling).
//! - `vv_write {key, value, context}` → `vv_write_ok {vc}`: `vc` is `context` with the writer's
//!   entry (the client's id, the message's `src`) raised to one more than the most this node
//!   has seen from that writer on the key.
//! - `vv_read {key}` → `vv_read_ok {values: [{value, vc}], conflict}` (ordered by vector;
//!   `values: []` for a key never written).
//! - Every `--interval-ms` the node sends its whole store to `--fanout` random peers as
//!   `vv_merge {entries: {key: [{value, vc, ts, node}]}}`, merged with the same rule, answered
//!   `vv_merge_ok {updated}` (keys changed).
//!
//! ```
//! use common::{Node, Runtime};
//! use stage_18_version_vectors::{Flags, VersionVectors};
//! use std::time::Duration;
//!
//! let mut node = Runtime::new(VersionVectors::new(Flags { interval_ms: 60_000, fanout: 1 }), 0);
//! let at = Duration::from_secs(1);
//! node.handle_line(r#"{"src":"c0","dest":"n0","body":{"type":"init","msg_id":1,"node_id":"n0","node_ids":["n0"]}}"#, at);
//! // Two clients write from an empty context: neither saw the other, so both stay.
//! node.handle_line(r#"{"src":"c1","dest":"n0","body":{"type":"vv_write","msg_id":1,"key":"a","value":1,"context":{}}}"#, at);
//! node.handle_line(r#"{"src":"c2","dest":"n0","body":{"type":"vv_write","msg_id":1,"key":"a","value":2,"context":{}}}"#, at);
//! node.handle_line(r#"{"src":"c1","dest":"n0","body":{"type":"vv_read","msg_id":2,"key":"a"}}"#, at);
//! let output = node.take_output();
//! assert!(output[3].contains(r#""conflict":true"#), "{}", output[3]);
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use common::{Context, Message, Node, RpcError};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use stage_17_lww_kv::{Clock, Entry};
/// Stage 17's gossip timer and flags (`--interval-ms`, `--fanout`): the store is gossiped the
/// same way.
pub use stage_17_lww_kv::{Flags, Round};

/// A vector clock: writes seen per writer; a missing entry is zero.
pub type Vector = BTreeMap<String, u64>;

/// True when `a` ≤ `b` in every entry: whoever holds `b` has seen everything `a` has.
pub fn included(a: &Vector, b: &Vector) -> bool {
    a.iter()
        .all(|(writer, count)| b.get(writer).copied().unwrap_or(0) >= *count)
}

/// The node's two behaviours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Last writer wins: one value per key, the largest (ts, node) stamp.
    Lww,
    /// Version vectors: concurrent values kept as siblings.
    Vv,
}

/// One stored value: stage 17's stamped entry (for lww mode) and its vector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Version {
    /// The value with its (ts, node) stamp.
    #[serde(flatten)]
    pub entry: Entry,
    /// Its vector clock.
    pub vc: Vector,
}

/// A value as a read returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sibling {
    /// The value.
    pub value: Json,
    /// Its vector clock.
    pub vc: Vector,
}

/// The messages of the concurrent-writers workload, and the merge pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Payload {
    /// Chooses the behaviour.
    SetMode {
        /// `lww` or `vv`.
        mode: Mode,
    },
    /// The mode is set.
    SetModeOk,
    /// Writes a key from what the client saw.
    VvWrite {
        /// The key.
        key: String,
        /// The value.
        value: Json,
        /// The vectors the client has seen on the key, merged.
        context: Vector,
    },
    /// The write's vector.
    VvWriteOk {
        /// The context with the writer's entry raised.
        vc: Vector,
    },
    /// Reads a key.
    VvRead {
        /// The key.
        key: String,
    },
    /// Every value the key holds.
    VvReadOk {
        /// The siblings, ordered by vector.
        values: Vec<Sibling>,
        /// More than one sibling.
        conflict: bool,
    },
    /// Versions to merge, by key.
    VvMerge {
        /// The sender's store.
        entries: BTreeMap<String, Vec<Version>>,
    },
    /// How many keys the merge changed.
    VvMergeOk {
        /// That count.
        updated: usize,
    },
}

/// Merges `incoming` into one key's `siblings` under `mode`; true when they changed.
pub fn merge_versions(mode: Mode, siblings: &mut Vec<Version>, incoming: &[Version]) -> bool {
    let mut changed = false;
    for version in incoming {
        match mode {
            Mode::Lww => {
                let wins = siblings
                    .iter()
                    .all(|mine| version.entry.wins_over(&mine.entry));
                if wins {
                    *siblings = vec![version.clone()];
                    changed = true;
                }
            }
            Mode::Vv => {
                // Known already, or something here has seen it: nothing to keep.
                if siblings.iter().any(|mine| included(&version.vc, &mine.vc)) {
                    continue;
                }
                siblings.retain(|mine| !included(&mine.vc, &version.vc));
                siblings.push(version.clone());
                changed = true;
            }
        }
    }
    if changed {
        siblings.sort_by(|a, b| a.vc.cmp(&b.vc));
    }
    changed
}

/// The version-vector store replica.
#[derive(Debug)]
pub struct VersionVectors {
    interval: Duration,
    fanout: usize,
    mode: Mode,
    store: BTreeMap<String, Vec<Version>>,
    clock: Clock,
}

impl VersionVectors {
    /// The siblings `key` holds.
    pub fn siblings(&self, key: &str) -> &[Version] {
        self.store.get(key).map_or(&[], Vec::as_slice)
    }

    /// Merges a peer's store; returns how many keys changed.
    pub fn merge(&mut self, entries: &BTreeMap<String, Vec<Version>>) -> usize {
        entries
            .iter()
            .filter(|(key, incoming)| {
                let siblings = self.store.entry((*key).clone()).or_default();
                merge_versions(self.mode, siblings, incoming)
            })
            .count()
    }

    fn set_mode(&mut self, mode: Mode) {
        self.mode = mode;
        if mode == Mode::Lww {
            for siblings in self.store.values_mut() {
                let all = std::mem::take(siblings);
                merge_versions(Mode::Lww, siblings, &all);
            }
        }
    }
}

impl Node for VersionVectors {
    type Payload = Payload;
    type Timer = Round;
    type Flags = Flags;

    fn new(flags: Flags) -> Self {
        Self {
            interval: Duration::from_millis(flags.interval_ms),
            fanout: flags.fanout,
            mode: Mode::Vv,
            store: BTreeMap::new(),
            clock: Clock::default(),
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
            Payload::SetMode { mode } => {
                self.set_mode(*mode);
                ctx.reply(&msg, Payload::SetModeOk);
            }
            Payload::VvWrite {
                key,
                value,
                context,
            } => {
                let writer = msg.src.as_str().to_owned();
                let siblings = self.store.entry(key.clone()).or_default();
                // One more than the most seen from this writer, here or in the context, so a
                // writer's vectors never repeat even if its context is behind.
                let seen = siblings
                    .iter()
                    .filter_map(|mine| mine.vc.get(&writer).copied())
                    .chain(context.get(&writer).copied())
                    .max()
                    .unwrap_or(0);
                let mut vc = context.clone();
                vc.insert(writer, seen + 1);
                let version = Version {
                    entry: Entry {
                        value: value.clone(),
                        ts: self.clock.stamp(ctx.now()),
                        node: ctx.node_id().clone(),
                    },
                    vc: vc.clone(),
                };
                match self.mode {
                    Mode::Lww => *siblings = vec![version],
                    Mode::Vv => {
                        merge_versions(Mode::Vv, siblings, &[version]);
                    }
                }
                ctx.reply(&msg, Payload::VvWriteOk { vc });
            }
            Payload::VvRead { key } => {
                let values: Vec<Sibling> = self
                    .siblings(key)
                    .iter()
                    .map(|version| Sibling {
                        value: version.entry.value.clone(),
                        vc: version.vc.clone(),
                    })
                    .collect();
                let conflict = values.len() > 1;
                ctx.reply(&msg, Payload::VvReadOk { values, conflict });
            }
            Payload::VvMerge { entries } => {
                let updated = self.merge(entries);
                ctx.reply(&msg, Payload::VvMergeOk { updated });
            }
            Payload::SetModeOk
            | Payload::VvWriteOk { .. }
            | Payload::VvReadOk { .. }
            | Payload::VvMergeOk { .. } => {}
        }
        Ok(())
    }

    fn on_timer(&mut self, _: Round, ctx: &mut Context<Payload, Round>) {
        if self.store.is_empty() {
            return;
        }
        for peer in ctx.random_peers(self.fanout, None) {
            let entries = self.store.clone();
            ctx.send(peer, Payload::VvMerge { entries });
        }
    }
}

#[cfg(test)]
mod tests {
    use common::NodeId;

    use super::*;

    fn version(value: i64, vc: &[(&str, u64)], ts: f64, node: &str) -> Version {
        Version {
            entry: Entry {
                value: value.into(),
                ts,
                node: NodeId::new(node),
            },
            vc: vc.iter().map(|(k, n)| ((*k).to_owned(), *n)).collect(),
        }
    }

    #[test]
    fn merges_keep_concurrent_values_and_drop_dominated_ones_in_any_order() {
        let a = version(1, &[("c1", 1)], 1.0, "n0");
        let b = version(2, &[("c2", 1)], 2.0, "n1");
        let c = version(3, &[("c1", 1), ("c2", 1), ("c3", 1)], 0.5, "n2");
        let orders = [[&a, &b, &c], [&c, &b, &a], [&b, &c, &a], [&a, &c, &b]];
        for order in orders {
            let mut vv = Vec::new();
            for one in order {
                merge_versions(Mode::Vv, &mut vv, std::slice::from_ref(one));
            }
            assert_eq!(vv, std::slice::from_ref(&c), "c saw a and b");
        }
        let mut both = Vec::new();
        merge_versions(Mode::Vv, &mut both, &[b.clone(), a.clone()]);
        assert_eq!(
            both,
            [a.clone(), b.clone()],
            "concurrent: both stay, ordered"
        );
        assert!(
            !merge_versions(Mode::Vv, &mut both, std::slice::from_ref(&a)),
            "idempotent"
        );
        // Last writer wins by stamp, whatever the vectors say.
        let mut lww = Vec::new();
        merge_versions(Mode::Lww, &mut lww, &[a, c, b.clone()]);
        assert_eq!(lww, [b]);
    }
}
