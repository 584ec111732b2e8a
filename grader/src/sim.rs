//! The simulated cluster: `common` nodes in memory, in virtual time, from one seed.
//!
//! [`SimCluster`] implements the same [`Cluster`] seam as the process cluster, so the harness,
//! workloads, nemeses, checkers and results are the very same code. Messages still cross as JSON
//! lines, exactly as on the wire. The clock jumps from event to event: a delivery is handled at
//! the moment it is due, a node's timer fires at its deadline, and nothing waits in real time.
//! Given the same seed, a run is the same run, byte for byte.
//!
//! Stage crates use [`simulate`] in their own tests:
//!
//! ```
//! use std::time::Duration;
//! use common::{Context, Message, NoFlags, NoTimer, Node, RpcError, Value};
//! use grader::harness::TestConfig;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Debug, Serialize, Deserialize)]
//! #[serde(tag = "type", rename_all = "snake_case")]
//! enum Payload {
//!     Topology { topology: serde_json::Value },
//!     TopologyOk,
//!     Broadcast { message: Value },
//!     BroadcastOk,
//!     Read,
//!     ReadOk { messages: Vec<Value> },
//! }
//!
//! /// Tells every other node about each new value, once.
//! #[derive(Default)]
//! struct ToEveryone(std::collections::BTreeSet<Value>);
//!
//! impl Node for ToEveryone {
//!     type Payload = Payload;
//!     type Timer = NoTimer;
//!     type Flags = NoFlags;
//!     fn new(_: NoFlags) -> Self {
//!         Self::default()
//!     }
//!     fn on_message(&mut self, msg: Message<Payload>, ctx: &mut Context<Payload, NoTimer>) -> Result<(), RpcError> {
//!         match &msg.body.payload {
//!             Payload::Topology { .. } => { ctx.reply(&msg, Payload::TopologyOk); }
//!             Payload::Broadcast { message } => {
//!                 if !ctx.is_cluster_node(&msg.src) {
//!                     ctx.reply(&msg, Payload::BroadcastOk);
//!                     for peer in ctx.peers() {
//!                         ctx.send(peer, Payload::Broadcast { message: message.clone() });
//!                     }
//!                 }
//!                 self.0.insert(message.clone());
//!             }
//!             Payload::Read => {
//!                 let messages = self.0.iter().cloned().collect();
//!                 ctx.reply(&msg, Payload::ReadOk { messages });
//!             }
//!             _ => {}
//!         }
//!         Ok(())
//!     }
//! }
//!
//! let config = TestConfig { node_count: 5, time_limit: Duration::from_secs(5), rate: 10.0, seed: 7, ..TestConfig::default() };
//! let run = grader::sim::simulate::<ToEveryone>(&config, &[]).unwrap();
//! assert_eq!(run.results["valid"], true);
//! // Each broadcast costs four server messages; about half the operations are broadcasts.
//! assert!(run.report.net.servers.msgs_per_op.unwrap() < 4.0);
//! ```

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, FromArgMatches};
use common::{Node, Runtime};
use serde_json::Value as Json;

use crate::cluster::{Cluster, DeliveryError, NodeEvent};
use crate::harness::{self, RunReport, TestConfig};
use crate::network::Journal;
use crate::results::{self, RunFacts};
use crate::test_run::{self, TestRun};

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
        let seed = self
            .seed
            .wrapping_add(index as u64)
            .wrapping_add(self.restarts[index] << 32);
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
    fn node_count(&self) -> usize {
        self.nodes.len()
    }

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
                if current != Some(at) {
                    continue; // Stale: the node's deadline moved, or it was killed.
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

    fn kill(&mut self, node: usize) {
        self.logs[node].push(format!(
            "{:.6} killed by the nemesis",
            self.now.as_secs_f64()
        ));
        self.nodes[node] = None;
    }

    fn restart(&mut self, node: usize) -> anyhow::Result<()> {
        self.restarts[node] += 1;
        self.nodes[node] = Some(self.fresh(node)?);
        Ok(())
    }

    fn shutdown(&mut self) {}
}

/// A simulated run: the report, the journal and `results.json` as a value, all in memory.
pub struct SimRun {
    /// The report (history, checker results, traffic).
    pub report: RunReport,
    /// The message journal, exactly as `journal.jsonl` would hold it.
    pub journal: Vec<u8>,
    /// `results.json`, as `grader test` writes it, with an empty `run` section.
    pub results: Json,
    /// The one-screen summary.
    pub summary: String,
}

