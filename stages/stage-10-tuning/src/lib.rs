//! Stage 10, tuning: one broadcast node whose knobs, `fanout` and `gossip_interval_ms`, move
//! it along the trade-off between messages and latency, from one hop to everyone (lowest
//! latency) to batches through a relay hub (fewest messages), with anti-entropy underneath so
//! that every setting survives partitions.
//!
//! - **fanout 0**: a node sends its clients' new values straight to every other node.
//!   **fanout F ≥ 1**: it sends them to F hubs (the first F nodes of `node_ids`, all of them
//!   when F is larger), and each hub relays them to everyone else. A value crosses two hops
//!   instead of one, but a node sends one message per batch instead of n − 1.
//! - **gossip_interval_ms P**, with **aligned rounds** (the default): every node runs a round
//!   each P. Leaves move their rounds, from the hub's acknowledgements, so that their batches
//!   reach the hub just before it relays: a value waits at most one period in all. A leaf
//!   whose rounds go unacknowledged sends straight to everyone until the hub answers; the
//!   hub's own clients' values are held by a witness (n1) until the hub's relay brings them.
//!   With **free rounds** (`--rounds free`, the older design) each node batches with a leading
//!   edge on its own clock, and a value can wait a period at its origin and another at the hub.
//! - **Numbered batches and anti-entropy**: a gap in a link's batch numbers makes the receiver
//!   pull from the sender; a push-pull of whole sets with a random peer every `--sync-ms`
//!   (`sync` / `sync_ok`), skipped while clients are busy and no gap was seen, repairs the rest.
//!
//! `configure {fanout, gossip_interval_ms}` changes the knobs at run time; `gossip_stats`
//! reports what the node has sent, counting every message it writes to another node.
//!
//! ```
//! use common::{Node, Runtime};
//! use stage_10_tuning::{Flags, Rounds, Tuning};
//! use std::time::Duration;
//!
//! let flags = Flags { fanout: 1, gossip_interval_ms: 100, sync_ms: 2000, rounds: Rounds::Free };
//! let mut node = Runtime::new(Tuning::new(flags), 1);
//! node.handle_line(r#"{"src":"c0","dest":"n3","body":{"type":"init","msg_id":1,"node_id":"n3","node_ids":["n0","n1","n2","n3"]}}"#, Duration::ZERO);
//! node.handle_line(r#"{"src":"c1","dest":"n3","body":{"type":"broadcast","msg_id":1,"message":9}}"#, Duration::ZERO);
//! let out = node.take_output();
//! // Nothing was sent in the last 100 ms, so the value goes at once, to the one hub, n0.
//! assert!(out[2].contains(r#""dest":"n0""#) && out[2].contains(r#""type":"batch""#));
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::{Context, Message, Node, NodeId, RpcError, TimerId, Value};
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
        /// This link's batch number: the sender numbers its batches to each node 1, 2, 3, …, so
        /// the receiver sees a gap when one was lost.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
        /// Aligned rounds, leaf to hub: the leaf's round number, which the hub acknowledges.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        round: Option<u64>,
        /// Aligned rounds, hub to leaf: the last round of the leaf's that reached the hub
        /// before this relay went out.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ack_round: Option<u64>,
        /// Aligned rounds, hub to leaf: how many ms before this relay went out that round
        /// arrived. The leaf moves its rounds so that the figure settles at [`ALIGN_MARGIN`].
        #[serde(default, skip_serializing_if = "Option::is_none")]
        early_ms: Option<u64>,
    },
    /// Aligned rounds, hub to its witness: values from the hub's own clients, which it will
    /// relay at its next round. The witness stores them and, if that relay does not bring them
    /// in time (the hub died or stopped), sends them to every node itself.
    Witness {
        /// The values.
        messages: BTreeSet<Value>,
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
    /// The batching window closed (free rounds).
    Flush,
    /// A round (aligned rounds): a hub relays, a leaf sends its batch.
    Round,
    /// Time for anti-entropy.
    Sync,
    /// A quick extra anti-entropy round, after one found this node behind.
    CatchUp,
    /// Pulls from nodes whose batches to this one went missing are due.
    Pull,
}

