//! The simulated network: routing decisions, latency, partitions, holds, the message journal
//! and traffic counters.
//!
//! Every routed message gets a network-wide `id` (from 0), is journalled as `send`, and is
//! delivered (`recv`) or dropped at its deadline. The [`Network`] decides each message's fate,
//! always in this order: its latency when it is sent ([`Network::send`]); at its deadline, a
//! service or a client gets it, then a partition may cut it (checked at delivery, as Maelstrom
//! does, so a message in flight when a partition starts is dropped and one sent during a
//! partition but due after the heal gets through; one function, `cut_off`, decides it for both
//! ways of delivering), then a paused destination holds it ([`Network::arrive`], or the node's
//! writer under Maelstrom's delivery).

mod endpoints;
mod journal;
mod latency;
mod stats;
pub mod writer;

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use rand::rngs::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

pub use endpoints::{Class, Endpoint, Endpoints};
pub use journal::{Journal, JournalEvent, JournalMessage, read_messages};
pub use latency::{Latency, LatencyDistribution};
pub use stats::{Counts, DropReason, NetStats};
pub use writer::{NodeWriter, Step};

use crate::nemesis::Grudge;

/// A message as a node wrote it: the envelope parsed, the body kept as raw JSON text, all
/// borrowed from the line.
#[derive(Debug, Deserialize)]
pub struct Envelope<'a> {
    /// The sender.
    #[serde(borrow)]
    pub src: std::borrow::Cow<'a, str>,
    /// The receiver.
    #[serde(borrow)]
    pub dest: std::borrow::Cow<'a, str>,
    /// The body, unparsed.
    #[serde(borrow)]
    pub body: &'a RawValue,
}

impl<'a> Envelope<'a> {
    /// Parses one output line; the body must be a JSON object.
    pub fn parse(line: &'a str) -> Result<Envelope<'a>, String> {
        let envelope: Envelope = serde_json::from_str(line).map_err(|error| error.to_string())?;
        if !envelope.body.get().trim_start().starts_with('{') {
            return Err("`body` must be a JSON object".into());
        }
        Ok(envelope)
    }
}

/// A routed message: its network id, its two ends, and the line a node reads,
/// `{"id","src","dest","body"}`, which holds the names and the body.
#[derive(Debug, Clone)]
pub struct Packet {
    /// The network-wide id, from 0.
    pub id: u64,
    /// The sender.
    pub src: Endpoint,
    /// The receiver.
    pub dest: Endpoint,
    /// Which traffic bucket it counts in.
    pub class: Class,
    line: String,
    /// Where the body starts in `line` (it runs to the closing brace).
    body_at: usize,
}

impl Packet {
    /// The message `id` from `src` (called `src_name`) to `dest` (`dest_name`) carrying `body`.
    pub fn new(
        id: u64,
        (src, src_name): (Endpoint, &str),
        (dest, dest_name): (Endpoint, &str),
        class: Class,
        body: &str,
    ) -> Packet {
        let mut line = String::with_capacity(body.len() + src_name.len() + dest_name.len() + 48);
        line.push_str("{\"id\":");
        line.push_str(itoa::Buffer::new().format(id));
        line.push_str(",\"src\":");
        push_json_string(&mut line, src_name);
        line.push_str(",\"dest\":");
        push_json_string(&mut line, dest_name);
        line.push_str(",\"body\":");
        let body_at = line.len();
        line.push_str(body);
        line.push('}');
        Packet {
            id,
            src,
            dest,
            class,
            line,
            body_at,
        }
    }

    /// The line written to a node's stdin: `{"id","src","dest","body"}`.
    pub fn wire_line(&self) -> &str {
        &self.line
    }

    /// The line, given up to be written to the node.
    pub fn into_wire_line(self) -> String {
        self.line
    }

