//! Stage 12, tree failure: the tree of stage 11, made to survive dead interior nodes.
//!
//! Every tree forward expects `broadcast_ack {message}` back from the neighbour. A neighbour
//! acknowledges once the value is safe on its whole side of the tree: at once if it has nothing
//! to forward, otherwise when its own forwards are acknowledged or have been handled. A scan
//! every `--scan-ms` finds forwards unacknowledged past their timeout; each is a failure, and
//! the value goes straight (`direct_broadcast`) to every node beyond that neighbour: its
//! subtree, or for the parent the rest of the tree. The silent neighbour itself is not sent the
//! value again: it has the forward queued and handles it if it is only slow.
//!
//! Why acknowledge only when the side is safe: with an acknowledgement on receipt, a node that
//! takes a value, acknowledges it and dies together with the next node on the path (the crash
//! nemesis often takes several at once) leaves nobody responsible for the value. Waiting for
//! the side means the timeout grows with it: `--ack-timeout-ms` is the timeout for a neighbour
//! with nothing beyond it, and a neighbour whose side reaches h hops gets h times that.
//!
//! Acknowledgements only cover the direction a value came from. A node that forwarded a value
//! to its children and to its parent, then died before the parent had it, leaves the value
//! only with its children, who acknowledged it and have nothing more to do. So neighbours also
//! watch each other: a node writes `heartbeat` to a neighbour it has sent nothing for
//! `--heartbeat-ms`, and a neighbour heard nothing from for `--silence-ms` is suspected dead.
//! On suspecting a neighbour, by silence or by a timed-out forward, a node sends past it, once,
//! the values that neighbour forwarded to it lately (`repair {messages}`, one message per node
//! beyond): whatever the dead node was still carrying, this node may be the only one left with
//! it. "Lately" is as long as the neighbour could have waited on its own acknowledgements
//! (its side's timeout, plus two scans) before its last sign of life; anything older it had
//! either delivered or sent on directly itself.
//!
//! While a neighbour is suspected, later values go directly past it at once (besides the
//! forward to it), so only the values in flight when it died wait for a timeout. Any message
//! from it clears the suspicion. Direct deliveries and repairs are stored and neither
//! forwarded nor acknowledged: their sender reached every node that needs them.
//!
//! ```
//! use common::{Node, Runtime};
//! use stage_12_tree_failure::{Flags, TreeFailure};
//! use std::time::Duration;
//!
//! let flags = Flags { ack_timeout_ms: 500, scan_ms: 100, heartbeat_ms: 60_000, silence_ms: 60_000 };
//! let mut node = Runtime::new(TreeFailure::new(flags), 0);
//! let at = |ms| Duration::from_millis(ms);
//! node.handle_line(r#"{"src":"c0","dest":"n0","body":{"type":"init","msg_id":1,"node_id":"n0","node_ids":["n0","n1","n2"]}}"#, at(0));
//! node.handle_line(r#"{"src":"c1","dest":"n0","body":{"type":"topology","msg_id":1,"topology":{"n0":["n1"],"n1":["n0","n2"],"n2":["n1"]}}}"#, at(0));
//! node.handle_line(r#"{"src":"c1","dest":"n0","body":{"type":"broadcast","msg_id":2,"message":7}}"#, at(0));
//! node.take_output();
//! // n1 never acknowledges: after the timeout (two hops reach beyond n1: 2 × 500 ms), n2 gets
//! // the value directly. (n1 never forwarded n0 anything, so suspecting it repairs nothing.)
//! node.fire_due(at(1000));
//! let output = node.take_output();
//! assert_eq!(output.len(), 1);
//! assert!(output[0].contains(r#""dest":"n2""#) && output[0].contains("direct_broadcast"));
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::{Context, Message, Node, NodeId, RpcError, Value};
use serde::{Deserialize, Serialize};
use stage_11_tree_overlay::Overlay;

