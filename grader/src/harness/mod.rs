//! The harness: one event loop that drives a [`Cluster`] through a Maelstrom test.
//!
//! Everything the harness does is a scheduled event on one queue ordered by (time, sequence):
//! message deliveries, the workload's generator ticks, client RPC timeouts, nemesis actions and
//! phase changes. Nothing sleeps; the loop asks the cluster to wait until the next event is
//! due, so the same code runs against real processes in real time and against simulated nodes
//! in virtual time.
//!
//! The phases follow Maelstrom: `init` to every node (10 s), the workload's setup request from
//! each node's setup client, then the main phase (the workload's operations, staggered, and the
//! nemesis) until the time limit, then waiting for outstanding operations, undoing every fault,
//! `recovery` seconds of quiet while convergence is probed, and one final operation per worker.
//!
//! What the operations are, how replies are judged and what the history means belong to the
//! workload ([`crate::workload`]); where messages go and when, to the network ([`crate::net`]);
//! which faults strike and whom, to the nemesis ([`crate::nemesis`]).

mod clients;
mod probe;
pub mod progress;
mod template;

use std::collections::{BTreeSet, BinaryHeap};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};
use std::time::Duration;

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use serde::Serialize;
use serde_json::{Value as Json, json};

use self::clients::{Client, Completion, Pending, Role, Worker, judge_reply, timed_out};
pub use self::clients::{INIT_TIMEOUT, RPC_TIMEOUT};
use self::probe::Probing;
pub use self::probe::{Convergence, PROBE_INTERVAL};
use self::template::BodyTemplate;
use crate::checker::{self, StatsResult, Validity};
use crate::cluster::{Cluster, DeliveryError, NodeEvent, NodeExit};
use crate::config::TestConfig;
use crate::due::Due;
use crate::history::{Entry, History, OpKind, Process};
use crate::nemesis::{Action, Fault, Nemesis, Targets};
use crate::net::{
    Arrival, Class, Delivery, DropReason, Endpoint, Envelope, Journal, NetStats, Network,
    PROBE_PREFIX, Packet, Step,
};
use crate::workload::{self, Arrivals, Checked, Operation, Survivors, Workload};

/// How long the loop waits at most between checks for an interrupt.
const POLL: Duration = Duration::from_millis(100);

/// The most harness log lines kept.
const MAX_LOG_LINES: usize = 10_000;

/// A node that exited during the run.
#[derive(Debug, Clone, Serialize)]
pub struct CrashReport {
    /// Its id.
    pub node: String,
    /// When, in ms since the cluster started.
    pub at_ms: u64,
    /// Its exit status, if it exited with one.
    pub exit_code: Option<i32>,
    /// The signal that ended it, if one did.
    pub signal: Option<i32>,
    /// True when it closed its stdout while running (and the harness stopped it).
    pub closed_stdout: bool,
    /// How it ended, in words.
    pub how: String,
    /// Its last stderr lines.
    pub stderr_tail: Vec<String>,
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
    /// The workload's verdict, its sections of `results.json` and its summary lines.
    pub workload: Checked,
    /// The stats checker's result.
    pub stats: StatsResult,
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
    /// Why the run is not valid, in words a learner understands (empty when it is valid).
    pub reasons: Vec<String>,
    /// Notes on misbehaviour that does not decide the verdict by itself (spoofed senders,
    /// unmatched replies), for the summary.
    pub warnings: Vec<String>,
    /// The cluster clock when the run ended.
    pub duration: Duration,
}

impl RunReport {
    /// A figure of the workload's sections by JSON pointer, such as
    /// `/workload/stable_latencies/0.5`.
    pub fn figure(&self, pointer: &str) -> Option<&Json> {
        let trimmed = pointer.strip_prefix('/')?;
        let (section, rest) = trimmed.split_once('/').unwrap_or((trimmed, ""));
        let value = self.workload.sections.get(section)?;
        if rest.is_empty() {
            Some(value)
        } else {
            value.pointer(&format!("/{rest}"))
        }
    }

    /// A whole-number figure of the workload's sections (see [`RunReport::figure`]).
    pub fn figure_u64(&self, pointer: &str) -> Option<u64> {
        self.figure(pointer).and_then(Json::as_u64)
    }

    /// A figure of the workload's sections as a float (see [`RunReport::figure`]).
    pub fn figure_f64(&self, pointer: &str) -> Option<f64> {
        self.figure(pointer).and_then(Json::as_f64)
    }
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

impl Phase {
    /// Its name, as a progress display shows it.
    fn name(self) -> &'static str {
        match self {
            Phase::Init => "init",
            Phase::Setup => "setup",
            Phase::Main => "main",
            Phase::Drain => "drain",
            Phase::Recovery => "recovery",
            Phase::FinalReads => "final reads",
            Phase::Done => "done",
        }
    }
}

#[derive(Debug)]
enum Event {
    Deliver(Packet),
    GeneratorTick,
    MainEnd,
    RecoveryEnd,
    NemesisTick(Fault),
    InitDeadline,
    RpcTimeout {
        client: Endpoint,
        msg_id: u64,
    },
    Probe,
    /// A node's writer wakes with the message it held (Maelstrom's delivery).
    WriterWake(usize),
}

/// A scheduled event.
type Scheduled = Due<Event>;

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
    progress::start();
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
            harness.on_event(next.item);
        }
        harness.advance();
    }
    harness.finish(interrupted)
}

