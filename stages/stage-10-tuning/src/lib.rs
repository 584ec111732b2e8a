//! Stage 10, tuning: one broadcast node whose two knobs, `fanout` and `gossip_interval_ms`, move
//! it along the trade-off between messages and latency, from one hop to everyone (lowest
//! latency) to batches through a relay hub (fewest messages), with anti-entropy underneath so
//! that every setting survives partitions.
//!
//! - **fanout 0**: a node sends its clients' new values straight to every other node.
//!   **fanout F ≥ 1**: it sends them to F hubs (the first F nodes of `node_ids`, all of them
//!   when F is larger), and each hub relays them to everyone else. A value crosses two hops instead of one, but a node sends one
//!   message per batch instead of n − 1.
//! - **gossip_interval_ms T**: batching with a leading edge. A value goes out at once if the
//!   node sent nothing in the last T ms; otherwise it waits, with whatever else arrives, until
//!   T ms after the last send. Quiet nodes pay no delay; busy ones send one batch per T.
//! - **Anti-entropy** every `--sync-ms`: a push-pull of whole sets with one random peer
//!   (`sync` / `sync_ok`), which repairs whatever partitions dropped.
//!
//! `configure {fanout, gossip_interval_ms}` changes the knobs at run time; `gossip_stats`
//! reports what the node has sent, counting every message it writes to another node.
//!
//! ```
//! use common::{Node, Runtime};
//! use stage_10_tuning::{Flags, Tuning};
//! use std::time::Duration;
//!
//! let flags = Flags { fanout: 1, gossip_interval_ms: 100, sync_ms: 2000 };
//! let mut node = Runtime::new(Tuning::new(flags), 1);
//! node.handle_line(r#"{"src":"c0","dest":"n3","body":{"type":"init","msg_id":1,"node_id":"n3","node_ids":["n0","n1","n2","n3"]}}"#, Duration::ZERO);
//! node.handle_line(r#"{"src":"c1","dest":"n3","body":{"type":"broadcast","msg_id":1,"message":9}}"#, Duration::ZERO);
//! let out = node.take_output();
//! // Nothing was sent in the last 100 ms, so the value goes at once, to the one hub, n0.
//! assert!(out[2].contains(r#""dest":"n0""#) && out[2].contains(r#""type":"batch""#));
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::{Context, Message, Node, NodeId, RpcError, Value};
use rand::RngExt;
use serde::{Deserialize, Serialize};

/// The messages: the broadcast workload's, the node-to-node ones, and the tuning pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Payload {
    /// The cluster's neighbour lists (not used).
    Topology {
        /// Neighbours by node id.
        topology: BTreeMap<NodeId, Vec<NodeId>>,
    },
    /// Answer to `topology`.
    TopologyOk,
    /// A value from a client.
    Broadcast {
        /// The value.
        message: Value,
    },
    /// Answer to `broadcast`.
    BroadcastOk,
    /// Asks for every value held.
    Read,
    /// Every value held, sorted.
    ReadOk {
        /// The values.
        messages: Vec<Value>,
    },
    /// New values: from their origin (to hubs, or to everyone), or relayed by a hub.
    Batch {
        /// The values.
        messages: BTreeSet<Value>,
        /// True when a hub relays it: the receiver stores it and relays nothing.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        relayed: bool,
    },
    /// Anti-entropy: the sender's whole set.
    Sync {
        /// Every value the sender holds.
        messages: BTreeSet<Value>,
    },
    /// What the receiver had that the `sync` lacked.
    SyncOk {
        /// Those values.
        messages: BTreeSet<Value>,
    },
    /// Changes the knobs.
    Configure {
        /// 0: straight to everyone; F ≥ 1: through F hubs.
        fanout: usize,
        /// The batching window in ms (0: send every value at once).
        gossip_interval_ms: u64,
    },
    /// Answer to `configure`.
    ConfigureOk,
    /// Asks for the node's counters.
    GossipStats,
    /// The node's counters.
    GossipStatsOk {
        /// Client broadcasts received.
        broadcasts_received: u64,
        /// Messages this node wrote to other nodes: batches, relays, syncs and sync answers.
        gossip_messages_sent: u64,
        /// gossip_messages_sent / broadcasts_received (the integer 0 with no broadcasts).
        messages_per_op: Ratio,
        /// Distinct values held.
        unique_messages: usize,
    },
}