    /// The body as JSON text.
    pub fn body(&self) -> &str {
        &self.line[self.body_at..self.line.len() - 1]
    }
}

/// `text` as a JSON string literal.
pub(crate) fn json_string(text: &str) -> String {
    let mut literal = String::with_capacity(text.len() + 2);
    push_json_string(&mut literal, text);
    literal
}

/// Appends `text` as a JSON string literal.
fn push_json_string(line: &mut String, text: &str) {
    // Ids are nearly always plain; only those that need escapes go through the serialiser.
    if text
        .bytes()
        .all(|byte| byte >= 0x20 && byte != b'"' && byte != b'\\')
    {
        line.push('"');
        line.push_str(text);
        line.push('"');
    } else {
        line.push_str(&serde_json::to_string(text).expect("strings always serialise"));
    }
}

/// The id prefix of the harness's convergence probes: clients to the nodes, but their traffic
/// is counted apart so that Maelstrom's figures stay Maelstrom's.
pub const PROBE_PREFIX: &str = "c-probe-";

/// Maelstrom's rule: an id starting with `c` is a client; anything else is a server.
pub fn is_client(id: &str) -> bool {
    id.starts_with('c')
}

/// How messages reach nodes (`--delivery`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    /// Maelstrom's: one writer per node takes the earliest-due message, checks partitions as
    /// it takes it, sleeps until it is due (whole milliseconds) and writes it, then takes the
    /// next ([`writer`]); and the generator hands operations to workers round-robin, as
    /// Jepsen's does. The default.
    #[default]
    Maelstrom,
    /// Every message at its own deadline, partitions checked then, so no message waits behind
    /// another; operations go to a random free worker. Figures measured this way are a
    /// protocol's own, free of Maelstrom's head-of-line waits, but not comparable with results
    /// published under Maelstrom.
    Ideal,
}

impl FromStr for Delivery {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "maelstrom" => Ok(Delivery::Maelstrom),
            "ideal" => Ok(Delivery::Ideal),
            other => Err(format!(
                "unknown delivery `{other}`; choose maelstrom or ideal"
            )),
        }
    }
}

impl fmt::Display for Delivery {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Delivery::Maelstrom => "maelstrom",
            Delivery::Ideal => "ideal",
        })
    }
}

/// What happens to a message at its deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// Hand it to this node.
    Node(usize),
    /// Hand it to the client it is addressed to.
    Client,
    /// Hand it to this service (its place in [`crate::service::NAMES`]); services are never
    /// partitioned, as in Maelstrom, whose grudges cover the nodes only.
    Service(usize),
    /// Drop it.
    Drop(DropReason),
    /// Its destination (this node) is paused: keep it until the node is resumed.
    Held(usize),
}

/// The network between the nodes and the clients: who is who, latency, the current partition,
/// and the messages held for paused nodes.
pub struct Network {
    /// Everyone a message can be from or to.
    pub endpoints: Endpoints,
    latency: Latency,
    partition: Option<Grudge>,
    paused: Vec<bool>,
    held: Vec<Vec<Packet>>,
    writers: Vec<NodeWriter>,
    delivery: Delivery,
    next_packet_id: u64,
    /// The traffic figures.
    pub stats: NetStats,
    /// Maelstrom's services, answered by the harness.
    pub services: crate::service::Services,
    /// Per node: whether it has sent a service anything.
    service_callers: Vec<bool>,
}

impl Network {
    /// A network between `nodes` (and any number of clients) with `latency` between servers,
    /// delivering to nodes by the `delivery` rule.
    pub fn new(nodes: &[String], latency: Latency, delivery: Delivery) -> Self {
        Self {
            endpoints: Endpoints::new(nodes),
            latency,
            partition: None,
            paused: vec![false; nodes.len()],
            held: vec![Vec::new(); nodes.len()],
            writers: nodes.iter().map(|_| NodeWriter::default()).collect(),
            delivery,
            next_packet_id: 0,
            stats: NetStats::new(nodes.len()),
            services: crate::service::Services::default(),
            service_callers: vec![false; nodes.len()],
        }
    }

    /// Notes that `node` sent a service a message.
    pub fn note_service_caller(&mut self, node: usize) {
        self.service_callers[node] = true;
    }

