//! [`ProcessCluster`]: real node processes over real pipes, in real time.
//!
//! A node is judged crashed by its own exit (polled), not by its stdout closing: a node that
//! forked a child holding its stdout and then died is still caught. Each node leads its own
//! process group and carries the run's tag ([`crate::procs`]), so killing, pausing and stopping
//! reach everything it started, and whatever escaped is killed by the tag when the cluster
//! shuts down or is dropped.
//!
//! The harness's ends of every node's stdin and stdout are non-blocking and served by one
//! `poll(2)` loop on the harness's own thread ([`Cluster::wait`]): lines for a node queue up
//! (bounded, so a node that stops reading cannot block the harness or fill memory) and go out
//! many to a write; stdout is read only when the harness looks, one buffer-full per node per
//! look, so a node flooding stdout is held back by its pipe rather than filling memory, and
//! cannot starve the others. No thread sits between a pipe and the harness, so a message costs
//! no thread wake-up. One thread per node copies its stderr to `node-logs/<id>.log` while
//! keeping the last lines for crash reports.

use std::io::{ErrorKind, IoSlice, Read, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use nix::poll::{PollFd, PollFlags, ppoll};
use nix::sys::time::TimeSpec;

mod node;

use super::{Cluster, DeliveryError, NodeEvent, NodeExit};
use crate::procs;
use node::{ProcessNode, exit_of};
pub use node::{STDERR_TAIL_BYTES, StderrCopy};

/// The longest stdout line accepted from a node.
pub const MAX_LINE_BYTES: usize = 4 << 20;

/// How many lines may wait for a node's stdin before deliveries to it are dropped.
const STDIN_QUEUE: usize = 100_000;

/// The most bytes read from one node's stdout per look.
const READ_CHUNK: usize = 64 * 1024;

/// The most lines handed to one write (two slices each: the line and its newline).
const LINES_PER_WRITE: usize = 512;

/// How many stderr lines a cluster keeps for crash reports.
const STDERR_TAIL: usize = 32;

/// How long a node that is gone gets for the last of its stderr to be read.
const STDERR_LINGER: Duration = Duration::from_millis(100);

/// How long nodes get to exit after their stdin closes before they are killed.
const GRACE: Duration = Duration::from_millis(500);

/// How often live nodes are checked for having exited.
const EXIT_POLL: Duration = Duration::from_millis(20);

/// What `poll` found a node's pipes ready for.
#[derive(Clone, Copy)]
enum Ready {
    Read(usize),
    Write(usize),
}

/// What one read from a node's stdout brought.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Got {
    /// Bytes (and maybe lines).
    Lines,
    /// Nothing was waiting.
    Nothing,
    /// Its stdout closed (or it has none any more).
    Ended,
}

/// Real node processes over real pipes, in real time.
pub struct ProcessCluster {
    nodes: Vec<ProcessNode>,
    tag: String,
    last_exit_poll: Instant,
    bin: PathBuf,
    args: Vec<String>,
    ids: Vec<String>,
    seed: u64,
    stderr: StderrCopy,
    started: Instant,
    /// Scratch for reads.
    buffer: Vec<u8>,
}

impl ProcessCluster {
    /// Starts one process per node id: `bin args…`, with `GOSSIP_SEED` set per node, stderr
    /// copied to `<log_dir>/<id>.log` (and to the console when `echo_stderr` is set).
    pub fn start(
        bin: &Path,
        args: &[String],
        node_ids: &[String],
        log_dir: &Path,
        seed: u64,
        echo_stderr: bool,
    ) -> anyhow::Result<ProcessCluster> {
        std::fs::create_dir_all(log_dir)
            .with_context(|| format!("cannot create {}", log_dir.display()))?;
        let stderr = StderrCopy {
            log_dir: Some(log_dir.to_owned()),
            echo: echo_stderr,
            tail_lines: STDERR_TAIL,
        };
        ProcessCluster::start_with((bin, args), node_ids, seed, stderr)
    }

