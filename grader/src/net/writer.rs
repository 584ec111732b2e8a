//! Maelstrom's delivery to a node: one writer per node, taking messages one at a time.
//!
//! Maelstrom gives each node a queue ordered by deadline and one thread that writes its stdin.
//! The thread takes the earliest-deadline message off the queue, checks the partitions *at
//! that moment* (a cut message is dropped at once, and the next one taken), sleeps until the
//! message's deadline (the sleep truncated to whole milliseconds) and writes it; only then does
//! it take the next. So a message that comes due while another is being held waits behind it
//! (head-of-line blocking), a partition that starts while a message is held does not stop it,
//! and one that is in force when a message is taken drops it even if it would heal before the
//! message's deadline.
//!
//! [`NodeWriter`] is that thread as a state machine: the harness hands it messages
//! ([`NodeWriter::enqueue`]) and asks it what to do now ([`NodeWriter::step`]).

use std::collections::BinaryHeap;
use std::time::Duration;

use super::Packet;
use crate::due::Due;

/// What the writer does next.
#[derive(Debug)]
pub enum Step {
    /// Nothing to do: the queue is empty, the node is paused, or a message is held until a
    /// wake-up already scheduled.
    Idle,
    /// The taken message is cut by a partition: drop it now.
    Cut(Packet),
    /// Write this message now.
    Write(Packet),
    /// The taken message is held until this time: call [`NodeWriter::step`] again then.
    SleepUntil(Duration),
}

/// One node's queue and writer.
#[derive(Debug, Default)]
pub struct NodeWriter {
    queue: BinaryHeap<Due<Packet>>,
    /// The message taken and being slept on, with its wake-up time.
    holding: Option<(Packet, Duration)>,
    /// While paused the writer neither takes nor writes.
    paused: bool,
}

impl NodeWriter {
    /// Puts a message due at `deadline` on the queue (`sequence` orders ties).
    pub fn enqueue(&mut self, deadline: Duration, sequence: u64, packet: Packet) {
        self.queue.push(Due {
            at: deadline,
            sequence,
            item: packet,
        });
    }

    /// Stops or restarts the writer (the node is paused or resumed).
    pub fn set_paused(&mut self, paused: bool) {
        self.paused = paused;
    }

    /// What to do at `now`; `cut` says whether a partition cuts a message's sender off now.
    pub fn step(&mut self, now: Duration, cut: impl Fn(&Packet) -> bool) -> Step {
        if self.paused {
            return Step::Idle;
        }
        if let Some((_, wake)) = &self.holding {
            if *wake > now {
                return Step::Idle;
            }
            let (packet, _) = self.holding.take().expect("holding");
            return Step::Write(packet);
        }
        let Some(Due {
            at: deadline,
            item: packet,
            ..
        }) = self.queue.pop()
        else {
            return Step::Idle;
        };
        if cut(&packet) {
            return Step::Cut(packet);
        }
        // Thread/sleep takes whole milliseconds: the wait is truncated.
        let wait_ms = deadline.saturating_sub(now).as_millis();
        let wake = now + Duration::from_millis(u64::try_from(wait_ms).unwrap_or(u64::MAX));
        if wake <= now {
            Step::Write(packet)
        } else {
            self.holding = Some((packet, wake));
            Step::SleepUntil(wake)
        }
    }

