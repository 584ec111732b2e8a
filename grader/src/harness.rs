//! The harness: one event loop that drives a [`Cluster`] through a Maelstrom test.
//!
//! Everything the harness does is a scheduled event on one queue ordered by (time, sequence):
//! message deliveries, the workload's generator ticks, client RPC timeouts, nemesis actions and
//! phase changes. Nothing sleeps; the loop asks the cluster to wait until the next event is
//! due, so the same code runs against real processes in real time and, later, against nodes in
//! virtual time.
//!
//! The phases follow Maelstrom: `init` to every node (10 s), `topology` from setup clients,
//! then the main phase (the 50/50 broadcast/read mix, staggered, and the nemesis) until the time
//! limit, then waiting for outstanding operations, a heal, `recovery` seconds of quiet and one
//! final read per worker.

use std::cmp::Ordering;
use std::collections::{BTreeSet, BinaryHeap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};
use std::time::Duration;

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Value as Json, json};

use crate::checker::{self, SetFullResult, StatsResult, Validity};
use crate::cluster::{Cluster, DeliveryError, NodeEvent};
use crate::history::{History, OpFunction, OpKind, Process};
use crate::nemesis::{Fault, Grudge, kill_targets};
use crate::network::{
    DropReason, Envelope, Journal, Latency, NetStats, PROBE_PREFIX, Packet, carried_values,
    is_client,
};
use crate::topology::{Topology, node_names};

/// How long nodes get to answer `init`.
pub const INIT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a client waits for any other reply.
pub const RPC_TIMEOUT: Duration = Duration::from_secs(5);

/// How often the harness reads every node after the heal to time convergence.
pub const PROBE_INTERVAL: Duration = Duration::from_millis(100);

/// How long the loop waits at most between checks for an interrupt.
const POLL: Duration = Duration::from_millis(100);

/// The most harness log lines kept.
const MAX_LOG_LINES: usize = 10_000;

/// The workloads the harness drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Workload {
    /// Maelstrom's broadcast workload, checked with set-full.
    Broadcast,
}

impl std::str::FromStr for Workload {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "broadcast" => Ok(Workload::Broadcast),
            other => Err(format!(
                "unknown workload `{other}`; the workloads on offer are: broadcast"
            )),
        }
    }
}

impl std::fmt::Display for Workload {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Workload::Broadcast => formatter.write_str("broadcast"),
        }
    }
}

/// One test's settings; [`TestConfig::default`] is Maelstrom's defaults.
#[derive(Debug, Clone, Serialize)]
pub struct TestConfig {
    /// The workload (default broadcast).
    pub workload: Workload,
    /// How many nodes, named `n0…` (default 5).
    pub node_count: usize,
    /// Length of the main phase (default 60 s).
    #[serde(serialize_with = "seconds")]
    pub time_limit: Duration,
    /// Client operations per second across all workers (default 5; 0 means none).
    pub rate: f64,
    /// Worker clients; worker t talks to node t mod node_count (default one per node).
    pub concurrency: usize,
    /// Latency between servers (default none).
    pub latency: Latency,
    /// Faults to inject (default none).
    pub faults: BTreeSet<Fault>,
    /// Mean time between nemesis actions (default 10 s).
    #[serde(serialize_with = "seconds")]
    pub nemesis_interval: Duration,
    /// The topology sent to nodes (default grid).
    #[serde(serialize_with = "display")]
    pub topology: Topology,
    /// Seeds the harness's one random generator: latencies, the generator, the nemesis.
    pub seed: u64,
    /// Quiet time after the heal before the final reads (default 10 s).
    #[serde(serialize_with = "seconds")]
    pub recovery: Duration,
    /// How long nodes get to answer `init` (Maelstrom's 10 s; shorter in tests).
    #[serde(serialize_with = "seconds")]
    pub init_timeout: Duration,
}

fn seconds<S: serde::Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(duration.as_secs_f64())
}

fn display<S: serde::Serializer, T: std::fmt::Display>(
    value: &T,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

impl Default for TestConfig {
    fn default() -> Self {
        Self {
            workload: Workload::Broadcast,
            node_count: 5,
            time_limit: Duration::from_secs(60),
            rate: 5.0,
            concurrency: 5,
            latency: Latency::ZERO,
            faults: BTreeSet::new(),
            nemesis_interval: Duration::from_secs(10),
            topology: Topology::Grid,
            seed: 0,
            recovery: Duration::from_secs(10),
            init_timeout: INIT_TIMEOUT,
        }
    }
}

/// A node that exited during the run.
#[derive(Debug, Clone, Serialize)]
pub struct CrashReport {
    /// Its id.
    pub node: String,
    /// When, in ms since the cluster started.
    pub at_ms: u64,
    /// Its exit code, if it had one.
    pub exit_code: Option<i32>,
    /// Its last stderr lines.
    pub stderr_tail: Vec<String>,
}

/// How long the cluster took to agree after the last fault, sampled by the harness's own reads.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Convergence {
    /// What the clock starts from: `heal` (the final heal or restart) or `end of operations`
    /// (runs without faults).
    pub from: String,
    /// Milliseconds from then until every node's read held every acknowledged value (the
    /// invocation time of the first complete read on the slowest node); absent if that never
    /// happened before the final reads.
    pub after_ms: Option<u64>,
    /// How often each node was read, in ms: the figure's resolution.
    pub sample_interval_ms: u64,
    /// Values acknowledged (broadcast_ok) by then.
    pub acknowledged_values: usize,
    /// Nodes whose reads held them all.
    pub nodes_converged: usize,
    /// Nodes that never held them all, by id.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nodes_behind: Vec<String>,
}