    /// Starts one process per node id, its stderr copied as `stderr` says (a fixture keeps
    /// its whole tail and no log).
    pub fn start_with(
        (bin, args): (&Path, &[String]),
        node_ids: &[String],
        seed: u64,
        stderr: StderrCopy,
    ) -> anyhow::Result<ProcessCluster> {
        let mut cluster = ProcessCluster {
            nodes: Vec::new(),
            tag: procs::new_run_tag(),
            last_exit_poll: Instant::now(),
            bin: bin.to_owned(),
            args: args.to_vec(),
            ids: node_ids.to_vec(),
            seed,
            stderr,
            started: Instant::now(),
            buffer: vec![0; READ_CHUNK],
        };
        for index in 0..node_ids.len() {
            let node = cluster.spawn(index, 0)?;
            cluster.nodes.push(node);
        }
        cluster.started = Instant::now();
        Ok(cluster)
    }

    fn spawn(&self, index: usize, generation: u64) -> anyhow::Result<ProcessNode> {
        let id = &self.ids[index];
        let seed = super::node_seed(self.seed, index, generation);
        ProcessNode::spawn(
            (&self.bin, &self.args),
            (id, &self.tag),
            generation,
            seed,
            &self.stderr,
        )
        .with_context(|| format!("cannot start node {id} ({})", self.bin.display()))
    }

