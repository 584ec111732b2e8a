//! Stage 19, the gossip KV benchmark: a last-writer-wins key-value store (stage 17's stamps)
//! whose replication is built to be measured across cluster sizes, and which counts its own
//! gossip so the harness can hold the count against what it saw.
//!
//! Replication has two halves, each doing what it is good at:
//!
//! - **Rumor push** (speed): a write, or an entry learned for the first time, is *hot* for
//!   `--ttl` rounds (default ⌈log₂ n⌉ + 1). Every `--interval-ms` (100) a node with hot entries
//!   sends them all, in one `bench_gossip {entries}`, to `--fanout` (2) random peers. An entry
//!   reaches most of the cluster in about log n rounds, as in rumor spreading.
//! - **Digest pull** (completeness): every `--digest-rounds` rounds (10) a node sends one random
//!   peer `bench_digest {seen}`: per writer, the highest write id up to which it has every
//!   write. The peer answers with a `bench_gossip` of the entries it holds that lie above
//!   those marks. What the rumors missed (a partition, an unlucky draw) arrives within a few
//!   digest rounds; when nothing is missing the answer is not sent at all.
//!
//! Every write gets an id, 1, 2, … per node, and is named everywhere by (writer, id).
//!
//! - `bench_write {key, value}` → `bench_write_ok {write_id}`.
//! - `bench_read {key}` → `bench_read_ok {key, value}`, or error 20 for a key not held (our
//!   addition to the spec, so the benchmark can count stale reads).
//! - `bench_report` → `bench_report_ok {total_writes, total_gossip_msgs, msgs_per_write,
//!   keys_stored}`: writes this node took, messages it sent to other nodes (both kinds),
//!   their ratio (0 without writes), keys held.
//!
//! ```
//! use common::{Node, Runtime};
//! use stage_19_kv_bench::{Flags, KvBench};
//! use std::time::Duration;
//!
//! let flags = Flags { interval_ms: 60_000, fanout: 2, ttl: None, digest_rounds: 10 };
//! let mut node = Runtime::new(KvBench::new(flags), 0);
//! let at = Duration::from_secs(1);
//! node.handle_line(r#"{"src":"c0","dest":"n0","body":{"type":"init","msg_id":1,"node_id":"n0","node_ids":["n0","n1"]}}"#, at);
//! node.handle_line(r#"{"src":"c1","dest":"n0","body":{"type":"bench_write","msg_id":1,"key":"a","value":7}}"#, at);
//! node.handle_line(r#"{"src":"c1","dest":"n0","body":{"type":"bench_report","msg_id":2}}"#, at);
//! let output = node.take_output();
//! assert!(output[1].contains(r#""write_id":1"#));
//! assert!(output[2].contains(r#""keys_stored":1"#) && output[2].contains(r#""total_gossip_msgs":0"#));
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::{Context, ErrorCode, Message, Node, NodeId, RpcError};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use stage_17_lww_kv::{Clock, Entry};

/// One write as gossip carries it: the key, stage 17's stamped value, and its name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gossiped {
    /// The key.
    pub key: String,
    /// The value with its (ts, node) stamp; `node` is the writer.
    #[serde(flatten)]
    pub entry: Entry,
    /// The writer's id for it: 1, 2, … per writer.
    pub id: u64,
}

/// The messages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Payload {
    /// Writes a key.
    BenchWrite {
        /// The key.
        key: String,
        /// The value.
        value: Json,
    },
    /// The write's id on this node.
    BenchWriteOk {
        /// 1, 2, … per node.
        write_id: u64,
    },
    /// Reads a key.
    BenchRead {
        /// The key.
        key: String,
    },
    /// The key's value.
    BenchReadOk {
        /// The key.
        key: String,
        /// Its value.
        value: Json,
    },
    /// Asks for the node's own counts.
    BenchReport,
    /// The node's own counts.
    BenchReportOk {
        /// Writes this node took from clients.
        total_writes: u64,
        /// Messages this node sent to other nodes.
        total_gossip_msgs: u64,
        /// `total_gossip_msgs / total_writes`, 0 without writes.
        msgs_per_write: f64,
        /// Keys held.
        keys_stored: usize,
    },
    /// Entries pushed to a peer (a rumor, or the answer to a digest).
    BenchGossip {
        /// The entries.
        entries: Vec<Gossiped>,
    },
    /// What the sender holds: per writer, every write up to this id.
    BenchDigest {
        /// Writer → highest id with nothing missing below it.
        seen: BTreeMap<NodeId, u64>,
    },
}

