//! [`SimCluster`]: `common` nodes in memory, in virtual time, from one seed.
//!
//! The clock jumps from event to event: a delivery is handled at the moment it is due, a node's
//! timer fires at its deadline, and nothing waits in real time. Messages still cross as JSON
//! lines, exactly as on the wire. A paused node's timers wait until it is resumed (the harness
//! holds its deliveries), then fire at once if they are due.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, FromArgMatches};
use common::{Node, Runtime};

use super::{Cluster, DeliveryError, NodeEvent};

/// Builds fresh nodes of one type from their command-line flags.
pub struct NodeFactory<N: Node> {
    flags: Vec<String>,
    _node: std::marker::PhantomData<fn() -> N>,
}

impl<N: Node> NodeFactory<N> {
    /// Checks `flags` once, as the node binary's own parser would.
    pub fn new(flags: &[String]) -> anyhow::Result<Self> {
        let factory = Self {
            flags: flags.to_vec(),
            _node: std::marker::PhantomData,
        };
        factory.build()?;
        Ok(factory)
    }

    /// A new node, parsed from the flags.
    pub fn build(&self) -> anyhow::Result<N> {
        let command = N::Flags::augment_args(clap::Command::new("node").no_binary_name(true));
        let matches = command.try_get_matches_from(&self.flags).map_err(|error| {
            anyhow::anyhow!("the node's flags {:?} do not parse: {error}", self.flags)
        })?;
        let flags = N::Flags::from_arg_matches(&matches)?;
        Ok(N::new(flags))
    }
}

/// Nodes of one type, in memory, in virtual time.
pub struct SimCluster<N: Node> {
    factory: NodeFactory<N>,
    nodes: Vec<Option<Runtime<N>>>,
    restarts: Vec<u64>,
    paused: Vec<bool>,
    seed: u64,
    now: Duration,
    pending: VecDeque<NodeEvent>,
    /// Node deadlines, earliest first; an entry is stale once the node's deadline moved.
    deadlines: BinaryHeap<Reverse<(Duration, usize)>>,
    logs: Vec<Vec<String>>,
}

impl<N: Node> SimCluster<N> {
    /// `count` nodes built from `flags`, node i seeded with `seed + i` (as the process cluster
    /// seeds `GOSSIP_SEED`).
    pub fn new(count: usize, flags: &[String], seed: u64) -> anyhow::Result<Self> {
        let factory = NodeFactory::new(flags)?;
        let mut cluster = Self {
            nodes: Vec::with_capacity(count),
            factory,
            restarts: vec![0; count],
            paused: vec![false; count],
            seed,
            now: Duration::ZERO,
            pending: VecDeque::new(),
            deadlines: BinaryHeap::new(),
            logs: vec![Vec::new(); count],
        };
        for index in 0..count {
            let node = cluster.fresh(index)?;
            cluster.nodes.push(Some(node));
        }
        Ok(cluster)
    }

    fn fresh(&self, index: usize) -> anyhow::Result<Runtime<N>> {
        let seed = super::node_seed(self.seed, index, self.restarts[index]);
        Ok(Runtime::new(self.factory.build()?, seed))
    }

    /// Collects what node `index` wrote and notes its next deadline.
    fn collect(&mut self, index: usize) {
        let Some(runtime) = self.nodes[index].as_mut() else {
            return;
        };
        for line in runtime.take_output() {
            self.pending
                .push_back(NodeEvent::Output { node: index, line });
        }
        let now = self.now;
        self.logs[index].extend(
            runtime
                .take_log()
                .into_iter()
                .map(|line| format!("{:.6} {line}", now.as_secs_f64())),
        );
        if let Some(deadline) = runtime.next_deadline() {
            self.deadlines.push(Reverse((deadline, index)));
        }
    }

    /// Node `index`, unless the kill nemesis left it down: for tests that compare a node's own
    /// state (its counters, say) with what the harness saw.
    pub fn node(&self, index: usize) -> Option<&N> {
        self.nodes.get(index)?.as_ref().map(Runtime::node)
    }

    /// Each node's log lines (what its stderr would hold), by node index.
    pub fn logs(&self) -> &[Vec<String>] {
        &self.logs
    }

    /// Writes each node's log to `<dir>/<id>.log`.
    pub fn write_logs(&self, dir: &Path, ids: &[String]) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        for (lines, id) in self.logs.iter().zip(ids) {
            let mut text = lines.join("\n");
            if !text.is_empty() {
                text.push('\n');
            }
            std::fs::write(dir.join(format!("{id}.log")), text)?;
        }
        Ok(())
    }
}

impl<N: Node> Cluster for SimCluster<N> {
    fn now(&self) -> Duration {
        self.now
    }

    fn deliver(&mut self, node: usize, line: String) -> Result<(), DeliveryError> {
        let now = self.now;
        let runtime = self.nodes[node].as_mut().ok_or(DeliveryError::Down)?;
        runtime.handle_line(&line, now);
        self.collect(node);
        Ok(())
    }

    fn wait(&mut self, deadline: Duration, events: &mut Vec<NodeEvent>) {
        if self.pending.is_empty() {
            while let Some(&Reverse((at, node))) = self.deadlines.peek() {
                if at > deadline {
                    break;
                }
                self.deadlines.pop();
                let current = self.nodes[node].as_ref().and_then(Runtime::next_deadline);
                if current != Some(at) || self.paused[node] {
                    // Stale: the node's deadline moved, or it was killed; or it is paused, and
                    // its deadline goes back on the heap when it is resumed.
                    continue;
                }
                self.now = self.now.max(at);
                let now = self.now;
                if let Some(runtime) = self.nodes[node].as_mut() {
                    runtime.fire_due(now);
                }
                self.collect(node);
                if !self.pending.is_empty() {
                    break;
                }
            }
            if self.pending.is_empty() {
                self.now = self.now.max(deadline);
            }
        }
        events.extend(self.pending.drain(..));
    }

    fn pause(&mut self, node: usize) {
        self.paused[node] = true;
    }

    fn resume(&mut self, node: usize) {
        self.paused[node] = false;
        if let Some(deadline) = self.nodes[node].as_ref().and_then(Runtime::next_deadline) {
            self.deadlines.push(Reverse((deadline, node)));
        }
    }

    fn kill(&mut self, node: usize) {
        self.logs[node].push(format!(
            "{:.6} killed by the nemesis",
            self.now.as_secs_f64()
        ));
        self.nodes[node] = None;
    }

    fn restart(&mut self, node: usize) -> anyhow::Result<()> {
        self.restarts[node] += 1;
        self.paused[node] = false;
        self.nodes[node] = Some(self.fresh(node)?);
        Ok(())
    }

    fn shutdown(&mut self) {}
}
