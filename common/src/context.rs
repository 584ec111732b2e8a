//! The [`Context`]: what a node may do, recorded as effects for the driver to carry out.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::ChaCha8Rng;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use serde::Serialize;

use crate::membership::Membership;
use crate::message::{Body, Message, NodeId, RpcError};

/// Identifies a timer so that it can be cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimerId(u64);

/// A timer waiting in the wheel.
#[derive(Debug)]
struct PendingTimer<T> {
    id: TimerId,
    period: Option<Duration>,
    timer: T,
}

/// Everything a node can do: reply, send, call with a timeout, set timers, draw randomness,
/// read the clock and its ids.
///
/// The context owns the one outgoing `msg_id` counter, so ids follow the order of the calls;
/// call [`Context::reply`] before any forwards to keep the reply-first convention.
pub struct Context<P, T> {
    node_id: NodeId,
    /// The cluster's ids, shared with the other nodes of this process that `init` gave the
    /// same list (see [`Membership`]).
    members: Arc<Membership>,
    next_msg_id: u64,
    now: Duration,
    rng: ChaCha8Rng,
    outbox: Vec<String>,
    log: Vec<String>,
    next_timer_id: u64,
    /// Deadlines ordered by (time, timer id), so timers due together fire in the order set.
    deadlines: BinaryHeap<Reverse<(Duration, TimerId)>>,
    timers: BTreeMap<TimerId, PendingTimer<T>>,
    /// Open RPCs by `msg_id`: where they went and when they time out.
    pending_rpcs: BTreeMap<u64, (NodeId, Duration)>,
    _payload: std::marker::PhantomData<fn(P)>,
}

impl<P: Serialize, T> Context<P, T> {
    /// A context for a node that has not been initialised yet, with its RNG seeded.
    pub fn new(seed: u64) -> Self {
        Self {
            node_id: NodeId::new(""),
            members: Arc::default(),
            next_msg_id: 0,
            now: Duration::ZERO,
            rng: ChaCha8Rng::seed_from_u64(seed),
            outbox: Vec::new(),
            log: Vec::new(),
            next_timer_id: 0,
            deadlines: BinaryHeap::new(),
            timers: BTreeMap::new(),
            pending_rpcs: BTreeMap::new(),
            _payload: std::marker::PhantomData,
        }
    }

    /// This node's id, as given by `init`.
    pub fn node_id(&self) -> &NodeId {
        &self.node_id
    }

    /// Every node in the cluster, this one included, in the order `init` gave them.
    pub fn node_ids(&self) -> &[NodeId] {
        self.members.ids()
    }

    /// Every node in the cluster but this one, in `init` order.
    pub fn peers(&self) -> Vec<NodeId> {
        self.node_ids()
            .iter()
            .filter(|id| **id != self.node_id)
            .cloned()
            .collect()
    }

    /// Up to `count` distinct peers drawn at random with the node's generator, leaving out
    /// `except` (say, the node a value came from), returned in id order: which peers were drawn
    /// depends on the seed, the order they are written in does not.
    pub fn random_peers(&mut self, count: usize, except: Option<&NodeId>) -> Vec<NodeId> {
        // Shuffling positions draws exactly what shuffling the ids would, without cloning
        // every id of a large cluster to keep a few.
        let ids = self.members.ids();
        let mut eligible: Vec<usize> = (0..ids.len())
            .filter(|&at| ids[at] != self.node_id && Some(&ids[at]) != except)
            .collect();
        eligible.shuffle(&mut self.rng);
        eligible.truncate(count);
        let mut peers: Vec<NodeId> = eligible.into_iter().map(|at| ids[at].clone()).collect();
        peers.sort();
        peers
    }

