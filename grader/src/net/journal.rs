//! The message journal (`journal.jsonl`): one JSON line per send, delivery and drop, with times
//! in ns. A seeded simulated run writes the same journal byte for byte.

use std::io::{self, Write};
use std::time::Duration;

use super::stats::DropReason;
use super::{Packet, json_string};

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