/// Everything a run produced.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// The overall verdict.
    pub valid: Validity,
    /// Why the run could not be completed or judged normally, if it could not.
    pub error: Option<String>,
    /// True when the run was stopped by an interrupt.
    pub interrupted: bool,
    /// set-full's result.
    pub workload: SetFullResult,
    /// The stats checker's result.
    pub stats: StatsResult,
    /// How much of what was acknowledged the final reads hold.
    pub coverage: checker::Coverage,
    /// Traffic figures.
    pub net: NetStats,
    /// Time to agreement after the last fault.
    pub convergence: Convergence,
    /// Nodes that exited during the run.
    pub crashed: Vec<CrashReport>,
    /// The history.
    pub history: History,
    /// The harness's own notes: dropped lines, unknown destinations, phase changes.
    pub log: Vec<String>,
    /// The cluster clock when the run ended.
    pub duration: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Init,
    Setup,
    Main,
    Drain,
    Recovery,
    FinalReads,
    Done,
}

#[derive(Debug)]
enum Event {
    Deliver { packet: Packet, line: String },
    GeneratorTick,
    MainEnd,
    RecoveryEnd,
    NemesisTick(Fault),
    InitDeadline,
    RpcTimeout { client: String, msg_id: u64 },
    Probe,
}

/// Convergence probing in progress.
struct Probing {
    from: &'static str,
    started: Duration,
    acknowledged: BTreeSet<i64>,
    converged_at: Vec<Option<Duration>>,
}

struct Scheduled {
    at: Duration,
    sequence: u64,
    event: Event,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.sequence) == (other.at, other.sequence)
    }
}

impl Eq for Scheduled {}

impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Scheduled {
    /// Reversed, so that the max-heap pops the earliest (time, sequence) first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.sequence).cmp(&(self.at, self.sequence))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Init,
    Setup,
    Worker(usize),
    /// `init` to a node the kill nemesis restarted.
    RestartInit,
    /// `topology` to a node the kill nemesis restarted.
    RestartTopology,
    /// The harness's own read, timing convergence.
    Probe,
}

#[derive(Debug, Clone)]
struct Pending {
    sent_at: Duration,
    msg_id: u64,
    f: OpFunction,
    value: Json,
    final_read: bool,
}

#[derive(Debug)]
struct Client {
    role: Role,
    node: usize,
    next_msg_id: u64,
    pending: Option<Pending>,
    open: bool,
}

#[derive(Debug)]
struct Worker {
    process: u64,
    client: String,
}

/// Runs one test against `cluster`, writing the journal as it goes.
///
/// `interrupt`, when set, stops the run early: the nodes are still stopped and the report is
/// still complete, with the verdict `unknown`.
pub fn run(
    config: &TestConfig,
    cluster: &mut dyn Cluster,
    journal: &mut Journal,
    interrupt: Option<&AtomicBool>,
) -> RunReport {
    let mut harness = Harness::new(config, cluster, journal);
    harness.start();
    let mut events = Vec::new();
    let mut interrupted = false;
    while harness.phase != Phase::Done {
        if interrupt.is_some_and(|flag| flag.load(AtomicOrdering::Relaxed)) {
            interrupted = true;
            harness.note("interrupted: stopping the nodes and writing the results so far".into());
            break;
        }
        let now = harness.cluster.now();
        let deadline = harness
            .queue
            .peek()
            .map_or(now + POLL, |next| next.at)
            .min(now + POLL);
        harness.cluster.wait(deadline, &mut events);
        harness.now = harness.cluster.now();
        for event in events.drain(..) {
            harness.on_node_event(event);
        }
        while harness
            .queue
            .peek()
            .is_some_and(|next| next.at <= harness.now)
        {
            let next = harness.queue.pop().expect("peeked");
            harness.on_event(next.event);
        }
        harness.advance();
    }
    harness.finish(interrupted)
}

struct Harness<'a> {
    config: &'a TestConfig,
    cluster: &'a mut dyn Cluster,
    journal: &'a mut Journal,
    rng: ChaCha8Rng,
    now: Duration,
    nodes: Vec<String>,
    node_index: HashMap<String, usize>,
    queue: BinaryHeap<Scheduled>,
    next_sequence: u64,
    next_packet_id: u64,
    next_client: u64,
    clients: HashMap<String, Client>,
    workers: Vec<Worker>,
    history: History,
    net: NetStats,
    phase: Phase,
    awaiting: BTreeSet<usize>,
    generator_waiting: bool,
    next_value: i64,
    partition: Option<Grudge>,
    /// Nodes the kill nemesis has crashed and not yet restarted.
    killed: BTreeSet<usize>,
    /// The integer values each node has been handed, for counting duplicate deliveries.
    known_values: Vec<std::collections::HashSet<i64>>,
    probing: Option<Probing>,
    down: Vec<bool>,
    crashed: Vec<CrashReport>,
    failure: Option<String>,
    log: Vec<String>,
    log_overflow: u64,
}