    /// How node `node` ended, now that its stdout closed: its exit if it comes within 200 ms;
    /// otherwise it closed its stdout while running, and it is stopped.
    fn reap_after_eof(&mut self, node: usize) -> NodeExit {
        let child = &mut self.nodes[node].child;
        let deadline = Instant::now() + Duration::from_millis(200);
        loop {
            match child.try_wait() {
                Ok(Some(status)) => return exit_of(status),
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(2)),
                _ => {
                    procs::kill_and_reap(child);
                    return NodeExit::ClosedStdout;
                }
            }
        }
    }

    /// Marks node `node` exited and builds its event; its pipes are closed, so nothing it (or
    /// a child it left behind) writes from now on counts.
    fn exited(&mut self, node: usize, exit: NodeExit) -> NodeEvent {
        let target = &mut self.nodes[node];
        target.exited = true;
        target.close_pipes();
        // Whatever it started goes with it.
        procs::signal_group(&target.child, nix::sys::signal::Signal::SIGKILL);
        let stderr_tail = target.stderr_tail(STDERR_LINGER);
        NodeEvent::Exited {
            node,
            exit,
            stderr_tail,
        }
    }

    /// Nodes that exited since the last look (at most every [`EXIT_POLL`]). What an exited node
    /// wrote before it went and is still in its pipe comes first.
    fn poll_exits(&mut self, events: &mut Vec<NodeEvent>) {
        if self.last_exit_poll.elapsed() < EXIT_POLL {
            return;
        }
        self.last_exit_poll = Instant::now();
        for node in 0..self.nodes.len() {
            if self.nodes[node].exited {
                continue;
            }
            if let Ok(Some(status)) = self.nodes[node].child.try_wait() {
                // A pipe's worth at most: a child it forked may still be writing.
                let mut left = 16;
                while left > 0 && self.read_stdout(node, events) == Got::Lines {
                    left -= 1;
                }
                let event = self.exited(node, exit_of(status));
                events.push(event);
            }
        }
    }

    /// One read from node `node`'s stdout, its complete lines appended to `events`.
    fn read_stdout(&mut self, node: usize, events: &mut Vec<NodeEvent>) -> Got {
        let target = &mut self.nodes[node];
        let Some(stdout) = target.stdout.as_mut() else {
            return Got::Ended;
        };
        let count = loop {
            match stdout.read(&mut self.buffer) {
                Ok(count) => break count,
                Err(error) if error.kind() == ErrorKind::Interrupted => continue,
                Err(error) if error.kind() == ErrorKind::WouldBlock => return Got::Nothing,
                // Nothing more can come from it: as if it had closed.
                Err(_) => break 0,
            }
        };
        if count == 0 {
            target.stdout = None;
            return Got::Ended;
        }
        target.take_lines(node, &self.buffer[..count], events);
        Got::Lines
    }

    /// Writes node `node` as many queued lines as its pipe takes now.
    fn write_stdin(&mut self, node: usize) {
        let target = &mut self.nodes[node];
        while !target.queued.is_empty() {
            let Some(stdin) = target.stdin.as_mut() else {
                target.queued.clear();
                return;
            };
            let mut slices = Vec::with_capacity(2 * LINES_PER_WRITE.min(target.queued.len()));
            for (index, line) in target.queued.iter().take(LINES_PER_WRITE).enumerate() {
                let bytes = line.as_bytes();
                let skip = if index == 0 { target.written } else { 0 };
                if skip < bytes.len() {
                    slices.push(IoSlice::new(&bytes[skip..]));
                    slices.push(IoSlice::new(b"\n"));
                } else {
                    // Only the newline of a partly written first line is left.
                    slices.push(IoSlice::new(b"\n"));
                }
            }
            match stdin.write_vectored(&slices) {
                Ok(count) => target.advance(count),
                Err(error) if error.kind() == ErrorKind::Interrupted => {}
                Err(error) if error.kind() == ErrorKind::WouldBlock => {
                    target.stdin_full = true;
                    return;
                }
                // It closed its stdin (or exited): nothing more reaches it.
                Err(_) => {
                    target.stdin = None;
                    target.queued.clear();
                    target.written = 0;
                    return;
                }
            }
        }
    }

    /// Writes every node with queued lines and room in its pipe.
    fn write_all_queued(&mut self) {
        for node in 0..self.nodes.len() {
            let target = &self.nodes[node];
            if !target.queued.is_empty() && !target.stdin_full {
                self.write_stdin(node);
            }
        }
    }

    /// Ends node `node`'s input: its stdin closes once the lines queued for it are written,
    /// and what it writes is still read until it exits (a fixture's end of input).
    pub fn end_input(&mut self, node: usize) {
        self.nodes[node].end_input();
    }

    /// Node `node`'s last stderr lines, after up to [`STDERR_LINGER`] for the rest of them to
    /// come when it is gone.
    pub fn stderr_tail(&mut self, node: usize) -> Vec<String> {
        self.nodes[node].stderr_tail(STDERR_LINGER)
    }

    /// Waits at most `timeout` for a pipe to be ready: stdouts to read, and the stdins of
    /// nodes with lines waiting for room. Appends what it found to `ready`.
    fn poll_pipes(&self, timeout: Duration, ready: &mut Vec<Ready>) {
        let mut fds = Vec::with_capacity(self.nodes.len() * 2);
        let mut owners = Vec::with_capacity(self.nodes.len() * 2);
        for (node, target) in self.nodes.iter().enumerate() {
            if let Some(stdout) = &target.stdout {
                fds.push(PollFd::new(stdout.as_fd(), PollFlags::POLLIN));
                owners.push(Ready::Read(node));
            }
            if let Some(stdin) = &target.stdin
                && target.stdin_full
            {
                fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLOUT));
                owners.push(Ready::Write(node));
            }
        }
        if fds.is_empty() {
            thread::sleep(timeout);
            return;
        }
        let timeout = TimeSpec::from_duration(timeout);
        // An interrupted wait (a signal) is a short one: the caller looks again.
        if ppoll(&mut fds, Some(timeout), None).is_err() {
            return;
        }
        for (fd, owner) in fds.iter().zip(owners) {
            if fd.revents().is_some_and(|flags| !flags.is_empty()) {
                ready.push(owner);
            }
        }
    }
}

