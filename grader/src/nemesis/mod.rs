//! The nemesis: which faults a run injects, when, and to which nodes.
//!
//! Each fault flips on its own schedule, the first time as the main phase starts and then after
//! gaps uniform on `[0, 2·interval)`, as Maelstrom's `flip-flop` does:
//!
//! - [`partition`]: cut the network with one of Maelstrom's grudges, then heal it;
//! - [`kill`]: crash some nodes, then restart them empty (they get `init` and `topology` again);
//! - [`pause`]: stop some nodes where they stand (the process group gets SIGSTOP; in the
//!   simulation their timers wait), then let them go on; the network holds their messages.
//! - [`crash`]: kill some nodes for good (crash-stop): they stay down until the end, and the
//!   checkers judge the survivors.
//!
//! Kill, pause and crash choose their nodes by a [`Targets`] rule: at random, among the
//! interior nodes of the run's topology, or among nodes named by id. After the main phase every fault but crash is undone:
//! the network heals, killed nodes restart and paused nodes resume; crashed nodes stay down.

pub mod crash;
pub mod kill;
pub mod partition;
pub mod pause;

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use rand::RngExt;
use rand::rngs::ChaCha8Rng;
use serde::Serialize;
use serde_json::{Value as Json, json};

pub use partition::{Grudge, GrudgeKind};

/// A kind of fault (`--nemesis`). The order is the order in which they first act.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// Cut the network into pieces, then heal it, alternately.
    Partition,
    /// Kill some nodes, then restart them empty, alternately.
    Kill,
    /// Pause some nodes, then resume them, alternately.
    Pause,
    /// Kill some nodes for good (crash-stop), a few at a time, never more than half the
    /// candidates in all.
    Crash,
}

impl Fault {
    /// Every fault, by name.
    pub const ALL: [Fault; 4] = [Fault::Partition, Fault::Kill, Fault::Pause, Fault::Crash];

    /// Its `--nemesis` name.
    pub fn name(self) -> &'static str {
        match self {
            Fault::Partition => "partition",
            Fault::Kill => "kill",
            Fault::Pause => "pause",
            Fault::Crash => "crash",
        }
    }
}

impl FromStr for Fault {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Fault::ALL
            .into_iter()
            .find(|fault| fault.name() == text)
            .ok_or_else(|| {
                format!("unknown nemesis `{text}`; the faults on offer are: partition, kill, pause, crash")
            })
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

/// Parses a comma-separated fault list such as `partition,kill`.
pub fn parse_faults(text: &str) -> Result<BTreeSet<Fault>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(str::parse)
        .collect()
}

/// Which nodes kill, pause and crash choose from (`--nemesis-targets`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Targets {
    /// Any node.
    #[default]
    Random,
    /// Nodes with children in the run's topology (see [`crate::topology::Topology::interior`]).
    Interior,
    /// These nodes, by index (`--nemesis-targets n0,n3`): a hub, a leader, a tree's root.
    Nodes(Vec<usize>),
}

impl FromStr for Targets {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "random" => Ok(Targets::Random),
            "interior" => Ok(Targets::Interior),
            other => {
                let nodes: Option<BTreeSet<usize>> = other
                    .split(',')
                    .map(|id| id.trim().strip_prefix('n')?.parse().ok())
                    .collect();
                match nodes {
                    Some(nodes) if !nodes.is_empty() => {
                        Ok(Targets::Nodes(nodes.into_iter().collect()))
                    }
                    _ => Err(format!(
                        "unknown nemesis targets `{other}`; choose random, interior, or node ids such as n0 or n0,n3"
                    )),
                }
            }
        }
    }
}

impl fmt::Display for Targets {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Targets::Random => formatter.write_str("random"),
            Targets::Interior => formatter.write_str("interior"),
            Targets::Nodes(nodes) => {
                let ids: Vec<String> = nodes.iter().map(|index| format!("n{index}")).collect();
                formatter.write_str(&ids.join(","))
            }
        }
    }
}

