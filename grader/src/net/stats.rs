//! Traffic counters: Maelstrom's `net` figures (all, clients, servers, msgs-per-op) and ours
//! (bytes, probes, drops by reason, per-node sends, duplicate deliveries, misbehaviour counts).

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Class, Packet};

/// Traffic counters for one bucket.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Counts {
    /// Messages sent (journalled before any drop).
    pub send_count: u64,
    /// Messages delivered.
    pub recv_count: u64,
    /// Distinct messages: equal to `send_count`, since every send gets a fresh id.
    pub msg_count: u64,
    /// Bytes of the JSON lines sent (`{"id","src","dest","body"}`).
    pub bytes: u64,
    /// `msg_count` per client operation; absent for the clients bucket and with no operations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msgs_per_op: Option<f64>,
}

/// Why a message was not delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DropReason {
    /// A partition cut the link at delivery time.
    Partition,
    /// The destination node had exited.
    NodeDown,
    /// The destination node was not reading its stdin and its queue was full.
    NotReading,
    /// The destination client was already closed (a late reply).
    ClientClosed,
    /// The run ended before the message was due.
    InFlightAtEnd,
}

/// The `net` section of the results.
#[derive(Debug, Clone, Default, Serialize)]
pub struct NetStats {
    /// Every message.
    pub all: Counts,
    /// Messages with a client at either end.
    pub clients: Counts,
    /// Messages between servers.
    pub servers: Counts,
    /// The harness's convergence probes (reads after the heal), kept out of `all` and `clients`.
    pub probes: Counts,
    /// Server-to-server messages sent, by sending node (what a node's own message counters
    /// should agree with); filled in by [`NetStats::finish`] from the count by node index.
    pub servers_sent_by_node: BTreeMap<String, u64>,
    /// The same, by node index, as the run goes.
    #[serde(skip)]
    sent_by_node: Vec<u64>,
    /// Deliveries from another server of a value the receiving node already had (values carried
    /// as `message`, or in `messages` or `values` lists); each value counts once per delivery.
    pub duplicate_deliveries: u64,
    /// Messages dropped, by reason.
    pub dropped: BTreeMap<String, u64>,
    /// Stdout lines from nodes that were not messages (not JSON, or no src/dest/body).
    pub invalid_lines: u64,
    /// Messages addressed to an id that is neither a node nor a client.
    pub unknown_destinations: u64,
    /// Lines whose `src` was not the id of the node that wrote them, by writing node; they are
    /// dropped (a node may only speak for itself).
    pub spoofed_src: BTreeMap<String, u64>,
    /// Replies to a client whose `in_reply_to` matched no request it had in hand (late, or
    /// wrong); discarded, as Maelstrom's clients do.
    pub unmatched_replies: u64,
    /// Requests that reached each service, by service and request type (left out of
    /// `results.json` when no node used a service).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub service_requests: BTreeMap<String, BTreeMap<String, u64>>,
    /// Server-to-server messages sent after the faults were healed at the end of the main
    /// phase (none when nothing was healed): a node that lost messages to a partition and sends
    /// nothing here never re-sends (see [`crate::harness::mistakes`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub servers_after_heal: Option<u64>,
    /// `servers.send_count` when the faults were healed.
    #[serde(skip)]
    servers_at_heal: Option<u64>,
    /// Always valid, as in Maelstrom: the figures are information, not a check.
    pub valid: bool,
}

impl NetStats {
    /// Counters for a cluster of `nodes` nodes, all zero.
    pub fn new(nodes: usize) -> Self {
        Self {
            sent_by_node: vec![0; nodes],
            ..Self::default()
        }
    }

    /// Counts a send; `from_node` is the sending node's index, if a node sent it.
    pub fn on_send(&mut self, packet: &Packet, from_node: Option<usize>, bytes: usize) {
        if let (Some(node), Class::Server) = (from_node, packet.class) {
            self.sent_by_node[node] += 1;
        }
        self.for_buckets(packet.class, |counts| {
            counts.send_count += 1;
            counts.msg_count += 1;
            counts.bytes += bytes as u64;
        });
    }

