//! The message journal (`journal.jsonl`): one JSON line per send, delivery and drop, with times
//! in ns. A seeded simulated run writes the same journal byte for byte.

use std::io::{self, Write};
use std::time::Duration;

use super::Packet;
use super::stats::DropReason;

/// The message journal: one JSON line per send, delivery and drop, with times in ns.
pub struct Journal {
    out: Box<dyn Write>,
    error: Option<io::Error>,
    /// False for [`Journal::discard`]: nothing is formatted at all.
    keep: bool,
    /// The line being formatted, reused from line to line.
    line: Vec<u8>,
    /// What is also printed to the console (`--log-net-send`, `--log-net-recv`).
    echo: crate::config::ConsoleLog,
    /// With `--log-net-recv`, each message sent and not yet delivered or dropped, by id.
    in_flight: std::collections::HashMap<u64, String>,
}

impl Journal {
    /// A journal written to `out` (a file in the store, or a buffer in tests).
    pub fn new(out: Box<dyn Write>) -> Self {
        Self {
            out,
            error: None,
            keep: true,
            line: Vec::new(),
            echo: crate::config::ConsoleLog::default(),
            in_flight: std::collections::HashMap::new(),
        }
    }

    /// Also prints sends and deliveries to stderr, as `echo` asks, as `at send {message}`.
    pub fn echo(&mut self, echo: crate::config::ConsoleLog) {
        self.echo = echo;
    }

    /// A journal that keeps nothing, and spends nothing formatting lines (for benchmarks).
    pub fn discard() -> Self {
        Self {
            keep: false,
            ..Self::new(Box::new(io::sink()))
        }
    }

    /// Records a send, with the whole body: the wire line `{"id","src","dest","body"}` with
    /// the time and the event in front.
    pub fn send(&mut self, at: Duration, packet: &Packet) {
        if !self.keep {
            return;
        }
        let wire = packet.wire_line();
        if self.echo.net_send {
            eprintln!("{:>10.3} s  send {wire}", at.as_secs_f64());
        }
        if self.echo.net_recv {
            self.in_flight.insert(packet.id, wire.to_string());
        }
        self.start(at, "send");
        self.line.push(b',');
        self.line.extend_from_slice(&wire.as_bytes()[1..]);
        self.line.push(b'\n');
        self.write_line();
    }

    /// Records the delivery of message `id`.
    pub fn recv(&mut self, at: Duration, id: u64) {
        if !self.keep {
            return;
        }
        if let Some(wire) = self.in_flight.remove(&id) {
            eprintln!("{:>10.3} s  recv {wire}", at.as_secs_f64());
        }
        self.start(at, "recv");
        self.push_id(id);
        self.line.extend_from_slice(b"}\n");
        self.write_line();
    }

    /// Records that message `id` was dropped, and why.
    pub fn drop(&mut self, at: Duration, id: u64, reason: DropReason) {
        if !self.keep {
            return;
        }
        self.in_flight.remove(&id);
        self.start(at, "drop");
        self.push_id(id);
        self.line.extend_from_slice(b",\"reason\":");
        // A unit enum as a JSON string: writing into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut self.line, &reason);
        self.line.extend_from_slice(b"}\n");
        self.write_line();
    }

    /// Starts a line in the reused buffer: `{"t":<ns>,"event":"<event>"`.
    fn start(&mut self, at: Duration, event: &str) {
        self.line.clear();
        self.line.extend_from_slice(b"{\"t\":");
        self.line
            .extend_from_slice(itoa::Buffer::new().format(at.as_nanos()).as_bytes());
        self.line.extend_from_slice(b",\"event\":\"");
        self.line.extend_from_slice(event.as_bytes());
        self.line.push(b'"');
    }

    /// Appends `,"id":<id>`.
    fn push_id(&mut self, id: u64) {
        self.line.extend_from_slice(b",\"id\":");
        self.line
            .extend_from_slice(itoa::Buffer::new().format(id).as_bytes());
    }

