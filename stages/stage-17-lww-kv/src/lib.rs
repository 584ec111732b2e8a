//! Stage 17, LWW key-value store: each key holds one value with a stamp, (ts, node): the
//! writer's clock in seconds and its node id. A merge keeps, per key, the entry with the larger
//! stamp (ts first, then node id), which is commutative, associative and idempotent, so
//! replicas that have merged the same entries agree on every key. Equal timestamps break by
//! node id, so every replica picks the same winner.
//!
//! The cost is in the name: of two concurrent writes, the one with the smaller stamp vanishes,
//! though both were acknowledged. Stage 18 keeps both instead.
//!
//! - `write {key, value}` → `write_ok {ts}`: the node's clock in seconds, made strictly
//!   increasing on each node so that its own later write always wins over its earlier one.
//! - `kv_read {key}` → `kv_read_ok {key, value, ts}`, or error 20 "Key not found".
//! - Every `--interval-ms` the node sends its whole map to `--fanout` random peers as
//!   `kv_merge {entries: {key: {value, ts, node}}}` (`node` is the writer, for the tie-break);
//!   a peer keeps each entry that wins over its own and answers `kv_merge_ok {updated}`.
//!
//! ```
//! use common::{Node, Runtime};
//! use stage_17_lww_kv::{Flags, LwwKv};
//! use std::time::Duration;
//!
//! let mut node = Runtime::new(LwwKv::new(Flags { interval_ms: 60_000, fanout: 1 }), 0);
//! let at = Duration::from_secs(2);
//! node.handle_line(r#"{"src":"c0","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"n1","node_ids":["n0","n1"]}}"#, at);
//! node.handle_line(r#"{"src":"c1","dest":"n1","body":{"type":"write","msg_id":1,"key":"a","value":7}}"#, at);
//! // The same timestamp from n0 loses to n1's entry: n1 > n0.
//! node.handle_line(r#"{"src":"n0","dest":"n1","body":{"type":"kv_merge","msg_id":4,"entries":{"a":{"value":8,"ts":2.0,"node":"n0"}}}}"#, at);
//! let output = node.take_output();
//! assert!(output[1].contains(r#""ts":2.0"#) && output[2].contains(r#""updated":0"#));
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use common::{Context, ErrorCode, Message, Node, NodeId, RpcError};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

/// One key's value with its stamp.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The value.
    pub value: Json,
    /// The writer's clock, in seconds.
    pub ts: f64,
    /// The node that took the write: the tie-break.
    pub node: NodeId,
}

impl Entry {
    /// True when this entry wins over `other`: a larger ts, or the same ts and a larger node id.
    pub fn wins_over(&self, other: &Entry) -> bool {
        self.ts > other.ts || (self.ts == other.ts && self.node > other.node)
    }
}

/// A node's write clock: seconds since the node started, made strictly increasing (at
/// microsecond steps) so that a node's later write always carries a later stamp.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    last: f64,
}

impl Default for Clock {
    fn default() -> Self {
        Self {
            last: f64::NEG_INFINITY,
        }
    }
}

impl Clock {
    /// The stamp for a write taken at `now`.
    pub fn stamp(&mut self, now: Duration) -> f64 {
        self.last = now.as_secs_f64().max(self.last + 1e-6);
        self.last
    }
}

/// The messages of the lww-kv workload, and the merge pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Payload {
    /// Writes a key.
    Write {
        /// The key.
        key: String,
        /// The value.
        value: Json,
    },
    /// The write's timestamp.
    WriteOk {
        /// Seconds.
        ts: f64,
    },
    /// Reads a key.
    KvRead {
        /// The key.
        key: String,
    },
    /// The key's value and timestamp.
    KvReadOk {
        /// The key.
        key: String,
        /// The value.
        value: Json,
        /// Its timestamp.
        ts: f64,
    },
    /// Entries to merge, by key.
    KvMerge {
        /// The sender's entries.
        entries: BTreeMap<String, Entry>,
    },
    /// How many keys the merge replaced (missing here, or older).
    KvMergeOk {
        /// That count.
        updated: usize,
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
    /// Peers sent the map per round.
    #[arg(long, default_value_t = 1)]
    pub fanout: usize,
}

/// The LWW store replica.
#[derive(Debug)]
pub struct LwwKv {
    interval: Duration,
    fanout: usize,
    entries: BTreeMap<String, Entry>,
    clock: Clock,
}

impl LwwKv {
    /// Merges `entries`; returns how many keys they replaced.
    pub fn merge(&mut self, entries: &BTreeMap<String, Entry>) -> usize {
        let mut updated = 0;
        for (key, entry) in entries {
            let wins = self
                .entries
                .get(key)
                .is_none_or(|mine| entry.wins_over(mine));
            if wins {
                self.entries.insert(key.clone(), entry.clone());
                updated += 1;
            }
        }
        updated
    }
}

impl Node for LwwKv {
    type Payload = Payload;
    type Timer = Round;
    type Flags = Flags;

    fn new(flags: Flags) -> Self {
        Self {
            interval: Duration::from_millis(flags.interval_ms),
            fanout: flags.fanout,
            entries: BTreeMap::new(),
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
            Payload::Write { key, value } => {
                let ts = self.clock.stamp(ctx.now());
                let entry = Entry {
                    value: value.clone(),
                    ts,
                    node: ctx.node_id().clone(),
                };
                self.entries.insert(key.clone(), entry);
                ctx.reply(&msg, Payload::WriteOk { ts });
            }
            Payload::KvRead { key } => {
                let Some(entry) = self.entries.get(key) else {
                    return Err(RpcError::new(ErrorCode::KeyDoesNotExist, "Key not found"));
                };
                let reply = Payload::KvReadOk {
                    key: key.clone(),
                    value: entry.value.clone(),
                    ts: entry.ts,
                };
                ctx.reply(&msg, reply);
            }
            Payload::KvMerge { entries } => {
                let updated = self.merge(entries);
                ctx.reply(&msg, Payload::KvMergeOk { updated });
            }
            Payload::WriteOk { .. } | Payload::KvReadOk { .. } | Payload::KvMergeOk { .. } => {}
        }
        Ok(())
    }

    fn on_timer(&mut self, _: Round, ctx: &mut Context<Payload, Round>) {
        if self.entries.is_empty() {
            return;
        }
        for peer in ctx.random_peers(self.fanout, None) {
            let entries = self.entries.clone();
            ctx.send(peer, Payload::KvMerge { entries });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(value: i64, ts: f64, node: &str) -> Entry {
        Entry {
            value: value.into(),
            ts,
            node: NodeId::new(node),
        }
    }

    #[test]
    fn equal_timestamps_break_by_node_id_in_either_order() {
        let low = entry(1, 5.0, "n1");
        let high = entry(2, 5.0, "n2");
        assert!(high.wins_over(&low) && !low.wins_over(&high));
        assert!(!low.wins_over(&low), "an entry does not win over itself");
        for order in [[&low, &high], [&high, &low]] {
            let mut store = LwwKv::new(Flags {
                interval_ms: 100,
                fanout: 1,
            });
            for one in order {
                store.merge(&BTreeMap::from([("k".to_owned(), one.clone())]));
            }
            assert_eq!(store.entries["k"], high);
        }
        let later = entry(3, 6.0, "n0");
        assert!(later.wins_over(&high));
    }
}