    /// Counts the delivery of a message of `class`.
    pub fn on_recv(&mut self, class: Class) {
        self.for_buckets(class, |counts| counts.recv_count += 1);
    }

    /// Counts a drop.
    pub fn on_drop(&mut self, reason: DropReason) {
        let name = serde_json::to_value(reason)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        *self.dropped.entry(name).or_default() += 1;
    }

    /// Marks the moment the faults were healed, from which `servers_after_heal` counts.
    pub fn mark_heal(&mut self) {
        self.servers_at_heal = Some(self.servers.send_count);
    }

    /// Server-to-server messages node `node` has sent so far.
    pub fn sent_by(&self, node: usize) -> u64 {
        self.sent_by_node[node]
    }

    /// Fills in msgs-per-op (`msg_count / op_count` for all and servers: Maelstrom's formula)
    /// and the sends by node, named from `nodes`.
    pub fn finish(&mut self, op_count: usize, nodes: &[String]) {
        self.valid = true;
        self.servers_after_heal = self
            .servers_at_heal
            .map(|at| self.servers.send_count.saturating_sub(at));
        self.servers_sent_by_node = nodes
            .iter()
            .zip(&self.sent_by_node)
            .filter(|(_, sent)| **sent > 0)
            .map(|(node, sent)| (node.clone(), *sent))
            .collect();
        if op_count > 0 {
            self.all.msgs_per_op = Some(self.all.msg_count as f64 / op_count as f64);
            self.servers.msgs_per_op = Some(self.servers.msg_count as f64 / op_count as f64);
        }
    }

    fn for_buckets(&mut self, class: Class, count: impl Fn(&mut Counts)) {
        match class {
            Class::Probe => count(&mut self.probes),
            Class::Client => {
                count(&mut self.all);
                count(&mut self.clients);
            }
            Class::Server => {
                count(&mut self.all);
                count(&mut self.servers);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::test_packet as packet;

    #[test]
    fn probe_traffic_is_kept_out_of_maelstroms_buckets() {
        let mut stats = NetStats::new(4);
        stats.on_send(&packet("c-probe-3", "n3"), None, 10);
        stats.on_send(&packet("c1", "n3"), None, 10);
        assert_eq!(
            (
                stats.probes.msg_count,
                stats.all.msg_count,
                stats.clients.msg_count
            ),
            (1, 1, 1)
        );
    }

    #[test]
    fn traffic_is_bucketed_by_whether_a_client_is_involved() {
        let mut stats = NetStats::new(3);
        stats.on_send(&packet("c1", "n1"), None, 10);
        stats.on_send(&packet("n1", "n2"), Some(1), 20);
        stats.on_send(&packet("n2", "n1"), Some(2), 20);
        stats.on_send(&packet("n2", "c1"), Some(2), 20);
        stats.on_recv(packet("n1", "n2").class);
        stats.finish(2, &crate::topology::node_names(3));
        assert_eq!(
            (
                stats.all.msg_count,
                stats.clients.msg_count,
                stats.servers.msg_count
            ),
            (4, 2, 2)
        );
        assert_eq!(stats.servers.bytes, 40);
        assert_eq!(
            stats.servers_sent_by_node,
            BTreeMap::from([("n1".into(), 1), ("n2".into(), 1)]),
            "only server-to-server sends count, and only nodes that sent appear"
        );
        assert_eq!(stats.sent_by(0), 0);
        assert_eq!(stats.servers.recv_count, 1);
        assert_eq!(stats.servers.msgs_per_op, Some(1.0));
        assert_eq!(stats.all.msgs_per_op, Some(2.0));
        assert_eq!(stats.clients.msgs_per_op, None);
    }
}
