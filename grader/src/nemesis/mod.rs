//! The nemesis: which faults a run injects, when, and to which nodes.
//!
//! A fault is one file here: a type implementing [`FaultKind`] (when it first acts, its next
//! move, what it undoes at the end) and a [`FaultEntry`] in [`REGISTRY`] (its `--nemesis` name,
//! the history entries that open and close its window in the report, its colour there, and
//! whether it honours `--nemesis-targets`). A fault moves with [`Action`]s, the harness's
//! vocabulary for what can happen to the cluster and the network; a fault that needs a new kind
//! of action adds it there and to the harness's `apply`.
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
//! interior nodes of the run's topology, or among nodes named by id. After the main phase every
//! fault but crash is undone: the network heals, killed nodes restart and paused nodes resume;
//! crashed nodes stay down. [`schedule`] replaces the random schedule with a scripted one.

pub mod crash;
pub mod kill;
pub mod partition;
pub mod pause;
pub mod schedule;

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use rand::RngExt;
use rand::rngs::ChaCha8Rng;
use serde::Serialize;
use serde_json::{Value as Json, json};

pub use partition::{Grudge, GrudgeKind};

/// Every fault, in the order in which they first act (and are undone at the end).
pub const REGISTRY: &[FaultEntry] = &[partition::ENTRY, kill::ENTRY, pause::ENTRY, crash::ENTRY];

/// What the harness and the report need to know of a fault, beside its behaviour.
#[derive(Debug, Clone, Copy)]
pub struct FaultEntry {
    /// Its `--nemesis` name.
    pub name: &'static str,
    /// The history entry (`f`) that opens its window in the report, and the one that closes it
    /// (none: the window lasts until the end of the run).
    pub window: (&'static str, Option<&'static str>),
    /// Its shade in the report's charts (red, green, blue).
    pub shade: (u8, u8, u8),
    /// Whether it chooses nodes by `--nemesis-targets`.
    pub chooses_targets: bool,
    /// Whether the end of the main phase undoes it (crash is never undone).
    pub undone_at_end: bool,
    /// A fresh instance for one run.
    pub make: fn() -> Box<dyn FaultKind>,
}

/// What a fault sees of the cluster when it moves.
#[derive(Debug, Clone, Copy)]
pub struct View<'a> {
    /// Every node's id.
    pub nodes: &'a [String],
    /// The nodes kill, pause and crash may choose from (`--nemesis-targets`).
    pub candidates: &'a [usize],
    /// Whether the network is cut now.
    pub partitioned: bool,
    /// Killed and not restarted yet.
    pub killed: &'a BTreeSet<usize>,
    /// Paused and not resumed yet.
    pub paused: &'a BTreeSet<usize>,
    /// Crashed for good.
    pub crashed: &'a BTreeSet<usize>,
    /// The mean time between moves (`--nemesis-interval`).
    pub interval: Duration,
}

impl View<'_> {
    /// The candidates neither killed nor crashed that pass `keep`.
    pub fn up(&self, keep: impl Fn(usize) -> bool) -> Vec<usize> {
        self.candidates
            .iter()
            .copied()
            .filter(|node| {
                !self.killed.contains(node) && !self.crashed.contains(node) && keep(*node)
            })
            .collect()
    }
}

/// A fault's behaviour in one run: when it first acts, its next move on its schedule, and what
/// it undoes when the main phase ends.
pub trait FaultKind: fmt::Debug + Send {
    /// When it first acts, from the start of the main phase (at once, by default).
    fn first_delay(&self, _interval: Duration) -> Duration {
        Duration::ZERO
    }

    /// Its next move: strike, or undo what it struck; `None` when it has nothing to do now.
    fn act(&mut self, view: &View<'_>, rng: &mut ChaCha8Rng) -> Option<Action>;

    /// What it undoes at the end of the main phase, if anything is in force.
    fn undo(&mut self, _view: &View<'_>) -> Option<Action> {
        None
    }
}

/// A registered fault (`--nemesis`), by its place in [`REGISTRY`]; faults order as they first
/// act.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fault(usize);

impl Fault {
    /// Every registered fault.
    pub fn all() -> impl Iterator<Item = Fault> {
        (0..REGISTRY.len()).map(Fault)
    }

    /// The fault called `name`, if one is.
    pub fn named(name: &str) -> Option<Fault> {
        REGISTRY
            .iter()
            .position(|entry| entry.name == name)
            .map(Fault)
    }