impl Cluster for ProcessCluster {
    fn now(&self) -> Duration {
        self.started.elapsed()
    }

    /// Queues the line; it is written at the next [`Cluster::wait`].
    fn deliver(&mut self, node: usize, line: String) -> Result<(), DeliveryError> {
        let target = &mut self.nodes[node];
        if target.exited || target.stdin.is_none() {
            return Err(DeliveryError::Down);
        }
        if target.queued.len() >= STDIN_QUEUE {
            return Err(DeliveryError::NotReading);
        }
        target.queued.push_back(line);
        Ok(())
    }

    fn wait(&mut self, deadline: Duration, events: &mut Vec<NodeEvent>) {
        let before = events.len();
        self.poll_exits(events);
        if events.len() > before {
            return;
        }
        // Wait no longer than the next look for exits.
        let deadline = deadline.min(self.now() + EXIT_POLL);
        let mut ready = Vec::new();
        loop {
            self.write_all_queued();
            let timeout = deadline.saturating_sub(self.now());
            ready.clear();
            self.poll_pipes(timeout, &mut ready);
            for &found in &ready {
                match found {
                    Ready::Read(node) => {
                        if self.read_stdout(node, events) == Got::Ended && !self.nodes[node].exited
                        {
                            let exit = self.reap_after_eof(node);
                            let event = self.exited(node, exit);
                            events.push(event);
                        }
                    }
                    Ready::Write(node) => {
                        self.nodes[node].stdin_full = false;
                        self.write_stdin(node);
                    }
                }
            }
            if events.len() > before || self.now() >= deadline {
                break;
            }
        }
        if events.len() == before {
            self.poll_exits(events);
        }
    }

    fn pause(&mut self, node: usize) {
        procs::signal_group(&self.nodes[node].child, nix::sys::signal::Signal::SIGSTOP);
    }

    fn resume(&mut self, node: usize) {
        procs::signal_group(&self.nodes[node].child, nix::sys::signal::Signal::SIGCONT);
    }

    fn kill(&mut self, node: usize) {
        let target = &mut self.nodes[node];
        target.close_pipes();
        procs::kill_and_reap(&mut target.child);
        target.exited = true;
    }

    fn restart(&mut self, node: usize) -> anyhow::Result<()> {
        let generation = self.nodes[node].generation + 1;
        let fresh = self.spawn(node, generation)?;
        let mut old = std::mem::replace(&mut self.nodes[node], fresh);
        procs::kill_and_reap(&mut old.child);
        Ok(())
    }

    fn shutdown(&mut self) {
        // What the pipes take now goes out; then stdin closes.
        self.write_all_queued();
        for node in &mut self.nodes {
            node.close_pipes();
        }
        let deadline = Instant::now() + GRACE;
        for node in &mut self.nodes {
            loop {
                match node.child.try_wait() {
                    Ok(Some(_)) => break,
                    Ok(None) if Instant::now() < deadline => {
                        thread::sleep(Duration::from_millis(5))
                    }
                    _ => {
                        procs::kill_and_reap(&mut node.child);
                        break;
                    }
                }
            }
            // A node that exited on its own may have left children in its group.
            procs::signal_group(&node.child, nix::sys::signal::Signal::SIGKILL);
            node.exited = true;
        }
        procs::kill_tagged(&self.tag);
    }
}

