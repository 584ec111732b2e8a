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
//! nemesis) until the time limit, then waiting for outstanding operations. A workload with a
//! final phase then has every fault undone, `recovery` seconds of quiet while convergence is
//! probed (if it has probes), and one final operation per worker; any other run ends there.
//!
//! What the operations are, how replies are judged and what the history means belong to the
//! workload ([`crate::workload`]); where messages go and when, to the network ([`crate::net`]);
//! which faults strike and whom, to the nemesis ([`crate::nemesis`]).

mod clients;
mod faults;
pub mod mistakes;
mod operations;
mod phases;
mod probe;
pub mod progress;
mod routing;
mod state;
mod template;
mod verdict;

use std::collections::BTreeSet;
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
use self::state::{Clients, Events, FinalPhase, GeneratorClock, NodeStates, RunLog, Templates};
use self::template::BodyTemplate;
use crate::checker::{self, StatsResult, Validity};
use crate::cluster::{Cluster, DeliveryError, NodeEvent, NodeExit};
use crate::config::TestConfig;
use crate::due::Due;
use crate::history::{Entry, History, OpKind, Process};
use crate::nemesis::{Action, Fault, Nemesis};
use crate::net::{
    Arrival, Class, Delivery, DropReason, Endpoint, Envelope, Journal, NetStats, Network,
    PROBE_PREFIX, Packet, Step,
};
use crate::workload::{
    self, Arrivals, CheckContext, Checked, Declaration, Operation, Survivors, Workload,
};

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
    /// The availability check's result, when `--availability` asked for one.
    pub availability: Option<checker::availability::AvailabilityResult>,
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
    /// Common mistakes whose signature the run shows (only ever for a run that is not valid);
    /// each is also one of the `reasons`.
    pub mistakes: Vec<mistakes::Recognised>,
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
    /// Step `n` of the scripted fault schedule.
    ScriptedFault(usize),
    InitDeadline,
    RpcTimeout {
        client: Endpoint,
        msg_id: u64,
    },
    Probe,
    /// A node's writer wakes with the message it held (Maelstrom's delivery).
    WriterWake(usize),
    /// A worker's final operation, after its pause.
    FinalOperation(usize, Operation),
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
            .events
            .heap
            .peek()
            .map_or(now + POLL, |next| next.at)
            .min(now + POLL);
        harness.cluster.wait(deadline, &mut events);
        harness.now = harness.cluster.now();
        for event in events.drain(..) {
            harness.on_node_event(event);
        }
        while harness
            .events
            .heap
            .peek()
            .is_some_and(|next| next.at <= harness.now)
        {
            let next = harness.events.heap.pop().expect("peeked");
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
    /// What the workload declared: its timeout, final phase, error rule.
    declaration: Declaration,
    /// How long a worker waits for a reply (the workload's timeout at this run's latency).
    rpc_timeout: Duration,
    nemesis: Nemesis,
    net: Network,
    rng: ChaCha8Rng,
    now: Duration,
    nodes: Vec<String>,
    /// What is due when.
    events: Events,
    /// The clients: workers, setup and final-read clients, probes.
    clients: Clients,
    history: History,
    phase: Phase,
    /// Which nodes are down, crashed, or still to answer `init`.
    node_states: NodeStates,
    /// The workload generator's pacing.
    generator: GeneratorClock,
    /// The final phase's pacing.
    final_phase: FinalPhase,
    /// The values each node has been handed, with when it was first handed each: for counting
    /// duplicate deliveries, for judging survivors and for the workload's checker.
    arrivals: Arrivals,
    /// Scratch space for the values one delivery hands a node.
    delivered: Vec<i64>,
    probing: Option<Probing>,
    /// `harness.log` as it is written, and the failure that stopped the run, if one did.
    run_log: RunLog,
    /// What the nemesis holds now, for the progress display.
    nemesis_now: progress::NemesisNow,
    /// Bodies written once and sent to every node.
    templates: Templates,
}