    /// Its registry entry.
    pub fn entry(self) -> &'static FaultEntry {
        &REGISTRY[self.0]
    }

    /// Its `--nemesis` name.
    pub fn name(self) -> &'static str {
        self.entry().name
    }
}

impl fmt::Debug for Fault {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

impl Serialize for Fault {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl FromStr for Fault {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Fault::named(text).ok_or_else(|| {
            let names: Vec<&str> = REGISTRY.iter().map(|entry| entry.name).collect();
            format!(
                "unknown nemesis `{text}`; the faults on offer are: {}",
                names.join(", ")
            )
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
    /// These nodes, by id (`--nemesis-targets n0,n3`): a hub, a leader, a tree's root. The
    /// configuration checks them against the cluster's ids (`--nodes` included).
    Nodes(Vec<String>),
}

impl Targets {
    /// The nodes kill, pause and crash choose from in a cluster whose ids are `nodes` and whose
    /// interior is `interior`, by index and sorted; an id that is not a node is an error.
    pub fn candidates(
        &self,
        nodes: &[String],
        interior: impl FnOnce() -> Vec<usize>,
    ) -> Result<Vec<usize>, String> {
        match self {
            Targets::Random => Ok((0..nodes.len()).collect()),
            Targets::Interior => Ok(interior()),
            Targets::Nodes(ids) => {
                let chosen: Result<BTreeSet<usize>, String> = ids
                    .iter()
                    .map(|id| {
                        nodes.iter().position(|node| node == id).ok_or_else(|| {
                            format!(
                                "--nemesis-targets names {id}, which is not a node of this cluster ({}); choose random, interior, or node ids such as {}",
                                nodes.join(", "),
                                nodes.first().map_or("n0", String::as_str)
                            )
                        })
                    })
                    .collect();
                Ok(chosen?.into_iter().collect())
            }
        }
    }
}

impl FromStr for Targets {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "random" => Ok(Targets::Random),
            "interior" => Ok(Targets::Interior),
            other => {
                let ids: Vec<String> = other.split(',').map(|id| id.trim().to_owned()).collect();
                if ids.iter().any(String::is_empty) {
                    return Err(format!(
                        "unknown nemesis targets `{other}`; choose random, interior, or node ids such as n0 or n0,n3"
                    ));
                }
                Ok(Targets::Nodes(ids))
            }
        }
    }
}

impl fmt::Display for Targets {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Targets::Random => formatter.write_str("random"),
            Targets::Interior => formatter.write_str("interior"),
            Targets::Nodes(ids) => formatter.write_str(&ids.join(",")),
        }
    }
}

/// One thing a fault does; the harness carries it out. This is the harness's vocabulary: a
/// fault that needs another kind of move adds it here and to the harness's `apply`.
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

/// The nemesis: the run's faults, their schedule, and what they have done that is not undone
/// yet (kept from the actions themselves, so every fault sees the same cluster).
#[derive(Debug)]
pub struct Nemesis {
    faults: Vec<(Fault, Box<dyn FaultKind>)>,
    cluster: Picture,
}

/// What the nemesis knows of the cluster, from the actions taken so far.
#[derive(Debug)]
struct Picture {
    interval: Duration,
    /// The nodes kill, pause and crash choose from.
    candidates: Vec<usize>,
    partitioned: bool,
    killed: BTreeSet<usize>,
    paused: BTreeSet<usize>,
    crashed: BTreeSet<usize>,
}

impl Picture {
    /// The view a fault gets.
    fn view<'a>(&'a self, nodes: &'a [String]) -> View<'a> {
        View {
            nodes,
            candidates: &self.candidates,
            partitioned: self.partitioned,
            killed: &self.killed,
            paused: &self.paused,
            crashed: &self.crashed,
            interval: self.interval,
        }
    }

    /// Takes in what `action` does to the cluster.
    fn record(&mut self, action: &Action) {
        match action {
            Action::Partition(_) => self.partitioned = true,
            Action::Heal => self.partitioned = false,
            Action::Kill(nodes) => self.killed.extend(nodes),
            Action::Restart(nodes) => {
                for node in nodes {
                    self.killed.remove(node);
                    // A restarted node starts awake, whatever it was when it was killed.
                    self.paused.remove(node);
                }
            }
            Action::Pause(nodes) => self.paused.extend(nodes),
            Action::Resume(nodes) => {
                for node in nodes {
                    self.paused.remove(node);
                }
            }
            Action::Crash(nodes) => self.crashed.extend(nodes),
        }
    }
}