/// One thing the nemesis does; the harness carries it out.
#[derive(Debug, Clone)]
pub enum Action {
    /// Cut the network.
    Partition(Grudge),
    /// Heal it.
    Heal,
    /// Crash these nodes.
    Kill(Vec<usize>),
    /// Start these killed nodes afresh.
    Restart(Vec<usize>),
    /// Stop these nodes where they stand.
    Pause(Vec<usize>),
    /// Let these paused nodes go on.
    Resume(Vec<usize>),
    /// Kill these nodes for good.
    Crash(Vec<usize>),
}

impl Action {
    /// The history entry: its `f` and its value.
    pub fn history_entry(&self, nodes: &[String]) -> (&'static str, Json) {
        let names =
            |targets: &[usize]| json!(targets.iter().map(|i| &nodes[*i]).collect::<Vec<_>>());
        match self {
            Action::Partition(grudge) => ("start_partition", grudge.description.clone()),
            Action::Heal => ("stop_partition", json!("network healed")),
            Action::Kill(targets) => ("kill", names(targets)),
            Action::Restart(targets) => ("restart", names(targets)),
            Action::Pause(targets) => ("pause", names(targets)),
            Action::Resume(targets) => ("resume", names(targets)),
            Action::Crash(targets) => ("crash", names(targets)),
        }
    }
}

/// The nemesis's schedule and what it has done that is not undone yet.
#[derive(Debug, Clone)]
pub struct Nemesis {
    faults: BTreeSet<Fault>,
    interval: Duration,
    /// The nodes kill and pause choose from.
    candidates: Vec<usize>,
    partitioned: bool,
    killed: BTreeSet<usize>,
    paused: BTreeSet<usize>,
    crashed: BTreeSet<usize>,
}

impl Nemesis {
    /// A nemesis injecting `faults` every `interval` on average, choosing kill and pause targets
    /// among `candidates` (every node, or the topology's interior nodes).
    pub fn new(faults: BTreeSet<Fault>, interval: Duration, candidates: Vec<usize>) -> Self {
        Self {
            faults,
            interval,
            candidates,
            partitioned: false,
            killed: BTreeSet::new(),
            paused: BTreeSet::new(),
            crashed: BTreeSet::new(),
        }
    }