/// How a node with hubs times its batches (`--rounds`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Rounds {
    /// Every node sends on a period of T, and the leaves move their rounds so that their
    /// batches reach the hub just before it relays: a value waits at most one period.
    Aligned,
    /// Each node batches on its own: a value goes at once if the node sent nothing in the last
    /// T ms, else when T has passed since its last send. A value can wait T at its origin and T
    /// at the hub.
    Free,
}

/// The node's flags (the first two also settable with `configure`).
#[derive(Debug, Clone, clap::Args)]
pub struct Flags {
    /// 0: send new values straight to every node; F ≥ 1: through the first F nodes as hubs.
    #[arg(long, default_value_t = 1)]
    pub fanout: usize,
    /// Batching period in ms: the round period (aligned rounds) or the least time between two
    /// sends (free rounds).
    #[arg(long = "gossip-interval-ms", default_value_t = 100)]
    pub gossip_interval_ms: u64,
    /// Milliseconds between anti-entropy exchanges with a random peer.
    #[arg(long = "sync-ms", default_value_t = 2000, value_parser = clap::value_parser!(u64).range(1..))]
    pub sync_ms: u64,
    /// How nodes with hubs time their batches (fanout 0 and interval 0 always send freely).
    #[arg(long, value_enum, default_value_t = Rounds::Aligned)]
    pub rounds: Rounds,
}

/// Quick anti-entropy rounds run after a round found this node behind.
pub const CATCH_UP_ROUNDS: u32 = 6;
/// The time between quick rounds.
pub const CATCH_UP_INTERVAL: Duration = Duration::from_millis(200);
/// Aligned rounds: how long before the hub's relay a leaf aims its batch to arrive, room for
/// the jitter of real processes on a busy machine.
pub const ALIGN_MARGIN: Duration = Duration::from_millis(25);
/// Aligned rounds: the round trip (leaf's send to the hub's acknowledgement) assumed until one
/// is measured.
pub const INITIAL_ACK_DELAY: Duration = Duration::from_millis(250);

/// The node's counters, as `gossip_stats` reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Client broadcasts received.
    pub broadcasts_received: u64,
    /// Messages written to other nodes.
    pub gossip_messages_sent: u64,
}

/// A leaf's side of aligned rounds.
#[derive(Debug, Default)]
struct Leaf {
    /// The last round sent.
    round: u64,
    /// Rounds sent that the primary hub has not acknowledged: when, and with which values.
    unacked: BTreeMap<u64, (Duration, BTreeSet<Value>)>,
    /// Smoothed time from a send to its acknowledgement.
    ack_delay: Option<Duration>,
    /// True while the primary hub seems cut off: rounds then go straight to every node.
    hub_suspect: bool,
    /// As the hub's witness: its own values not yet seen in its relays, and when they came.
    witnessed: BTreeMap<Value, Duration>,
}

/// The tuned broadcast node.
#[derive(Debug)]
pub struct Tuning {
    fanout: usize,
    interval: Duration,
    sync_interval: Duration,
    rounds: Rounds,
    values: BTreeSet<Value>,
    /// When each value arrived here, so that anti-entropy can tell a value lost from one
    /// merely still on its way.
    learned_at: BTreeMap<Value, Duration>,
    /// Quick anti-entropy rounds still to run after finding this node behind.
    catch_up: u32,
    /// Values from this node's clients, not yet sent.
    outgoing: BTreeSet<Value>,
    /// Free rounds: values this hub must relay, with the nodes they came from.
    relaying: BTreeSet<Value>,
    relay_origins: BTreeSet<NodeId>,
    last_flush: Option<Duration>,
    flush_pending: bool,
    /// Aligned rounds: when the next round is due, and its timer.
    next_round: Option<(Duration, TimerId)>,
    /// Aligned rounds, hub: values to relay at the next round, with the node each came from.
    to_relay: BTreeMap<Value, NodeId>,
    /// Aligned rounds, hub: each leaf's latest round to arrive since the last relay, and when.
    arrivals: BTreeMap<NodeId, (u64, Duration)>,
    leaf: Leaf,
    /// Batches sent to each node, and the highest batch number seen from each.
    batches_sent: BTreeMap<NodeId, u64>,
    batches_seen: BTreeMap<NodeId, u64>,
    /// Nodes whose batches went missing, and when to pull from them (once the lost values
    /// count as settled there).
    pulls: BTreeMap<NodeId, Duration>,
    /// When a gap was last seen, and when a client last brought a value.
    last_gap: Option<Duration>,
    last_client_value: Option<Duration>,
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