/// A ratio that is written as the integer 0 when its denominator is 0 (the spec's convention).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Ratio {
    /// No denominator.
    Zero(u8),
    /// A real ratio.
    Value(f64),
}

/// The node's timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
    /// The batching window closed.
    Flush,
    /// Time for anti-entropy.
    Sync,
    /// A quick extra anti-entropy round, after one found this node behind.
    CatchUp,
}

/// The node's flags (the first two also settable with `configure`).
#[derive(Debug, Clone, clap::Args)]
pub struct Flags {
    /// 0: send new values straight to every node; F ≥ 1: through the first F nodes as hubs.
    #[arg(long, default_value_t = 1)]
    pub fanout: usize,
    /// Batching window in ms: a value waits at most this long after the node's last send.
    #[arg(long = "gossip-interval-ms", default_value_t = 100)]
    pub gossip_interval_ms: u64,
    /// Milliseconds between anti-entropy exchanges with a random peer.
    #[arg(long = "sync-ms", default_value_t = 2000, value_parser = clap::value_parser!(u64).range(1..))]
    pub sync_ms: u64,
}

/// Quick anti-entropy rounds run after a round found this node behind.
pub const CATCH_UP_ROUNDS: u32 = 6;
/// The time between quick rounds.
pub const CATCH_UP_INTERVAL: Duration = Duration::from_millis(200);

/// The node's counters, as `gossip_stats` reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Client broadcasts received.
    pub broadcasts_received: u64,
    /// Messages written to other nodes.
    pub gossip_messages_sent: u64,
}

/// The tuned broadcast node.
#[derive(Debug)]
pub struct Tuning {
    fanout: usize,
    interval: Duration,
    sync_interval: Duration,
    values: BTreeSet<Value>,
    /// When each value arrived here, so that anti-entropy can tell a value lost from one
    /// merely still on its way.
    learned_at: BTreeMap<Value, Duration>,
    /// Quick anti-entropy rounds still to run after finding this node behind.
    catch_up: u32,
    /// Values from this node's clients, not yet sent.
    outgoing: BTreeSet<Value>,
    /// Values this hub must relay, with the nodes they came from.
    relaying: BTreeSet<Value>,
    relay_origins: BTreeSet<NodeId>,
    last_flush: Option<Duration>,
    flush_pending: bool,
    stats: Stats,
}

