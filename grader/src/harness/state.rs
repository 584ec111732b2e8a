//! The harness's state, grouped by concern: the event queue, the clients, the nodes' states,
//! the generator's pacing, the run log and the request bodies written once.

use std::collections::{BTreeSet, BinaryHeap};
use std::rc::Rc;
use std::time::Duration;

use super::clients::{Client, Worker};
use super::template::BodyTemplate;
use super::{CrashReport, Scheduled};
use crate::net::Endpoint;

/// The event queue: what is due when, in (time, sequence) order.
#[derive(Default)]
pub(super) struct Events {
    pub(super) heap: BinaryHeap<Scheduled>,
    pub(super) next_sequence: u64,
}

/// The clients the harness opened.
#[derive(Default)]
pub(super) struct Clients {
    /// The next client number (`c0`, `c1`, …).
    pub(super) next_id: u64,
    /// Every client, in order (see [`crate::net::Endpoints`]).
    pub(super) opened: Vec<Client>,
    /// Each node's convergence probe client, once probing starts.
    pub(super) probes: Vec<Endpoint>,
    /// The workload's workers, one per thread.
    pub(super) workers: Vec<Worker>,
    /// Jepsen's next thread index: where the round-robin search for a free worker starts.
    pub(super) next_thread: usize,
}

/// The nodes' states, as the harness sees them.
pub(super) struct NodeStates {
    /// Down now (killed or crashed, or exited).
    pub(super) down: Vec<bool>,
    /// What crashed, and how.
    pub(super) crashed: Vec<CrashReport>,
    /// The nodes still to answer `init`.
    pub(super) awaiting: BTreeSet<usize>,
}

/// The generator's pacing.
#[derive(Default)]
pub(super) struct GeneratorClock {
    /// A tick is scheduled and waits for a free worker.
    pub(super) waiting: bool,
    /// When the pending tick is due.
    pub(super) next_tick_at: Duration,
}

/// The final phase's pacing: each worker's final operations, one after another.
#[derive(Default)]
pub(super) struct FinalPhase {
    /// When it started.
    pub(super) started: Duration,
    /// How many final operations each worker has completed.
    pub(super) done: Vec<usize>,
    /// Final operations scheduled but not yet invoked (a worker waiting out a pause).
    pub(super) scheduled: usize,
}

/// `harness.log` and the run's failure.
#[derive(Default)]
pub(super) struct RunLog {
    /// What stopped the run, if something did.
    pub(super) failure: Option<String>,
    /// The lines, up to `MAX_LOG_LINES`.
    pub(super) lines: Vec<String>,
    /// Lines left out past that.
    pub(super) overflow: u64,
}

/// Request bodies written once.
#[derive(Default)]
pub(super) struct Templates {
    /// The workload's setup request (the topology, for broadcast): the same for every node
    /// (and a 1000-node grid's map is large).
    pub(super) setup: Option<Option<Rc<BodyTemplate>>>,
    /// `init`, but for its `msg_id` and `node_id`.
    pub(super) init: Option<Rc<BodyTemplate>>,
}
