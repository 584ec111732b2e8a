//! The simulated network: latency, partitions, the message journal and traffic counters.
//!
//! Every routed message gets a network-wide `id` (from 0), is journalled as `send`, and is
//! delivered (`recv`) or dropped at its deadline. Partitions are checked at delivery, as
//! Maelstrom does, so a message in flight when a partition starts is dropped and one sent
//! during a partition but due after the heal gets through.

use std::fmt;
use std::io::{self, Write};
use std::str::FromStr;
use std::time::Duration;

use rand::RngExt;
use rand::rngs::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// How one-way latency between servers is drawn (`--latency-dist`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LatencyDistribution {
    /// Exactly the mean.
    Constant,
    /// An integer number of ms, uniform on `[0, 2·mean)`.
    Uniform,
    /// Exponential with the given mean, truncated to whole ms.
    Exponential,
}

impl FromStr for LatencyDistribution {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "constant" => Ok(Self::Constant),
            "uniform" => Ok(Self::Uniform),
            "exponential" => Ok(Self::Exponential),
            other => Err(format!(
                "unknown latency distribution `{other}`; choose constant, uniform or exponential"
            )),
        }
    }
}

impl fmt::Display for LatencyDistribution {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Self::Constant => "constant",
            Self::Uniform => "uniform",
            Self::Exponential => "exponential",
        })
    }
}

/// Latency between servers; messages to or from a client always take no time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Latency {
    /// The mean one-way delay in ms.
    pub mean_ms: f64,
    /// How delays are drawn around the mean.
    pub distribution: LatencyDistribution,
}

impl Latency {
    /// No latency at all.
    pub const ZERO: Latency = Latency {
        mean_ms: 0.0,
        distribution: LatencyDistribution::Constant,
    };

    /// Draws one delay.
    pub fn sample(&self, rng: &mut ChaCha8Rng) -> Duration {
        if self.mean_ms <= 0.0 {
            return Duration::ZERO;
        }
        let ms = match self.distribution {
            LatencyDistribution::Constant => self.mean_ms,
            LatencyDistribution::Uniform => {
                rng.random_range(0..(2.0 * self.mean_ms).ceil().max(1.0) as u64) as f64
            }
            LatencyDistribution::Exponential => {
                let uniform: f64 = rng.random_range(f64::EPSILON..1.0);
                (-self.mean_ms * uniform.ln()).floor()
            }
        };
        Duration::from_secs_f64(ms / 1000.0)
    }
}

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

fn json_string(text: &str) -> String {
    serde_json::to_string(text).expect("strings always serialise")
}

/// The id prefix of the harness's convergence probes: clients to the nodes, but their traffic
/// is counted apart so that Maelstrom's figures stay Maelstrom's.
pub const PROBE_PREFIX: &str = "c-probe-";

/// Maelstrom's rule: an id starting with `c` is a client; anything else is a server.
pub fn is_client(id: &str) -> bool {
    id.starts_with('c')
}

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
    /// should agree with).
    pub servers_sent_by_node: std::collections::BTreeMap<String, u64>,
    /// Deliveries from another server of a value the receiving node already had (values carried
    /// as `message`, or in `messages` or `values` lists); each value counts once per delivery.
    pub duplicate_deliveries: u64,
    /// Messages dropped, by reason.
    pub dropped: std::collections::BTreeMap<String, u64>,
    /// Stdout lines from nodes that were not messages (not JSON, or no src/dest/body).
    pub invalid_lines: u64,
    /// Messages addressed to an id that is neither a node nor a client.
    pub unknown_destinations: u64,
    /// Always valid, as in Maelstrom: the figures are information, not a check.
    pub valid: bool,
}

impl NetStats {
    /// Counts a send.
    pub fn on_send(&mut self, packet: &Packet, bytes: usize) {
        self.count_sender(packet);
        self.for_buckets(packet, |counts| {
            counts.send_count += 1;
            counts.msg_count += 1;
            counts.bytes += bytes as u64;
        });
    }

