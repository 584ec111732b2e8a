//! A scripted fault schedule (`--nemesis-schedule`), beside the random one: at these times,
//! these actions on these nodes. For tests that need a fault at a known moment, and for
//! replaying a run's faults exactly.
//!
//! Written as `T=ACTION[:NODES]` steps joined by `;`, T in seconds from the start of the main
//! phase: `1=partition:n0|n1,n2;3=heal;4=kill:n1;6=restart:n1;7=pause:n2;8=resume:n2;9=crash:n3`.
//! A partition names its sides, `|` between them and `,` within one, and every node is on one
//! side. Whatever is still in force when the main phase ends is undone, as with the random
//! schedule (crashes stay).

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde_json::json;

use super::{Action, Grudge};

/// What one step does, with nodes by id.
#[derive(Debug, Clone, PartialEq)]
pub enum Move {
    /// Cut the network into these sides.
    Partition(Vec<Vec<String>>),
    /// Heal it.
    Heal,
    /// Kill these nodes.
    Kill(Vec<String>),
    /// Restart these killed nodes.
    Restart(Vec<String>),
    /// Pause these nodes.
    Pause(Vec<String>),
    /// Resume these paused nodes.
    Resume(Vec<String>),
    /// Kill these nodes for good.
    Crash(Vec<String>),
}

/// One step: at `at` from the start of the main phase, do `what`.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// When.
    pub at: Duration,
    /// What.
    pub what: Move,
}

/// The whole schedule, its steps in time order (steps at the same time in the order written).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Schedule(pub Vec<Step>);

const FORM: &str = "write steps as T=ACTION[:NODES] joined by `;`, such as `1=partition:n0|n1,n2;3=heal;4=kill:n1;6=restart:n1` (actions: partition, heal, kill, restart, pause, resume, crash)";

impl FromStr for Schedule {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut steps = Vec::new();
        for part in text
            .split(';')
            .map(str::trim)
            .filter(|part| !part.is_empty())
        {
            let (at, rest) = part
                .split_once('=')
                .ok_or_else(|| format!("`{part}` has no `=`; {FORM}"))?;
            let seconds: f64 = at
                .trim()
                .parse()
                .ok()
                .filter(|seconds: &f64| seconds.is_finite() && *seconds >= 0.0)
                .ok_or_else(|| format!("`{at}` in `{part}` is not a time in seconds; {FORM}"))?;
            let (action, nodes) = rest.split_once(':').unwrap_or((rest, ""));
            let list = |text: &str| -> Vec<String> {
                text.split(',')
                    .map(str::trim)
                    .filter(|id| !id.is_empty())
                    .map(str::to_owned)
                    .collect()
            };
            let needs_nodes = |nodes: Vec<String>| {
                if nodes.is_empty() {
                    Err(format!("`{part}` names no nodes; {FORM}"))
                } else {
                    Ok(nodes)
                }
            };
            let what = match action.trim() {
                "partition" => {
                    let sides: Vec<Vec<String>> = nodes.split('|').map(list).collect();
                    if sides.len() < 2 || sides.iter().any(Vec::is_empty) {
                        return Err(format!(
                            "`{part}`: a partition needs two sides or more, each with a node, such as `partition:n0|n1,n2`"
                        ));
                    }
                    Move::Partition(sides)
                }
                "heal" => Move::Heal,
                "kill" => Move::Kill(needs_nodes(list(nodes))?),
                "restart" => Move::Restart(needs_nodes(list(nodes))?),
                "pause" => Move::Pause(needs_nodes(list(nodes))?),
                "resume" => Move::Resume(needs_nodes(list(nodes))?),
                "crash" => Move::Crash(needs_nodes(list(nodes))?),
                other => return Err(format!("unknown action `{other}` in `{part}`; {FORM}")),
            };
            steps.push(Step {
                at: Duration::from_secs_f64(seconds),
                what,
            });
        }
        if steps.is_empty() {
            return Err(format!("the schedule has no steps; {FORM}"));
        }
        steps.sort_by_key(|step| step.at);
        Ok(Schedule(steps))
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let steps: Vec<String> = self
            .0
            .iter()
            .map(|step| {
                let (action, nodes) = match &step.what {
                    Move::Partition(sides) => (
                        "partition",
                        sides
                            .iter()
                            .map(|side| side.join(","))
                            .collect::<Vec<_>>()
                            .join("|"),
                    ),
                    Move::Heal => ("heal", String::new()),
                    Move::Kill(nodes) => ("kill", nodes.join(",")),
                    Move::Restart(nodes) => ("restart", nodes.join(",")),
                    Move::Pause(nodes) => ("pause", nodes.join(",")),
                    Move::Resume(nodes) => ("resume", nodes.join(",")),
                    Move::Crash(nodes) => ("crash", nodes.join(",")),
                };
                let seconds = step.at.as_secs_f64();
                if nodes.is_empty() {
                    format!("{seconds}={action}")
                } else {
                    format!("{seconds}={action}:{nodes}")
                }
            })
            .collect();
        formatter.write_str(&steps.join(";"))
    }
}

