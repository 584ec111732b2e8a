//! The simulated network: routing decisions, latency, partitions, holds, the message journal
//! and traffic counters.
//!
//! Every routed message gets a network-wide `id` (from 0), is journalled as `send`, and is
//! delivered (`recv`) or dropped at its deadline. The [`Network`] decides each message's fate:
//! its latency when it is sent, and at its deadline whether a partition cuts it (checked at
//! delivery, as Maelstrom does, so a message in flight when a partition starts is dropped and
//! one sent during a partition but due after the heal gets through), or whether it waits
//! because its destination is paused.

mod journal;
mod latency;
mod stats;

use std::collections::BTreeMap;
use std::time::Duration;

use rand::rngs::ChaCha8Rng;
use serde::Deserialize;
use serde_json::value::RawValue;

pub use journal::Journal;
pub use latency::{Latency, LatencyDistribution};
pub use stats::{Counts, DropReason, NetStats};

use crate::nemesis::Grudge;

/// A message as a node wrote it: the envelope parsed, the body kept as raw JSON text.
#[derive(Debug, Deserialize)]
pub struct Envelope {
    /// The sender.
    pub src: String,
    /// The receiver.
    pub dest: String,
    /// The body, unparsed.
    pub body: Box<RawValue>,
}

impl Envelope {
    /// Parses one output line; the body must be a JSON object.
    pub fn parse(line: &str) -> Result<Envelope, String> {
        let envelope: Envelope = serde_json::from_str(line).map_err(|error| error.to_string())?;
        if !envelope.body.get().trim_start().starts_with('{') {
            return Err("`body` must be a JSON object".into());
        }
        Ok(envelope)
    }
}

/// A routed message with its network id.
#[derive(Debug, Clone)]
pub struct Packet {
    /// The network-wide id, from 0.
    pub id: u64,
    /// The sender.
    pub src: String,
    /// The receiver.
    pub dest: String,
    /// The body as JSON text.
    pub body: Box<RawValue>,
}

impl Packet {
    /// The line written to a node's stdin: `{"id","src","dest","body"}`.
    pub fn wire_line(&self) -> String {
        let mut line =
            String::with_capacity(self.body.get().len() + self.src.len() + self.dest.len() + 48);
        line.push_str("{\"id\":");
        line.push_str(&self.id.to_string());
        line.push_str(",\"src\":");
        line.push_str(&json_string(&self.src));
        line.push_str(",\"dest\":");
        line.push_str(&json_string(&self.dest));
        line.push_str(",\"body\":");
        line.push_str(self.body.get());
        line.push('}');
        line
    }

    /// True when a client is at either end.
    pub fn involves_client(&self) -> bool {
        is_client(&self.src) || is_client(&self.dest)
    }
}

pub(crate) fn json_string(text: &str) -> String {
    serde_json::to_string(text).expect("strings always serialise")
}

/// The id prefix of the harness's convergence probes: clients to the nodes, but their traffic
/// is counted apart so that Maelstrom's figures stay Maelstrom's.
pub const PROBE_PREFIX: &str = "c-probe-";

/// Maelstrom's rule: an id starting with `c` is a client; anything else is a server.
pub fn is_client(id: &str) -> bool {
    id.starts_with('c')
}

/// What happens to a message at its deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// Hand it to this node.
    Node(usize),
    /// Hand it to the client it is addressed to.
    Client,
    /// Drop it.
    Drop(DropReason),
    /// Its destination (this node) is paused: keep it until the node is resumed.
    Held(usize),
}

/// The network between the nodes and the clients: who is who, latency, the current partition,
/// and the messages held for paused nodes.
pub struct Network {
    index: BTreeMap<String, usize>,
    latency: Latency,
    partition: Option<Grudge>,
    paused: Vec<bool>,
    held: Vec<Vec<(Packet, String)>>,
    next_packet_id: u64,
    /// The traffic figures.
    pub stats: NetStats,
}

