//! The pause fault: stop some nodes where they stand, then let them go on. A paused node is
//! slow, not dead: it keeps its state, and what was sent to it arrives when it resumes.
//!
//! In the process cluster the node's whole process group gets SIGSTOP and later SIGCONT; in the
//! simulation its timers wait. In both, the network holds the messages for it and delivers them,
//! in order, when it resumes (a partition in force by then still cuts them).

use std::collections::BTreeMap;
use std::time::Duration;

use rand::rngs::ChaCha8Rng;
use serde_json::Value as Json;

use crate::history::Op;
use crate::net::JournalEvent;

use super::{Action, FaultEntry, FaultKind, View};

/// Picks the nodes to pause among `candidates`, by the same rule as kill: one, a third or a
/// minority of them; returned sorted.
pub fn targets(candidates: &[usize], rng: &mut ChaCha8Rng) -> Vec<usize> {
    super::kill::targets(candidates, rng)
}

/// Each node's paused spells in a history, in ns: from its pause to its resume (or to its kill
/// or restart, when it was killed while paused).
pub fn paused_spells(history: &[Op]) -> BTreeMap<String, Vec<(u64, u64)>> {
    let mut open: BTreeMap<String, u64> = BTreeMap::new();
    let mut spells: BTreeMap<String, Vec<(u64, u64)>> = BTreeMap::new();
    for op in history.iter().filter(|op| !op.is_client()) {
        let nodes = op.value.as_array().cloned().unwrap_or_default();
        for node in nodes.iter().filter_map(Json::as_str) {
            match op.f {
                "pause" => {
                    open.insert(node.to_owned(), op.time_ns);
                }
                "resume" | "kill" | "restart" => {
                    if let Some(start) = open.remove(node) {
                        spells
                            .entry(node.to_owned())
                            .or_default()
                            .push((start, op.time_ns));
                    }
                }
                _ => {}
            }
        }
    }
    spells
}

/// The messages a journal (`journal.jsonl`) shows a node sending while the history has it
/// paused, later than `grace` into the pause (a real process may have written lines just
/// before its SIGSTOP that the harness reads just after): what a paused node must never do.
/// Each is described as `src -> dest at T ns`.
pub fn sends_while_paused(history: &[Op], journal: &[u8], grace: Duration) -> Vec<String> {
    let spells = paused_spells(history);
    let grace = u64::try_from(grace.as_nanos()).unwrap_or(u64::MAX);
    String::from_utf8_lossy(journal)
        .lines()
        .filter_map(JournalEvent::parse)
        .filter(|event| event.event == "send")
        .filter_map(|event| {
            let at = event.t;
            let src = event.src.as_deref()?;
            let paused = spells
                .get(src)?
                .iter()
                .any(|(start, end)| at > start.saturating_add(grace) && at < *end);
            let dest = Json::from(event.dest.unwrap_or_default());
            paused.then(|| format!("{src} -> {dest} at {at} ns"))
        })
        .collect()
}

/// Pause's registry entry.
pub const ENTRY: FaultEntry = FaultEntry {
    name: "pause",
    window: ("pause", Some("resume")),
    shade: (120, 80, 200),
    chooses_targets: true,
    undone_at_end: true,
    make: || Box::new(Pause),
};

/// Pauses some nodes, then resumes every paused node, alternately.
#[derive(Debug)]
pub struct Pause;

impl FaultKind for Pause {
    fn act(&mut self, view: &View<'_>, rng: &mut ChaCha8Rng) -> Option<Action> {
        if let Some(resume) = self.undo(view) {
            return Some(resume);
        }
        // A killed node cannot be paused; it is paused again only after its restart.
        Some(Action::Pause(targets(&view.up(|_| true), rng)))
    }

    fn undo(&mut self, view: &View<'_>) -> Option<Action> {
        (!view.paused.is_empty()).then(|| Action::Resume(view.paused.iter().copied().collect()))
    }
}
