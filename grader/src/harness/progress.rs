//! What the latest run in this process is doing, for a progress display (`grader test` shows
//! one on a terminal): its phase, how many operations completed, and what the nemesis is doing.
//! The harness writes it as it goes (an atomic count per operation, a lock on the rare phase
//! and nemesis changes); a display thread reads [`snapshot`].

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::nemesis::Action;

static OPS: AtomicU64 = AtomicU64::new(0);
static STATE: Mutex<(&str, String)> = Mutex::new(("starting", String::new()));

/// What the nemesis has done and not yet undone, for [`Snapshot::nemesis`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct NemesisNow {
    partitioned: bool,
    paused: usize,
    down: usize,
    crashed: usize,
}

impl NemesisNow {
    /// Takes in one action and publishes the new state.
    pub(super) fn apply(&mut self, action: &Action) {
        match action {
            Action::Partition(_) => self.partitioned = true,
            Action::Heal => self.partitioned = false,
            Action::Pause(nodes) => self.paused += nodes.len(),
            Action::Resume(nodes) => self.paused = self.paused.saturating_sub(nodes.len()),
            Action::Kill(nodes) => self.down += nodes.len(),
            Action::Restart(nodes) => self.down = self.down.saturating_sub(nodes.len()),
            Action::Crash(nodes) => self.crashed += nodes.len(),
        }
        set(|state| state.1 = self.describe());
    }

    /// In words: `partitioned, 2 paused, 1 down, 1 crashed`; empty when nothing holds.
    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.partitioned {
            parts.push("partitioned".to_owned());
        }
        for (count, what) in [
            (self.paused, "paused"),
            (self.down, "down"),
            (self.crashed, "crashed"),
        ] {
            if count > 0 {
                parts.push(format!("{count} {what}"));
            }
        }
        parts.join(", ")
    }
}

/// A moment of the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The phase: `init`, `setup`, `main`, `drain`, `recovery`, `final reads`, `done`.
    pub phase: &'static str,
    /// Operations completed (ok, failed or unknown) so far.
    pub ops: u64,
    /// What the nemesis is doing now, in words (empty when nothing).
    pub nemesis: String,
}

impl Snapshot {
    /// One line: `main · 120 ops · partitioned`.
    pub fn line(&self) -> String {
        let mut line = format!("{} · {} ops", self.phase, self.ops);
        if !self.nemesis.is_empty() {
            line.push_str(" · ");
            line.push_str(&self.nemesis);
        }
        line
    }
}

/// The latest state.
pub fn snapshot() -> Snapshot {
    let (phase, nemesis) = STATE.lock().map(|state| state.clone()).unwrap_or_default();
    Snapshot {
        phase,
        ops: OPS.load(Ordering::Relaxed),
        nemesis,
    }
}

pub(super) fn start() {
    OPS.store(0, Ordering::Relaxed);
    set(|state| *state = ("init", String::new()));
}

pub(super) fn count_op() {
    OPS.fetch_add(1, Ordering::Relaxed);
}

pub(super) fn phase(phase: &'static str) {
    set(|state| state.0 = phase);
}

fn set(change: impl FnOnce(&mut (&'static str, String))) {
    if let Ok(mut state) = STATE.lock() {
        change(&mut state);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_reads_as_one_line() {
        let quiet = Snapshot {
            phase: "main",
            ops: 12,
            nemesis: String::new(),
        };
        assert_eq!(quiet.line(), "main · 12 ops");
        let busy = Snapshot {
            nemesis: "partitioned, 1 paused".into(),
            ..quiet
        };
        assert_eq!(busy.line(), "main · 12 ops · partitioned, 1 paused");
    }

    #[test]
    fn the_nemesis_state_follows_its_actions_and_their_undoing() {
        let mut now = NemesisNow::default();
        now.apply(&Action::Pause(vec![1, 2]));
        now.apply(&Action::Crash(vec![3]));
        assert_eq!(now.describe(), "2 paused, 1 crashed");
        now.apply(&Action::Resume(vec![1, 2]));
        now.apply(&Action::Kill(vec![0]));
        assert_eq!(now.describe(), "1 down, 1 crashed");
        now.apply(&Action::Restart(vec![0]));
        now.apply(&Action::Heal);
        assert_eq!(now.describe(), "1 crashed");
    }
}