impl Schedule {
    /// Checks every node id against the cluster's (`nodes`), and that a partition puts every
    /// node on exactly one side.
    pub fn check(&self, nodes: &[String]) -> Result<(), String> {
        for step in &self.0 {
            step.action(nodes)?;
        }
        Ok(())
    }

    /// Whether any step is undone at the end (anything but crash).
    pub fn heals_at_end(&self) -> bool {
        self.0
            .iter()
            .any(|step| !matches!(step.what, Move::Crash(_)))
    }
}

impl Step {
    /// The action this step is in the cluster whose node ids are `nodes`.
    pub fn action(&self, nodes: &[String]) -> Result<Action, String> {
        let index = |id: &String| {
            nodes.iter().position(|node| node == id).ok_or_else(|| {
                format!(
                    "--nemesis-schedule names {id}, which is not a node of this cluster ({})",
                    nodes.join(", ")
                )
            })
        };
        let indexes = |ids: &[String]| -> Result<Vec<usize>, String> {
            let set: BTreeSet<usize> = ids.iter().map(index).collect::<Result<_, _>>()?;
            Ok(set.into_iter().collect())
        };
        Ok(match &self.what {
            Move::Partition(sides) => {
                let mut side_of = vec![None; nodes.len()];
                for (side, ids) in sides.iter().enumerate() {
                    for id in ids {
                        let node = index(id)?;
                        if side_of[node].replace(side).is_some() {
                            return Err(format!(
                                "--nemesis-schedule puts {id} on two sides of one partition"
                            ));
                        }
                    }
                }
                if let Some(missing) = side_of.iter().position(Option::is_none) {
                    return Err(format!(
                        "--nemesis-schedule leaves {} out of a partition: name every node on one side",
                        nodes[missing]
                    ));
                }
                let cut = (0..nodes.len())
                    .map(|a| (0..nodes.len()).map(|b| side_of[a] != side_of[b]).collect())
                    .collect();
                Action::Partition(Grudge {
                    cut,
                    description: json!({"grudge": "scripted", "components": sides}),
                })
            }
            Move::Heal => Action::Heal,
            Move::Kill(ids) => Action::Kill(indexes(ids)?),
            Move::Restart(ids) => Action::Restart(indexes(ids)?),
            Move::Pause(ids) => Action::Pause(indexes(ids)?),
            Move::Resume(ids) => Action::Resume(indexes(ids)?),
            Move::Crash(ids) => Action::Crash(indexes(ids)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::node_names;

    #[test]
    fn a_schedule_reads_in_time_order_prints_back_and_becomes_actions() {
        let text = "4=kill:n1;1=partition:n0|n1,n2;3=heal;6.5=restart:n1;9=crash:n2";
        let schedule: Schedule = text.parse().unwrap();
        let times: Vec<f64> = schedule
            .0
            .iter()
            .map(|step| step.at.as_secs_f64())
            .collect();
        assert_eq!(times, [1.0, 3.0, 4.0, 6.5, 9.0]);
        assert_eq!(schedule.to_string().parse::<Schedule>().unwrap(), schedule);
        let nodes = node_names(3);
        let Action::Partition(grudge) = schedule.0[0].action(&nodes).unwrap() else {
            panic!("a partition first")
        };
        assert_eq!(grudge.cut[0], [false, true, true]);
        assert_eq!(grudge.cut[1], [true, false, false]);
        assert!(
            matches!(schedule.0[2].action(&nodes).unwrap(), Action::Kill(nodes) if nodes == [1])
        );
        assert!(schedule.heals_at_end());
        assert!(!"2=crash:n1".parse::<Schedule>().unwrap().heals_at_end());
    }

    #[test]
    fn a_wrong_schedule_says_what_is_wrong_and_how_to_write_it() {
        let error = |text: &str| text.parse::<Schedule>().unwrap_err();
        assert!(error("kill:n1").contains("has no `=`"));
        assert!(error("x=heal").contains("not a time in seconds"));
        assert!(error("1=explode:n1").contains("unknown action `explode`"));
        assert!(error("1=kill").contains("names no nodes"));
        assert!(error("1=partition:n0").contains("two sides or more"));
        assert!(error("").contains("no steps"));
        let nodes = node_names(3);
        let check = |text: &str| text.parse::<Schedule>().unwrap().check(&nodes).unwrap_err();
        assert!(check("1=kill:n7").contains("n7, which is not a node"));
        assert!(check("1=partition:n0|n1").contains("leaves n2 out"));
        assert!(check("1=partition:n0,n1|n1,n2").contains("two sides"));
    }
}