    /// Counts a delivery.
    pub fn on_recv(&mut self, packet: &Packet) {
        self.for_buckets(packet, |counts| counts.recv_count += 1);
    }

    /// Counts a drop.
    pub fn on_drop(&mut self, reason: DropReason) {
        let name = serde_json::to_value(reason)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        *self.dropped.entry(name).or_default() += 1;
    }

    /// Fills in msgs-per-op: `msg_count / op_count` for all and servers (Maelstrom's formula).
    pub fn finish(&mut self, op_count: usize) {
        self.valid = true;
        if op_count > 0 {
            self.all.msgs_per_op = Some(self.all.msg_count as f64 / op_count as f64);
            self.servers.msgs_per_op = Some(self.servers.msg_count as f64 / op_count as f64);
        }
    }

    fn for_buckets(&mut self, packet: &Packet, count: impl Fn(&mut Counts)) {
        if packet.src.starts_with(PROBE_PREFIX) || packet.dest.starts_with(PROBE_PREFIX) {
            count(&mut self.probes);
        } else if packet.involves_client() {
            count(&mut self.all);
            count(&mut self.clients);
        } else {
            count(&mut self.all);
            count(&mut self.servers);
        }
    }

    /// Counts a server-to-server send against its sender.
    fn count_sender(&mut self, packet: &Packet) {
        if !packet.involves_client() {
            *self
                .servers_sent_by_node
                .entry(packet.src.clone())
                .or_default() += 1;
        }
    }
}

/// The message journal: one JSON line per send, delivery and drop, with times in ns.
pub struct Journal {
    out: Box<dyn Write>,
    error: Option<io::Error>,
}

impl Journal {
    /// A journal written to `out` (a file in the store, or a buffer in tests).
    pub fn new(out: Box<dyn Write>) -> Self {
        Self { out, error: None }
    }

    /// A journal that keeps nothing.
    pub fn discard() -> Self {
        Self::new(Box::new(io::sink()))
    }

    /// Records a send, with the whole body.
    pub fn send(&mut self, at: Duration, packet: &Packet) {
        let line = format!(
            "{{\"t\":{},\"event\":\"send\",\"id\":{},\"src\":{},\"dest\":{},\"body\":{}}}\n",
            at.as_nanos(),
            packet.id,
            json_string(&packet.src),
            json_string(&packet.dest),
            packet.body.get()
        );
        self.write(line.as_bytes());
    }

    /// Records a delivery.
    pub fn recv(&mut self, at: Duration, packet: &Packet) {
        let line = format!(
            "{{\"t\":{},\"event\":\"recv\",\"id\":{}}}\n",
            at.as_nanos(),
            packet.id
        );
        self.write(line.as_bytes());
    }

    /// Records a drop and why.
    pub fn drop(&mut self, at: Duration, packet: &Packet, reason: DropReason) {
        let reason = serde_json::to_string(&reason).unwrap_or_default();
        let line = format!(
            "{{\"t\":{},\"event\":\"drop\",\"id\":{},\"reason\":{reason}}}\n",
            at.as_nanos(),
            packet.id
        );
        self.write(line.as_bytes());
    }

    fn write(&mut self, bytes: &[u8]) {
        if self.error.is_none()
            && let Err(error) = self.out.write_all(bytes)
        {
            self.error = Some(error);
        }
    }

    /// Flushes; reports the first write error, if any.
    pub fn finish(&mut self) -> io::Result<()> {
        if let Some(error) = self.error.take() {
            return Err(error);
        }
        self.out.flush()
    }
}