    fn write_line(&mut self) {
        if self.error.is_none()
            && let Err(error) = self.out.write_all(&self.line)
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

/// One line of a journal, read back, its body left as JSON text: the one reading of the
/// format, for everything that reads a journal (the report page, the pause check, tests).
#[derive(Debug, serde::Deserialize)]
pub struct JournalEvent {
    /// When, in ns from the start.
    pub t: u64,
    /// `send`, `recv` or `drop`.
    pub event: String,
    /// The message's network id.
    pub id: u64,
    /// The sender (`send` only).
    #[serde(default)]
    pub src: Option<String>,
    /// The destination (`send` only).
    #[serde(default)]
    pub dest: Option<String>,
    /// The body (`send` only).
    #[serde(default)]
    pub body: Option<Box<serde_json::value::RawValue>>,
}

impl JournalEvent {
    /// One journal line, or `None` for a line that is not a journal event.
    pub fn parse(line: &str) -> Option<JournalEvent> {
        serde_json::from_str(line).ok()
    }
}

/// One message as a journal records it, read back: for tests and tools that follow messages.
#[derive(Debug, Clone)]
pub struct JournalMessage {
    /// The harness's message id.
    pub id: u64,
    /// When it was sent, in ns.
    pub sent_ns: u64,
    /// Its sender.
    pub src: String,
    /// Its destination.
    pub dest: String,
    /// Its body.
    pub body: serde_json::Value,
    /// When it was delivered, in ns, if it was.
    pub received_ns: Option<u64>,
}

/// Reads a journal's messages back, in the order they were sent (lines that are not journal
/// events are skipped).
pub fn read_messages(journal: &[u8]) -> Vec<JournalMessage> {
    let mut messages: Vec<JournalMessage> = Vec::new();
    let mut index_of = std::collections::HashMap::new();
    for line in String::from_utf8_lossy(journal).lines() {
        let Some(event) = JournalEvent::parse(line) else {
            continue;
        };
        match event.event.as_str() {
            "send" => {
                index_of.insert(event.id, messages.len());
                messages.push(JournalMessage {
                    id: event.id,
                    sent_ns: event.t,
                    src: event.src.unwrap_or_default(),
                    dest: event.dest.unwrap_or_default(),
                    body: event
                        .body
                        .and_then(|body| serde_json::from_str(body.get()).ok())
                        .unwrap_or_default(),
                    received_ns: None,
                });
            }
            "recv" => {
                if let Some(&index) = index_of.get(&event.id) {
                    messages[index].received_ns = Some(event.t);
                }
            }
            _ => {}
        }
    }
    messages
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::test_packet;

    fn packet(id: u64, src: &str, dest: &str, body: &str) -> Packet {
        let like = test_packet(src, dest);
        Packet::new(id, (like.src, src), (like.dest, dest), like.class, body)
    }

    #[test]
    fn messages_read_back_with_their_delivery_times() {
        let buffer = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        struct Shared(std::rc::Rc<std::cell::RefCell<Vec<u8>>>);
        impl Write for Shared {
            fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
                self.0.borrow_mut().extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut journal = Journal::new(Box::new(Shared(buffer.clone())));
        let first = packet(1, "n0", "n1", r#"{"type":"broadcast","message":3}"#);
        let second = packet(2, "n1", "n0", r#"{"type":"broadcast_ack","message":3}"#);
        journal.send(Duration::from_millis(1), &first);
        journal.send(Duration::from_millis(2), &second);
        journal.recv(Duration::from_millis(5), first.id);
        journal.drop(Duration::from_millis(6), second.id, DropReason::Partition);
        journal.finish().unwrap();
        let messages = read_messages(&buffer.borrow());
        assert_eq!(messages.len(), 2);
        assert_eq!(
            (messages[0].id, messages[0].sent_ns, messages[0].received_ns),
            (1, 1_000_000, Some(5_000_000))
        );
        assert_eq!(
            (messages[1].src.as_str(), messages[1].dest.as_str()),
            ("n1", "n0")
        );
        assert_eq!(messages[1].body["type"], "broadcast_ack");
        assert_eq!(messages[1].received_ns, None);
    }
}