impl Tuning {
    /// The node's counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    fn hubs(&self, ctx: &Context<Payload, Timer>) -> Vec<NodeId> {
        ctx.node_ids().iter().take(self.fanout).cloned().collect()
    }

    fn is_hub(&self, ctx: &Context<Payload, Timer>) -> bool {
        self.hubs(ctx).contains(ctx.node_id())
    }

    fn send(&mut self, ctx: &mut Context<Payload, Timer>, dest: NodeId, payload: Payload) {
        self.stats.gossip_messages_sent += 1;
        ctx.send(dest, payload);
    }

    /// Sends now if the window allows, else makes sure a flush is due when it closes.
    fn schedule_flush(&mut self, ctx: &mut Context<Payload, Timer>) {
        let now = ctx.now();
        let ready_at = self.last_flush.map_or(now, |last| last + self.interval);
        if ready_at <= now {
            self.flush(ctx);
        } else if !self.flush_pending {
            self.flush_pending = true;
            ctx.set_timer(ready_at - now, Timer::Flush);
        }
    }

    /// Adds values to the set, noting when they arrived; returns those that were new.
    fn store(&mut self, now: Duration, values: impl IntoIterator<Item = Value>) -> BTreeSet<Value> {
        let mut fresh = BTreeSet::new();
        for value in values {
            if self.values.insert(value.clone()) {
                self.learned_at.insert(value.clone(), now);
                fresh.insert(value);
            }
        }
        fresh
    }

    /// How long a value may still be on its way: two batching windows and two hops, with a
    /// second to spare. A peer lacking a value held longer than this has lost it.
    fn in_flight_bound(&self) -> Duration {
        self.interval * 2 + Duration::from_secs(1)
    }

    fn sync_with_random_peer(&mut self, ctx: &mut Context<Payload, Timer>) {
        let peers = ctx.peers();
        if !peers.is_empty() && !self.values.is_empty() {
            let peer = peers[ctx.rng().random_range(0..peers.len())].clone();
            let messages = self.values.clone();
            self.send(ctx, peer, Payload::Sync { messages });
        }
    }

    /// Stores values from a peer. A hub relays whatever is new to it, unless a hub already
    /// relayed it: a value can reach a hub first by anti-entropy, before its origin's batch,
    /// and must still go round.
    fn learn(
        &mut self,
        ctx: &mut Context<Payload, Timer>,
        messages: &BTreeSet<Value>,
        from: &NodeId,
        relay: bool,
    ) {
        let fresh = self.store(ctx.now(), messages.iter().cloned());
        if relay && self.fanout > 0 && self.is_hub(ctx) && !fresh.is_empty() {
            self.relaying.extend(fresh);
            self.relay_origins.insert(from.clone());
            self.schedule_flush(ctx);
        }
    }

    fn flush(&mut self, ctx: &mut Context<Payload, Timer>) {
        if self.outgoing.is_empty() && self.relaying.is_empty() {
            return;
        }
        self.last_flush = Some(ctx.now());
        let me = ctx.node_id().clone();
        let peers = ctx.peers();
        // A hub, or a node without hubs, sends its own values to everyone; others to the hubs.
        let direct = self.fanout == 0 || self.is_hub(ctx);
        let outgoing = std::mem::take(&mut self.outgoing);
        if !outgoing.is_empty() {
            let targets = if direct {
                peers.clone()
            } else {
                self.hubs(ctx)
            };
            for target in targets.into_iter().filter(|target| *target != me) {
                let batch = Payload::Batch {
                    messages: outgoing.clone(),
                    relayed: direct && self.fanout > 0,
                };
                self.send(ctx, target, batch);
            }
        }
        let relaying = std::mem::take(&mut self.relaying);
        let origins = std::mem::take(&mut self.relay_origins);
        if !relaying.is_empty() {
            let hubs = self.hubs(ctx);
            // The origin of a batch already has it; so have the other hubs, which it also told.
            let sole_origin = if origins.len() == 1 {
                origins.first().cloned()
            } else {
                None
            };
            for target in peers {
                if Some(&target) != sole_origin.as_ref() && !hubs.contains(&target) {
                    self.send(
                        ctx,
                        target,
                        Payload::Batch {
                            messages: relaying.clone(),
                            relayed: true,
                        },
                    );
                }
            }
        }
    }
}

impl Node for Tuning {
    type Payload = Payload;
    type Timer = Timer;
    type Flags = Flags;

    fn new(flags: Flags) -> Self {
        Self {
            fanout: flags.fanout,
            interval: Duration::from_millis(flags.gossip_interval_ms),
            sync_interval: Duration::from_millis(flags.sync_ms),
            values: BTreeSet::new(),
            learned_at: BTreeMap::new(),
            catch_up: 0,
            outgoing: BTreeSet::new(),
            relaying: BTreeSet::new(),
            relay_origins: BTreeSet::new(),
            last_flush: None,
            flush_pending: false,
            stats: Stats::default(),
        }
    }

    fn on_init(&mut self, ctx: &mut Context<Payload, Timer>) {
        ctx.every(self.sync_interval, Timer::Sync);
    }