/// A writer whose bytes can be taken back after the journal is done with it.
#[derive(Clone, Default)]
struct SharedBuffer(std::rc::Rc<std::cell::RefCell<Vec<u8>>>);

impl std::io::Write for SharedBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs `config` against nodes of type `N` (built from `flags`) in the simulated cluster, in
/// memory. This is the API for stage tests.
pub fn simulate<N: Node>(config: &TestConfig, flags: &[String]) -> anyhow::Result<SimRun> {
    let buffer = SharedBuffer::default();
    let report = simulate_with_journal::<N>(config, flags, Journal::new(Box::new(buffer.clone())))?;
    let journal = buffer.0.take();
    let reproduce = format!("(in memory) seed {}", config.seed);
    let facts = RunFacts {
        started_at: String::new(),
        store: String::new(),
        wall_seconds: 0.0,
    };
    let results = results::results_json(&report, config, &reproduce, facts);
    let summary = results::summary(&report, config, &reproduce, "(in memory)");
    Ok(SimRun {
        report,
        journal,
        results,
        summary,
    })
}

/// Runs `config` against nodes of type `N` in the simulated cluster, journalling into `journal`
/// (pass [`Journal::discard`] for large runs whose journal nobody will read).
pub fn simulate_with_journal<N: Node>(
    config: &TestConfig,
    flags: &[String],
    mut journal: Journal,
) -> anyhow::Result<RunReport> {
    let mut cluster = SimCluster::<N>::new(config.node_count, flags, config.seed)?;
    let report = harness::run(config, &mut cluster, &mut journal, None);
    journal.finish()?;
    Ok(report)
}