impl<'a> Harness<'a> {
    fn new(config: &'a TestConfig, cluster: &'a mut dyn Cluster, journal: &'a mut Journal) -> Self {
        let nodes = node_names(config.node_count);
        let node_index = nodes
            .iter()
            .enumerate()
            .map(|(index, id)| (id.clone(), index))
            .collect();
        Self {
            config,
            rng: ChaCha8Rng::seed_from_u64(config.seed),
            now: cluster.now(),
            cluster,
            journal,
            down: vec![false; nodes.len()],
            nodes,
            node_index,
            queue: BinaryHeap::new(),
            next_sequence: 0,
            next_packet_id: 0,
            next_client: 0,
            clients: HashMap::new(),
            workers: Vec::new(),
            history: History::default(),
            net: NetStats::default(),
            phase: Phase::Init,
            awaiting: BTreeSet::new(),
            generator_waiting: false,
            next_value: 0,
            partition: None,
            killed: BTreeSet::new(),
            known_values: vec![std::collections::HashSet::new(); config.node_count],
            probing: None,
            crashed: Vec::new(),
            failure: None,
            log: Vec::new(),
            log_overflow: 0,
        }
    }

    fn note(&mut self, line: String) {
        if self.log.len() < MAX_LOG_LINES {
            self.log
                .push(format!("{:>10.3} s  {line}", self.now.as_secs_f64()));
        } else {
            self.log_overflow += 1;
        }
    }

    fn schedule(&mut self, at: Duration, event: Event) {
        let sequence = self.next_sequence;
        self.next_sequence += 1;
        self.queue.push(Scheduled {
            at,
            sequence,
            event,
        });
    }

    fn open_client(&mut self, role: Role, node: usize) -> String {
        let id = format!("c{}", self.next_client);
        self.next_client += 1;
        self.clients.insert(
            id.clone(),
            Client {
                role,
                node,
                next_msg_id: 1,
                pending: None,
                open: true,
            },
        );
        id
    }

    /// Sends a request from a client to its node and marks it outstanding; returns its msg_id.
    /// `op` is the history operation it carries, for worker clients.
    fn client_request(
        &mut self,
        client_id: &str,
        mut body: Json,
        timeout: Duration,
        op: Option<(OpFunction, Json, bool)>,
    ) -> u64 {
        let client = self.clients.get_mut(client_id).expect("client exists");
        let msg_id = client.next_msg_id;
        client.next_msg_id += 1;
        let (f, value, final_read) = op.unwrap_or((OpFunction::Read, Json::Null, false));
        client.pending = Some(Pending {
            sent_at: self.now,
            msg_id,
            f,
            value,
            final_read,
        });
        let node = client.node;
        body["msg_id"] = msg_id.into();
        let raw = RawValue::from_string(body.to_string()).expect("a JSON value is valid JSON");
        self.route(client_id.to_owned(), self.nodes[node].clone(), raw);
        let at = self.now + timeout;
        self.schedule(
            at,
            Event::RpcTimeout {
                client: client_id.to_owned(),
                msg_id,
            },
        );
        msg_id
    }

    fn start(&mut self) {
        self.note(format!("sending init to {} nodes", self.nodes.len()));
        for node in 0..self.nodes.len() {
            let client = self.open_client(Role::Init, node);
            let body = json!({"type": "init", "node_id": self.nodes[node], "node_ids": self.nodes});
            self.client_request(&client, body, self.config.init_timeout, None);
            self.awaiting.insert(node);
        }
        self.schedule(self.now + self.config.init_timeout, Event::InitDeadline);
    }

    fn abort(&mut self, reason: String) {
        self.note(format!("stopping the run: {reason}"));
        if self.failure.is_none() {
            self.failure = Some(reason);
        }
        self.phase = Phase::Done;
    }

    /// Moves to the next phase when the current one is finished.
    fn advance(&mut self) {
        match self.phase {
            Phase::Init if self.awaiting.is_empty() => {
                self.phase = Phase::Setup;
                let topology = self.config.topology.build(&self.nodes);
                for node in 0..self.nodes.len() {
                    let client = self.open_client(Role::Setup, node);
                    self.client_request(
                        &client,
                        json!({"type": "topology", "topology": topology}),
                        RPC_TIMEOUT,
                        None,
                    );
                    self.awaiting.insert(node);
                }
            }
            Phase::Setup if self.awaiting.is_empty() => {
                self.phase = Phase::Main;
                self.note("main phase".into());
                for thread in 0..self.config.concurrency {
                    let client =
                        self.open_client(Role::Worker(thread), thread % self.nodes.len().max(1));
                    self.workers.push(Worker {
                        process: thread as u64,
                        client,
                    });
                }
                self.schedule(self.now + self.config.time_limit, Event::MainEnd);
                if self.config.rate > 0.0 && !self.workers.is_empty() {
                    self.schedule(self.now, Event::GeneratorTick);
                }
                // Each fault flips on its own schedule, the first time at once.
                for &fault in &self.config.faults {
                    self.schedule(self.now, Event::NemesisTick(fault));
                }
            }
            Phase::Drain if !self.any_worker_busy() => {
                if self.partition.is_some() {
                    self.heal();
                }
                let from = if self.partition.is_some()
                    || !self.killed.is_empty()
                    || !self.config.faults.is_empty()
                {
                    "heal"
                } else {
                    "end of operations"
                };
                if !self.killed.is_empty() {
                    self.restart_killed();
                }
                self.start_probing(from);
                self.phase = Phase::Recovery;
                self.note(format!(
                    "waiting {:.1} s for recovery",
                    self.config.recovery.as_secs_f64()
                ));
                self.schedule(self.now + self.config.recovery, Event::RecoveryEnd);
            }
            Phase::FinalReads if !self.any_worker_busy() => self.phase = Phase::Done,
            _ => {}
        }
    }