/// The node's one timer: a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Round;

/// The node's flags.
#[derive(Debug, Clone, clap::Args)]
pub struct Flags {
    /// Milliseconds between rounds.
    #[arg(long = "interval-ms", default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    pub interval_ms: u64,
    /// Peers a node pushes its hot entries to per round.
    #[arg(long, default_value_t = 2)]
    pub fanout: usize,
    /// Rounds an entry stays hot (default: ⌈log₂ n⌉ + 1 for n nodes).
    #[arg(long)]
    pub ttl: Option<u32>,
    /// Rounds between digests sent to one random peer.
    #[arg(long = "digest-rounds", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub digest_rounds: u32,
}

/// The writes seen from one writer: every id up to `contiguous`, and some beyond.
#[derive(Debug, Clone, Default)]
struct Seen {
    contiguous: u64,
    beyond: BTreeSet<u64>,
}

impl Seen {
    /// Records `id`; true when it is new.
    fn insert(&mut self, id: u64) -> bool {
        if id <= self.contiguous || !self.beyond.insert(id) {
            return false;
        }
        while self.beyond.remove(&(self.contiguous + 1)) {
            self.contiguous += 1;
        }
        true
    }
}

/// The benchmarked store replica.
#[derive(Debug)]
pub struct KvBench {
    flags: Flags,
    ttl: u32,
    /// Per key, the winning write and its id.
    entries: BTreeMap<String, (Entry, u64)>,
    seen: BTreeMap<NodeId, Seen>,
    /// Keys to push, with the rounds they stay hot.
    hot: BTreeMap<String, u32>,
    round: u64,
    total_writes: u64,
    total_gossip_msgs: u64,
    clock: Clock,
}

impl KvBench {
    /// Takes in one write; true when it was new here.
    fn learn(&mut self, gossiped: &Gossiped) -> bool {
        let new = self
            .seen
            .entry(gossiped.entry.node.clone())
            .or_default()
            .insert(gossiped.id);
        if !new {
            return false;
        }
        let wins = self
            .entries
            .get(&gossiped.key)
            .is_none_or(|(mine, _)| gossiped.entry.wins_over(mine));
        if wins {
            self.entries
                .insert(gossiped.key.clone(), (gossiped.entry.clone(), gossiped.id));
            self.hot.insert(gossiped.key.clone(), self.ttl);
        }
        true
    }

    /// The entries held that `seen` (a peer's digest) says the peer may lack.
    fn missing_from(&self, seen: &BTreeMap<NodeId, u64>) -> Vec<Gossiped> {
        self.entries
            .iter()
            .filter(|(_, (entry, id))| *id > seen.get(&entry.node).copied().unwrap_or(0))
            .map(|(key, (entry, id))| Gossiped {
                key: key.clone(),
                entry: entry.clone(),
                id: *id,
            })
            .collect()
    }

    fn send(&mut self, ctx: &mut Context<Payload, Round>, peer: NodeId, payload: Payload) {
        self.total_gossip_msgs += 1;
        ctx.send(peer, payload);
    }

    /// Keys held.
    pub fn keys_stored(&self) -> usize {
        self.entries.len()
    }
}

impl Node for KvBench {
    type Payload = Payload;
    type Timer = Round;
    type Flags = Flags;

    fn new(flags: Flags) -> Self {
        Self {
            ttl: flags.ttl.unwrap_or(1),
            flags,
            entries: BTreeMap::new(),
            seen: BTreeMap::new(),
            hot: BTreeMap::new(),
            round: 0,
            total_writes: 0,
            total_gossip_msgs: 0,
            clock: Clock::default(),
        }
    }