/// The integer values a message body carries: `message` (a value or a list), and the lists
/// `messages` and `values`. Bodies that mention none of them are not parsed at all.
pub fn carried_values(body: &str) -> Vec<i64> {
    if !body.contains("\"message") && !body.contains("\"values\"") {
        return Vec::new();
    }
    let Ok(serde_json::Value::Object(fields)) = serde_json::from_str::<serde_json::Value>(body)
    else {
        return Vec::new();
    };
    let mut values = Vec::new();
    for key in ["message", "messages", "values"] {
        match fields.get(key) {
            Some(serde_json::Value::Array(items)) => {
                values.extend(items.iter().filter_map(serde_json::Value::as_i64))
            }
            Some(value) => values.extend(value.as_i64()),
            None => {}
        }
    }
    values
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    fn packet(src: &str, dest: &str) -> Packet {
        Packet {
            id: 7,
            src: src.into(),
            dest: dest.into(),
            body: RawValue::from_string(r#"{"type":"x"}"#.into()).unwrap(),
        }
    }

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

    #[test]
    fn latency_distributions_have_the_right_means_and_ranges() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let draws = |latency: Latency, rng: &mut ChaCha8Rng| -> Vec<f64> {
            (0..20_000)
                .map(|_| latency.sample(rng).as_secs_f64() * 1000.0)
                .collect()
        };
        let constant = draws(
            Latency {
                mean_ms: 100.0,
                distribution: LatencyDistribution::Constant,
            },
            &mut rng,
        );
        assert!(constant.iter().all(|ms| (*ms - 100.0).abs() < 1e-9));
        let uniform = draws(
            Latency {
                mean_ms: 100.0,
                distribution: LatencyDistribution::Uniform,
            },
            &mut rng,
        );
        assert!(
            uniform
                .iter()
                .all(|ms| *ms >= 0.0 && *ms < 200.0 && ms.fract() == 0.0)
        );
        let mean = uniform.iter().sum::<f64>() / uniform.len() as f64;
        assert!((mean - 99.5).abs() < 2.0, "uniform mean {mean}");
        let exponential = draws(
            Latency {
                mean_ms: 100.0,
                distribution: LatencyDistribution::Exponential,
            },
            &mut rng,
        );
        let mean = exponential.iter().sum::<f64>() / exponential.len() as f64;
        // Truncating to whole ms lowers the mean by about half a millisecond.
        assert!((mean - 99.5).abs() < 3.0, "exponential mean {mean}");
    }

    #[test]
    fn carried_values_come_from_message_and_value_lists() {
        assert_eq!(carried_values(r#"{"type":"broadcast","message":4}"#), [4]);
        assert_eq!(
            carried_values(r#"{"type":"batch","messages":[1,2,"x"]}"#),
            [1, 2]
        );
        assert_eq!(
            carried_values(r#"{"type":"sync","values":[7],"message":[8]}"#),
            [8, 7]
        );
        assert!(carried_values(r#"{"type":"chat","hops":3}"#).is_empty());
    }

    #[test]
    fn probe_traffic_is_kept_out_of_maelstroms_buckets() {
        let mut stats = NetStats::default();
        stats.on_send(&packet("c-probe-3", "n3"), 10);
        stats.on_send(&packet("c1", "n3"), 10);
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
        let mut stats = NetStats::default();
        stats.on_send(&packet("c1", "n1"), 10);
        stats.on_send(&packet("n1", "n2"), 20);
        stats.on_send(&packet("n2", "n1"), 20);
        stats.on_recv(&packet("n1", "n2"));
        stats.finish(2);
        assert_eq!(
            (
                stats.all.msg_count,
                stats.clients.msg_count,
                stats.servers.msg_count
            ),
            (3, 1, 2)
        );
        assert_eq!(stats.servers.bytes, 40);
        assert_eq!(stats.servers.recv_count, 1);
        assert_eq!(stats.servers.msgs_per_op, Some(1.0));
        assert_eq!(stats.all.msgs_per_op, Some(1.5));
        assert_eq!(stats.clients.msgs_per_op, None);
    }
}