impl Drop for ProcessCluster {
    /// Whatever happened (an error, a panic), no node outlives the harness or stays a zombie.
    fn drop(&mut self) {
        for node in &mut self.nodes {
            procs::kill_and_reap(&mut node.child);
        }
        procs::kill_tagged(&self.tag);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cluster of one node that runs `script` under `sh`.
    fn shell_node(script: &str) -> (ProcessCluster, tempfile::TempDir) {
        let logs = tempfile::tempdir().expect("temporary folder");
        let cluster = ProcessCluster::start(
            Path::new("/bin/sh"),
            &["-c".to_owned(), script.to_owned()],
            &["n0".to_owned()],
            logs.path(),
            1,
            false,
        )
        .expect("sh starts");
        (cluster, logs)
    }

    /// Events until `wanted` of them came or 10 s passed.
    fn events_until(cluster: &mut ProcessCluster, wanted: usize) -> Vec<NodeEvent> {
        let mut events = Vec::new();
        let give_up = cluster.now() + Duration::from_secs(10);
        while events.len() < wanted && cluster.now() < give_up {
            let deadline = cluster.now() + Duration::from_millis(50);
            cluster.wait(deadline, &mut events);
        }
        events
    }

    fn output(line: &str) -> NodeEvent {
        NodeEvent::Output {
            node: 0,
            line: line.to_owned(),
        }
    }

    #[test]
    fn lines_split_across_reads_are_joined_and_a_carriage_return_is_dropped() {
        let (mut cluster, _logs) = shell_node("sleep 5");
        let node = &mut cluster.nodes[0];
        let mut events = Vec::new();
        node.take_lines(0, b"{\"a\":", &mut events);
        assert!(events.is_empty());
        node.take_lines(0, b"1}\r\n{\"b\":2}\n{\"c\"", &mut events);
        assert_eq!(events, [output("{\"a\":1}"), output("{\"b\":2}")]);
        node.take_lines(0, b":3}\n", &mut events);
        assert_eq!(events[2], output("{\"c\":3}"));
        cluster.shutdown();
    }

    #[test]
    fn a_line_over_the_limit_is_reported_once_and_the_next_line_still_arrives() {
        // 5 MiB of `a` without a newline until the end, then an ordinary line.
        let script = "head -c 5242880 /dev/zero | tr '\\0' a; echo; echo next; sleep 5";
        let (mut cluster, _logs) = shell_node(script);
        let events = events_until(&mut cluster, 2);
        assert_eq!(events, [NodeEvent::LineTooLong { node: 0 }, output("next")]);
        assert!(
            cluster.nodes[0].partial.capacity() <= MAX_LINE_BYTES + READ_CHUNK,
            "the long line was not kept"
        );
        cluster.shutdown();
    }

    #[test]
    fn a_node_that_never_reads_gets_its_queue_filled_without_blocking_the_harness() {
        let (mut cluster, _logs) = shell_node("exec sleep 30");
        let started = Instant::now();
        let mut accepted = 0;
        let refused = loop {
            match cluster.deliver(0, "{\"src\":\"c1\",\"dest\":\"n0\",\"body\":{}}".to_owned()) {
                Ok(()) => accepted += 1,
                Err(error) => break error,
            }
            if accepted % 10_000 == 0 {
                // The harness writes what the pipe takes and goes on.
                let mut events = Vec::new();
                cluster.wait(cluster.now(), &mut events);
                assert!(events.is_empty());
            }
        };
        assert_eq!(refused, DeliveryError::NotReading);
        // The pipe took some lines; the queue holds the rest, up to its bound.
        assert!(
            (STDIN_QUEUE..2 * STDIN_QUEUE).contains(&accepted),
            "{accepted}"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        cluster.shutdown();
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "shutdown waited on the queue"
        );
    }

    #[test]
    fn a_node_that_closed_its_stdin_is_down_for_deliveries() {
        let (mut cluster, _logs) = shell_node("exec 0<&-; sleep 5");
        let give_up = Instant::now() + Duration::from_secs(5);
        let result = loop {
            let result = cluster.deliver(0, "{}".to_owned());
            let mut events = Vec::new();
            cluster.wait(cluster.now() + Duration::from_millis(10), &mut events);
            if result.is_err() || Instant::now() > give_up {
                break result;
            }
        };
        assert_eq!(result, Err(DeliveryError::Down));
        cluster.shutdown();
    }
}