/// The messages: the broadcast workload's, the acknowledgement, the deliveries past a failed
/// neighbour, the heartbeat and the two inspection requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Payload {
    /// The cluster's neighbour lists: the tree.
    Topology {
        /// Neighbours by node id.
        topology: BTreeMap<NodeId, Vec<NodeId>>,
    },
    /// Answer to `topology`.
    TopologyOk,
    /// A value: from a client (answered) or forwarded along the tree (acknowledged).
    Broadcast {
        /// The value.
        message: Value,
    },
    /// Answer to a client's `broadcast`.
    BroadcastOk,
    /// The value is safe on the sender's side of the tree (not a reply: no `in_reply_to`).
    BroadcastAck {
        /// The value.
        message: Value,
    },
    /// A value delivered directly, past a neighbour whose forward timed out: stored, not
    /// forwarded, not acknowledged.
    DirectBroadcast {
        /// The value.
        message: Value,
    },
    /// The values a neighbour the sender has just suspected forwarded to it lately, sent past
    /// that neighbour: merged, not forwarded, not acknowledged.
    Repair {
        /// Those values.
        messages: BTreeSet<Value>,
    },
    /// "I am alive", to a neighbour the sender has written nothing to for a while.
    Heartbeat,
    /// Asks for every value held.
    Read,
    /// Every value held, sorted, without duplicates.
    ReadOk {
        /// The values.
        messages: Vec<Value>,
    },
    /// Runs the timeout scan now.
    CheckAcks,
    /// What the scan found and did.
    CheckAcksOk {
        /// Forwards still awaiting their acknowledgement after the scan.
        pending: usize,
        /// Forwards this scan found unacknowledged past their timeout.
        timed_out: usize,
        /// Direct deliveries this scan sent.
        direct_sent: usize,
    },
    /// Asks for the cumulative failure counters.
    FailureStats,
    /// The counters since the start.
    FailureStatsOk {
        /// Forwards that timed out.
        total_failures: u64,
        /// Messages sent past a failed neighbour: `direct_broadcast` and `repair`.
        direct_deliveries: u64,
    },
}

/// The node's one timer: the scan (timeouts, heartbeats, silence).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scan;

/// The node's flags.
#[derive(Debug, Clone, clap::Args)]
pub struct Flags {
    /// Milliseconds a forward to a neighbour with nothing beyond it may wait for its
    /// acknowledgement; a neighbour whose side reaches h hops gets h times this.
    #[arg(long = "ack-timeout-ms", default_value_t = 500)]
    pub ack_timeout_ms: u64,
    /// Milliseconds between scans.
    #[arg(long = "scan-ms", default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    pub scan_ms: u64,
    /// Milliseconds of writing nothing to a neighbour before a heartbeat.
    #[arg(long = "heartbeat-ms", default_value_t = 250)]
    pub heartbeat_ms: u64,
    /// Milliseconds of hearing nothing from a neighbour before suspecting it.
    #[arg(long = "silence-ms", default_value_t = 1000)]
    pub silence_ms: u64,
}

/// The cumulative counters `failure_stats` reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FailureStats {
    /// Forwards that timed out.
    pub total_failures: u64,
    /// Messages sent past a failed neighbour: `direct_broadcast` and `repair`.
    pub direct_deliveries: u64,
}

/// A forward awaiting its acknowledgement.
#[derive(Debug, Clone, Copy)]
struct Forward {
    /// When it times out.
    deadline: Duration,
    /// True when the value also went directly to the nodes beyond (the neighbour was
    /// suspected): its timeout then has nothing left to send.
    went_past: bool,
}

/// What a scan of the pending forwards found.
#[derive(Debug, Default)]
struct Expired {
    /// The values whose forwards timed out, one entry per forward.
    values: Vec<Value>,
    /// The direct deliveries to send.
    direct: Vec<(NodeId, Value)>,
    /// Neighbours suspected by this scan.
    suspects: Vec<NodeId>,
}

/// The tree node with acknowledged forwards, a direct fallback and repairs.
#[derive(Debug)]
pub struct TreeFailure {
    ack_timeout: Duration,
    scan_every: Duration,
    heartbeat: Duration,
    silence: Duration,
    overlay: Overlay,
    values: BTreeSet<Value>,
    /// Forwards awaiting their acknowledgement, by (neighbour, value).
    pending: BTreeMap<(NodeId, Value), Forward>,
    /// Neighbours that forwarded a value and await its acknowledgement, by value: sent once no
    /// forward of it is unresolved.
    upstream: BTreeMap<Value, Vec<NodeId>>,
    /// Neighbours suspected dead, until they are heard from again.
    suspected: BTreeSet<NodeId>,
    /// When each neighbour was last heard from, and last written to.
    heard: BTreeMap<NodeId, Duration>,
    written: BTreeMap<NodeId, Duration>,
    /// The values each neighbour forwarded lately, with when: what a repair past it sends.
    lately: BTreeMap<NodeId, BTreeMap<Value, Duration>>,
    stats: FailureStats,
}

impl TreeFailure {
    /// The cumulative counters.
    pub fn stats(&self) -> FailureStats {
        self.stats
    }

    /// The nodes beyond `neighbour` (its side of the tree), less `neighbour` itself.
    fn beyond(&self, neighbour: &NodeId) -> Vec<NodeId> {
        let mut nodes = self.overlay.subtree(neighbour);
        nodes.retain(|node| node != neighbour);
        nodes
    }

    fn write(&mut self, dest: NodeId, payload: Payload, ctx: &mut Context<Payload, Scan>) {
        self.written.insert(dest.clone(), ctx.now());
        ctx.send(dest, payload);
    }

