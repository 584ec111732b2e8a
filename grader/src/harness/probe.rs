//! Convergence: after the last fault (or the end of operations) the harness reads every node
//! that is still behind, every [`PROBE_INTERVAL`], from its own probe clients
//! (`c-probe-<i>`, counted apart from Maelstrom's figures), and records when each node's read
//! first held everything acknowledged by then. What a probe reads and what "held everything"
//! means is the workload's.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use super::*;

/// How often the harness reads every node after the heal to time convergence.
pub const PROBE_INTERVAL: Duration = Duration::from_millis(100);

/// How long the cluster took to agree after the last fault, sampled by the harness's own reads.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Convergence {
    /// What the clock starts from: `heal` (the final heal or restart) or `end of operations`
    /// (runs without faults).
    pub from: String,
    /// Milliseconds from then until every node's read held every acknowledged value (the
    /// invocation time of the first complete read on the slowest node); absent if that never
    /// happened before the final reads.
    pub after_ms: Option<u64>,
    /// How often each node was read, in ms: the figure's resolution.
    pub sample_interval_ms: u64,
    /// Values acknowledged by then.
    pub acknowledged_values: usize,
    /// Nodes whose reads held them all.
    pub nodes_converged: usize,
    /// Nodes that never held them all, by id.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nodes_behind: Vec<String>,
    /// Nodes crashed for good (`--nemesis crash`), not waited for, by id.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nodes_crashed: Vec<String>,
    /// Nodes that keep their state in a service (they sent one a message), not read: a probe's
    /// read would make such a node ask its service, which changes what it sees next (seq-kv's
    /// view moves on with each request), so probing would judge a different run than
    /// Maelstrom's, which has no probes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nodes_not_probed: Vec<String>,
    /// Per node that converged, ms from the same start until it held everything.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub per_node_ms: BTreeMap<String, u64>,
}

/// Convergence probing in progress.
#[derive(Debug)]
pub(super) struct Probing {
    pub(super) from: &'static str,
    pub(super) started: Duration,
    pub(super) acknowledged: usize,
    pub(super) converged_at: Vec<Option<Duration>>,
    /// How many of the workload's probe parts each node has passed (see
    /// [`crate::workload::Probes::probe_parts`]).
    pub(super) parts_done: Vec<usize>,
    /// Nodes crashed for good: neither read nor waited for.
    pub(super) crashed: Vec<bool>,
    /// Nodes that use a service: neither read nor waited for (see
    /// [`Convergence::nodes_not_probed`]).
    pub(super) not_probed: Vec<bool>,
}

impl Probing {
    /// The surviving nodes not yet seen holding everything.
    pub(super) fn behind(&self) -> Vec<usize> {
        (0..self.converged_at.len())
            .filter(|node| {
                self.converged_at[*node].is_none()
                    && !self.crashed[*node]
                    && !self.not_probed[*node]
            })
            .collect()
    }

    /// The figures, with node ids from `nodes`.
    pub(super) fn convergence(&self, nodes: &[String]) -> Convergence {
        let nodes_behind: Vec<String> = self
            .behind()
            .into_iter()
            .map(|node| nodes[node].clone())
            .collect();
        let probed = (0..nodes.len()).any(|node| !self.crashed[node] && !self.not_probed[node]);
        let after_ms = (probed && nodes_behind.is_empty()).then(|| {
            let last = self
                .converged_at
                .iter()
                .flatten()
                .max()
                .copied()
                .unwrap_or(self.started);
            last.saturating_sub(self.started).as_millis() as u64
        });
        Convergence {
            from: self.from.to_owned(),
            after_ms,
            sample_interval_ms: PROBE_INTERVAL.as_millis() as u64,
            acknowledged_values: self.acknowledged,
            nodes_converged: self.converged_at.iter().flatten().count(),
            nodes_behind,
            nodes_crashed: (0..nodes.len())
                .filter(|node| self.crashed[*node])
                .map(|node| nodes[node].clone())
                .collect(),
            nodes_not_probed: (0..nodes.len())
                .filter(|node| self.not_probed[*node])
                .map(|node| nodes[node].clone())
                .collect(),
            per_node_ms: self
                .converged_at
                .iter()
                .enumerate()
                .filter_map(|(node, at)| {
                    let after = at.as_ref()?.saturating_sub(self.started).as_millis() as u64;
                    Some((nodes[node].clone(), after))
                })
                .collect(),
        }
    }
}

impl Harness<'_> {
    /// Starts timing convergence: what is acknowledged now, and a read of every node every
    /// [`PROBE_INTERVAL`] until each has it all.
    pub(super) fn start_probing(&mut self, from: &'static str) {
        let survivors = self.survivors();
        let Some(probes) = self.workload.probes() else {
            return;
        };
        let acknowledged = probes.start_convergence(self.history.ops(), &survivors);
        let crashed: Vec<bool> = (0..self.nodes.len())
            .map(|node| self.nemesis.is_crashed(node))
            .collect();
        self.probing = Some(Probing {
            from,
            started: self.now,
            acknowledged,
            converged_at: vec![None; self.nodes.len()],
            parts_done: vec![0; self.nodes.len()],
            crashed,
            not_probed: vec![false; self.nodes.len()],
        });
        if self.clients.probes.is_empty() {
            for node in 0..self.nodes.len() {
                let id = format!("{PROBE_PREFIX}{node}");
                let probe = self.open_named_client(&id, Role::Probe, node);
                self.clients.probes.push(probe);
            }
        }
        self.schedule(self.now, Event::Probe);
    }

    pub(super) fn probe(&mut self) {
        if !matches!(self.phase, Phase::Drain | Phase::Recovery) {
            return;
        }
        let Some(probing) = &mut self.probing else {
            return;
        };
        for node in probing.behind() {
            probing.not_probed[node] = self.net.calls_services(node);
        }
        let behind = probing.behind();
        if behind.is_empty() {
            return;
        }
        for node in behind {
            let id = self.clients.probes[node];
            if self.client(id).is_some_and(|probe| probe.pending.is_none()) {
                let part = self
                    .probing
                    .as_ref()
                    .map_or(0, |probing| probing.parts_done[node]);
                let Some(probes) = self.workload.probes() else {
                    return;
                };
                let body = probes.probe_request(part);
                self.client_request(id, with_msg_id(body), RPC_TIMEOUT, None);
            }
        }
        self.schedule(self.now + PROBE_INTERVAL, Event::Probe);
    }

    /// A convergence probe of `node` was answered with `body`.
    pub(super) fn probe_replied(&mut self, node: usize, pending: &Pending, body: &str) {
        let Some(probes) = self.workload.probes() else {
            return;
        };
        let parts = probes.probe_parts();
        if let Some(probing) = self.probing.as_mut()
            && probing.converged_at[node].is_none()
            && probes.probe_converged_text(probing.parts_done[node], body)
        {
            // A node is read in `parts` probes (a KV store, key by key); it has converged once
            // the last part shows what it must.
            probing.parts_done[node] += 1;
            if probing.parts_done[node] >= parts {
                // When the node read its state: the probe may have waited behind other
                // messages to it (Maelstrom's delivery), so not its invocation.
                probing.converged_at[node] = Some(pending.delivered_at.unwrap_or(pending.sent_at));
            }
        }
    }
}