    fn any_worker_busy(&self) -> bool {
        self.workers
            .iter()
            .any(|worker| self.clients[&worker.client].pending.is_some())
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::Deliver { packet, line } => self.deliver(packet, line),
            Event::GeneratorTick => {
                if self.phase == Phase::Main {
                    match self.free_worker() {
                        Some(worker) => {
                            self.issue(worker, false);
                            self.schedule_tick();
                        }
                        None => self.generator_waiting = true,
                    }
                }
            }
            Event::MainEnd => {
                if self.phase == Phase::Main {
                    self.phase = Phase::Drain;
                    self.note("time limit reached; waiting for outstanding operations".into());
                }
            }
            Event::RecoveryEnd => {
                self.phase = Phase::FinalReads;
                self.note("final reads".into());
                for worker in 0..self.workers.len() {
                    self.issue_read(worker, true);
                }
            }
            Event::NemesisTick(fault) => {
                if self.phase == Phase::Main {
                    match fault {
                        Fault::Partition if self.partition.is_some() => self.heal(),
                        Fault::Partition => self.start_partition(),
                        Fault::Kill if !self.killed.is_empty() => self.restart_killed(),
                        Fault::Kill => self.kill_some(),
                    }
                    let gap = self.rng.random_range(
                        0.0..2.0 * self.config.nemesis_interval.as_secs_f64().max(1e-3),
                    );
                    self.schedule(
                        self.now + Duration::from_secs_f64(gap),
                        Event::NemesisTick(fault),
                    );
                }
            }
            Event::InitDeadline => {
                if self.phase == Phase::Init && !self.awaiting.is_empty() {
                    let silent: Vec<&str> = self
                        .awaiting
                        .iter()
                        .map(|i| self.nodes[*i].as_str())
                        .collect();
                    let reason = format!(
                        "{} did not answer init with init_ok within {} s; check that the node reads stdin line by line, answers {{\"type\":\"init_ok\",\"in_reply_to\":1}} and flushes stdout",
                        silent.join(", "),
                        self.config.init_timeout.as_secs_f64()
                    );
                    self.abort(reason);
                }
            }
            Event::RpcTimeout { client, msg_id } => self.on_timeout(&client, msg_id),
            Event::Probe => self.probe(),
        }
    }

    /// Starts timing convergence: the acknowledged values now, and a read of every node every
    /// [`PROBE_INTERVAL`] until each has them all.
    fn start_probing(&mut self, from: &'static str) {
        let acknowledged = self
            .history
            .ops()
            .iter()
            .filter(|op| op.f == OpFunction::Broadcast && op.kind == OpKind::Ok)
            .filter_map(|op| op.value.as_i64())
            .collect();
        self.probing = Some(Probing {
            from,
            started: self.now,
            acknowledged,
            converged_at: vec![None; self.nodes.len()],
        });
        for node in 0..self.nodes.len() {
            let id = format!("{PROBE_PREFIX}{node}");
            self.clients.insert(
                id,
                Client {
                    role: Role::Probe,
                    node,
                    next_msg_id: 1,
                    pending: None,
                    open: true,
                },
            );
        }
        self.schedule(self.now, Event::Probe);
    }

    fn probe(&mut self) {
        if !matches!(self.phase, Phase::Drain | Phase::Recovery) {
            return;
        }
        let Some(probing) = &self.probing else { return };
        let behind: Vec<usize> = (0..self.nodes.len())
            .filter(|node| probing.converged_at[*node].is_none())
            .collect();
        if behind.is_empty() {
            return;
        }
        for node in behind {
            let id = format!("{PROBE_PREFIX}{node}");
            if self.clients[&id].pending.is_none() {
                self.client_request(&id, json!({"type": "read"}), RPC_TIMEOUT, None);
            }
        }
        self.schedule(self.now + PROBE_INTERVAL, Event::Probe);
    }

    fn on_probe_reply(&mut self, node: usize, sent_at: Duration, body: &Json) {
        let Some(probing) = self.probing.as_mut() else {
            return;
        };
        let seen: std::collections::HashSet<i64> = body
            .get("messages")
            .and_then(Json::as_array)
            .map(|values| values.iter().filter_map(Json::as_i64).collect())
            .unwrap_or_default();
        if probing.converged_at[node].is_none()
            && probing
                .acknowledged
                .iter()
                .all(|value| seen.contains(value))
        {
            probing.converged_at[node] = Some(sent_at);
        }
    }

    fn convergence(&self) -> Convergence {
        let Some(probing) = &self.probing else {
            return Convergence::default();
        };
        let nodes_behind: Vec<String> = (0..self.nodes.len())
            .filter(|node| probing.converged_at[*node].is_none())
            .map(|node| self.nodes[node].clone())
            .collect();
        let after_ms = if nodes_behind.is_empty() {
            let last = probing
                .converged_at
                .iter()
                .flatten()
                .max()
                .copied()
                .unwrap_or(probing.started);
            Some(last.saturating_sub(probing.started).as_millis() as u64)
        } else {
            None
        };
        Convergence {
            from: probing.from.to_owned(),
            after_ms,
            sample_interval_ms: PROBE_INTERVAL.as_millis() as u64,
            acknowledged_values: probing.acknowledged.len(),
            nodes_converged: self.nodes.len() - nodes_behind.len(),
            nodes_behind,
        }
    }

    fn schedule_tick(&mut self) {
        let gap = self.rng.random_range(0.0..2.0 / self.config.rate);
        self.schedule(
            self.now + Duration::from_secs_f64(gap),
            Event::GeneratorTick,
        );
    }

    fn free_worker(&mut self) -> Option<usize> {
        let free: Vec<usize> = (0..self.workers.len())
            .filter(|index| self.clients[&self.workers[*index].client].pending.is_none())
            .collect();
        if free.is_empty() {
            None
        } else {
            Some(free[self.rng.random_range(0..free.len())])
        }
    }

    /// Issues the generator's next operation on a worker: a broadcast or a read, 50/50.
    fn issue(&mut self, worker: usize, final_read: bool) {
        if self.rng.random_bool(0.5) {
            let value = self.next_value;
            self.next_value += 1;
            self.invoke(
                worker,
                OpFunction::Broadcast,
                json!(value),
                json!({"type": "broadcast", "message": value}),
                final_read,
            );
        } else {
            self.issue_read(worker, final_read);
        }
    }

    fn issue_read(&mut self, worker: usize, final_read: bool) {
        self.invoke(
            worker,
            OpFunction::Read,
            Json::Null,
            json!({"type": "read"}),
            final_read,
        );
    }

    fn invoke(&mut self, worker: usize, f: OpFunction, value: Json, body: Json, final_read: bool) {
        let process = self.workers[worker].process;
        let client_id = self.workers[worker].client.clone();
        let node = self.nodes[self.clients[&client_id].node].clone();
        self.history.push(
            self.now,
            Process::Worker(process),
            OpKind::Invoke,
            f,
            value.clone(),
            None,
            Some(node),
            final_read,
        );
        self.client_request(&client_id, body, RPC_TIMEOUT, Some((f, value, final_read)));
    }

    /// Records a worker's completion; an `info` retires its client and process, as Jepsen does.
    fn complete(
        &mut self,
        worker: usize,
        kind: OpKind,
        pending: &Pending,
        value: Json,
        error: Option<String>,
    ) {
        let process = self.workers[worker].process;
        let client_id = self.workers[worker].client.clone();
        let node_index = self.clients[&client_id].node;
        let node = self.nodes[node_index].clone();
        self.history.push(
            self.now,
            Process::Worker(process),
            kind,
            pending.f,
            value,
            error,
            Some(node),
            pending.final_read,
        );
        if kind == OpKind::Info {
            if let Some(client) = self.clients.get_mut(&client_id) {
                client.open = false;
            }
            let fresh = self.open_client(Role::Worker(worker), node_index);
            self.workers[worker].process += self.config.concurrency as u64;
            self.workers[worker].client = fresh;
        }
        if self.phase == Phase::Main && self.generator_waiting {
            self.generator_waiting = false;
            if let Some(free) = self.free_worker() {
                self.issue(free, false);
                self.schedule_tick();
            }
        }
    }

    fn on_timeout(&mut self, client_id: &str, msg_id: u64) {
        let Some(client) = self.clients.get_mut(client_id) else {
            return;
        };
        if client
            .pending
            .as_ref()
            .is_none_or(|pending| pending.msg_id != msg_id)
        {
            return;
        }
        let pending = client.pending.take().expect("checked");
        let role = client.role;
        let node = self.nodes[client.node].clone();
        match role {
            Role::Init => {} // The init deadline reports every silent node at once.
            Role::Setup => self.abort(format!(
                "{node} did not answer topology with topology_ok within {} s",
                RPC_TIMEOUT.as_secs()
            )),
            Role::RestartInit | Role::RestartTopology => {
                self.note(format!("{node} did not answer after its restart"));
            }
            Role::Probe => {}
            Role::Worker(worker) => {
                // Reads are idempotent, so a timed-out read certainly failed; a broadcast may
                // still have happened.
                let kind = if pending.f == OpFunction::Read {
                    OpKind::Fail
                } else {
                    OpKind::Info
                };
                let value = pending.value.clone();
                self.complete(worker, kind, &pending, value, Some("net-timeout".into()));
            }
        }
    }

    fn on_node_event(&mut self, event: NodeEvent) {
        match event {
            NodeEvent::Output { node, line } => self.on_output(node, &line),
            NodeEvent::LineTooLong { node } => {
                self.net.invalid_lines += 1;
                let id = self.nodes[node].clone();
                self.note(format!(
                    "{id}: dropped a stdout line longer than {} bytes",
                    crate::cluster::MAX_LINE_BYTES
                ));
            }
            NodeEvent::Exited {
                node,
                code,
                stderr_tail,
            } => {
                // A node the nemesis killed is expected to be gone.
                if self.down[node] || self.killed.contains(&node) {
                    return;
                }
                self.down[node] = true;
                let id = self.nodes[node].clone();
                let code_text = code
                    .map_or("no exit code (killed by a signal)".to_owned(), |code| {
                        format!("exit code {code}")
                    });
                self.note(format!("{id} exited ({code_text})"));
                self.crashed.push(CrashReport {
                    node: id.clone(),
                    at_ms: self.now.as_millis() as u64,
                    exit_code: code,
                    stderr_tail: stderr_tail.clone(),
                });
                if matches!(self.phase, Phase::Init | Phase::Setup) {
                    let last = stderr_tail.last().map_or(String::new(), |line| {
                        format!("; its last stderr line: {line}")
                    });
                    self.abort(format!("{id} exited during setup ({code_text}){last}"));
                }
            }
        }
    }

    fn on_output(&mut self, node: usize, line: &str) {
        if line.trim().is_empty() {
            return;
        }
        let envelope = match Envelope::parse(line) {
            Ok(envelope) => envelope,
            Err(error) => {
                self.net.invalid_lines += 1;
                let id = self.nodes[node].clone();
                let shown: String = line.chars().take(200).collect();
                self.note(format!(
                    "{id}: ignored a stdout line that is not a message ({error}): {shown}"
                ));
                return;
            }
        };
        if !self.node_index.contains_key(&envelope.dest) && !is_client(&envelope.dest) {
            self.net.unknown_destinations += 1;
            let id = self.nodes[node].clone();
            self.note(format!(
                "{id}: dropped a message to unknown destination `{}`",
                envelope.dest
            ));
            return;
        }
        self.route(envelope.src, envelope.dest, envelope.body);
    }

    /// Puts a message on the network: a fresh id, a journal entry, and a delivery in the future.
    fn route(&mut self, src: String, dest: String, body: Box<RawValue>) {
        let packet = Packet {
            id: self.next_packet_id,
            src,
            dest,
            body,
        };
        self.next_packet_id += 1;
        let line = packet.wire_line();
        self.journal.send(self.now, &packet);
        self.net.on_send(&packet, line.len());
        let delay = if packet.involves_client() {
            Duration::ZERO
        } else {
            self.config.latency.sample(&mut self.rng)
        };
        self.schedule(self.now + delay, Event::Deliver { packet, line });
    }

    fn deliver(&mut self, packet: Packet, line: String) {
        if let Some(&dest) = self.node_index.get(&packet.dest) {
            let cut = self
                .node_index
                .get(&packet.src)
                .zip(self.partition.as_ref())
                .is_some_and(|(&src, grudge)| grudge.cut[src][dest]);
            let outcome = if cut {
                Err(DropReason::Partition)
            } else {
                self.cluster
                    .deliver(dest, line)
                    .map_err(|error| match error {
                        DeliveryError::Down => DropReason::NodeDown,
                        DeliveryError::NotReading => DropReason::NotReading,
                    })
            };
            match outcome {
                Ok(()) => {
                    self.journal.recv(self.now, &packet);
                    self.net.on_recv(&packet);
                    self.track_values(dest, &packet);
                }
                Err(reason) => {
                    if reason == DropReason::NotReading {
                        self.note(format!(
                            "{}: stdin queue full (the node is not reading); message dropped",
                            packet.dest
                        ));
                    }
                    self.journal.drop(self.now, &packet, reason);
                    self.net.on_drop(reason);
                }
            }
            return;
        }
        let open = self
            .clients
            .get(&packet.dest)
            .is_some_and(|client| client.open);
        if !open {
            self.journal
                .drop(self.now, &packet, DropReason::ClientClosed);
            self.net.on_drop(DropReason::ClientClosed);
            return;
        }
        self.journal.recv(self.now, &packet);
        self.net.on_recv(&packet);
        let body: Json = serde_json::from_str(packet.body.get()).unwrap_or(Json::Null);
        self.on_reply(&packet.dest, &packet.src, &body);
    }

    /// Counts duplicate deliveries: values a node receives from another server that it had.
    fn track_values(&mut self, dest: usize, packet: &Packet) {
        let from_server = self.node_index.contains_key(&packet.src);
        let body = packet.body.get();
        if !from_server && !body.contains("\"broadcast\"") {
            return;
        }
        for value in carried_values(body) {
            let fresh = self.known_values[dest].insert(value);
            if from_server && !fresh {
                self.net.duplicate_deliveries += 1;
            }
        }
    }

    /// A reply reached a client: match it to the outstanding request and judge its schema.
    fn on_reply(&mut self, client_id: &str, from: &str, body: &Json) {
        let client = self.clients.get_mut(client_id).expect("checked open");
        let matches = client.pending.as_ref().is_some_and(|pending| {
            body.get("in_reply_to").and_then(Json::as_u64) == Some(pending.msg_id)
        });
        if !matches {
            return; // Maelstrom's clients discard replies to anything but the request in hand.
        }
        let pending = client.pending.take().expect("checked");
        let role = client.role;
        let node = client.node;
        let kind = body.get("type").and_then(Json::as_str).unwrap_or("");
        match role {
            Role::Init => {
                if kind == "init_ok" {
                    self.awaiting.remove(&node);
                } else {
                    self.abort(format!(
                        "{from} answered init with `{kind}`, not init_ok: {body}"
                    ));
                }
            }
            Role::Setup => {
                if kind == "topology_ok" {
                    self.awaiting.remove(&node);
                } else {
                    self.abort(format!(
                        "{from} answered topology with `{kind}`, not topology_ok: {body}"
                    ));
                }
            }
            Role::Worker(worker) => {
                let (kind, value, error) = judge_reply(&pending, body);
                self.complete(worker, kind, &pending, value, error);
            }
            Role::RestartInit if kind == "init_ok" => {
                let client = self.open_client(Role::RestartTopology, node);
                let topology = self.config.topology.build(&self.nodes);
                self.client_request(
                    &client,
                    json!({"type": "topology", "topology": topology}),
                    RPC_TIMEOUT,
                    None,
                );
            }
            Role::RestartTopology if kind == "topology_ok" => {
                self.note(format!("{from} is back after its restart"));
            }
            Role::RestartInit | Role::RestartTopology => {
                self.note(format!(
                    "{from} answered `{kind}` after its restart: {body}"
                ));
            }
            Role::Probe => self.on_probe_reply(node, pending.sent_at, body),
        }
    }

    fn kill_some(&mut self) {
        let targets = kill_targets(self.nodes.len(), &mut self.rng);
        let names: Vec<&str> = targets.iter().map(|i| self.nodes[*i].as_str()).collect();
        let description = json!(names);
        self.note(format!("kill: {description}"));
        for &node in &targets {
            self.cluster.kill(node);
            self.killed.insert(node);
        }
        self.history.push(
            self.now,
            Process::Nemesis,
            OpKind::Info,
            OpFunction::Kill,
            description,
            None,
            None,
            false,
        );
    }

    /// Restarts every killed node and sends it `init` (then `topology`) again, as a fresh node.
    fn restart_killed(&mut self) {
        let killed = std::mem::take(&mut self.killed);
        let names: Vec<String> = killed.iter().map(|i| self.nodes[*i].clone()).collect();
        self.history.push(
            self.now,
            Process::Nemesis,
            OpKind::Info,
            OpFunction::Restart,
            json!(names),
            None,
            None,
            false,
        );
        for node in killed {
            if let Err(error) = self.cluster.restart(node) {
                self.abort(format!("cannot restart {}: {error:#}", self.nodes[node]));
                return;
            }
            self.note(format!("restarted {}", self.nodes[node]));
            self.known_values[node].clear();
            let client = self.open_client(Role::RestartInit, node);
            let body = json!({"type": "init", "node_id": self.nodes[node], "node_ids": self.nodes});
            self.client_request(&client, body, self.config.init_timeout, None);
        }
    }

    fn start_partition(&mut self) {
        let grudge = Grudge::random(&self.nodes, &mut self.rng);
        self.note(format!("partition: {}", grudge.description));
        self.history.push(
            self.now,
            Process::Nemesis,
            OpKind::Info,
            OpFunction::StartPartition,
            grudge.description.clone(),
            None,
            None,
            false,
        );
        self.partition = Some(grudge);
    }

    fn heal(&mut self) {
        self.partition = None;
        self.note("network healed".into());
        self.history.push(
            self.now,
            Process::Nemesis,
            OpKind::Info,
            OpFunction::StopPartition,
            json!("network healed"),
            None,
            None,
            false,
        );
    }

    fn finish(mut self, interrupted: bool) -> RunReport {
        self.cluster.shutdown();
        let end = self.cluster.now();
        self.now = end;
        while let Some(Scheduled { event, .. }) = self.queue.pop() {
            if let Event::Deliver { packet, .. } = event {
                self.journal.drop(end, &packet, DropReason::InFlightAtEnd);
                self.net.on_drop(DropReason::InFlightAtEnd);
            }
        }
        if self.log_overflow > 0 {
            let overflow = self.log_overflow;
            self.log
                .push(format!("... and {overflow} more notes not kept"));
        }
        let convergence = self.convergence();
        let ops = self.history.ops();
        let workload = checker::set_full(ops);
        let stats = checker::stats(ops);
        let coverage = checker::coverage(ops);
        self.net.finish(self.history.client_invocations());
        let mut valid = workload.valid.and(stats.valid);
        let mut error = self.failure.take();
        if !self.crashed.is_empty() {
            valid = Validity::Invalid;
            let names: Vec<&str> = self
                .crashed
                .iter()
                .map(|crash| crash.node.as_str())
                .collect();
            error.get_or_insert_with(|| {
                format!("node(s) exited during the run: {}", names.join(", "))
            });
        }
        if error.is_some() {
            valid = Validity::Invalid;
        }
        if interrupted {
            valid = Validity::Unknown;
            error = Some("the run was interrupted before it finished".into());
        }
        RunReport {
            valid,
            error,
            interrupted,
            workload,
            stats,
            coverage,
            net: self.net,
            convergence,
            crashed: self.crashed,
            history: self.history,
            log: self.log,
            duration: end,
        }
    }
}