/// Runs `config` against nodes of type `N` in the simulated cluster and writes the same store
/// as `grader test` (`results.json`, history, journal, node logs) under `store_root`.
pub fn simulate_to_store<N: Node>(
    config: &TestConfig,
    flags: &[String],
    store_root: &Path,
    reproduce: String,
) -> anyhow::Result<TestRun> {
    let ids = harness::node_ids(config);
    test_run::run_in_store(
        config,
        store_root,
        reproduce,
        None,
        |_| SimCluster::<N>::new(config.node_count, flags, config.seed),
        |cluster, dir| cluster.write_logs(dir, &ids),
    )
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use common::{Context, Message, NoFlags, RpcError, Value};
    use serde::{Deserialize, Serialize};

    use super::*;
    use crate::checker::Validity;
    use crate::nemesis::Fault;

    #[derive(Debug, Serialize, Deserialize)]
    #[serde(tag = "type", rename_all = "snake_case")]
    enum Payload {
        Topology {
            topology: BTreeMap<String, Vec<String>>,
        },
        TopologyOk,
        Broadcast {
            message: Value,
        },
        BroadcastOk,
        Read,
        ReadOk {
            messages: BTreeSet<Value>,
        },
        Gossip {
            messages: BTreeSet<Value>,
        },
    }

    #[derive(Debug, Clone)]
    struct Tick;

    /// Pushes its whole set to every peer every 200 ms: slow and wasteful, but it heals.
    #[derive(Default)]
    struct PeriodicGossip {
        values: BTreeSet<Value>,
        ticks: u64,
    }

    impl Node for PeriodicGossip {
        type Payload = Payload;
        type Timer = Tick;
        type Flags = NoFlags;

        fn new(_: NoFlags) -> Self {
            Self::default()
        }

        fn on_init(&mut self, ctx: &mut Context<Payload, Tick>) {
            ctx.every(Duration::from_millis(200), Tick);
        }

        fn on_message(
            &mut self,
            msg: Message<Payload>,
            ctx: &mut Context<Payload, Tick>,
        ) -> Result<(), RpcError> {
            match &msg.body.payload {
                Payload::Topology { .. } => {
                    ctx.reply(&msg, Payload::TopologyOk);
                }
                Payload::Broadcast { message } => {
                    self.values.insert(message.clone());
                    ctx.reply(&msg, Payload::BroadcastOk);
                }
                Payload::Read => {
                    ctx.reply(
                        &msg,
                        Payload::ReadOk {
                            messages: self.values.clone(),
                        },
                    );
                }
                Payload::Gossip { messages } => self.values.extend(messages.iter().cloned()),
                _ => {}
            }
            Ok(())
        }

        fn on_timer(&mut self, _: Tick, ctx: &mut Context<Payload, Tick>) {
            self.ticks += 1;
            if !self.values.is_empty() {
                for peer in ctx.peers() {
                    ctx.send(
                        peer,
                        Payload::Gossip {
                            messages: self.values.clone(),
                        },
                    );
                }
            }
        }
    }

    fn config(seed: u64) -> TestConfig {
        TestConfig {
            node_count: 4,
            concurrency: 4,
            time_limit: Duration::from_secs(10),
            rate: 10.0,
            latency: crate::network::Latency {
                mean_ms: 20.0,
                distribution: crate::network::LatencyDistribution::Uniform,
            },
            faults: BTreeSet::from([Fault::Partition]),
            nemesis_interval: Duration::from_secs(2),
            recovery: Duration::from_secs(2),
            seed,
            ..TestConfig::default()
        }
    }

    #[test]
    fn node_timers_fire_in_virtual_time_so_periodic_gossip_heals_partitions() {
        let run = simulate::<PeriodicGossip>(&config(5), &[]).unwrap();
        assert_eq!(run.report.valid, Validity::Valid, "{}", run.summary);
        assert!(
            run.report.net.dropped["partition"] > 0,
            "the partitions did cut messages"
        );
        // 14 s of virtual time at one tick per 200 ms: about 70 ticks a node, each node sending
        // to its 3 peers once it knows something.
        let gossip = run.report.net.servers.msg_count;
        assert!(
            (150..=4 * 3 * 71).contains(&gossip),
            "{gossip} gossip messages"
        );
    }

    #[test]
    fn node_flags_are_parsed_like_the_binary_parses_them() {
        assert!(NodeFactory::<PeriodicGossip>::new(&[]).is_ok());
        let error = NodeFactory::<PeriodicGossip>::new(&["--fanout".into(), "3".into()])
            .err()
            .unwrap();
        assert!(error.to_string().contains("--fanout"), "{error}");
    }

    #[test]
    fn a_killed_node_drops_deliveries_until_it_is_restarted_empty() {
        let mut cluster = SimCluster::<PeriodicGossip>::new(2, &[], 1).unwrap();
        let init = r#"{"src":"c0","dest":"n0","body":{"type":"init","msg_id":1,"node_id":"n0","node_ids":["n0","n1"]}}"#;
        cluster.deliver(0, init.into()).unwrap();
        let mut events = Vec::new();
        cluster.wait(Duration::ZERO, &mut events);
        assert_eq!(events.len(), 1, "init_ok");
        cluster.kill(0);
        assert_eq!(cluster.deliver(0, init.into()), Err(DeliveryError::Down));
        cluster.restart(0).unwrap();
        cluster.deliver(0, init.into()).unwrap();
        events.clear();
        cluster.wait(Duration::ZERO, &mut events);
        assert!(matches!(&events[0], NodeEvent::Output { line, .. } if line.contains("init_ok")));
        assert!(cluster.logs()[0].iter().any(|line| line.contains("killed")));
    }

    #[test]
    fn the_clock_jumps_to_the_next_timer_not_past_it() {
        let mut cluster = SimCluster::<PeriodicGossip>::new(1, &[], 1).unwrap();
        let init = r#"{"src":"c0","dest":"n0","body":{"type":"init","msg_id":1,"node_id":"n0","node_ids":["n0","n1"]}}"#;
        let broadcast =
            r#"{"src":"c1","dest":"n0","body":{"type":"broadcast","msg_id":1,"message":1}}"#;
        cluster.deliver(0, init.into()).unwrap();
        cluster.deliver(0, broadcast.into()).unwrap();
        let mut events = Vec::new();
        cluster.wait(Duration::from_secs(1), &mut events);
        assert_eq!(events.len(), 2, "the replies come first, at time zero");
        assert_eq!(cluster.now(), Duration::ZERO);
        events.clear();
        cluster.wait(Duration::from_secs(1), &mut events);
        assert_eq!(cluster.now(), Duration::from_millis(200));
        assert!(matches!(&events[0], NodeEvent::Output { line, .. } if line.contains("gossip")));
        events.clear();
        cluster.wait(Duration::from_millis(300), &mut events);
        assert_eq!(
            cluster.now(),
            Duration::from_millis(300),
            "no timer before the deadline"
        );
        assert!(events.is_empty());
    }
}