struct Harness<'a> {
    config: &'a TestConfig,
    cluster: &'a mut dyn Cluster,
    journal: &'a mut Journal,
    workload: Box<dyn Workload>,
    nemesis: Nemesis,
    net: Network,
    rng: ChaCha8Rng,
    now: Duration,
    nodes: Vec<String>,
    queue: BinaryHeap<Scheduled>,
    next_sequence: u64,
    next_client: u64,
    /// The clients the harness opened, in order (see [`crate::net::Endpoints`]).
    clients: Vec<Client>,
    /// Each node's convergence probe client, once probing starts.
    probes: Vec<Endpoint>,
    workers: Vec<Worker>,
    /// Jepsen's next thread index: where the round-robin search for a free worker starts.
    next_thread: usize,
    history: History,
    phase: Phase,
    awaiting: BTreeSet<usize>,
    generator_waiting: bool,
    /// The values each node has been handed, with when it was first handed each: for counting
    /// duplicate deliveries, for judging survivors and for the workload's checker.
    arrivals: Arrivals,
    /// Scratch space for the values one delivery hands a node.
    delivered: Vec<i64>,
    probing: Option<Probing>,
    down: Vec<bool>,
    crashed: Vec<CrashReport>,
    failure: Option<String>,
    log: Vec<String>,
    log_overflow: u64,
    /// What the nemesis holds now, for the progress display.
    nemesis_now: progress::NemesisNow,
    /// The workload's setup request (the topology, for broadcast), written once: it is the
    /// same for every node (and a 1000-node grid's map is large).
    setup_body: Option<Option<Rc<BodyTemplate>>>,
    /// `init`, written once but for its `msg_id` and `node_id`.
    init_body: Option<Rc<BodyTemplate>>,
}

impl<'a> Harness<'a> {
    fn new(config: &'a TestConfig, cluster: &'a mut dyn Cluster, journal: &'a mut Journal) -> Self {
        let nodes = config.node_ids();
        let candidates = match &config.nemesis_targets {
            Targets::Random => (0..nodes.len()).collect(),
            Targets::Interior => config.topology.interior(nodes.len()),
            Targets::Nodes(chosen) => chosen.clone(),
        };
        Self {
            config,
            workload: workload::build(&config.workload, &config.workload_options)
                .expect("the configuration names a known workload"),
            nemesis: Nemesis::new(config.faults.clone(), config.nemesis_interval, candidates),
            net: Network::new(&nodes, config.latency, config.delivery),
            rng: ChaCha8Rng::seed_from_u64(config.seed),
            now: cluster.now(),
            cluster,
            journal,
            down: vec![false; nodes.len()],
            arrivals: Arrivals::new(nodes.clone()),
            delivered: Vec::new(),
            nodes,
            queue: BinaryHeap::new(),
            next_sequence: 0,
            next_client: 0,
            clients: Vec::new(),
            probes: Vec::new(),
            workers: Vec::new(),
            next_thread: 0,
            history: History::default(),
            phase: Phase::Init,
            awaiting: BTreeSet::new(),
            generator_waiting: false,
            probing: None,
            crashed: Vec::new(),
            failure: None,
            log: Vec::new(),
            log_overflow: 0,
            nemesis_now: progress::NemesisNow::default(),
            setup_body: None,
            init_body: None,
        }
    }

    /// Moves to `phase` and says so to the progress display.
    fn enter(&mut self, phase: Phase) {
        self.phase = phase;
        progress::phase(phase.name());
    }

    fn note(&mut self, line: String) {
        if self.log.len() < MAX_LOG_LINES {
            // A node's bytes may reach the log: control characters (NUL and the like) are
            // escaped so that harness.log stays text.
            let line: String = line
                .chars()
                .flat_map(|c| {
                    let escape = c.is_control() && c != '\t';
                    let shown: Vec<char> = if escape {
                        c.escape_default().collect()
                    } else {
                        vec![c]
                    };
                    shown
                })
                .collect();
            self.log
                .push(format!("{:>10.3} s  {line}", self.now.as_secs_f64()));
        } else {
            self.log_overflow += 1;
        }
    }

    fn schedule(&mut self, at: Duration, event: Event) {
        let sequence = self.next_sequence;
        self.next_sequence += 1;
        self.queue.push(Due {
            at,
            sequence,
            item: event,
        });
    }

    fn open_client(&mut self, role: Role, node: usize) -> Endpoint {
        let id = format!("c{}", self.next_client);
        self.next_client += 1;
        self.open_named_client(&id, role, node)
    }

    fn open_named_client(&mut self, id: &str, role: Role, node: usize) -> Endpoint {
        let endpoint = self.net.endpoints.open_client(id);
        debug_assert_eq!(
            self.net.endpoints.client_index(endpoint),
            Some(self.clients.len())
        );
        self.clients.push(Client::new(role, node));
        endpoint
    }

    /// The client the harness opened as `endpoint`, if it is one.
    fn client(&self, endpoint: Endpoint) -> Option<&Client> {
        self.clients.get(self.net.endpoints.client_index(endpoint)?)
    }

    fn client_mut(&mut self, endpoint: Endpoint) -> Option<&mut Client> {
        self.clients
            .get_mut(self.net.endpoints.client_index(endpoint)?)
    }