    /// One peer drawn at random with the node's generator (one draw over the peers, in `init`
    /// order), or `None` when the node is alone.
    pub fn random_peer(&mut self) -> Option<NodeId> {
        let ids = self.members.ids();
        let me = self.members.position(&self.node_id);
        if self.members.has_repeats() {
            // A list that names someone twice: count the peers one by one, as `peers` would.
            let peers: Vec<&NodeId> = ids.iter().filter(|id| **id != self.node_id).collect();
            if peers.is_empty() {
                return None;
            }
            let drawn = self.rng.random_range(0..peers.len());
            return Some(peers[drawn].clone());
        }
        let count = ids.len() - usize::from(me.is_some());
        if count == 0 {
            return None;
        }
        let drawn = self.rng.random_range(0..count);
        // The drawn-th peer: positions at or past this node's own shift up by one.
        let at = match me {
            Some(me) if drawn >= me => drawn + 1,
            _ => drawn,
        };
        Some(ids[at].clone())
    }

    /// True when `id` is one of the cluster's servers (as opposed to a client or a service).
    pub fn is_cluster_node(&self, id: &NodeId) -> bool {
        self.members.position(id).is_some()
    }

    /// The time since the node started (real or virtual, as the driver decides).
    pub fn now(&self) -> Duration {
        self.now
    }

    /// The node's one random generator, seeded from `--seed` or `GOSSIP_SEED`.
    pub fn rng(&mut self) -> &mut ChaCha8Rng {
        &mut self.rng
    }

    /// Writes a line to the node's log (stderr), never to the network.
    pub fn log(&mut self, line: impl Into<String>) {
        self.log.push(line.into());
    }

    /// Answers `request`: sent to its `src` with `in_reply_to` set to its `msg_id`.
    pub fn reply<Q>(&mut self, request: &Message<Q>, payload: P) -> u64 {
        self.write(request.src.clone(), request.body.msg_id, payload)
    }

    /// Sends a message that answers nothing; returns its `msg_id`.
    pub fn send(&mut self, dest: NodeId, payload: P) -> u64 {
        self.write(dest, None, payload)
    }

    /// Sends a request and expects a reply within `timeout`; if none comes,
    /// [`crate::Node::on_rpc_timeout`] is called. Returns the request's `msg_id`, which the
    /// reply carries as `in_reply_to`.
    pub fn rpc(&mut self, dest: NodeId, payload: P, timeout: Duration) -> u64 {
        let msg_id = self.write(dest.clone(), None, payload);
        self.pending_rpcs.insert(msg_id, (dest, self.now + timeout));
        msg_id
    }

    /// Fires `timer` once, `delay` from now.
    pub fn set_timer(&mut self, delay: Duration, timer: T) -> TimerId {
        self.schedule(delay, None, timer)
    }

    /// Fires `timer` every `period`, the first time one period from now.
    ///
    /// # Panics
    /// If `period` is zero, which would fire forever without time passing.
    pub fn every(&mut self, period: Duration, timer: T) -> TimerId {
        assert!(
            !period.is_zero(),
            "a periodic timer needs a period above zero"
        );
        self.schedule(period, Some(period), timer)
    }

    /// Cancels a timer; cancelling one that already fired (or was cancelled) does nothing.
    pub fn cancel_timer(&mut self, id: TimerId) {
        self.timers.remove(&id);
    }

    fn schedule(&mut self, delay: Duration, period: Option<Duration>, timer: T) -> TimerId {
        let id = TimerId(self.next_timer_id);
        self.next_timer_id += 1;
        self.deadlines.push(Reverse((self.now + delay, id)));
        self.timers.insert(id, PendingTimer { id, period, timer });
        id
    }

    fn write(&mut self, dest: NodeId, in_reply_to: Option<u64>, payload: P) -> u64 {
        let msg_id = self.take_msg_id();
        let message = Message {
            src: self.node_id.clone(),
            dest,
            body: Body {
                msg_id: Some(msg_id),
                in_reply_to,
                payload,
            },
        };
        let line = serde_json::to_string(&message)
            .expect("a derived Serialize payload always serialises to JSON");
        self.outbox.push(line);
        msg_id
    }

    fn take_msg_id(&mut self) -> u64 {
        let msg_id = self.next_msg_id;
        self.next_msg_id += 1;
        msg_id
    }
}