/// Maelstrom's error codes that are definite: the operation certainly did not happen.
fn is_definite(code: i64) -> bool {
    matches!(code, 1 | 10 | 11 | 12 | 14 | 20 | 21 | 22 | 30)
}

/// Maps a reply to an op completion with Maelstrom's rules (maelstrom.md 1.5): closed reply
/// schemas, definite errors fail, indefinite ones are `info` (reads always fail).
fn judge_reply(pending: &Pending, body: &Json) -> (OpKind, Json, Option<String>) {
    let kind = body.get("type").and_then(Json::as_str).unwrap_or("");
    let extra_keys = |allowed: &[&str]| -> Vec<String> {
        body.as_object()
            .map(|map| {
                map.keys()
                    .filter(|key| {
                        !["type", "msg_id", "in_reply_to"].contains(&key.as_str())
                            && !allowed.contains(&key.as_str())
                    })
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    };
    let malformed = |why: String| {
        (
            OpKind::Info,
            pending.value.clone(),
            Some(format!("malformed-rpc-response: {why}")),
        )
    };
    match (pending.f, kind) {
        (_, "error") => {
            let code = body.get("code").and_then(Json::as_i64).unwrap_or(-1);
            let text = body.get("text").and_then(Json::as_str).unwrap_or("");
            let error = Some(format!("error {code}: {text}"));
            if pending.f == OpFunction::Read || is_definite(code) {
                (OpKind::Fail, pending.value.clone(), error)
            } else {
                (OpKind::Info, pending.value.clone(), error)
            }
        }
        (OpFunction::Broadcast, "broadcast_ok") => {
            let extra = extra_keys(&[]);
            if extra.is_empty() {
                (OpKind::Ok, pending.value.clone(), None)
            } else {
                malformed(format!("broadcast_ok has unexpected keys {extra:?}"))
            }
        }
        (OpFunction::Read, "read_ok") => match body.get("messages") {
            Some(Json::Array(messages)) => {
                let extra = extra_keys(&["messages"]);
                if extra.is_empty() {
                    (OpKind::Ok, Json::Array(messages.clone()), None)
                } else {
                    malformed(format!("read_ok has unexpected keys {extra:?}"))
                }
            }
            _ => malformed("read_ok needs a `messages` list".into()),
        },
        (f, other) => {
            let expected = if f == OpFunction::Read {
                "read_ok"
            } else {
                "broadcast_ok"
            };
            malformed(format!("expected {expected}, got `{other}`"))
        }
    }
}

/// The nodes' ids for a run, for callers that need them before it starts.
pub fn node_ids(config: &TestConfig) -> Vec<String> {
    node_names(config.node_count)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(f: OpFunction) -> Pending {
        Pending {
            sent_at: Duration::ZERO,
            msg_id: 3,
            f,
            value: json!(7),
            final_read: false,
        }
    }

    #[test]
    fn replies_are_judged_by_maelstroms_closed_schemas() {
        let broadcast = pending(OpFunction::Broadcast);
        assert_eq!(
            judge_reply(
                &broadcast,
                &json!({"type": "broadcast_ok", "in_reply_to": 3, "msg_id": 9})
            )
            .0,
            OpKind::Ok
        );
        let (kind, _, error) = judge_reply(
            &broadcast,
            &json!({"type": "broadcast_ok", "in_reply_to": 3, "extra": 1}),
        );
        assert_eq!(kind, OpKind::Info);
        assert!(error.unwrap().contains("extra"));
        let read = pending(OpFunction::Read);
        let (kind, value, _) = judge_reply(
            &read,
            &json!({"type": "read_ok", "in_reply_to": 3, "messages": [1, 2]}),
        );
        assert_eq!((kind, value), (OpKind::Ok, json!([1, 2])));
        assert_eq!(
            judge_reply(
                &read,
                &json!({"type": "read_ok", "in_reply_to": 3, "messages": 5})
            )
            .0,
            OpKind::Info
        );
    }

    #[test]
    fn errors_fail_when_definite_and_are_info_otherwise_but_reads_always_fail() {
        let broadcast = pending(OpFunction::Broadcast);
        assert_eq!(
            judge_reply(&broadcast, &json!({"type": "error", "code": 11})).0,
            OpKind::Fail
        );
        assert_eq!(
            judge_reply(&broadcast, &json!({"type": "error", "code": 13})).0,
            OpKind::Info
        );
        assert_eq!(
            judge_reply(&broadcast, &json!({"type": "error", "code": 1000})).0,
            OpKind::Info
        );
        assert_eq!(
            judge_reply(
                &pending(OpFunction::Read),
                &json!({"type": "error", "code": 13})
            )
            .0,
            OpKind::Fail
        );
    }
}