    /// Sends a request from a client to its node and marks it outstanding. `op` is the history
    /// operation it carries (f, value, final), for worker clients.
    /// `body` writes the request's body given its `msg_id`.
    fn client_request(
        &mut self,
        client_id: Endpoint,
        body: impl FnOnce(u64) -> String,
        timeout: Duration,
        op: Option<(&'static str, Json, bool)>,
    ) {
        let now = self.now;
        let client = self.client_mut(client_id).expect("client exists");
        let msg_id = client.next_msg_id;
        client.next_msg_id += 1;
        let (f, value, final_read) = op.unwrap_or(("", Json::Null, false));
        client.pending = Some(Pending {
            sent_at: now,
            delivered_at: None,
            server_sends: None,
            msg_id,
            f,
            value,
            final_read,
        });
        let node = client.node;
        let node = self.net.endpoints.node(node);
        self.route(client_id, node, None, &body(msg_id));
        let at = self.now + timeout;
        self.schedule(
            at,
            Event::RpcTimeout {
                client: client_id,
                msg_id,
            },
        );
    }

    /// Sends `init` to `node` from a fresh client.
    fn send_init(&mut self, role: Role, node: usize) {
        let client = self.open_client(role, node);
        let nodes = &self.nodes;
        let template = Rc::clone(self.init_body.get_or_insert_with(|| {
            let body = json!({"type": "init", "node_ids": nodes});
            Rc::new(BodyTemplate::new(object(body), &["msg_id", "node_id"]))
        }));
        let node_id = crate::net::json_string(&self.nodes[node]);
        let body = move |msg_id: u64| template.render(&[&msg_id.to_string(), &node_id]);
        self.client_request(client, body, self.config.init_timeout, None);
    }

    /// Sends the workload's setup request to `node` from a fresh client; false if it has none.
    fn send_setup(&mut self, role: Role, node: usize) -> bool {
        let (config, nodes, workload) = (self.config, &self.nodes, &self.workload);
        let template = self.setup_body.get_or_insert_with(|| {
            let body = workload.setup_request(&config.topology.build(nodes))?;
            Some(Rc::new(BodyTemplate::new(object(body), &["msg_id"])))
        });
        let Some(template) = template.clone() else {
            return false;
        };
        let client = self.open_client(role, node);
        let body = move |msg_id: u64| template.render(&[&msg_id.to_string()]);
        self.client_request(client, body, RPC_TIMEOUT, None);
        true
    }

    fn start(&mut self) {
        self.note(format!("sending init to {} nodes", self.nodes.len()));
        for node in 0..self.nodes.len() {
            self.send_init(Role::Init, node);
            self.awaiting.insert(node);
        }
        self.schedule(self.now + self.config.init_timeout, Event::InitDeadline);
    }

    fn abort(&mut self, reason: String) {
        self.note(format!("stopping the run: {reason}"));
        if self.failure.is_none() {
            self.failure = Some(reason);
        }
        self.enter(Phase::Done);
    }

    /// Moves to the next phase when the current one is finished.
    fn advance(&mut self) {
        match self.phase {
            Phase::Init if self.awaiting.is_empty() => {
                self.enter(Phase::Setup);
                for node in 0..self.nodes.len() {
                    if self.send_setup(Role::Setup, node) {
                        self.awaiting.insert(node);
                    }
                }
            }
            Phase::Setup if self.awaiting.is_empty() => self.start_main_phase(),
            Phase::Drain if !self.any_worker_busy() => {
                for action in self.nemesis.undo_all() {
                    self.apply(action);
                }
                // Crashed nodes are never restarted: a crash-only run has nothing to heal.
                let from = if self.nemesis.faults().any(|fault| fault != Fault::Crash) {
                    "heal"
                } else {
                    "end of operations"
                };
                self.start_probing(from);
                self.enter(Phase::Recovery);
                self.note(format!(
                    "waiting {:.1} s for recovery",
                    self.config.recovery.as_secs_f64()
                ));
                self.schedule(self.now + self.config.recovery, Event::RecoveryEnd);
            }
            Phase::FinalReads if !self.any_worker_busy() => self.enter(Phase::Done),
            _ => {}
        }
    }

    fn start_main_phase(&mut self) {
        self.enter(Phase::Main);
        self.note("main phase".into());
        for thread in 0..self.config.concurrency {
            let client = self.open_client(Role::Worker(thread), thread % self.nodes.len().max(1));
            self.workers.push(Worker {
                process: thread as u64,
                client,
            });
        }
        self.schedule(self.now + self.config.time_limit, Event::MainEnd);
        if self.config.rate > 0.0 && !self.workers.is_empty() {
            self.schedule(self.now, Event::GeneratorTick);
        }
        // Each fault flips on its own schedule, the first time at once (crash: one interval in).
        let faults: Vec<Fault> = self.nemesis.faults().collect();
        for fault in faults {
            let at = self.now + self.nemesis.first_delay(fault);
            self.schedule(at, Event::NemesisTick(fault));
        }
    }

    fn any_worker_busy(&self) -> bool {
        self.workers
            .iter()
            .any(|worker| self.worker_client(worker).pending.is_some())
    }

    fn worker_client(&self, worker: &Worker) -> &Client {
        self.client(worker.client)
            .expect("a worker's client is open")
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::Deliver(packet) => self.deliver(packet),
            Event::GeneratorTick => {
                if self.phase == Phase::Main {
                    match self.free_worker() {
                        Some(worker) => {
                            self.issue(worker);
                            self.schedule_tick();
                        }
                        None => self.generator_waiting = true,
                    }
                }
            }
            Event::MainEnd => {
                if self.phase == Phase::Main {
                    self.enter(Phase::Drain);
                    self.note("time limit reached; waiting for outstanding operations".into());
                }
            }
            Event::RecoveryEnd => {
                self.enter(Phase::FinalReads);
                self.note("final reads".into());
                // Crashed nodes are down for good: only the survivors are read.
                for worker in 0..self.workers.len() {
                    let node = self.worker_client(&self.workers[worker]).node;
                    if self.nemesis.is_crashed(node) {
                        continue;
                    }
                    let operation = self.workload.final_operation();
                    self.invoke(worker, operation, true);
                }
            }
            Event::NemesisTick(fault) => {
                if self.phase == Phase::Main {
                    if let Some(action) = self.nemesis.act(fault, &self.nodes, &mut self.rng) {
                        self.apply(action);
                    }
                    let gap = self.nemesis.gap(&mut self.rng);
                    self.schedule(self.now + gap, Event::NemesisTick(fault));
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
            Event::RpcTimeout { client, msg_id } => self.on_timeout(client, msg_id),
            Event::Probe => self.probe(),
            Event::WriterWake(node) => self.pump(node),
        }
    }

    /// Lets node `node`'s writer work until it waits (Maelstrom's delivery): each message it
    /// takes is dropped if cut, written if due, or slept on until it is.
    fn pump(&mut self, node: usize) {
        loop {
            match self.net.writer_step(node, self.now) {
                Step::Idle => return,
                Step::Cut(packet) => {
                    self.journal
                        .drop(self.now, packet.id, DropReason::Partition);
                    self.net.stats.on_drop(DropReason::Partition);
                }
                Step::Write(packet) => self.hand_to_node(node, packet),
                Step::SleepUntil(at) => {
                    self.schedule(at, Event::WriterWake(node));
                    return;
                }
            }
        }
    }

    /// Jepsen counts every invocation, the nemesis's included, in its next thread index, which
    /// cycles over the workers and the nemesis.
    fn bump_thread(&mut self) {
        self.next_thread = (self.next_thread + 1) % (self.config.concurrency + 1);
    }

    /// Carries out a nemesis action and records it in the history.
    fn apply(&mut self, action: Action) {
        self.nemesis_now.apply(&action);
        let (f, value) = action.history_entry(&self.nodes);
        match &action {
            Action::Partition(grudge) => {
                self.note(format!("partition: {}", grudge.description));
                self.net.set_partition(Some(grudge.clone()));
            }
            Action::Heal => {
                self.net.set_partition(None);
                self.note("network healed".into());
            }
            // A crash is a kill that the end of the run does not undo.
            Action::Kill(targets) | Action::Crash(targets) => {
                self.note(format!("{f}: {value}"));
                for &node in targets {
                    self.cluster.kill(node);
                }
            }
            Action::Pause(targets) => {
                self.note(format!("pause: {value}"));
                for &node in targets {
                    self.cluster.pause(node);
                    self.net.pause(node);
                }
            }
            Action::Restart(_) | Action::Resume(_) => {}
        }
        self.history.push(self.now, Entry::nemesis(f, value));
        self.bump_thread();
        match action {
            Action::Restart(targets) => {
                for node in targets {
                    // What was held for it was meant for the process that died.
                    for packet in self.net.resume(node) {
                        self.journal.drop(self.now, packet.id, DropReason::NodeDown);
                        self.net.stats.on_drop(DropReason::NodeDown);
                    }
                    if let Err(error) = self.cluster.restart(node) {
                        self.abort(format!("cannot restart {}: {error:#}", self.nodes[node]));
                        return;
                    }
                    self.note(format!("restarted {}", self.nodes[node]));
                    self.arrivals.forget(node);
                    self.send_init(Role::RestartInit, node);
                }
            }
            Action::Resume(targets) => {
                for node in targets {
                    self.cluster.resume(node);
                    self.note(format!("resumed {}", self.nodes[node]));
                    for packet in self.net.resume(node) {
                        self.deliver(packet);
                    }
                    self.pump(node);
                }
            }
            _ => {}
        }
    }

    /// Starts timing convergence: what is acknowledged now, and a read of every node every
    /// [`PROBE_INTERVAL`] until each has it all.
    fn start_probing(&mut self, from: &'static str) {
        let survivors = self.survivors();
        let acknowledged = self
            .workload
            .start_convergence(self.history.ops(), &survivors);
        let crashed: Vec<bool> = (0..self.nodes.len())
            .map(|node| self.nemesis.is_crashed(node))
            .collect();
        self.probing = Some(Probing {
            from,
            started: self.now,
            acknowledged,
            converged_at: vec![None; self.nodes.len()],
            parts_done: vec![0; self.nodes.len()],
            crashed,
            not_probed: vec![false; self.nodes.len()],
        });
        if self.probes.is_empty() {
            for node in 0..self.nodes.len() {
                let id = format!("{PROBE_PREFIX}{node}");
                let probe = self.open_named_client(&id, Role::Probe, node);
                self.probes.push(probe);
            }
        }
        self.schedule(self.now, Event::Probe);
    }

    fn probe(&mut self) {
        if !matches!(self.phase, Phase::Drain | Phase::Recovery) {
            return;
        }
        let Some(probing) = &mut self.probing else {
            return;
        };
        for node in probing.behind() {
            probing.not_probed[node] = self.net.calls_services(node);
        }
        let behind = probing.behind();
        if behind.is_empty() {
            return;
        }
        for node in behind {
            let id = self.probes[node];
            if self.client(id).is_some_and(|probe| probe.pending.is_none()) {
                let part = self
                    .probing
                    .as_ref()
                    .map_or(0, |probing| probing.parts_done[node]);
                let body = self.workload.probe_request(part);
                self.client_request(id, with_msg_id(body), RPC_TIMEOUT, None);
            }
        }
        self.schedule(self.now + PROBE_INTERVAL, Event::Probe);
    }

    /// The crashed nodes and every value a surviving node was handed, for judging survivors.
    fn survivors(&self) -> Survivors {
        let crashed: BTreeSet<usize> = self.nemesis.crashed().collect();
        let handed = if crashed.is_empty() {
            BTreeSet::new()
        } else {
            (0..self.nodes.len())
                .filter(|node| !crashed.contains(node))
                .flat_map(|node| self.arrivals.handed(node))
                .collect()
        };
        Survivors {
            crashed: crashed
                .iter()
                .map(|node| self.nodes[*node].clone())
                .collect(),
            handed,
        }
    }

    fn schedule_tick(&mut self) {
        let gap = self.rng.random_range(0.0..2.0 / self.config.rate);
        self.schedule(
            self.now + Duration::from_secs_f64(gap),
            Event::GeneratorTick,
        );
    }

    /// A free worker: under Maelstrom's rule the first at or after Jepsen's next thread index
    /// (wrapping round), otherwise a random one.
    fn free_worker(&mut self) -> Option<usize> {
        let free: Vec<usize> = (0..self.workers.len())
            .filter(|index| self.worker_client(&self.workers[*index]).pending.is_none())
            .collect();
        if free.is_empty() {
            return None;
        }
        match self.config.delivery {
            Delivery::Maelstrom => Some(
                free.iter()
                    .copied()
                    .find(|worker| *worker >= self.next_thread)
                    .unwrap_or(free[0]),
            ),
            Delivery::Ideal => Some(free[self.rng.random_range(0..free.len())]),
        }
    }

    /// Issues the generator's next operation on a worker.
    fn issue(&mut self, worker: usize) {
        let operation = self.workload.next_operation(worker, &mut self.rng);
        self.invoke(worker, operation, false);
    }

    fn invoke(&mut self, worker: usize, operation: Operation, final_read: bool) {
        self.bump_thread();
        let process = self.workers[worker].process;
        let client_id = self.workers[worker].client;
        let node = self.nodes[self.worker_client(&self.workers[worker]).node].clone();
        self.history.push(
            self.now,
            Entry {
                process: Process::Worker(process),
                kind: OpKind::Invoke,
                f: operation.f,
                value: operation.value.clone(),
                error: None,
                node: Some(node),
                final_read,
            },
        );
        self.client_request(
            client_id,
            with_msg_id(operation.body),
            RPC_TIMEOUT,
            Some((operation.f, operation.value, final_read)),
        );
    }

    /// Records a worker's completion; an `info` retires its client and process, as Jepsen does.
    fn complete(&mut self, worker: usize, pending: &Pending, mut completion: Completion) {
        progress::count_op();
        if let (Some(sends), OpKind::Ok) = (pending.server_sends, completion.kind)
            && let Some(value) = completion.value.as_object_mut()
        {
            value.insert("harness_server_sends".into(), sends.into());
        }
        let process = self.workers[worker].process;
        let client_id = self.workers[worker].client;
        let node_index = self.worker_client(&self.workers[worker]).node;
        let kind = completion.kind;
        self.workload
            .completed(worker, pending.f, kind, &completion.value);
        self.history.push(
            self.now,
            Entry {
                process: Process::Worker(process),
                kind,
                f: pending.f,
                value: completion.value,
                error: completion.error,
                node: Some(self.nodes[node_index].clone()),
                final_read: pending.final_read,
            },
        );
        if kind == OpKind::Info {
            if let Some(client) = self.client_mut(client_id) {
                client.open = false;
            }
            let fresh = self.open_client(Role::Worker(worker), node_index);
            self.workers[worker].process += self.config.concurrency as u64;
            self.workers[worker].client = fresh;
        }
        if self.phase == Phase::Main && self.generator_waiting {
            self.generator_waiting = false;
            if let Some(free) = self.free_worker() {
                self.issue(free);
                self.schedule_tick();
            }
        }
    }

    fn on_timeout(&mut self, client_id: Endpoint, msg_id: u64) {
        let Some(client) = self.client_mut(client_id) else {
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
        let (role, node) = (client.role, client.node);
        let node = self.nodes[node].clone();
        match role {
            Role::Init => {} // The init deadline reports every silent node at once.
            Role::Setup => self.abort(format!(
                "{node} did not answer its setup request within {} s",
                RPC_TIMEOUT.as_secs()
            )),
            Role::RestartInit | Role::RestartSetup => {
                self.note(format!("{node} did not answer after its restart"));
            }
            Role::Probe => {}
            Role::Worker(worker) => {
                let completion = timed_out(self.workload.as_ref(), &pending);
                self.complete(worker, &pending, completion);
            }
        }
    }

    fn on_node_event(&mut self, event: NodeEvent) {
        match event {
            NodeEvent::Output { node, line } => self.on_output(node, &line),
            NodeEvent::LineTooLong { node } => {
                self.net.stats.invalid_lines += 1;
                let id = self.nodes[node].clone();
                self.note(format!(
                    "{id}: dropped a stdout line longer than {} bytes",
                    crate::cluster::MAX_LINE_BYTES
                ));
            }
            NodeEvent::Exited {
                node,
                exit,
                stderr_tail,
            } => {
                // A node the nemesis killed is expected to be gone.
                if self.down[node] || self.nemesis.is_killed(node) {
                    return;
                }
                self.down[node] = true;
                let id = self.nodes[node].clone();
                self.note(format!("{id} {exit}"));
                self.crashed.push(CrashReport {
                    node: id.clone(),
                    at_ms: self.now.as_millis() as u64,
                    exit_code: match exit {
                        NodeExit::Code(code) => Some(code),
                        _ => None,
                    },
                    signal: match exit {
                        NodeExit::Signal(signal) => Some(signal),
                        _ => None,
                    },
                    closed_stdout: exit == NodeExit::ClosedStdout,
                    how: exit.to_string(),
                    stderr_tail: stderr_tail.clone(),
                });
                if matches!(self.phase, Phase::Init | Phase::Setup) {
                    let last = stderr_tail.last().map_or(String::new(), |line| {
                        format!("; its last stderr line: {line}")
                    });
                    self.abort(format!("{id} {exit} during setup{last}"));
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
                self.net.stats.invalid_lines += 1;
                let id = self.nodes[node].clone();
                let shown: String = line.chars().take(200).collect();
                self.note(format!(
                    "{id}: ignored a stdout line that is not a message ({error}): {shown}"
                ));
                return;
            }
        };
        if envelope.src != self.nodes[node].as_str() {
            let id = self.nodes[node].clone();
            let count = self.net.stats.spoofed_src.entry(id.clone()).or_default();
            *count += 1;
            if *count == 1 {
                self.note(format!(
                    "{id}: dropped a message written with src `{}`: a node may only send as itself ({id})",
                    envelope.src
                ));
            }
            return;
        }
        let Some(dest) = self.net.endpoints.find(&envelope.dest) else {
            self.net.stats.unknown_destinations += 1;
            let id = self.nodes[node].clone();
            self.note(format!(
                "{id}: dropped a message to unknown destination `{}`",
                envelope.dest
            ));
            return;
        };
        let src = self.net.endpoints.node(node);
        if self.net.endpoints.service_index(dest).is_some() {
            self.net.note_service_caller(node);
        }
        self.route(src, dest, Some(&envelope.dest), envelope.body.get());
    }

    /// Puts a message on the network: a fresh id, a journal entry, and a delivery in the future.
    /// `dest_name` is the name the sender wrote, for a client the harness did not open.
    fn route(&mut self, src: Endpoint, dest: Endpoint, dest_name: Option<&str>, body: &str) {
        let (packet, delay) = self.net.send(src, dest, dest_name, body, &mut self.rng);
        self.journal.send(self.now, &packet);
        let from_node = self.net.endpoints.node_index(src);
        let bytes = packet.wire_line().len();
        self.net.stats.on_send(&packet, from_node, bytes);
        self.note_server_sends(&packet);
        if self.net.uses_writer(&packet) {
            let node = self.net.endpoints.node_index(dest).expect("a node");
            self.net.enqueue(node, self.now + delay, packet);
            self.pump(node);
        } else {
            self.schedule(self.now + delay, Event::Deliver(packet));
        }
    }

    /// A node's reply to an operation the workload counts sends for
    /// ([`Workload::counts_sends`]): remembers how many messages that node had sent to other
    /// nodes when it wrote the reply, which the completion then carries.
    fn note_server_sends(&mut self, packet: &Packet) {
        // Most messages go between servers: they skip the client lookup.
        if packet.class == Class::Server {
            return;
        }
        let Some(sender) = self.net.endpoints.node_index(packet.src) else {
            return;
        };
        let sent = self.net.stats.sent_by(sender);
        let counts_sends = |f| self.workload.counts_sends(f);
        let Some(pending) = self
            .client(packet.dest)
            .and_then(|client| client.pending.as_ref())
        else {
            return;
        };
        if !counts_sends(pending.f) {
            return;
        }
        let in_reply_to = serde_json::from_str::<Json>(packet.body())
            .ok()
            .and_then(|body| body.get("in_reply_to").and_then(Json::as_u64));
        if in_reply_to == Some(pending.msg_id)
            && let Some(pending) = self
                .client_mut(packet.dest)
                .and_then(|client| client.pending.as_mut())
        {
            pending.server_sends = Some(sent);
        }
    }

    /// A message is due (ideal delivery, and every message to a client).
    fn deliver(&mut self, packet: Packet) {
        match self.net.arrive(&packet) {
            Arrival::Client => self.deliver_to_client(packet),
            Arrival::Service(service) => self.hand_to_service(service, packet),
            Arrival::Held(node) => self.net.hold(node, packet),
            Arrival::Drop(reason) => {
                self.journal.drop(self.now, packet.id, reason);
                self.net.stats.on_drop(reason);
            }
            Arrival::Node(dest) => self.hand_to_node(dest, packet),
        }
    }

    /// Writes a message to node `dest`'s stdin now.
    fn hand_to_node(&mut self, dest: usize, packet: Packet) {
        let (id, src, class) = (packet.id, packet.src, packet.class);
        // What the message hands the node, read before its line goes to the node.
        let from_server = self.net.endpoints.node_index(src).is_some();
        let mut values = std::mem::take(&mut self.delivered);
        values.clear();
        self.workload
            .delivered_values(!from_server, packet.body(), &mut values);
        let outcome = self
            .cluster
            .deliver(dest, packet.into_wire_line())
            .map_err(|error| match error {
                DeliveryError::Down => DropReason::NodeDown,
                DeliveryError::NotReading => DropReason::NotReading,
            });
        match outcome {
            Ok(()) => {
                self.journal.recv(self.now, id);
                self.net.stats.on_recv(class);
                self.track_values(dest, from_server, &values);
                let now = self.now;
                if self.net.endpoints.is_probe(src)
                    && let Some(pending) = self
                        .client_mut(src)
                        .and_then(|client| client.pending.as_mut())
                {
                    pending.delivered_at = Some(now);
                }
            }
            Err(reason) => {
                if reason == DropReason::NotReading {
                    self.note(format!(
                        "{}: stdin queue full (the node is not reading); message dropped",
                        self.nodes[dest]
                    ));
                }
                self.journal.drop(self.now, id, reason);
                self.net.stats.on_drop(reason);
            }
        }
        self.delivered = values;
    }

    /// A request reaches a service: the harness answers it as the service would, and sends
    /// the reply back over the network (with latency, as server traffic). A request a service
    /// does not answer (an unknown type, a body that is not JSON) is received and left
    /// unanswered, so the caller times out, as under Maelstrom.
    fn hand_to_service(&mut self, service: usize, packet: Packet) {
        self.journal.recv(self.now, packet.id);
        self.net.stats.on_recv(packet.class);
        let name = crate::service::NAMES[service];
        let Ok(body) = serde_json::from_str::<Json>(packet.body()) else {
            return;
        };
        let kind = body
            .get("type")
            .and_then(Json::as_str)
            .unwrap_or("(no type)")
            .to_owned();
        *self
            .net
            .stats
            .service_requests
            .entry(name.to_owned())
            .or_default()
            .entry(kind)
            .or_default() += 1;
        let caller = self.net.endpoints.name(packet.src).to_owned();
        let Some(reply) = self
            .net
            .services
            .handle(name, &caller, &body, &mut self.rng)
        else {
            return;
        };
        let reply = reply.to_string();
        self.route(packet.dest, packet.src, None, &reply);
    }

    fn deliver_to_client(&mut self, packet: Packet) {
        let open = self.client(packet.dest).is_some_and(|client| client.open);
        if !open {
            self.journal
                .drop(self.now, packet.id, DropReason::ClientClosed);
            self.net.stats.on_drop(DropReason::ClientClosed);
            return;
        }
        self.journal.recv(self.now, packet.id);
        self.net.stats.on_recv(packet.class);
        self.on_reply(packet.dest, packet.src, &Reply::new(packet.body()));
    }

    /// Records what a node was handed, and counts duplicate deliveries: values a node receives
    /// from another server that it had.
    fn track_values(&mut self, dest: usize, from_server: bool, values: &[i64]) {
        for &value in values {
            let fresh = self.arrivals.record(dest, value, self.now);
            if from_server && !fresh {
                self.net.stats.duplicate_deliveries += 1;
            }
        }
    }

    /// A reply reached a client: match it to the outstanding request and judge it.
    fn on_reply(&mut self, client_id: Endpoint, from: Endpoint, reply: &Reply) {
        let from = self.net.endpoints.name(from).to_owned();
        let client_name = self.net.endpoints.name(client_id).to_owned();
        let client = self.client_mut(client_id).expect("checked open");
        let matches = client
            .pending
            .as_ref()
            .is_some_and(|pending| reply.in_reply_to() == Some(pending.msg_id));
        if !matches {
            let body = reply.json();
            // Maelstrom's clients discard replies to anything but the request in hand.
            self.net.stats.unmatched_replies += 1;
            if self.net.stats.unmatched_replies == 1 {
                self.note(format!(
                    "{from}: discarded a reply to {client_name} whose in_reply_to matches no request in hand: {body}"
                ));
            }
            return;
        }
        let pending = client.pending.take().expect("checked");
        let role = client.role;
        let node = client.node;
        if role == Role::Probe {
            self.probe_replied(node, &pending, reply.text);
            return;
        }
        let body = reply.json();
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
            Role::Setup => match self.workload.judge_setup_reply(body) {
                Ok(()) => {
                    self.awaiting.remove(&node);
                }
                Err(why) => self.abort(format!(
                    "{from} answered its setup request wrongly ({why}): {body}"
                )),
            },
            Role::Worker(worker) => {
                let completion = judge_reply(self.workload.as_ref(), &pending, body);
                self.complete(worker, &pending, completion);
            }
            Role::RestartInit if kind == "init_ok" => {
                if !self.send_setup(Role::RestartSetup, node) {
                    self.note(format!("{from} is back after its restart"));
                }
            }
            Role::RestartSetup if self.workload.judge_setup_reply(body).is_ok() => {
                self.note(format!("{from} is back after its restart"));
            }
            Role::RestartInit | Role::RestartSetup => {
                self.note(format!(
                    "{from} answered `{kind}` after its restart: {body}"
                ));
            }
            Role::Probe => unreachable!("probe replies are handled above"),
        }
    }

    /// A convergence probe of `node` was answered with `body`.
    fn probe_replied(&mut self, node: usize, pending: &Pending, body: &str) {
        let parts = self.workload.probe_parts();
        if let Some(probing) = self.probing.as_mut()
            && probing.converged_at[node].is_none()
            && self
                .workload
                .probe_converged_text(probing.parts_done[node], body)
        {
            // A node is read in `parts` probes (a KV store, key by key); it has converged once
            // the last part shows what it must.
            probing.parts_done[node] += 1;
            if probing.parts_done[node] >= parts {
                // When the node read its state: the probe may have waited behind other
                // messages to it (Maelstrom's delivery), so not its invocation.
                probing.converged_at[node] = Some(pending.delivered_at.unwrap_or(pending.sent_at));
            }
        }
    }

    fn finish(mut self, interrupted: bool) -> RunReport {
        self.cluster.shutdown();
        let end = self.cluster.now();
        self.now = end;
        while let Some(Due { item: event, .. }) = self.queue.pop() {
            if let Event::Deliver(packet) = event {
                self.journal.drop(end, packet.id, DropReason::InFlightAtEnd);
                self.net.stats.on_drop(DropReason::InFlightAtEnd);
            }
        }
        for packet in self.net.take_all_held() {
            self.journal.drop(end, packet.id, DropReason::InFlightAtEnd);
            self.net.stats.on_drop(DropReason::InFlightAtEnd);
        }
        if self.log_overflow > 0 {
            let overflow = self.log_overflow;
            self.log
                .push(format!("... and {overflow} more notes not kept"));
        }
        let convergence = self
            .probing
            .as_ref()
            .map(|probing| probing.convergence(&self.nodes))
            .unwrap_or_default();
        let survivors = self.survivors();
        let ops = self.history.ops();
        let workload = self.workload.check(ops, &survivors, &self.arrivals);
        let stats = checker::stats(ops);
        let mut net = self.net.stats;
        net.finish(self.history.client_invocations(), &self.nodes);
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
        let reasons = if valid == Validity::Valid {
            Vec::new()
        } else {
            let mut reasons: Vec<String> = error.iter().cloned().collect();
            reasons.extend(self.crashed.iter().map(|crash| {
                format!(
                    "{} {} at {:.3} s",
                    crash.node,
                    crash.how,
                    crash.at_ms as f64 / 1000.0
                )
            }));
            reasons.extend(workload.reasons.iter().cloned());
            reasons.extend(never_succeeded(ops, &stats));
            reasons
        };
        let mut warnings: Vec<String> = net
            .spoofed_src
            .iter()
            .map(|(node, count)| {
                format!("{node} wrote {count} message(s) with a src other than its own id; they were dropped (a node may only send as itself)")
            })
            .collect();
        if net.unmatched_replies > 0 {
            warnings.push(format!(
                "{} repl(ies) matched no request their client had in hand (wrong or late in_reply_to) and were discarded; harness.log quotes the first",
                net.unmatched_replies
            ));
        }
        RunReport {
            valid,
            error,
            interrupted,
            workload,
            stats,
            net,
            convergence,
            crashed: self.crashed,
            history: self.history,
            log: self.log,
            reasons,
            warnings,
            duration: end,
        }
    }
}

/// A reply's body as it reached its client: read as a JSON value only when a role needs all
/// of it (a probe's read is left to the workload, which reads only what it checks).
struct Reply<'a> {
    text: &'a str,
    json: std::cell::OnceCell<Json>,
}

impl<'a> Reply<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            text,
            json: std::cell::OnceCell::new(),
        }
    }

    /// The whole body (null if it is not JSON).
    fn json(&self) -> &Json {
        self.json
            .get_or_init(|| serde_json::from_str(self.text).unwrap_or(Json::Null))
    }

    /// Its `in_reply_to`, if that is a whole number.
    fn in_reply_to(&self) -> Option<u64> {
        match self.json.get() {
            Some(json) => json.get("in_reply_to").and_then(Json::as_u64),
            None => crate::skim::field(self.text, "in_reply_to").and_then(|id| id.as_u64()),
        }
    }
}

/// A request body as JSON: `msg_id` goes in when the request is numbered.
fn with_msg_id(mut body: Json) -> impl FnOnce(u64) -> String {
    move |msg_id| {
        body["msg_id"] = msg_id.into();
        body.to_string()
    }
}

/// `body` as a JSON object (a workload's requests always are).
fn object(body: Json) -> serde_json::Map<String, Json> {
    match body {
        Json::Object(fields) => fields,
        other => panic!("a request body must be a JSON object, not {other}"),
    }
}

/// Why the stats checker failed: each operation that never succeeded, with its counts and the
/// first failure's error (which quotes the offending reply).
fn never_succeeded(ops: &[crate::history::Op], stats: &StatsResult) -> Vec<String> {
    stats
        .by_f
        .iter()
        .filter(|(_, counts)| counts.ok_count == 0)
        .map(|(f, counts)| {
            let first = ops
                .iter()
                .find(|op| op.is_client() && op.f == f && op.error.is_some())
                .and_then(|op| op.error.clone())
                .unwrap_or_else(|| "no reply at all".into());
            format!(
                "no `{f}` ever succeeded ({} failed, {} indefinite); the first: {first}",
                counts.fail_count, counts.info_count
            )
        })
        .collect()
}