    /// The faults, in the order they first act.
    pub fn faults(&self) -> impl Iterator<Item = Fault> + '_ {
        self.faults.iter().copied()
    }

    /// True when `node` is down on the nemesis's orders: killed and not yet restarted, or
    /// crashed.
    pub fn is_killed(&self, node: usize) -> bool {
        self.killed.contains(&node) || self.crashed.contains(&node)
    }

    /// True when `node` crashed for good.
    pub fn is_crashed(&self, node: usize) -> bool {
        self.crashed.contains(&node)
    }

    /// The nodes crashed for good, sorted.
    pub fn crashed(&self) -> impl Iterator<Item = usize> + '_ {
        self.crashed.iter().copied()
    }

    /// When `fault` first acts, from the start of the main phase: at once, except crash, which
    /// waits one interval so that it strikes mid-run.
    pub fn first_delay(&self, fault: Fault) -> Duration {
        match fault {
            Fault::Crash => self.interval,
            _ => Duration::ZERO,
        }
    }

    /// The next action of `fault`: it starts when its last one is undone, and undoes it
    /// otherwise. Crash only ever strikes, and does nothing (`None`) once half the candidates
    /// are down.
    pub fn act(&mut self, fault: Fault, nodes: &[String], rng: &mut ChaCha8Rng) -> Option<Action> {
        let action = match fault {
            Fault::Partition if self.partitioned => self.heal(),
            Fault::Partition => {
                self.partitioned = true;
                Action::Partition(Grudge::random(nodes, rng))
            }
            Fault::Kill if !self.killed.is_empty() => self.restart(),
            Fault::Kill => {
                let targets = kill::targets(&self.up(|_| true), rng);
                self.killed.extend(&targets);
                Action::Kill(targets)
            }
            Fault::Pause if !self.paused.is_empty() => self.resume(),
            Fault::Pause => {
                // A killed node cannot be paused; it is paused again only after its restart.
                let targets = pause::targets(&self.up(|_| true), rng);
                self.paused.extend(&targets);
                Action::Pause(targets)
            }
            Fault::Crash => {
                // A paused node is left alone: it would have to be resumed to die cleanly.
                let paused = self.paused.clone();
                let up = self.up(|node| !paused.contains(&node));
                let targets = crash::targets(&up, self.crashed.len(), self.candidates.len(), rng);
                if targets.is_empty() {
                    return None;
                }
                self.crashed.extend(&targets);
                Action::Crash(targets)
            }
        };
        Some(action)
    }

    /// The candidates neither killed nor crashed that pass `keep`.
    fn up(&self, keep: impl Fn(usize) -> bool) -> Vec<usize> {
        self.candidates
            .iter()
            .copied()
            .filter(|node| !self.is_killed(*node) && keep(*node))
            .collect()
    }

    /// How long until `fault` acts again: uniform on `[0, 2·interval)`.
    pub fn gap(&self, rng: &mut ChaCha8Rng) -> Duration {
        let gap = rng.random_range(0.0..2.0 * self.interval.as_secs_f64().max(1e-3));
        Duration::from_secs_f64(gap)
    }

    /// Undoes whatever is in force at the end of the main phase: heal, then restart, then
    /// resume. Crashed nodes stay down.
    pub fn undo_all(&mut self) -> Vec<Action> {
        let mut actions = Vec::new();
        if self.partitioned {
            actions.push(self.heal());
        }
        if !self.killed.is_empty() {
            actions.push(self.restart());
        }
        if !self.paused.is_empty() {
            actions.push(self.resume());
        }
        actions
    }

    fn heal(&mut self) -> Action {
        self.partitioned = false;
        Action::Heal
    }

    fn restart(&mut self) -> Action {
        let killed = std::mem::take(&mut self.killed);
        // A restarted node starts awake, whatever it was when it was killed.
        self.paused.retain(|node| !killed.contains(node));
        Action::Restart(killed.into_iter().collect())
    }

    fn resume(&mut self) -> Action {
        let paused = std::mem::take(&mut self.paused);
        Action::Resume(paused.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;
    use crate::topology::node_names;

    #[test]
    fn faults_parse_by_name_and_unknown_ones_list_the_choices() {
        assert_eq!(
            parse_faults("partition").unwrap(),
            BTreeSet::from([Fault::Partition])
        );
        assert_eq!(
            parse_faults("pause, kill,partition").unwrap(),
            BTreeSet::from([Fault::Partition, Fault::Kill, Fault::Pause])
        );
        let error = parse_faults("flood").unwrap_err();
        assert!(
            error.contains("unknown nemesis") && error.contains("pause"),
            "{error}"
        );
        assert_eq!("interior".parse::<Targets>(), Ok(Targets::Interior));
        assert_eq!("n3,n0".parse::<Targets>(), Ok(Targets::Nodes(vec![0, 3])));
        assert_eq!(Targets::Nodes(vec![0, 3]).to_string(), "n0,n3");
        for bad in ["leaves", "n", "n0,x1", ""] {
            assert!(
                bad.parse::<Targets>()
                    .unwrap_err()
                    .contains("random, interior, or node ids"),
                "{bad}"
            );
        }
    }

    #[test]
    fn each_fault_alternates_and_the_end_undoes_everything_in_order() {
        let nodes = node_names(7);
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let faults = BTreeSet::from([Fault::Partition, Fault::Kill, Fault::Pause]);
        let mut nemesis = Nemesis::new(faults, Duration::from_secs(1), (0..7).collect());
        assert!(matches!(
            nemesis.act(Fault::Partition, &nodes, &mut rng).unwrap(),
            Action::Partition(_)
        ));
        let Action::Kill(killed) = nemesis.act(Fault::Kill, &nodes, &mut rng).unwrap() else {
            panic!("kill first")
        };
        assert!(killed.iter().all(|node| nemesis.is_killed(*node)));
        let Action::Pause(paused) = nemesis.act(Fault::Pause, &nodes, &mut rng).unwrap() else {
            panic!("pause first")
        };
        assert!(
            paused.iter().all(|node| !killed.contains(node)),
            "killed nodes are not paused: {killed:?} {paused:?}"
        );
        assert!(
            matches!(nemesis.act(Fault::Pause, &nodes, &mut rng).unwrap(), Action::Resume(back) if back == paused)
        );
        let ends: Vec<&'static str> = nemesis
            .undo_all()
            .iter()
            .map(|action| action.history_entry(&nodes).0)
            .collect();
        assert_eq!(ends, ["stop_partition", "restart"]);
        assert!(nemesis.undo_all().is_empty());
    }

    #[test]
    fn kill_and_pause_choose_only_among_the_candidates() {
        let nodes = node_names(25);
        let interior = vec![0, 1, 2, 3, 4, 5];
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let faults = BTreeSet::from([Fault::Kill, Fault::Pause]);
        let mut nemesis = Nemesis::new(faults, Duration::from_secs(1), interior.clone());
        for _ in 0..40 {
            for fault in [Fault::Kill, Fault::Pause] {
                match nemesis.act(fault, &nodes, &mut rng).unwrap() {
                    Action::Kill(targets) | Action::Pause(targets) => {
                        assert!(!targets.is_empty());
                        assert!(
                            targets.iter().all(|node| interior.contains(node)),
                            "{targets:?}"
                        );
                    }
                    _ => {}
                }
            }
        }
    }

    #[test]
    fn crashed_nodes_stay_down_and_are_neither_paused_nor_killed_again() {
        let nodes = node_names(25);
        let interior = vec![0, 1, 2, 3, 4, 5];
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let faults = BTreeSet::from([Fault::Crash, Fault::Pause, Fault::Kill]);
        let mut nemesis = Nemesis::new(faults, Duration::from_secs(1), interior.clone());
        assert_eq!(nemesis.first_delay(Fault::Crash), Duration::from_secs(1));
        assert_eq!(nemesis.first_delay(Fault::Kill), Duration::ZERO);
        let mut crashed = BTreeSet::new();
        for _ in 0..20 {
            if let Some(Action::Crash(targets)) = nemesis.act(Fault::Crash, &nodes, &mut rng) {
                assert!(targets.iter().all(|node| !crashed.contains(node)));
                crashed.extend(targets);
            }
            for fault in [Fault::Pause, Fault::Kill] {
                if let Some(Action::Pause(targets) | Action::Kill(targets)) =
                    nemesis.act(fault, &nodes, &mut rng)
                {
                    assert!(
                        targets.iter().all(|node| !crashed.contains(node)),
                        "{targets:?}"
                    );
                }
            }
        }
        assert_eq!(crashed.len(), crash::budget(interior.len()));
        assert_eq!(nemesis.crashed().collect::<BTreeSet<_>>(), crashed);
        assert!(
            crashed
                .iter()
                .all(|node| nemesis.is_crashed(*node) && nemesis.is_killed(*node))
        );
        let undone = nemesis.undo_all();
        assert!(
            undone.iter().all(|action| !matches!(action, Action::Restart(back) if back.iter().any(|node| crashed.contains(node)))),
            "{undone:?}"
        );
        assert!(crashed.iter().all(|node| nemesis.is_crashed(*node)));
    }
}