    /// The hub whose relays set the leaves' rhythm: the first node.
    fn primary(ctx: &Context<Payload, Timer>) -> Option<&NodeId> {
        ctx.node_ids().first()
    }

    /// The hubs' witness, the first node after the primary hub: it holds a hub's own values
    /// until the hub's relay brings them.
    fn witness(ctx: &Context<Payload, Timer>) -> Option<NodeId> {
        ctx.node_ids()
            .get(1)
            .filter(|witness| *witness != ctx.node_id())
            .cloned()
    }

    /// True when batches go in rounds: there is a period, and the flag says so.
    fn aligned(&self) -> bool {
        self.rounds == Rounds::Aligned && !self.interval.is_zero()
    }

    fn send(&mut self, ctx: &mut Context<Payload, Timer>, dest: NodeId, mut payload: Payload) {
        if let Payload::Batch { seq, .. } = &mut payload {
            let sent = self.batches_sent.entry(dest.clone()).or_default();
            *sent += 1;
            *seq = Some(*sent);
        }
        self.stats.gossip_messages_sent += 1;
        ctx.send(dest, payload);
    }

    /// Values are new; they go out now, at the window's close, or at the next round.
    fn schedule_flush(&mut self, ctx: &mut Context<Payload, Timer>) {
        if self.aligned() {
            return;
        }
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

    /// How long a value may still be on its way: two batching periods and two hops, with a
    /// second to spare. A peer lacking a value held longer than this has lost it.
    fn in_flight_bound(&self) -> Duration {
        self.interval * 2 + Duration::from_secs(1)
    }

    /// A batch numbered `seq` came from `from`. A gap in the numbers means batches were lost
    /// (a partition): this node pulls from that sender once the lost values count as settled
    /// there. Number 1 after higher ones means the sender restarted.
    fn check_gap(&mut self, ctx: &mut Context<Payload, Timer>, from: &NodeId, seq: u64) {
        let seen = self.batches_seen.entry(from.clone()).or_default();
        let gap = seq > *seen + 1;
        *seen = if seq == 1 { 1 } else { (*seen).max(seq) };
        if gap {
            let now = ctx.now();
            self.last_gap = Some(now);
            let bound = self.in_flight_bound();
            if !self.pulls.contains_key(from) {
                self.pulls.insert(from.clone(), now + bound);
                ctx.set_timer(bound, Timer::Pull);
            }
        }
    }

    /// Whether the periodic anti-entropy round runs. While clients keep bringing values and
    /// no batch has gone missing for three intervals, numbered batches would show any loss,
    /// so the round is skipped; once quiet (or after a gap) it runs, because a loss just before
    /// the traffic stopped shows no gap.
    fn sync_due(&self, now: Duration) -> bool {
        let busy = self
            .last_client_value
            .is_some_and(|at| now.saturating_sub(at) < Duration::from_secs(1));
        let recent_gap = self
            .last_gap
            .is_some_and(|at| now.saturating_sub(at) < self.sync_interval * 3);
        !busy || recent_gap
    }

    fn sync_with_random_peer(&mut self, ctx: &mut Context<Payload, Timer>) {
        // Even with nothing to offer: a node restarted empty pulls everything this way.
        if let Some(peer) = ctx.random_peer() {
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
        if !(relay && self.fanout > 0 && self.is_hub(ctx) && !fresh.is_empty()) {
            return;
        }
        if self.aligned() {
            for value in fresh {
                self.to_relay.insert(value, from.clone());
            }
        } else {
            self.relaying.extend(fresh);
            self.relay_origins.insert(from.clone());
            self.schedule_flush(ctx);
        }
    }

    /// Free rounds: sends what is waiting.
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
                let batch = batch(outgoing.clone(), direct && self.fanout > 0);
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
                    self.send(ctx, target, batch(relaying.clone(), true));
                }
            }
        }
    }

    /// Aligned rounds: (re)starts the round timer `delay` from now, dropping any other.
    fn start_rounds(&mut self, ctx: &mut Context<Payload, Timer>, delay: Duration) {
        if let Some((_, timer)) = self.next_round.take() {
            ctx.cancel_timer(timer);
        }
        if self.aligned() {
            let timer = ctx.set_timer(delay, Timer::Round);
            self.next_round = Some((ctx.now() + delay, timer));
        }
    }

    /// Aligned rounds: the round is due. A hub relays, a leaf sends its batch.
    fn round(&mut self, ctx: &mut Context<Payload, Timer>) {
        let now = ctx.now();
        // The next round keeps the phase, even if this one fired late (a paused process).
        let mut due = self.next_round.map_or(now, |(at, _)| at) + self.interval;
        while due <= now {
            due += self.interval;
        }
        self.next_round = None;
        self.start_rounds(ctx, due - now);
        if self.fanout == 0 {
            // No hubs: this round's values go straight to everyone.
            let messages = std::mem::take(&mut self.outgoing);
            if !messages.is_empty() {
                for target in ctx.peers() {
                    self.send(ctx, target, batch(messages.clone(), false));
                }
            }
        } else if self.is_hub(ctx) {
            self.relay_round(ctx);
        } else {
            self.leaf_round(ctx);
        }
    }

    /// Aligned rounds, hub: relays every value new since the last round to every node that
    /// lacks it, with each leaf's acknowledgement and timing.
    fn relay_round(&mut self, ctx: &mut Context<Payload, Timer>) {
        let now = ctx.now();
        let me = ctx.node_id().clone();
        for value in std::mem::take(&mut self.outgoing) {
            self.to_relay.insert(value, me.clone());
        }
        let to_relay = std::mem::take(&mut self.to_relay);
        let mut arrivals = std::mem::take(&mut self.arrivals);
        let hubs = self.hubs(ctx);
        for target in ctx.peers() {
            // A leaf told every hub itself; a leaf's own values need not come back to it.
            let messages: BTreeSet<Value> = to_relay
                .iter()
                .filter(|(_, origin)| {
                    **origin != target && (!hubs.contains(&target) || hubs.contains(origin))
                })
                .map(|(value, _)| value.clone())
                .collect();
            let arrival = arrivals.remove(&target);
            if messages.is_empty() && arrival.is_none() {
                continue;
            }
            let mut relay = batch(messages, true);
            if let (
                Payload::Batch {
                    ack_round,
                    early_ms,
                    ..
                },
                Some((round, at)),
            ) = (&mut relay, arrival)
            {
                *ack_round = Some(round);
                *early_ms = Some(millis(now.saturating_sub(at)));
            }
            self.send(ctx, target, relay);
        }
    }

    /// Aligned rounds, leaf: gives up on a silent hub, then sends this round's batch.
    fn leaf_round(&mut self, ctx: &mut Context<Payload, Timer>) {
        let now = ctx.now();
        let timeout = self.ack_timeout();
        let overdue = self
            .leaf
            .unacked
            .first_key_value()
            .is_some_and(|(_, (sent, _))| now.saturating_sub(*sent) >= timeout);
        if overdue {
            // The hub has not answered in time: resend what it may have missed to everyone,
            // and keep doing so until it answers again.
            self.leaf.hub_suspect = true;
            for (_, (_, values)) in std::mem::take(&mut self.leaf.unacked) {
                self.outgoing.extend(values);
            }
        }
        // As the witness: the hub's own values that its relays have not brought in time.
        let (expired, kept) = std::mem::take(&mut self.leaf.witnessed)
            .into_iter()
            .partition(|(_, at)| now.saturating_sub(*at) >= timeout);
        self.leaf.witnessed = kept;
        let expired: BTreeMap<Value, Duration> = expired;
        if !expired.is_empty() {
            let messages: BTreeSet<Value> = expired.into_keys().collect();
            for target in ctx.peers() {
                self.send(ctx, target, batch(messages.clone(), true));
            }
        }
        if self.outgoing.is_empty() {
            return;
        }
        let messages = std::mem::take(&mut self.outgoing);
        self.leaf.round += 1;
        let round = self.leaf.round;
        let suspect = self.leaf.hub_suspect;
        let targets = if suspect { ctx.peers() } else { self.hubs(ctx) };
        for target in targets {
            let mut payload = batch(messages.clone(), suspect);
            if let Payload::Batch { round: slot, .. } = &mut payload {
                *slot = Some(round);
            }
            self.send(ctx, target, payload);
        }
        self.leaf.unacked.insert(round, (now, messages));
    }

    /// How long a leaf waits for the hub to acknowledge a round: a period (the batch may just
    /// miss a relay) and three smoothed round trips, with 100 ms to spare.
    fn ack_timeout(&self) -> Duration {
        self.interval
            + self.leaf.ack_delay.unwrap_or(INITIAL_ACK_DELAY) * 3
            + Duration::from_millis(100)
    }

    /// Aligned rounds, leaf: the primary hub acknowledged `round`, which reached it `early`
    /// before its relay. Moves this leaf's rounds so that the next arrive [`ALIGN_MARGIN`]
    /// before the hub's relays: the round was sent at `sent`, so rounds sent at
    /// `sent + early − margin` plus whole periods arrive just in time.
    fn acknowledged(&mut self, ctx: &mut Context<Payload, Timer>, round: u64, early: Duration) {
        let now = ctx.now();
        let Some((sent, _)) = self.leaf.unacked.get(&round).cloned() else {
            return;
        };
        let sample = now.saturating_sub(sent);
        self.leaf.ack_delay = Some(match self.leaf.ack_delay {
            Some(smoothed) => (smoothed * 7 + sample) / 8,
            None => sample,
        });
        self.leaf.unacked.retain(|sent, _| *sent > round);
        self.leaf.hub_suspect = false;
        let period = millis(self.interval);
        let target = (sent + early).saturating_sub(ALIGN_MARGIN);
        // The first time in that phase after now.
        let behind = millis(now.saturating_sub(target));
        let next = target + Duration::from_millis(behind.div_ceil(period).max(1) * period);
        if self
            .next_round
            .is_some_and(|(due, _)| due.abs_diff(next) <= Duration::from_millis(1))
        {
            return;
        }
        self.start_rounds(ctx, next.saturating_sub(now));
    }

    /// Aligned rounds, leaf: true until the hub has acknowledged a round, when the leaf does
    /// not know its phase yet and sends each value at once.
    fn unaligned(&self) -> bool {
        self.leaf.ack_delay.is_none()
    }
}