    /// Whether `node` has sent a service anything.
    pub fn calls_services(&self, node: usize) -> bool {
        self.service_callers[node]
    }

    /// The index of the node called `id`, if it is one.
    pub fn node_index(&self, id: &str) -> Option<usize> {
        self.endpoints
            .find(id)
            .and_then(|endpoint| self.endpoints.node_index(endpoint))
    }

    /// A message put on the network: a fresh id, and how long it will take. `dest_name`, if
    /// given, is the destination as the sender named it (it differs from the endpoint's name
    /// only for a client the harness did not open).
    pub fn send(
        &mut self,
        src: Endpoint,
        dest: Endpoint,
        dest_name: Option<&str>,
        body: &str,
        rng: &mut ChaCha8Rng,
    ) -> (Packet, Duration) {
        let endpoints = &self.endpoints;
        let class = endpoints.class(src, dest);
        let dest_name = dest_name.unwrap_or_else(|| endpoints.name(dest));
        let packet = Packet::new(
            self.next_packet_id,
            (src, endpoints.name(src)),
            (dest, dest_name),
            class,
            body,
        );
        self.next_packet_id += 1;
        let delay = if class == Class::Server {
            self.latency.sample(rng)
        } else {
            Duration::ZERO
        };
        (packet, delay)
    }

    /// What happens to `packet` now that it is due.
    pub fn arrive(&self, packet: &Packet) -> Arrival {
        let Some(dest) = self.endpoints.node_index(packet.dest) else {
            return match self.endpoints.service_index(packet.dest) {
                Some(service) => Arrival::Service(service),
                None => Arrival::Client,
            };
        };
        if cut_off(&self.endpoints, self.partition.as_ref(), packet, dest) {
            Arrival::Drop(DropReason::Partition)
        } else if self.paused[dest] {
            Arrival::Held(dest)
        } else {
            Arrival::Node(dest)
        }
    }

    /// Keeps a message for a paused node until it is resumed.
    pub fn hold(&mut self, node: usize, packet: Packet) {
        self.held[node].push(packet);
    }

    /// Cuts the network as `grudge` says, or heals it with `None`.
    pub fn set_partition(&mut self, grudge: Option<Grudge>) {
        self.partition = grudge;
    }

    /// Holds what arrives for `node` from now on (its writer stops, under Maelstrom's rule).
    pub fn pause(&mut self, node: usize) {
        self.paused[node] = true;
        self.writers[node].set_paused(true);
    }

    /// Stops holding for `node` and hands back what was held, in arrival order, to be delivered
    /// now (a partition in force by then still cuts them). Under Maelstrom's rule nothing is
    /// handed back: the node's writer simply goes on.
    pub fn resume(&mut self, node: usize) -> Vec<Packet> {
        self.paused[node] = false;
        self.writers[node].set_paused(false);
        std::mem::take(&mut self.held[node])
    }

    /// Every message still held or queued (for the end of a run).
    pub fn take_all_held(&mut self) -> Vec<Packet> {
        let mut packets: Vec<Packet> = self.held.iter_mut().flat_map(std::mem::take).collect();
        for writer in &mut self.writers {
            packets.extend(writer.drain());
        }
        packets
    }

    /// True when `packet` goes through its node's writer (Maelstrom's rule, to a node) rather
    /// than being delivered at its own deadline.
    pub fn uses_writer(&self, packet: &Packet) -> bool {
        self.delivery == Delivery::Maelstrom && self.endpoints.node_index(packet.dest).is_some()
    }

    /// Queues a message for node `node`'s writer.
    pub fn enqueue(&mut self, node: usize, deadline: Duration, packet: Packet) {
        let sequence = packet.id;
        self.writers[node].enqueue(deadline, sequence, packet);
    }

    /// What node `node`'s writer does at `now` (see [`writer`]).
    pub fn writer_step(&mut self, node: usize, now: Duration) -> Step {
        let endpoints = &self.endpoints;
        let partition = self.partition.as_ref();
        self.writers[node].step(now, |packet| cut_off(endpoints, partition, packet, node))
    }
}

