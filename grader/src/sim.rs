//! Simulated runs: `common` nodes in memory, in virtual time, from one seed.
//!
//! [`SimCluster`] implements the same [`Cluster`](crate::cluster::Cluster) seam as the process
//! cluster, so the harness, workloads, nemeses, checkers and results are the very same code.
//! Messages still cross as JSON lines, exactly as on the wire. The clock jumps from event to
//! event. Given the same seed, a run is the same run, byte for byte.
//!
//! Stage crates use [`simulate`] in their own tests:
//!
//! ```
//! use std::time::Duration;
//! use common::{Context, Message, NoFlags, NoTimer, Node, RpcError, Value};
//! use grader::config::TestConfig;
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
//! let config = TestConfig::parse_command("--node-count 5 --time-limit 5 --rate 10 --seed 7").unwrap();
//! let run = grader::sim::simulate::<ToEveryone>(&config, &[]).unwrap();
//! assert_eq!(run.results["valid"], true);
//! // Each broadcast costs four server messages; about half the operations are broadcasts.
//! assert!(run.report.net.servers.msgs_per_op.unwrap() < 4.0);
//! ```

use std::path::Path;

use common::Node;
use serde_json::Value as Json;

pub use crate::cluster::{NodeFactory, SimCluster};
use crate::config::TestConfig;
use crate::harness::{self, RunReport};
use crate::net::Journal;
use crate::results::{self, RunFacts};
use crate::run::{self, TestRun};

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
    simulate_inspect::<N, ()>(config, flags, |_| ()).map(|(run, ())| run)
}

/// [`simulate`] with the configuration given as Maelstrom's `test` flags in one string (as
/// Fly.io's pages write them: `"-w g-counter --node-count 3 --rate 100 --time-limit 20"`) and
/// no node flags. Panics on flags that do not parse, saying which: it is for tests.
pub fn simulate_command<N: Node>(flags: &str) -> SimRun {
    let config =
        TestConfig::parse_command(flags).unwrap_or_else(|error| panic!("{flags}: {error}"));
    simulate::<N>(&config, &[]).unwrap_or_else(|error| panic!("{flags}: {error:#}"))
}