    fn on_message(
        &mut self,
        msg: Message<Payload>,
        ctx: &mut Context<Payload, Timer>,
    ) -> Result<(), RpcError> {
        match &msg.body.payload {
            Payload::Topology { .. } => {
                ctx.reply(&msg, Payload::TopologyOk);
            }
            Payload::Broadcast { message } => {
                ctx.reply(&msg, Payload::BroadcastOk);
                self.stats.broadcasts_received += 1;
                if !self.store(ctx.now(), [message.clone()]).is_empty() {
                    self.outgoing.insert(message.clone());
                    self.schedule_flush(ctx);
                }
            }
            Payload::Read => {
                let messages = self.values.iter().cloned().collect();
                ctx.reply(&msg, Payload::ReadOk { messages });
            }
            Payload::Batch { messages, relayed } => self.learn(ctx, messages, &msg.src, !relayed),
            Payload::Sync { messages } => {
                // Only what the sender has lost, not what is still on its way to it.
                let settled = ctx.now().saturating_sub(self.in_flight_bound());
                let lacking = self
                    .values
                    .difference(messages)
                    .filter(|value| self.learned_at.get(*value).is_some_and(|at| *at <= settled))
                    .cloned()
                    .collect();
                self.stats.gossip_messages_sent += 1;
                ctx.reply(&msg, Payload::SyncOk { messages: lacking });
                self.learn(ctx, messages, &msg.src, true);
            }
            Payload::SyncOk { messages } => {
                // This node had lost values: others may have too, so it runs a few quick rounds,
                // spreading the repair epidemically instead of one slow round at a time.
                if !messages.is_empty() && self.catch_up == 0 {
                    self.catch_up = CATCH_UP_ROUNDS;
                    ctx.set_timer(CATCH_UP_INTERVAL, Timer::CatchUp);
                }
                self.learn(ctx, messages, &msg.src, true);
            }
            Payload::Configure {
                fanout,
                gossip_interval_ms,
            } => {
                // A fanout beyond the cluster means every node: each is then a hub and sends
                // its clients' values straight to everyone. Negative or non-numeric knobs fail
                // to parse and are refused with error 12 before they get here.
                self.fanout = *fanout;
                self.interval = Duration::from_millis(*gossip_interval_ms);
                ctx.reply(&msg, Payload::ConfigureOk);
            }
            Payload::GossipStats => {
                let Stats {
                    broadcasts_received,
                    gossip_messages_sent,
                } = self.stats;
                let messages_per_op = if broadcasts_received == 0 {
                    Ratio::Zero(0)
                } else {
                    Ratio::Value(gossip_messages_sent as f64 / broadcasts_received as f64)
                };
                let unique_messages = self.values.len();
                ctx.reply(
                    &msg,
                    Payload::GossipStatsOk {
                        broadcasts_received,
                        gossip_messages_sent,
                        messages_per_op,
                        unique_messages,
                    },
                );
            }
            Payload::TopologyOk
            | Payload::BroadcastOk
            | Payload::ReadOk { .. }
            | Payload::ConfigureOk
            | Payload::GossipStatsOk { .. } => {}
        }
        Ok(())
    }