/// The runtime's side of the context: what only the driver may do.
impl<P: Serialize, T> Context<P, T> {
    pub(crate) fn initialise<S: AsRef<str>>(&mut self, node_id: NodeId, node_ids: &[S]) {
        self.node_id = node_id;
        self.members = Membership::shared(node_ids);
    }

    pub(crate) fn is_initialised(&self) -> bool {
        !self.node_id.0.is_empty()
    }

    pub(crate) fn set_now(&mut self, now: Duration) {
        // The clock never runs backwards, even if a driver hands it an older reading.
        self.now = self.now.max(now);
    }

    /// Writes a body the runtime builds itself (`init_ok`, `error`), numbered from the same
    /// counter as the node's own messages. `src` is explicit because an `init` that fails to
    /// parse is answered before this node knows its own id.
    pub(crate) fn write_runtime_body(
        &mut self,
        src: &NodeId,
        dest: NodeId,
        in_reply_to: Option<u64>,
        kind: &str,
        mut fields: serde_json::Map<String, serde_json::Value>,
    ) {
        fields.insert("type".into(), kind.into());
        fields.insert("msg_id".into(), self.take_msg_id().into());
        if let Some(in_reply_to) = in_reply_to {
            fields.insert("in_reply_to".into(), in_reply_to.into());
        }
        let message = Message {
            src: src.clone(),
            dest,
            body: Body {
                msg_id: None,
                in_reply_to: None,
                payload: serde_json::Value::Object(fields),
            },
        };
        let line = serde_json::to_string(&message).expect("a JSON value always serialises");
        self.outbox.push(line);
    }

    /// Answers a request with an `error` body.
    pub(crate) fn write_error(
        &mut self,
        src: &NodeId,
        dest: NodeId,
        in_reply_to: Option<u64>,
        error: &RpcError,
    ) {
        let mut fields = serde_json::Map::new();
        fields.insert("code".into(), error.code.code().into());
        fields.insert("text".into(), error.text.clone().into());
        self.write_runtime_body(src, dest, in_reply_to, "error", fields);
    }

    /// Marks an RPC as answered; true if it was still open.
    pub(crate) fn settle_rpc(&mut self, msg_id: u64) -> bool {
        self.pending_rpcs.remove(&msg_id).is_some()
    }

    /// The earliest moment a timer or an RPC timeout is due.
    pub(crate) fn next_deadline(&self) -> Option<Duration> {
        let timer = self.deadlines.peek().map(|Reverse((at, _))| *at);
        let rpc = self.pending_rpcs.values().map(|(_, at)| *at).min();
        match (timer, rpc) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Takes the earliest timer due at or before `now`, rescheduling it if periodic.
    pub(crate) fn pop_due_timer(&mut self, now: Duration) -> Option<T>
    where
        T: Clone,
    {
        while let Some(Reverse((at, id))) = self.deadlines.peek().copied() {
            if at > now {
                return None;
            }
            self.deadlines.pop();
            let Some(pending) = self.timers.get(&id) else {
                continue; // Cancelled.
            };
            let timer = pending.timer.clone();
            match pending.period {
                // A stalled driver skips the ticks it missed rather than firing them in a burst.
                Some(period) => {
                    let mut next = at + period;
                    if next <= now {
                        next = now + period;
                    }
                    self.deadlines.push(Reverse((next, pending.id)));
                }
                None => {
                    self.timers.remove(&id);
                }
            }
            return Some(timer);
        }
        None
    }

    /// Takes the earliest RPC whose deadline is at or before `now`.
    pub(crate) fn pop_expired_rpc(&mut self, now: Duration) -> Option<(u64, NodeId)> {
        let (&msg_id, _) = self
            .pending_rpcs
            .iter()
            .filter(|(_, (_, at))| *at <= now)
            .min_by_key(|(id, (_, at))| (*at, **id))?;
        let (dest, _) = self.pending_rpcs.remove(&msg_id)?;
        Some((msg_id, dest))
    }

    pub(crate) fn take_outbox(&mut self) -> Vec<String> {
        std::mem::take(&mut self.outbox)
    }

    pub(crate) fn take_log(&mut self) -> Vec<String> {
        std::mem::take(&mut self.log)
    }
}