    /// Finds the forwards past their timeout: counts them as failures and suspects their
    /// neighbours. Sends nothing.
    fn scan(&mut self, now: Duration) -> Expired {
        let expired: Vec<((NodeId, Value), Forward)> = self
            .pending
            .iter()
            .filter(|(_, forward)| forward.deadline <= now)
            .map(|(key, forward)| (key.clone(), *forward))
            .collect();
        let mut found = Expired::default();
        for ((neighbour, value), forward) in expired {
            self.pending.remove(&(neighbour.clone(), value.clone()));
            self.stats.total_failures += 1;
            if self.suspected.insert(neighbour.clone()) {
                found.suspects.push(neighbour.clone());
            }
            if !forward.went_past {
                found.direct.extend(
                    self.beyond(&neighbour)
                        .into_iter()
                        .map(|node| (node, value.clone())),
                );
            }
            found.values.push(value);
        }
        found
    }

    /// Sends what a scan found: the direct deliveries, the repairs past new suspects, and the
    /// acknowledgements that the timed-out forwards no longer hold up.
    fn act_on(&mut self, expired: Expired, ctx: &mut Context<Payload, Scan>) {
        for (node, message) in expired.direct {
            self.stats.direct_deliveries += 1;
            self.write(node, Payload::DirectBroadcast { message }, ctx);
        }
        for suspect in expired.suspects {
            self.repair_past(&suspect, ctx);
        }
        for value in expired.values {
            self.settle(&value, ctx);
        }
    }

    /// How far back a repair past `neighbour` reaches: as long as the neighbour could wait on
    /// its own acknowledgements (its side reaches one hop less than ours), plus two scans.
    fn repair_window(&self, neighbour: &NodeId) -> Duration {
        let reach = u32::try_from(self.overlay.reach(neighbour)).unwrap_or(u32::MAX);
        self.ack_timeout * reach + self.scan_every * 2
    }

    /// Sends the values `suspect` forwarded lately to every node beyond it, once per suspicion.
    fn repair_past(&mut self, suspect: &NodeId, ctx: &mut Context<Payload, Scan>) {
        let messages: BTreeSet<Value> = self
            .lately
            .get(suspect)
            .map(|values| values.keys().cloned().collect())
            .unwrap_or_default();
        if messages.is_empty() {
            return;
        }
        for node in self.beyond(suspect) {
            self.stats.direct_deliveries += 1;
            let messages = messages.clone();
            self.write(node, Payload::Repair { messages }, ctx);
        }
    }

    /// Forgets the values each neighbour forwarded before its repair window.
    fn forget_old(&mut self, now: Duration) {
        let windows: Vec<(NodeId, Duration)> = self
            .lately
            .keys()
            .map(|neighbour| (neighbour.clone(), self.repair_window(neighbour)))
            .collect();
        for (neighbour, window) in windows {
            let heard = self.heard.get(&neighbour).copied().unwrap_or(now);
            if let Some(values) = self.lately.get_mut(&neighbour) {
                values.retain(|_, at| heard.saturating_sub(*at) <= window);
            }
        }
    }

    /// Heartbeats to neighbours written nothing for a while; suspicion of neighbours heard
    /// nothing from for longer.
    fn watch(&mut self, ctx: &mut Context<Payload, Scan>) {
        let now = ctx.now();
        for neighbour in self.overlay.neighbours().to_vec() {
            let heard = self.heard.get(&neighbour).copied().unwrap_or(now);
            if now.saturating_sub(heard) >= self.silence && self.suspected.insert(neighbour.clone())
            {
                self.repair_past(&neighbour, ctx);
            }
            let written = self.written.get(&neighbour).copied().unwrap_or_default();
            if now.saturating_sub(written) >= self.heartbeat {
                self.write(neighbour, Payload::Heartbeat, ctx);
            }
        }
    }

    /// True when some forward of `value` still awaits its acknowledgement and was not also
    /// sent past its neighbour.
    fn unresolved(&self, value: &Value) -> bool {
        self.pending
            .iter()
            .any(|((_, pending), forward)| pending == value && !forward.went_past)
    }

    /// Acknowledges `value` to every neighbour waiting for it, if it is safe on this side now.
    fn settle(&mut self, value: &Value, ctx: &mut Context<Payload, Scan>) {
        if self.unresolved(value) {
            return;
        }
        for neighbour in self.upstream.remove(value).unwrap_or_default() {
            let message = value.clone();
            self.write(neighbour, Payload::BroadcastAck { message }, ctx);
        }
    }