    fn on_init(&mut self, ctx: &mut Context<Payload, Round>) {
        if self.flags.ttl.is_none() {
            // ⌈log₂ n⌉ + 1 rounds: rumors double their reach about every round.
            let n = ctx.node_ids().len().max(2) as u32;
            self.ttl = n.next_power_of_two().trailing_zeros() + 1;
        }
        ctx.every(Duration::from_millis(self.flags.interval_ms), Round);
    }

    fn on_message(
        &mut self,
        msg: Message<Payload>,
        ctx: &mut Context<Payload, Round>,
    ) -> Result<(), RpcError> {
        match &msg.body.payload {
            Payload::BenchWrite { key, value } => {
                self.total_writes += 1;
                let write = Gossiped {
                    key: key.clone(),
                    entry: Entry {
                        value: value.clone(),
                        ts: self.clock.stamp(ctx.now()),
                        node: ctx.node_id().clone(),
                    },
                    id: self.total_writes,
                };
                self.learn(&write);
                ctx.reply(
                    &msg,
                    Payload::BenchWriteOk {
                        write_id: self.total_writes,
                    },
                );
            }
            Payload::BenchRead { key } => {
                let Some((entry, _)) = self.entries.get(key) else {
                    return Err(RpcError::new(ErrorCode::KeyDoesNotExist, "Key not found"));
                };
                let reply = Payload::BenchReadOk {
                    key: key.clone(),
                    value: entry.value.clone(),
                };
                ctx.reply(&msg, reply);
            }
            Payload::BenchReport => {
                let msgs_per_write = if self.total_writes == 0 {
                    0.0
                } else {
                    self.total_gossip_msgs as f64 / self.total_writes as f64
                };
                let reply = Payload::BenchReportOk {
                    total_writes: self.total_writes,
                    total_gossip_msgs: self.total_gossip_msgs,
                    msgs_per_write,
                    keys_stored: self.entries.len(),
                };
                ctx.reply(&msg, reply);
            }
            Payload::BenchGossip { entries } => {
                for gossiped in entries {
                    self.learn(gossiped);
                }
            }
            Payload::BenchDigest { seen } => {
                let missing = self.missing_from(seen);
                if !missing.is_empty() {
                    let peer = msg.src.clone();
                    self.send(ctx, peer, Payload::BenchGossip { entries: missing });
                }
            }
            Payload::BenchWriteOk { .. }
            | Payload::BenchReadOk { .. }
            | Payload::BenchReportOk { .. } => {}
        }
        Ok(())
    }

    fn on_timer(&mut self, _: Round, ctx: &mut Context<Payload, Round>) {
        self.round += 1;
        if !self.hot.is_empty() {
            let entries: Vec<Gossiped> = self
                .hot
                .keys()
                .filter_map(|key| {
                    let (entry, id) = self.entries.get(key)?;
                    Some(Gossiped {
                        key: key.clone(),
                        entry: entry.clone(),
                        id: *id,
                    })
                })
                .collect();
            self.hot.retain(|_, left| {
                *left -= 1;
                *left > 0
            });
            for peer in ctx.random_peers(self.flags.fanout, None) {
                let entries = entries.clone();
                self.send(ctx, peer, Payload::BenchGossip { entries });
            }
        }
        if self
            .round
            .is_multiple_of(u64::from(self.flags.digest_rounds))
            && !self.seen.is_empty()
            && let Some(peer) = ctx.random_peers(1, None).pop()
        {
            let seen = self
                .seen
                .iter()
                .map(|(writer, seen)| (writer.clone(), seen.contiguous))
                .collect();
            self.send(ctx, peer, Payload::BenchDigest { seen });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seen_marks_advance_over_gaps_once_they_fill() {
        let mut seen = Seen::default();
        assert!(seen.insert(2) && seen.insert(3));
        assert_eq!(seen.contiguous, 0, "1 is missing");
        assert!(seen.insert(1));
        assert_eq!((seen.contiguous, seen.beyond.len()), (3, 0));
        assert!(!seen.insert(2), "known already");
    }
}
