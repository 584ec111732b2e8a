//! What the nemesis's actions do to the cluster and the network, and who survives them.

use super::*;

impl Harness<'_> {
    /// Carries out a nemesis action and records it in the history.
    pub(super) fn apply(&mut self, action: Action) {
        self.nemesis_now.apply(&action);
        let (f, value) = action.history_entry(&self.nodes);
        match &action {
            Action::Partition(grudge) => {
                self.note(format!("partition: {}", grudge.description));
                self.net.set_partition(Some(grudge.clone()));
            }
            Action::Heal => {
                self.net.set_partition(None);
                self.note("network healed".into());
            }
            // A crash is a kill that the end of the run does not undo.
            Action::Kill(targets) | Action::Crash(targets) => {
                self.note(format!("{f}: {value}"));
                for &node in targets {
                    self.cluster.kill(node);
                }
            }
            Action::Pause(targets) => {
                self.note(format!("pause: {value}"));
                for &node in targets {
                    self.cluster.pause(node);
                    self.net.pause(node);
                }
            }
            Action::Restart(_) | Action::Resume(_) => {}
        }
        self.history.push(self.now, Entry::nemesis(f, value));
        self.bump_thread();
        match action {
            Action::Restart(targets) => {
                for node in targets {
                    // What was held for it was meant for the process that died.
                    for packet in self.net.resume(node) {
                        self.journal.drop(self.now, packet.id, DropReason::NodeDown);
                        self.net.stats.on_drop(DropReason::NodeDown);
                    }
                    if let Err(error) = self.cluster.restart(node) {
                        self.abort(format!("cannot restart {}: {error:#}", self.nodes[node]));
                        return;
                    }
                    self.note(format!("restarted {}", self.nodes[node]));
                    self.arrivals.forget(node);
                    self.send_init(Role::RestartInit, node);
                }
            }
            Action::Resume(targets) => {
                for node in targets {
                    self.cluster.resume(node);
                    self.note(format!("resumed {}", self.nodes[node]));
                    for packet in self.net.resume(node) {
                        self.deliver(packet);
                    }
                    self.pump(node);
                }
            }
            _ => {}
        }
    }

    /// The crashed nodes and every value a surviving node was handed, for judging survivors.
    pub(super) fn survivors(&self) -> Survivors {
        let crashed: BTreeSet<usize> = self.nemesis.crashed().collect();
        let handed = if crashed.is_empty() {
            BTreeSet::new()
        } else {
            (0..self.nodes.len())
                .filter(|node| !crashed.contains(node))
                .flat_map(|node| self.arrivals.handed(node))
                .collect()
        };
        Survivors {
            crashed: crashed
                .iter()
                .map(|node| self.nodes[*node].clone())
                .collect(),
            handed,
        }
    }
}