impl Network {
    /// A network between `nodes` (and any number of clients) with `latency` between servers.
    pub fn new(nodes: &[String], latency: Latency) -> Self {
        Self {
            index: nodes
                .iter()
                .enumerate()
                .map(|(index, id)| (id.clone(), index))
                .collect(),
            latency,
            partition: None,
            paused: vec![false; nodes.len()],
            held: vec![Vec::new(); nodes.len()],
            next_packet_id: 0,
            stats: NetStats::default(),
        }
    }

    /// The index of the node called `id`, if it is one.
    pub fn node_index(&self, id: &str) -> Option<usize> {
        self.index.get(id).copied()
    }

    /// A message put on the network: a fresh id, and how long it will take.
    pub fn send(
        &mut self,
        src: String,
        dest: String,
        body: Box<RawValue>,
        rng: &mut ChaCha8Rng,
    ) -> (Packet, Duration) {
        let packet = Packet {
            id: self.next_packet_id,
            src,
            dest,
            body,
        };
        self.next_packet_id += 1;
        let delay = if packet.involves_client() {
            Duration::ZERO
        } else {
            self.latency.sample(rng)
        };
        (packet, delay)
    }

    /// What happens to `packet` now that it is due.
    pub fn arrive(&self, packet: &Packet) -> Arrival {
        let Some(dest) = self.node_index(&packet.dest) else {
            return Arrival::Client;
        };
        let cut = self
            .node_index(&packet.src)
            .zip(self.partition.as_ref())
            .is_some_and(|(src, grudge)| grudge.cut[src][dest]);
        if cut {
            Arrival::Drop(DropReason::Partition)
        } else if self.paused[dest] {
            Arrival::Held(dest)
        } else {
            Arrival::Node(dest)
        }
    }

    /// Keeps a message for a paused node until it is resumed.
    pub fn hold(&mut self, node: usize, packet: Packet, line: String) {
        self.held[node].push((packet, line));
    }

    /// Cuts the network as `grudge` says, or heals it with `None`.
    pub fn set_partition(&mut self, grudge: Option<Grudge>) {
        self.partition = grudge;
    }

    /// True while a partition is in force.
    pub fn is_partitioned(&self) -> bool {
        self.partition.is_some()
    }

    /// Holds what arrives for `node` from now on.
    pub fn pause(&mut self, node: usize) {
        self.paused[node] = true;
    }

    /// Stops holding for `node` and hands back what was held, in arrival order, to be delivered
    /// now (a partition in force by then still cuts them).
    pub fn resume(&mut self, node: usize) -> Vec<(Packet, String)> {
        self.paused[node] = false;
        std::mem::take(&mut self.held[node])
    }

    /// Every message still held (for the end of a run).
    pub fn take_all_held(&mut self) -> Vec<Packet> {
        self.held
            .iter_mut()
            .flat_map(std::mem::take)
            .map(|(packet, _)| packet)
            .collect()
    }
}

/// A packet `{"type":"x"}` with id 7, for tests.
#[cfg(test)]
pub(crate) fn test_packet(src: &str, dest: &str) -> Packet {
    Packet {
        id: 7,
        src: src.into(),
        dest: dest.into(),
        body: RawValue::from_string(r#"{"type":"x"}"#.into()).unwrap(),
    }
}

#[cfg(test)]
mod tests {
    use super::test_packet as packet;
    use super::*;

    #[test]
    fn the_wire_line_carries_the_network_id() {
        let line = packet("n1", "c\"2").wire_line();
        assert_eq!(
            line,
            r#"{"id":7,"src":"n1","dest":"c\"2","body":{"type":"x"}}"#
        );
        let parsed: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(parsed["dest"], "c\"2");
    }

    #[test]
    fn envelopes_need_src_dest_and_an_object_body() {
        assert!(Envelope::parse(r#"{"src":"n1","dest":"n2","body":{"type":"a"}}"#).is_ok());
        assert!(Envelope::parse(r#"{"src":"n1","dest":"n2","body":3}"#).is_err());
        assert!(Envelope::parse(r#"{"src":"n1","body":{}}"#).is_err());
        assert!(Envelope::parse("hello").is_err());
    }
}