impl<'a> Harness<'a> {
    fn new(config: &'a TestConfig, cluster: &'a mut dyn Cluster, journal: &'a mut Journal) -> Self {
        let nodes = config.node_ids();
        let node_count = nodes.len();
        let candidates = config
            .nemesis_targets
            .candidates(&nodes, || config.topology.interior(nodes.len()))
            .expect("the configuration checked the targets");
        let mut workload = workload::build(&config.workload, &config.workload_options)
            .expect("the configuration names a known workload");
        workload.prepare(&workload::RunShape {
            nodes: node_count,
            concurrency: config.concurrency,
            rate: config.rate,
            time_limit: config.time_limit,
            seed: config.seed,
        });
        let declaration = workload.declaration();
        Self {
            config,
            rpc_timeout: declaration.rpc_timeout.for_latency(config.latency.mean_ms),
            declaration,
            workload,
            nemesis: Nemesis::new(config.faults.clone(), config.nemesis_interval, candidates),
            net: Network::new(&nodes, config.latency, config.delivery),
            rng: ChaCha8Rng::seed_from_u64(config.seed),
            now: cluster.now(),
            cluster,
            journal,
            arrivals: Arrivals::new(nodes.clone()),
            delivered: Vec::new(),
            nodes,
            history: History::default(),
            phase: Phase::Init,
            probing: None,
            nemesis_now: progress::NemesisNow::default(),
            events: Events::default(),
            clients: Clients::default(),
            node_states: NodeStates {
                down: vec![false; node_count],
                crashed: Vec::new(),
                awaiting: BTreeSet::new(),
            },
            generator: GeneratorClock::default(),
            final_phase: FinalPhase::default(),
            run_log: RunLog::default(),
            templates: Templates::default(),
        }
    }

    fn note(&mut self, line: String) {
        if self.run_log.lines.len() < MAX_LOG_LINES {
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
            self.run_log
                .lines
                .push(format!("{:>10.3} s  {line}", self.now.as_secs_f64()));
        } else {
            self.run_log.overflow += 1;
        }
    }

    fn schedule(&mut self, at: Duration, event: Event) {
        let sequence = self.events.next_sequence;
        self.events.next_sequence += 1;
        self.events.heap.push(Due {
            at,
            sequence,
            item: event,
        });
    }

    fn open_client(&mut self, role: Role, node: usize) -> Endpoint {
        let id = format!("c{}", self.clients.next_id);
        self.clients.next_id += 1;
        self.open_named_client(&id, role, node)
    }

    fn open_named_client(&mut self, id: &str, role: Role, node: usize) -> Endpoint {
        let endpoint = self.net.endpoints.open_client(id);
        debug_assert_eq!(
            self.net.endpoints.client_index(endpoint),
            Some(self.clients.opened.len())
        );
        self.clients.opened.push(Client::new(role, node));
        endpoint
    }

    /// The client the harness opened as `endpoint`, if it is one.
    fn client(&self, endpoint: Endpoint) -> Option<&Client> {
        self.clients
            .opened
            .get(self.net.endpoints.client_index(endpoint)?)
    }

    fn client_mut(&mut self, endpoint: Endpoint) -> Option<&mut Client> {
        self.clients
            .opened
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
            so_far: None,
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

    fn any_worker_busy(&self) -> bool {
        self.clients
            .workers
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
                            self.schedule_tick(self.generator.next_tick_at);
                        }
                        None => self.generator.waiting = true,
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
                self.final_phase = FinalPhase {
                    started: self.now,
                    done: vec![0; self.clients.workers.len()],
                    scheduled: 0,
                };
                // Crashed nodes are down for good: only the survivors are read.
                for worker in 0..self.clients.workers.len() {
                    let node = self.worker_client(&self.clients.workers[worker]).node;
                    if self.nemesis.is_crashed(node) {
                        continue;
                    }
                    self.next_final(worker);
                }
            }
            Event::FinalOperation(worker, operation) => {
                self.final_phase.scheduled -= 1;
                self.invoke(worker, operation, true);
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
            Event::ScriptedFault(step) => {
                let step = self
                    .config
                    .schedule
                    .as_ref()
                    .and_then(|schedule| schedule.0.get(step));
                if self.phase == Phase::Main
                    && let Some(step) = step
                {
                    match step.action(&self.nodes) {
                        Ok(action) => {
                            self.nemesis.record(&action);
                            self.apply(action);
                        }
                        Err(error) => self.abort(error),
                    }
                }
            }
            Event::InitDeadline => {
                if self.phase == Phase::Init && !self.node_states.awaiting.is_empty() {
                    let silent: Vec<&str> = self
                        .node_states
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

    /// Jepsen counts every invocation, the nemesis's included, in its next thread index, which
    /// cycles over the workers and the nemesis.
    fn bump_thread(&mut self) {
        self.clients.next_thread = (self.clients.next_thread + 1) % (self.config.concurrency + 1);
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