    fn on_timer(&mut self, timer: Timer, ctx: &mut Context<Payload, Timer>) {
        match timer {
            Timer::Flush => {
                self.flush_pending = false;
                self.flush(ctx);
            }
            Timer::Sync => self.sync_with_random_peer(ctx),
            Timer::CatchUp => {
                self.catch_up = self.catch_up.saturating_sub(1);
                self.sync_with_random_peer(ctx);
                if self.catch_up > 0 {
                    ctx.set_timer(CATCH_UP_INTERVAL, Timer::CatchUp);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use common::testing::{TestNode, dests};
    use serde_json::{Value as Json, json};

    use super::*;

    fn node(id: &str, fanout: usize, interval_ms: u64) -> TestNode<Tuning> {
        let flags = Flags {
            fanout,
            gossip_interval_ms: interval_ms,
            sync_ms: 60_000,
        };
        TestNode::new(Tuning::new(flags), id, &["n0", "n1", "n2", "n3"], 1)
    }

    fn deliver(bench: &mut TestNode<Tuning>, src: &str, body: Json, ms: u64) -> Vec<Json> {
        bench.deliver(src, body, ms)
    }

    fn broadcast(value: i64) -> Json {
        json!({"type": "broadcast", "msg_id": value, "message": value})
    }

    #[test]
    fn fanout_zero_sends_straight_to_everyone_and_batches_within_the_window() {
        let mut runtime = node("n1", 0, 100);
        let first = deliver(&mut runtime, "c1", broadcast(1), 0);
        assert_eq!(
            dests(&first),
            ["c1", "n0", "n2", "n3"],
            "a quiet node sends at once"
        );
        assert_eq!(
            dests(&deliver(&mut runtime, "c1", broadcast(2), 30)),
            ["c1"],
            "then waits"
        );
        deliver(&mut runtime, "c1", broadcast(3), 60);
        let flush = runtime.tick(100);
        assert_eq!(flush.len(), 3);
        assert!(flush.iter().all(|m| m["body"]["messages"] == json!([2, 3])));
    }

    #[test]
    fn with_a_hub_values_go_to_the_hub_which_relays_them_to_the_rest() {
        let mut leaf = node("n2", 1, 100);
        let out = deliver(&mut leaf, "c1", broadcast(5), 0);
        assert_eq!(dests(&out), ["c1", "n0"]);
        assert_eq!(
            out[1]["body"],
            json!({"type": "batch", "messages": [5], "msg_id": 2})
        );
        let mut hub = node("n0", 1, 100);
        let relayed = deliver(
            &mut hub,
            "n2",
            json!({"type": "batch", "msg_id": 2, "messages": [5]}),
            0,
        );
        assert_eq!(
            dests(&relayed),
            ["n1", "n3"],
            "everyone but the hub and the origin"
        );
        assert!(relayed.iter().all(|m| m["body"]["relayed"] == true));
        let again = deliver(
            &mut hub,
            "n1",
            json!({"type": "batch", "msg_id": 3, "messages": [5]}),
            200,
        );
        assert!(again.is_empty(), "nothing new, nothing relayed");
    }

    #[test]
    fn relayed_batches_are_stored_not_relayed_again() {
        let mut leaf = node("n3", 1, 100);
        assert!(
            deliver(
                &mut leaf,
                "n0",
                json!({"type": "batch", "msg_id": 1, "messages": [1], "relayed": true}),
                0
            )
            .is_empty()
        );
        let read = deliver(&mut leaf, "c1", json!({"type": "read", "msg_id": 2}), 0);
        assert_eq!(read[0]["body"]["messages"], json!([1]));
    }

    #[test]
    fn stats_count_every_message_sent_to_other_nodes() {
        let mut runtime = node("n1", 0, 0);
        let empty = deliver(
            &mut runtime,
            "c1",
            json!({"type": "gossip_stats", "msg_id": 1}),
            0,
        );
        assert_eq!(empty[0]["body"]["messages_per_op"], json!(0));
        deliver(&mut runtime, "c1", broadcast(1), 0);
        deliver(&mut runtime, "c1", broadcast(2), 0);
        deliver(
            &mut runtime,
            "n2",
            json!({"type": "sync", "msg_id": 5, "messages": []}),
            0,
        );
        let stats = deliver(
            &mut runtime,
            "c1",
            json!({"type": "gossip_stats", "msg_id": 2}),
            0,
        );
        let body = &stats[0]["body"];
        assert_eq!(body["broadcasts_received"], 2);
        assert_eq!(
            body["gossip_messages_sent"],
            3 + 3 + 1,
            "two rounds of three batches and a sync answer"
        );
        assert_eq!(body["messages_per_op"], json!(3.5));
        assert_eq!(body["unique_messages"], 2);
    }

    #[test]
    fn configure_changes_the_knobs_and_caps_the_fanout_at_the_cluster() {
        let mut runtime = node("n2", 1, 100);
        let ok = deliver(
            &mut runtime,
            "c1",
            json!({"type": "configure", "msg_id": 1, "fanout": 0, "gossip_interval_ms": 0}),
            0,
        );
        assert_eq!(ok[0]["body"]["type"], "configure_ok");
        assert_eq!(
            dests(&deliver(&mut runtime, "c1", broadcast(1), 0)),
            ["c1", "n0", "n1", "n3"]
        );
        // As many hubs as nodes, or more: every node is a hub and sends straight to everyone.
        let all = deliver(
            &mut runtime,
            "c1",
            json!({"type": "configure", "msg_id": 2, "fanout": 9, "gossip_interval_ms": 0}),
            0,
        );
        assert_eq!(all[0]["body"]["type"], "configure_ok");
        assert_eq!(
            dests(&deliver(&mut runtime, "c1", broadcast(2), 10)),
            ["c1", "n0", "n1", "n3"]
        );
        let negative = deliver(
            &mut runtime,
            "c1",
            json!({"type": "configure", "msg_id": 3, "fanout": -1, "gossip_interval_ms": 0}),
            20,
        );
        assert_eq!(negative[0]["body"]["code"], 12);
    }
}