impl Nemesis {
    /// A nemesis injecting `faults` every `interval` on average, choosing kill and pause targets
    /// among `candidates` (every node, or the topology's interior nodes).
    pub fn new(faults: BTreeSet<Fault>, interval: Duration, candidates: Vec<usize>) -> Self {
        Self {
            faults: faults
                .into_iter()
                .map(|fault| (fault, (fault.entry().make)()))
                .collect(),
            cluster: Picture {
                interval,
                candidates,
                partitioned: false,
                killed: BTreeSet::new(),
                paused: BTreeSet::new(),
                crashed: BTreeSet::new(),
            },
        }
    }

    /// The faults, in the order they first act.
    pub fn faults(&self) -> impl Iterator<Item = Fault> + '_ {
        self.faults.iter().map(|(fault, _)| *fault)
    }

    /// True when `node` is down on the nemesis's orders: killed and not yet restarted, or
    /// crashed.
    pub fn is_killed(&self, node: usize) -> bool {
        self.cluster.killed.contains(&node) || self.cluster.crashed.contains(&node)
    }

    /// True when `node` crashed for good.
    pub fn is_crashed(&self, node: usize) -> bool {
        self.cluster.crashed.contains(&node)
    }

    /// The nodes crashed for good, sorted.
    pub fn crashed(&self) -> impl Iterator<Item = usize> + '_ {
        self.cluster.crashed.iter().copied()
    }

    /// When `fault` first acts, from the start of the main phase.
    pub fn first_delay(&self, fault: Fault) -> Duration {
        self.faults
            .iter()
            .find(|(mine, _)| *mine == fault)
            .map_or(Duration::ZERO, |(_, kind)| {
                kind.first_delay(self.cluster.interval)
            })
    }

    /// The next action of `fault` (none when it has nothing to do now), taken into the
    /// nemesis's picture of the cluster.
    pub fn act(&mut self, fault: Fault, nodes: &[String], rng: &mut ChaCha8Rng) -> Option<Action> {
        let index = self.faults.iter().position(|(mine, _)| *mine == fault)?;
        let action = self.faults[index].1.act(&self.cluster.view(nodes), rng)?;
        self.cluster.record(&action);
        Some(action)
    }

    /// How long until a fault acts again: uniform on `[0, 2·interval)`.
    pub fn gap(&self, rng: &mut ChaCha8Rng) -> Duration {
        let gap = rng.random_range(0.0..2.0 * self.cluster.interval.as_secs_f64().max(1e-3));
        Duration::from_secs_f64(gap)
    }

    /// Undoes whatever is in force at the end of the main phase, fault by fault in their
    /// order: heal, then restart, then resume. Crashed nodes stay down.
    pub fn undo_all(&mut self) -> Vec<Action> {
        let mut actions = Vec::new();
        for (_, kind) in &mut self.faults {
            if let Some(action) = kind.undo(&self.cluster.view(&[])) {
                self.cluster.record(&action);
                actions.push(action);
            }
        }
        // What a scripted schedule left in force, in the same order (a restart first wakes
        // the nodes it restarts, so the resume comes after it is taken in).
        let undo: [fn(&Picture) -> Option<Action>; 3] = [
            |cluster| cluster.partitioned.then_some(Action::Heal),
            |cluster| {
                (!cluster.killed.is_empty())
                    .then(|| Action::Restart(cluster.killed.iter().copied().collect()))
            },
            |cluster| {
                (!cluster.paused.is_empty())
                    .then(|| Action::Resume(cluster.paused.iter().copied().collect()))
            },
        ];
        for next in undo {
            if let Some(action) = next(&self.cluster) {
                self.cluster.record(&action);
                actions.push(action);
            }
        }
        actions
    }

    /// Takes in an action a fault did not choose (a scripted schedule's).
    pub fn record(&mut self, action: &Action) {
        self.cluster.record(action);
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;
    use crate::topology::node_names;

    fn fault(name: &str) -> Fault {
        Fault::named(name).unwrap()
    }

    #[test]
    fn faults_parse_by_name_and_unknown_ones_list_the_choices() {
        assert_eq!(
            parse_faults("partition").unwrap(),
            BTreeSet::from([fault("partition")])
        );
        assert_eq!(
            parse_faults("pause, kill,partition").unwrap(),
            BTreeSet::from([fault("partition"), fault("kill"), fault("pause")])
        );
        let error = parse_faults("flood").unwrap_err();
        assert!(
            error.contains("unknown nemesis") && error.contains("pause"),
            "{error}"
        );
        assert_eq!("interior".parse::<Targets>(), Ok(Targets::Interior));
        let named: Targets = "n3, n0".parse().unwrap();
        assert_eq!(named, Targets::Nodes(vec!["n3".into(), "n0".into()]));
        assert_eq!(named.to_string(), "n3,n0");
        let nodes = node_names(5);
        assert_eq!(named.candidates(&nodes, Vec::new), Ok(vec![0, 3]));
        // Ids, not indexes: with --nodes n1,n2,n3, `n1` is the first node.
        let renamed: Vec<String> = ["n1", "n2", "n3"].map(String::from).to_vec();
        assert_eq!(
            Targets::Nodes(vec!["n1".into()]).candidates(&renamed, Vec::new),
            Ok(vec![0])
        );
        for bad in ["leaves", "n0,x1", "n7"] {
            let error = bad
                .parse::<Targets>()
                .unwrap()
                .candidates(&nodes, Vec::new)
                .unwrap_err();
            assert!(
                error.contains("which is not a node")
                    && error.contains("random, interior, or node ids"),
                "{bad}: {error}"
            );
        }
        for bad in ["", "n0,", ","] {
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
        let faults = BTreeSet::from([fault("partition"), fault("kill"), fault("pause")]);
        let mut nemesis = Nemesis::new(faults, Duration::from_secs(1), (0..7).collect());
        assert!(matches!(
            nemesis.act(fault("partition"), &nodes, &mut rng).unwrap(),
            Action::Partition(_)
        ));
        let Action::Kill(killed) = nemesis.act(fault("kill"), &nodes, &mut rng).unwrap() else {
            panic!("kill first")
        };
        assert!(killed.iter().all(|node| nemesis.is_killed(*node)));
        let Action::Pause(paused) = nemesis.act(fault("pause"), &nodes, &mut rng).unwrap() else {
            panic!("pause first")
        };
        assert!(
            paused.iter().all(|node| !killed.contains(node)),
            "killed nodes are not paused: {killed:?} {paused:?}"
        );
        assert!(
            matches!(nemesis.act(fault("pause"), &nodes, &mut rng).unwrap(), Action::Resume(back) if back == paused)
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
    fn what_a_scripted_schedule_leaves_is_undone_in_order_and_a_restart_wakes_its_nodes() {
        let nodes = node_names(3);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut nemesis = Nemesis::new(BTreeSet::new(), Duration::from_secs(1), vec![0, 1, 2]);
        let cut = Grudge::of_kind(GrudgeKind::One, &nodes, &mut rng);
        for action in [
            Action::Partition(cut),
            Action::Pause(vec![1, 2]),
            Action::Kill(vec![1]),
        ] {
            nemesis.record(&action);
        }
        let undone = nemesis.undo_all();
        let entries: Vec<(&str, Json)> = undone
            .iter()
            .map(|action| action.history_entry(&nodes))
            .collect();
        assert_eq!(
            entries,
            [
                ("stop_partition", json!("network healed")),
                ("restart", json!(["n1"])),
                ("resume", json!(["n2"])),
            ]
        );
        assert!(nemesis.undo_all().is_empty());
    }

    #[test]
    fn kill_and_pause_choose_only_among_the_candidates() {
        let nodes = node_names(25);
        let interior = vec![0, 1, 2, 3, 4, 5];
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let faults = BTreeSet::from([fault("kill"), fault("pause")]);
        let mut nemesis = Nemesis::new(faults, Duration::from_secs(1), interior.clone());
        for _ in 0..40 {
            for fault in [fault("kill"), fault("pause")] {
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
        let faults = BTreeSet::from([fault("crash"), fault("pause"), fault("kill")]);
        let mut nemesis = Nemesis::new(faults, Duration::from_secs(1), interior.clone());
        assert_eq!(nemesis.first_delay(fault("crash")), Duration::from_secs(1));
        assert_eq!(nemesis.first_delay(fault("kill")), Duration::ZERO);
        let mut crashed = BTreeSet::new();
        for _ in 0..20 {
            if let Some(Action::Crash(targets)) = nemesis.act(fault("crash"), &nodes, &mut rng) {
                assert!(targets.iter().all(|node| !crashed.contains(node)));
                crashed.extend(targets);
            }
            for fault in [fault("pause"), fault("kill")] {
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