/// A batch with no round fields.
fn batch(messages: BTreeSet<Value>, relayed: bool) -> Payload {
    Payload::Batch {
        messages,
        relayed,
        seq: None,
        round: None,
        ack_round: None,
        early_ms: None,
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
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
            rounds: flags.rounds,
            values: BTreeSet::new(),
            learned_at: BTreeMap::new(),
            catch_up: 0,
            outgoing: BTreeSet::new(),
            relaying: BTreeSet::new(),
            relay_origins: BTreeSet::new(),
            last_flush: None,
            flush_pending: false,
            next_round: None,
            to_relay: BTreeMap::new(),
            arrivals: BTreeMap::new(),
            leaf: Leaf::default(),
            batches_sent: BTreeMap::new(),
            batches_seen: BTreeMap::new(),
            pulls: BTreeMap::new(),
            last_gap: None,
            last_client_value: None,
            stats: Stats::default(),
        }
    }

    fn on_init(&mut self, ctx: &mut Context<Payload, Timer>) {
        ctx.every(self.sync_interval, Timer::Sync);
        self.start_rounds(ctx, self.interval);
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
                self.last_client_value = Some(ctx.now());
                if !self.store(ctx.now(), [message.clone()]).is_empty() {
                    self.outgoing.insert(message.clone());
                    if self.aligned() && self.fanout > 0 {
                        if !self.is_hub(ctx) {
                            if self.unaligned() {
                                self.leaf_round(ctx);
                            }
                        } else if let Some(witness) = Self::witness(ctx) {
                            // Acknowledged here but not sent until the next round: a witness
                            // holds it, so that it is not lost if this hub dies first.
                            let messages = BTreeSet::from([message.clone()]);
                            self.send(ctx, witness, Payload::Witness { messages });
                        }
                    }
                    self.schedule_flush(ctx);
                }
            }
            Payload::Read => {
                let messages = self.values.iter().cloned().collect();
                ctx.reply(&msg, Payload::ReadOk { messages });
            }
            Payload::Batch {
                messages,
                relayed,
                seq,
                round,
                ack_round,
                early_ms,
            } => {
                if let Some(seq) = seq {
                    self.check_gap(ctx, &msg.src, *seq);
                }
                if let Some(round) = round {
                    self.arrivals.insert(msg.src.clone(), (*round, ctx.now()));
                }
                if let (Some(round), Some(early)) = (ack_round, early_ms)
                    && Self::primary(ctx) == Some(&msg.src)
                {
                    self.acknowledged(ctx, *round, Duration::from_millis(*early));
                }
                for value in messages {
                    self.leaf.witnessed.remove(value);
                }
                self.learn(ctx, messages, &msg.src, !relayed);
            }
            Payload::Witness { messages } => {
                let now = ctx.now();
                for value in self.store(now, messages.iter().cloned()) {
                    self.leaf.witnessed.insert(value, now);
                }
            }
            Payload::Sync { messages } => {
                // Only what the sender has lost, not what is still on its way to it; and no
                // answer at all when it lacks nothing.
                let settled = ctx.now().saturating_sub(self.in_flight_bound());
                let lacking: BTreeSet<Value> = self
                    .values
                    .difference(messages)
                    .filter(|value| self.learned_at.get(*value).is_some_and(|at| *at <= settled))
                    .cloned()
                    .collect();
                if !lacking.is_empty() {
                    self.stats.gossip_messages_sent += 1;
                    ctx.reply(&msg, Payload::SyncOk { messages: lacking });
                }
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
                self.start_rounds(ctx, self.interval);
                self.schedule_flush(ctx);
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
            Timer::Round => self.round(ctx),
            Timer::Sync => {
                if self.sync_due(ctx.now()) {
                    self.sync_with_random_peer(ctx);
                }
            }
            Timer::Pull => {
                let now = ctx.now();
                let due: Vec<NodeId> = self
                    .pulls
                    .iter()
                    .filter(|(_, at)| **at <= now)
                    .map(|(node, _)| node.clone())
                    .collect();
                for node in due {
                    self.pulls.remove(&node);
                    let messages = self.values.clone();
                    self.send(ctx, node, Payload::Sync { messages });
                }
            }
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
        node_with(id, fanout, interval_ms, Rounds::Free)
    }

    fn node_with(id: &str, fanout: usize, interval_ms: u64, rounds: Rounds) -> TestNode<Tuning> {
        let flags = Flags {
            fanout,
            gossip_interval_ms: interval_ms,
            sync_ms: 60_000,
            rounds,
        };
        TestNode::new(Tuning::new(flags), id, &["n0", "n1", "n2", "n3"], 1)
    }

    fn relay(messages: Json, ack: Option<(u64, u64)>) -> Json {
        let mut body = json!({"type": "batch", "msg_id": 9, "messages": messages, "relayed": true});
        if let Some((round, early)) = ack {
            body["ack_round"] = json!(round);
            body["early_ms"] = json!(early);
        }
        body
    }

    #[test]
    fn an_aligned_leaf_sends_at_once_until_the_hub_tells_it_the_phase_then_on_that_phase() {
        let mut leaf = node_with("n2", 1, 100, Rounds::Aligned);
        let first = deliver(&mut leaf, "c1", broadcast(1), 0);
        assert_eq!(dests(&first), ["c1", "n0"], "no phase yet: at once");
        assert_eq!(first[1]["body"]["round"], 1);
        // Round 1 reached the hub 40 ms before its relay: rounds sent at 0 + 40 − 25 = 15 ms
        // (mod 100) arrive 25 ms before the hub's relays.
        assert!(deliver(&mut leaf, "n0", relay(json!([]), Some((1, 40))), 150).is_empty());
        assert_eq!(
            dests(&deliver(&mut leaf, "c1", broadcast(2), 160)),
            ["c1"],
            "in phase now: the value waits for the round"
        );
        assert!(leaf.tick(214).is_empty());
        let round = leaf.tick(215);
        assert_eq!(dests(&round), ["n0"]);
        assert_eq!(round[0]["body"]["messages"], json!([2]));
        assert_eq!(round[0]["body"]["round"], 2);
    }

    #[test]
    fn an_aligned_hub_relays_at_its_round_and_tells_each_leaf_how_early_it_came() {
        let mut hub = node_with("n0", 1, 100, Rounds::Aligned);
        let batch = json!({"type": "batch", "msg_id": 3, "messages": [5], "round": 4});
        assert!(
            deliver(&mut hub, "n2", batch, 30).is_empty(),
            "waits for the round"
        );
        let relays = hub.tick(100);
        assert_eq!(dests(&relays), ["n1", "n2", "n3"]);
        let to_origin = &relays[1]["body"];
        assert_eq!(
            to_origin["messages"],
            json!([]),
            "its own value does not go back"
        );
        assert_eq!(
            (
                to_origin["ack_round"].clone(),
                to_origin["early_ms"].clone()
            ),
            (json!(4), json!(70))
        );
        assert_eq!(relays[0]["body"]["messages"], json!([5]));
        assert!(relays[0]["body"].get("ack_round").is_none());
        assert!(
            hub.tick(200).is_empty(),
            "nothing new, nothing to acknowledge"
        );
    }

    #[test]
    fn an_aligned_leaf_sends_straight_to_everyone_when_the_hub_stays_silent() {
        let mut leaf = node_with("n2", 1, 100, Rounds::Aligned);
        deliver(&mut leaf, "c1", broadcast(1), 0);
        // No acknowledgement: the leaf gives up after 100 + 3 × 250 + 100 = 950 ms, at a round.
        assert!(leaf.tick(900).is_empty());
        let resent = leaf.tick(1000);
        assert_eq!(dests(&resent), ["n0", "n1", "n3"]);
        assert!(
            resent
                .iter()
                .all(|m| m["body"]["messages"] == json!([1]) && m["body"]["relayed"] == true)
        );
        // Still suspect (and without a phase, so at once): a new value goes to everyone too,
        // until the hub answers.
        assert_eq!(
            dests(&deliver(&mut leaf, "c1", broadcast(2), 1010)),
            ["c1", "n0", "n1", "n3"]
        );
        deliver(&mut leaf, "n0", relay(json!([]), Some((3, 20))), 1150);
        deliver(&mut leaf, "c1", broadcast(3), 1160);
        let back: Vec<Json> = (1161..=1300).flat_map(|ms| leaf.tick(ms)).collect();
        assert_eq!(
            dests(&back),
            ["n0"],
            "the hub answered: back to the hub alone"
        );
    }

    #[test]
    fn a_gap_in_a_links_batch_numbers_makes_the_receiver_pull_from_the_sender_later() {
        let mut runtime = node("n1", 0, 100);
        let numbered = |seq: u64, value: i64| json!({"type": "batch", "msg_id": seq, "messages": [value], "seq": seq});
        assert!(deliver(&mut runtime, "n2", numbered(1, 1), 0).is_empty());
        assert!(deliver(&mut runtime, "n2", numbered(2, 2), 100).is_empty());
        // Batch 3 never came: once what it held counts as settled at n2 (2 × 100 ms + 1 s),
        // this node asks n2 for what it lacks.
        assert!(deliver(&mut runtime, "n2", numbered(4, 4), 300).is_empty());
        assert!(runtime.tick(1499).is_empty());
        let pull = runtime.tick(1500);
        assert_eq!(dests(&pull), ["n2"]);
        assert_eq!(pull[0]["body"]["type"], "sync");
        assert_eq!(pull[0]["body"]["messages"], json!([1, 2, 4]));
        // A restarted sender numbers from 1 again: no gap.
        assert!(deliver(&mut runtime, "n2", numbered(1, 9), 1600).is_empty());
        assert!(deliver(&mut runtime, "n2", numbered(2, 10), 1700).is_empty());
        assert!(runtime.tick(5000).is_empty());
    }

    #[test]
    fn periodic_anti_entropy_waits_while_clients_are_busy_and_no_gap_was_seen() {
        let flags = Flags {
            fanout: 0,
            gossip_interval_ms: 0,
            sync_ms: 1000,
            rounds: Rounds::Free,
        };
        let mut runtime = TestNode::new(Tuning::new(flags), "n1", &["n0", "n1", "n2", "n3"], 1);
        let mut syncs = 0;
        for ms in (0..=3000).step_by(100) {
            // A client value every 100 ms until 2.5 s.
            let out = if ms <= 2500 {
                deliver(&mut runtime, "c1", broadcast(ms as i64), ms)
            } else {
                runtime.tick(ms)
            };
            syncs += out.iter().filter(|m| m["body"]["type"] == "sync").count();
            if ms == 2000 {
                assert_eq!(syncs, 0, "busy and no gap: no round at 1 s or 2 s");
            }
        }
        assert_eq!(
            syncs, 0,
            "at 3 s the last client value is 500 ms old: still busy"
        );
        assert_eq!(
            runtime
                .tick(4000)
                .iter()
                .filter(|m| m["body"]["type"] == "sync")
                .count(),
            1,
            "quiet: the round runs"
        );
    }

    #[test]
    fn a_hubs_own_values_are_held_by_a_witness_that_sends_them_if_the_hub_does_not() {
        let mut hub = node_with("n0", 1, 100, Rounds::Aligned);
        let out = deliver(&mut hub, "c1", broadcast(7), 10);
        assert_eq!(dests(&out), ["c1", "n1"]);
        assert_eq!(
            out[1]["body"],
            json!({"type": "witness", "messages": [7], "msg_id": 2})
        );

        let mut witness = node_with("n1", 1, 100, Rounds::Aligned);
        deliver(
            &mut witness,
            "n0",
            json!({"type": "witness", "msg_id": 1, "messages": [7]}),
            20,
        );
        deliver(&mut witness, "n0", relay(json!([7]), None), 120);
        let quiet: Vec<Json> = (121..=2000)
            .step_by(10)
            .flat_map(|ms| witness.tick(ms))
            .collect();
        assert!(quiet.is_empty(), "the hub relayed it: {quiet:?}");

        let mut witness = node_with("n1", 1, 100, Rounds::Aligned);
        deliver(
            &mut witness,
            "n0",
            json!({"type": "witness", "msg_id": 1, "messages": [8]}),
            20,
        );
        let sent: Vec<Json> = (21..=2000)
            .step_by(10)
            .flat_map(|ms| witness.tick(ms))
            .collect();
        assert_eq!(dests(&sent), ["n0", "n2", "n3"], "the hub never relayed it");
        assert!(sent.iter().all(|m| m["body"]["messages"] == json!([8])));
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
            json!({"type": "batch", "messages": [5], "msg_id": 2, "seq": 1})
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