/// Whether `partition` cuts `packet` off from node `dest`: the one place the cut is decided,
/// at delivery, whichever way the message is delivered (at its own deadline, or by its node's
/// writer). Only messages between nodes are cut; clients and services always get through.
fn cut_off(
    endpoints: &Endpoints,
    partition: Option<&Grudge>,
    packet: &Packet,
    dest: usize,
) -> bool {
    endpoints
        .node_index(packet.src)
        .zip(partition)
        .is_some_and(|(src, grudge)| grudge.cut[src][dest])
}

/// A packet `{"type":"x"}` with id 7, for tests: between nodes `n0`…`n9`, or a node and a
/// client (any name starting with `c`, opened as a client of its own).
#[cfg(test)]
pub(crate) fn test_packet(src: &str, dest: &str) -> Packet {
    let mut endpoints = Endpoints::new(&crate::topology::node_names(10));
    let mut find = |name: &str| match endpoints.find(name) {
        Some(endpoint) if endpoint != endpoints.unknown_client() => endpoint,
        _ => endpoints.open_client(name),
    };
    let (from, to) = (find(src), find(dest));
    let class = endpoints.class(from, to);
    Packet::new(7, (from, src), (to, dest), class, r#"{"type":"x"}"#)
}

#[cfg(test)]
mod tests {
    use super::test_packet as packet;
    use super::*;
    use crate::nemesis::GrudgeKind;

    #[test]
    fn ideal_delivery_decides_each_message_at_its_own_deadline() {
        // The writer's vectors (net::writer tests) under the ideal rule instead. A read due at
        // 10 is not held behind gossip due at 100: each is delivered at its own deadline. And
        // the partition (50..120 cutting n0 off) is checked at each deadline: gossip from n0
        // due at 100 is dropped; gossip from n0 sent at 60 but due at 160 arrives after the heal.
        let nodes = crate::topology::node_names(3);
        let mut net = Network::new(&nodes, Latency::ZERO, Delivery::Ideal);
        let read = test_packet("c3", "n1");
        let gossip = test_packet("n0", "n1");
        assert!(!net.uses_writer(&gossip));
        assert_eq!(
            net.arrive(&read),
            Arrival::Node(1),
            "at 10: delivered at once"
        );
        let mut rng = <ChaCha8Rng as rand::SeedableRng>::seed_from_u64(1);
        let isolate_n0 = loop {
            let grudge = Grudge::of_kind(GrudgeKind::One, &nodes, &mut rng);
            if grudge.cut[0][1] {
                break grudge;
            }
        };
        net.set_partition(Some(isolate_n0));
        assert_eq!(
            net.arrive(&gossip),
            Arrival::Drop(DropReason::Partition),
            "at 100, inside the partition: dropped"
        );
        net.set_partition(None);
        assert_eq!(
            net.arrive(&gossip),
            Arrival::Node(1),
            "at 160, healed: delivered"
        );
        let maelstrom = Network::new(&nodes, Latency::ZERO, Delivery::Maelstrom);
        assert!(maelstrom.uses_writer(&gossip) && !maelstrom.uses_writer(&test_packet("n1", "c3")));
    }

    #[test]
    fn the_wire_line_carries_the_network_id() {
        let packet = packet("n1", "c\"2");
        let line = packet.wire_line();
        assert_eq!(
            line,
            r#"{"id":7,"src":"n1","dest":"c\"2","body":{"type":"x"}}"#
        );
        let parsed: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(parsed["dest"], "c\"2");
        assert_eq!(packet.body(), r#"{"type":"x"}"#);
    }

    #[test]
    fn envelopes_need_src_dest_and_an_object_body() {
        assert!(Envelope::parse(r#"{"src":"n1","dest":"n2","body":{"type":"a"}}"#).is_ok());
        assert!(Envelope::parse(r#"{"src":"n1","dest":"n2","body":3}"#).is_err());
        assert!(Envelope::parse(r#"{"src":"n1","body":{}}"#).is_err());
        assert!(Envelope::parse("hello").is_err());
    }
}