/// [`simulate`], then `inspect` looks at the nodes as the run left them (the survivors of a
/// kill or crash): for tests that hold a node's own counters against the harness's.
pub fn simulate_inspect<N: Node, T>(
    config: &TestConfig,
    flags: &[String],
    inspect: impl FnOnce(&SimCluster<N>) -> T,
) -> anyhow::Result<(SimRun, T)> {
    let buffer = SharedBuffer::default();
    let mut journal = Journal::new(Box::new(buffer.clone()));
    let mut cluster = SimCluster::<N>::new(config.node_count, flags, config.seed)?;
    let report = harness::run(config, &mut cluster, &mut journal, None);
    journal.finish()?;
    let inspected = inspect(&cluster);
    let journal = buffer.0.take();
    let reproduce = format!("(in memory) seed {}", config.seed);
    let facts = RunFacts {
        started_at: String::new(),
        store: String::new(),
        wall_seconds: 0.0,
    };
    let results = results::results_json(&report, config, &reproduce, facts);
    let summary = results::summary(&report, config, &reproduce, "(in memory)");
    let run = SimRun {
        report,
        journal,
        results,
        summary,
    };
    Ok((run, inspected))
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
    let ids = config.node_ids();
    run::run_in_store(
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
    use std::time::Duration;

    use common::{Context, Message, NoFlags, RpcError, Value};
    use serde::{Deserialize, Serialize};

    use super::*;
    use crate::checker::Validity;
    use crate::cluster::{Cluster, DeliveryError, NodeEvent};

    #[derive(Debug, Clone, Serialize, Deserialize)]
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
        Replicate {
            value: Value,
        },
        ReplicateOk {
            value: Value,
        },
        Sync {
            values: BTreeSet<Value>,
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

    /// Acknowledges a client's broadcast once a majority holds the value (re-sending to peers
    /// that have not answered every 200 ms) and pushes its set to a random peer every 200 ms:
    /// correct under kills (a minority restarted empty), pauses and partitions. The Python
    /// twin is `tests/nodes/quorum.py`.
    #[derive(Default)]
    struct QuorumGossip {
        values: BTreeSet<Value>,
        pending: BTreeMap<Value, (Message<Payload>, BTreeSet<common::NodeId>)>,
    }

    impl QuorumGossip {
        fn replicate(&self, value: &Value, ctx: &mut Context<Payload, Tick>) {
            let (_, acked) = &self.pending[value];
            for peer in ctx.peers() {
                if !acked.contains(&peer) {
                    ctx.send(
                        peer,
                        Payload::Replicate {
                            value: value.clone(),
                        },
                    );
                }
            }
        }
    }

    impl Node for QuorumGossip {
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
            let majority = ctx.node_ids().len() / 2 + 1;
            match &msg.body.payload {
                Payload::Topology { .. } => {
                    ctx.reply(&msg, Payload::TopologyOk);
                }
                Payload::Broadcast { message } => {
                    self.values.insert(message.clone());
                    if majority <= 1 {
                        ctx.reply(&msg, Payload::BroadcastOk);
                    } else {
                        let value = message.clone();
                        self.pending.insert(value.clone(), (msg, BTreeSet::new()));
                        self.replicate(&value, ctx);
                    }
                }
                Payload::Replicate { value } => {
                    self.values.insert(value.clone());
                    let value = value.clone();
                    ctx.reply(&msg, Payload::ReplicateOk { value });
                }
                Payload::ReplicateOk { value } => {
                    if let Some((_, acked)) = self.pending.get_mut(value) {
                        acked.insert(msg.src.clone());
                        if acked.len() + 1 >= majority {
                            let (request, _) = self.pending.remove(value).expect("present");
                            ctx.reply(&request, Payload::BroadcastOk);
                        }
                    }
                }
                Payload::Sync { values } => self.values.extend(values.iter().cloned()),
                Payload::Read => {
                    let messages = self.values.clone();
                    ctx.reply(&msg, Payload::ReadOk { messages });
                }
                _ => {}
            }
            Ok(())
        }

        fn on_timer(&mut self, _: Tick, ctx: &mut Context<Payload, Tick>) {
            let waiting: Vec<Value> = self.pending.keys().cloned().collect();
            for value in &waiting {
                self.replicate(value, ctx);
            }
            if !self.values.is_empty()
                && let Some(peer) = ctx.random_peers(1, None).pop()
            {
                let values = self.values.clone();
                ctx.send(peer, Payload::Sync { values });
            }
        }
    }

    #[test]
    fn a_node_that_acknowledges_after_a_majority_stays_valid_under_pause_partition_and_kill() {
        for seed in 1..=4 {
            let config = TestConfig::parse_command(&format!("--node-count 5 --time-limit 20 --rate 10 --nemesis partition,kill,pause --nemesis-interval 1.5 --recovery 3 --seed {seed}")).expect("valid flags");
            let run = simulate::<QuorumGossip>(&config, &[]).unwrap();
            assert_eq!(
                run.report.valid,
                Validity::Valid,
                "seed {seed}: {}",
                run.summary
            );
            let ops = run.report.history.ops();
            let actions: BTreeSet<&str> = ops
                .iter()
                .filter(|op| !op.is_client())
                .map(|op| op.f)
                .collect();
            for action in ["start_partition", "kill", "restart", "pause", "resume"] {
                assert!(
                    actions.contains(action),
                    "seed {seed}: no {action} in {actions:?}"
                );
            }
            let early =
                crate::nemesis::pause::sends_while_paused(ops, &run.journal, Duration::ZERO);
            assert!(
                early.is_empty(),
                "seed {seed}: paused nodes sent: {early:?}"
            );
        }
    }

    #[test]
    fn crashed_nodes_stay_down_and_the_survivors_alone_are_read_and_waited_for() {
        let config = TestConfig::parse_command("--node-count 10 --time-limit 10 --rate 40 --nemesis crash --nemesis-interval 2 --recovery 2 --seed 3").expect("valid flags");
        let run = simulate::<PeriodicGossip>(&config, &[]).unwrap();
        assert_eq!(run.report.valid, Validity::Valid, "{}", run.summary);
        let ops = run.report.history.ops();
        let crashed: BTreeSet<String> = ops
            .iter()
            .filter(|op| op.f == "crash")
            .flat_map(|op| op.value.as_array().cloned().unwrap_or_default())
            .filter_map(|node| node.as_str().map(str::to_owned))
            .collect();
        assert!((1..=5).contains(&crashed.len()), "crashed: {crashed:?}");
        assert!(!ops.iter().any(|op| op.f == "restart"));
        let final_nodes: BTreeSet<&str> = ops
            .iter()
            .filter(|op| op.final_read)
            .filter_map(|op| op.node.as_deref())
            .collect();
        assert_eq!(final_nodes.len(), 10 - crashed.len(), "{final_nodes:?}");
        assert!(final_nodes.iter().all(|node| !crashed.contains(*node)));
        let convergence = &run.report.convergence;
        assert!(convergence.after_ms.is_some(), "{convergence:?}");
        assert_eq!(convergence.from, "end of operations", "nothing to heal");
        assert_eq!(
            convergence
                .nodes_crashed
                .iter()
                .cloned()
                .collect::<BTreeSet<_>>(),
            crashed
        );
        assert_eq!(convergence.nodes_converged, 10 - crashed.len());
    }

    fn config(seed: u64) -> TestConfig {
        TestConfig::parse_command(&format!("--node-count 4 --time-limit 10 --rate 10 --latency 20 --latency-dist uniform --nemesis partition --nemesis-interval 2 --recovery 2 --seed {seed}")).expect("valid flags")
    }

    #[test]
    fn a_scripted_schedule_strikes_at_its_times_and_what_it_leaves_is_undone_at_the_end() {
        let config = TestConfig::parse_command(
            "--node-count 3 --time-limit 6 --rate 10 --recovery 1 --seed 1 --nemesis-schedule 1=partition:n0|n1,n2;2=kill:n1;3=heal;4=pause:n2",
        )
        .unwrap();
        let run = simulate::<PeriodicGossip>(&config, &[]).unwrap();
        assert_eq!(run.report.valid, Validity::Valid, "{}", run.summary);
        let moves: Vec<(&str, f64, Json)> = run
            .report
            .history
            .ops()
            .iter()
            .filter(|op| !op.is_client())
            .map(|op| (op.f, op.time_ns as f64 / 1e9, op.value.clone()))
            .collect();
        let names: Vec<&str> = moves.iter().map(|(f, _, _)| *f).collect();
        // The four steps, then what they left in force undone as the main phase ends.
        assert_eq!(
            names,
            [
                "start_partition",
                "kill",
                "stop_partition",
                "pause",
                "restart",
                "resume"
            ]
        );
        let start = moves[0].1;
        for (step, (f, at, _)) in moves.iter().take(4).enumerate() {
            let due = start + step as f64;
            assert!((at - due).abs() < 1e-3, "{f} at {at}, due {due}");
        }
        assert!(moves[4].1 >= start + 5.0, "undone after the main phase");
        assert_eq!(moves[1].2, serde_json::json!(["n1"]));
        assert_eq!(
            moves[0].2["components"],
            serde_json::json!([["n0"], ["n1", "n2"]])
        );
        let error =
            TestConfig::parse_command("--nemesis partition --nemesis-schedule 1=heal").unwrap_err();
        assert!(error.contains("leave out --nemesis"), "{error}");
        let error =
            TestConfig::parse_command("--node-count 2 --nemesis-schedule 1=kill:n5").unwrap_err();
        assert!(error.contains("n5, which is not a node"), "{error}");
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