    /// Takes a new value on: forwards it to every tree neighbour but `from`, awaiting each
    /// acknowledgement, and past the suspected ones directly.
    fn spread(&mut self, message: &Value, from: &NodeId, ctx: &mut Context<Payload, Scan>) {
        for neighbour in self.overlay.forward_targets(from) {
            let forward = Payload::Broadcast {
                message: message.clone(),
            };
            self.write(neighbour.clone(), forward, ctx);
            let went_past = self.suspected.contains(&neighbour);
            let reach = u32::try_from(self.overlay.reach(&neighbour).max(1)).unwrap_or(u32::MAX);
            let forward = Forward {
                deadline: ctx.now() + self.ack_timeout * reach,
                went_past,
            };
            self.pending
                .insert((neighbour.clone(), message.clone()), forward);
            if went_past {
                for node in self.beyond(&neighbour) {
                    self.stats.direct_deliveries += 1;
                    let message = message.clone();
                    self.write(node, Payload::DirectBroadcast { message }, ctx);
                }
            }
        }
    }
}

impl Node for TreeFailure {
    type Payload = Payload;
    type Timer = Scan;
    type Flags = Flags;

    fn new(flags: Flags) -> Self {
        Self {
            ack_timeout: Duration::from_millis(flags.ack_timeout_ms),
            scan_every: Duration::from_millis(flags.scan_ms),
            heartbeat: Duration::from_millis(flags.heartbeat_ms),
            silence: Duration::from_millis(flags.silence_ms),
            overlay: Overlay::default(),
            values: BTreeSet::new(),
            pending: BTreeMap::new(),
            upstream: BTreeMap::new(),
            suspected: BTreeSet::new(),
            heard: BTreeMap::new(),
            written: BTreeMap::new(),
            lately: BTreeMap::new(),
            stats: FailureStats::default(),
        }
    }

    fn on_init(&mut self, ctx: &mut Context<Payload, Scan>) {
        ctx.every(self.scan_every, Scan);
    }

    fn on_message(
        &mut self,
        msg: Message<Payload>,
        ctx: &mut Context<Payload, Scan>,
    ) -> Result<(), RpcError> {
        let from_peer = ctx.is_cluster_node(&msg.src);
        if from_peer {
            self.heard.insert(msg.src.clone(), ctx.now());
            self.suspected.remove(&msg.src);
        }
        match &msg.body.payload {
            Payload::Topology { topology } => {
                self.overlay = Overlay::new(ctx.node_id().clone(), topology.clone());
                // Silence is counted from now.
                for neighbour in self.overlay.neighbours() {
                    self.heard.insert(neighbour.clone(), ctx.now());
                }
                ctx.reply(&msg, Payload::TopologyOk);
            }
            Payload::Broadcast { message } => {
                if !from_peer {
                    ctx.reply(&msg, Payload::BroadcastOk);
                }
                if self.values.insert(message.clone()) {
                    self.spread(message, &msg.src, ctx);
                }
                if from_peer {
                    self.upstream
                        .entry(message.clone())
                        .or_default()
                        .push(msg.src.clone());
                    self.lately
                        .entry(msg.src.clone())
                        .or_default()
                        .insert(message.clone(), ctx.now());
                }
                self.settle(message, ctx);
            }
            Payload::BroadcastAck { message } => {
                self.pending.remove(&(msg.src.clone(), message.clone()));
                self.settle(message, ctx);
            }
            Payload::DirectBroadcast { message } => {
                self.values.insert(message.clone());
            }
            Payload::Repair { messages } => {
                self.values.extend(messages.iter().cloned());
            }
            Payload::Read => {
                let messages = self.values.iter().cloned().collect();
                ctx.reply(&msg, Payload::ReadOk { messages });
            }
            Payload::CheckAcks => {
                let expired = self.scan(ctx.now());
                ctx.reply(
                    &msg,
                    Payload::CheckAcksOk {
                        pending: self.pending.len(),
                        timed_out: expired.values.len(),
                        direct_sent: expired.direct.len(),
                    },
                );
                self.act_on(expired, ctx);
            }
            Payload::FailureStats => {
                ctx.reply(
                    &msg,
                    Payload::FailureStatsOk {
                        total_failures: self.stats.total_failures,
                        direct_deliveries: self.stats.direct_deliveries,
                    },
                );
            }
            Payload::Heartbeat
            | Payload::TopologyOk
            | Payload::BroadcastOk
            | Payload::ReadOk { .. }
            | Payload::CheckAcksOk { .. }
            | Payload::FailureStatsOk { .. } => {}
        }
        Ok(())
    }

    fn on_timer(&mut self, _: Scan, ctx: &mut Context<Payload, Scan>) {
        self.forget_old(ctx.now());
        let expired = self.scan(ctx.now());
        self.act_on(expired, ctx);
        self.watch(ctx);
    }
}