    /// Everything still queued or held (for the end of a run).
    pub fn drain(&mut self) -> Vec<Packet> {
        let mut packets: Vec<Packet> = self
            .holding
            .take()
            .map(|(packet, _)| packet)
            .into_iter()
            .collect();
        packets.extend(
            std::mem::take(&mut self.queue)
                .into_sorted_vec()
                .into_iter()
                .rev()
                .map(|due| due.item),
        );
        packets
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::test_packet;

    fn ms(value: u64) -> Duration {
        Duration::from_millis(value)
    }

    /// A message from `src`, due at `deadline`, with id `sequence`.
    fn queued(src: &str, deadline: Duration, sequence: u64) -> (Duration, u64, Packet) {
        let mut packet = test_packet(src, "n1");
        packet.id = sequence;
        (deadline, sequence, packet)
    }

    /// Runs the writer as the harness does, from `start`, with messages arriving at the given
    /// times and a partition cutting `n0` off during `cut`; returns (time, what, message id).
    fn replay(
        arrivals: Vec<(Duration, (Duration, u64, Packet))>,
        cut: (Duration, Duration),
    ) -> Vec<(u64, &'static str, u64)> {
        let mut writer = NodeWriter::default();
        let mut events = Vec::new();
        let mut arrivals = std::collections::VecDeque::from(arrivals);
        let mut wake: Option<Duration> = None;
        loop {
            // The next instant anything happens: an arrival or the writer's wake-up.
            let next_arrival = arrivals.front().map(|(at, _)| *at);
            let now = match (next_arrival, wake) {
                (Some(a), Some(w)) => a.min(w),
                (Some(a), None) => a,
                (None, Some(w)) => w,
                (None, None) => break,
            };
            while arrivals.front().is_some_and(|(at, _)| *at == now) {
                let (deadline, sequence, packet) = arrivals.pop_front().unwrap().1;
                writer.enqueue(deadline, sequence, packet);
            }
            if wake == Some(now) {
                wake = None;
            }
            loop {
                let n0 = test_packet("n0", "n1").src;
                let is_cut = |packet: &Packet| packet.src == n0 && now >= cut.0 && now < cut.1;
                match writer.step(now, is_cut) {
                    Step::Idle => break,
                    Step::Cut(packet) => events.push((now.as_millis() as u64, "drop", packet.id)),
                    Step::Write(packet) => {
                        events.push((now.as_millis() as u64, "write", packet.id))
                    }
                    Step::SleepUntil(at) => {
                        wake = Some(at);
                        break;
                    }
                }
            }
        }
        events
    }

    #[test]
    fn a_client_request_waits_behind_a_held_server_message() {
        // A gossip message from n0 (sent at 0, 100 ms latency) is taken at once and held until
        // 100; a client's read (deadline 10, no latency) arrives at 10 and waits behind it.
        let events = replay(
            vec![
                (ms(0), queued("n0", ms(100), 1)),
                (ms(10), queued("c3", ms(10), 2)),
            ],
            (ms(1000), ms(1000)),
        );
        assert_eq!(events, [(100, "write", 1), (100, "write", 2)]);
    }

    #[test]
    fn partitions_are_checked_when_a_message_is_taken_not_when_it_is_due() {
        // Message 1 from n0 is taken at 0, before the partition (50..120): it is delivered at
        // 100 although the link is cut then. Message 2 from n0 (sent at 60, due 160) is taken
        // at 100, inside the partition: dropped at once, though the heal at 120 comes before its
        // deadline. Message 3 from n2 is not cut.
        let events = replay(
            vec![
                (ms(0), queued("n0", ms(100), 1)),
                (ms(60), queued("n0", ms(160), 2)),
                (ms(70), queued("n2", ms(170), 3)),
            ],
            (ms(50), ms(120)),
        );
        assert_eq!(
            events,
            [(100, "write", 1), (100, "drop", 2), (170, "write", 3)]
        );
    }

    #[test]
    fn sleeps_are_whole_milliseconds_and_a_paused_writer_takes_nothing() {
        let mut writer = NodeWriter::default();
        let (deadline, sequence, message) = queued("n2", Duration::from_micros(10_900), 1);
        writer.enqueue(deadline, sequence, message);
        match writer.step(Duration::ZERO, |_| false) {
            Step::SleepUntil(at) => assert_eq!(at, ms(10), "10.9 ms sleeps 10"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(writer.step(ms(10), |_| false), Step::Write(_)));
        let (deadline, sequence, message) = queued("n2", ms(5), 2);
        writer.enqueue(deadline, sequence, message);
        writer.set_paused(true);
        assert!(matches!(writer.step(ms(20), |_| false), Step::Idle));
        writer.set_paused(false);
        assert!(matches!(writer.step(ms(20), |_| false), Step::Write(_)));
        assert!(writer.drain().is_empty());
    }
}
