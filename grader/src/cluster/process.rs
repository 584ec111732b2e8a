//! [`ProcessCluster`]: real node processes over real pipes, in real time.
//!
//! A node is judged crashed by its own exit (polled), not by its stdout closing: a node that
//! forked a child holding its stdout and then died is still caught. Each node leads its own
//! process group and carries the run's tag ([`crate::procs`]), so killing, pausing and stopping
//! reach everything it started, and whatever escaped is killed by the tag when the cluster
//! shuts down or is dropped.
//!
//! Each node gets three threads: one writes its stdin from a bounded queue (so a node that
//! stops reading cannot block the harness), one reads its stdout into the shared event channel
//! (bounded too, so a node flooding stdout is slowed down rather than filling memory), and one
//! copies its stderr to `node-logs/<id>.log` while keeping the last lines for crash reports.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use super::{Cluster, DeliveryError, NodeEvent, NodeExit};
use crate::procs;

/// The longest stdout line accepted from a node.
pub const MAX_LINE_BYTES: usize = 4 << 20;

/// How many lines may wait for a node's stdin before deliveries to it are dropped.
const STDIN_QUEUE: usize = 100_000;

/// How many stdout lines may wait for the harness before the nodes' readers block.
const EVENT_QUEUE: usize = 65_536;

/// How many stderr lines are kept for crash reports.
const STDERR_TAIL: usize = 32;

/// How long nodes get to exit after their stdin closes before they are killed.
const GRACE: Duration = Duration::from_millis(500);

/// How often live nodes are checked for having exited.
const EXIT_POLL: Duration = Duration::from_millis(20);

/// What a node's reader thread reports.
enum Raw {
    Line(String),
    TooLong,
    /// Its stdout closed.
    Eof,
}

struct ProcessNode {
    /// Counts restarts, so that events from a killed process are told from its successor's.
    generation: u64,
    child: Child,
    stdin: Option<SyncSender<String>>,
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
    exited: bool,
}

/// Real node processes over real pipes, in real time.
pub struct ProcessCluster {
    nodes: Vec<ProcessNode>,
    events: Receiver<(u64, usize, Raw)>,
    sender: SyncSender<(u64, usize, Raw)>,
    tag: String,
    last_exit_poll: Instant,
    bin: PathBuf,
    args: Vec<String>,
    ids: Vec<String>,
    log_dir: PathBuf,
    seed: u64,
    started: Instant,
}

impl ProcessCluster {
    /// Starts one process per node id: `bin args…`, with `GOSSIP_SEED` set per node, stderr
    /// copied to `<log_dir>/<id>.log`.
    pub fn start(
        bin: &Path,
        args: &[String],
        node_ids: &[String],
        log_dir: &Path,
        seed: u64,
    ) -> anyhow::Result<ProcessCluster> {
        std::fs::create_dir_all(log_dir)
            .with_context(|| format!("cannot create {}", log_dir.display()))?;
        let (sender, events) = mpsc::sync_channel(EVENT_QUEUE);
        let mut cluster = ProcessCluster {
            nodes: Vec::new(),
            events,
            sender,
            tag: procs::new_run_tag(),
            last_exit_poll: Instant::now(),
            bin: bin.to_owned(),
            args: args.to_vec(),
            ids: node_ids.to_vec(),
            log_dir: log_dir.to_owned(),
            seed,
            started: Instant::now(),
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
        let log = self.log_dir.join(format!("{id}.log"));
        spawn_node(
            &self.bin,
            &self.args,
            (index, generation),
            (id, &self.tag),
            &log,
            seed,
            self.sender.clone(),
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

    /// Marks node `node` exited and builds its event.
    fn exited(&mut self, node: usize, exit: NodeExit) -> NodeEvent {
        let target = &mut self.nodes[node];
        target.exited = true;
        target.stdin = None;
        // Whatever it started goes with it.
        procs::signal_group(&target.child, nix::sys::signal::Signal::SIGKILL);
        let stderr_tail = target
            .stderr_tail
            .lock()
            .map(|tail| tail.iter().cloned().collect())
            .unwrap_or_default();
        NodeEvent::Exited {
            node,
            exit,
            stderr_tail,
        }
    }

    /// Nodes that exited since the last look (at most every [`EXIT_POLL`]).
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
                let event = self.exited(node, exit_of(status));
                events.push(event);
            }
        }
    }
}

/// A process's exit status as a [`NodeExit`].
fn exit_of(status: std::process::ExitStatus) -> NodeExit {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => NodeExit::Code(code),
        (None, Some(signal)) => NodeExit::Signal(signal),
        (None, None) => NodeExit::Signal(0),
    }
}

fn spawn_node(
    bin: &Path,
    args: &[String],
    (index, generation): (usize, u64),
    (id, tag): (&str, &str),
    log: &Path,
    seed: u64,
    events: SyncSender<(u64, usize, Raw)>,
) -> anyhow::Result<ProcessNode> {
    let mut command = Command::new(bin);
    command
        .args(args)
        .env("GOSSIP_SEED", seed.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // Its own process group (a Ctrl-C at the terminal reaches the harness, which then stops
    // the nodes itself), tagged with the run.
    procs::configure(&mut command, tag);
    let mut child = command.spawn()?;
    let stdin = child.stdin.take().expect("piped");
    let stdout = child.stdout.take().expect("piped");
    let stderr = child.stderr.take().expect("piped");
    // Appended to, so a restarted node's log follows its predecessor's.
    let log = File::options()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("cannot create {}", log.display()))?;

    let (line_sender, lines) = mpsc::sync_channel::<String>(STDIN_QUEUE);
    thread::Builder::new()
        .name(format!("{id}-stdin"))
        .spawn(move || write_stdin(stdin, &lines))?;
    thread::Builder::new()
        .name(format!("{id}-stdout"))
        .spawn(move || read_stdout(index, generation, stdout, &events))?;
    let stderr_tail = Arc::new(Mutex::new(VecDeque::new()));
    let tail = Arc::clone(&stderr_tail);
    thread::Builder::new()
        .name(format!("{id}-stderr"))
        .spawn(move || copy_stderr(stderr, log, &tail))?;
    Ok(ProcessNode {
        generation,
        child,
        stdin: Some(line_sender),
        stderr_tail,
        exited: false,
    })
}

/// Writes queued lines, flushing whenever the queue runs dry.
fn write_stdin(stdin: ChildStdin, lines: &Receiver<String>) {
    let mut out = BufWriter::new(stdin);
    while let Ok(line) = lines.recv() {
        let mut pending = Some(line);
        while let Some(line) = pending.take() {
            if out
                .write_all(line.as_bytes())
                .and_then(|()| out.write_all(b"\n"))
                .is_err()
            {
                return;
            }
            pending = lines.try_recv().ok();
        }
        if out.flush().is_err() {
            return;
        }
    }
}

/// Reads stdout lines (at most [`MAX_LINE_BYTES`] each) into the event channel.
fn read_stdout(
    node: usize,
    generation: u64,
    stdout: impl Read,
    events: &SyncSender<(u64, usize, Raw)>,
) {
    let mut reader = BufReader::with_capacity(64 * 1024, stdout);
    let mut line = Vec::new();
    let mut too_long = false;
    loop {
        let available = match reader.fill_buf() {
            Ok([]) | Err(_) => break,
            Ok(bytes) => bytes,
        };
        let (chunk, complete) = match available.iter().position(|byte| *byte == b'\n') {
            Some(end) => (&available[..end], true),
            None => (available, false),
        };
        if !too_long {
            if line.len() + chunk.len() > MAX_LINE_BYTES {
                too_long = true;
                line.clear();
            } else {
                line.extend_from_slice(chunk);
            }
        }
        let consumed = chunk.len() + usize::from(complete);
        reader.consume(consumed);
        if complete {
            let event = if too_long {
                Raw::TooLong
            } else {
                let text = String::from_utf8_lossy(&line)
                    .trim_end_matches('\r')
                    .to_owned();
                Raw::Line(text)
            };
            line.clear();
            too_long = false;
            if events.send((generation, node, event)).is_err() {
                return;
            }
        }
    }
    let _ = events.send((generation, node, Raw::Eof));
}

fn copy_stderr(stderr: impl Read, log: File, tail: &Mutex<VecDeque<String>>) {
    let mut log = BufWriter::new(log);
    let mut reader = BufReader::new(stderr);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                let _ = log.write_all(&line);
                let _ = log.flush();
                let text = String::from_utf8_lossy(&line).trim_end().to_owned();
                let mut tail = tail.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                if tail.len() == STDERR_TAIL {
                    tail.pop_front();
                }
                tail.push_back(text);
            }
        }
    }
}

impl Cluster for ProcessCluster {
    fn now(&self) -> Duration {
        self.started.elapsed()
    }

    fn deliver(&mut self, node: usize, line: String) -> Result<(), DeliveryError> {
        let target = &self.nodes[node];
        if target.exited {
            return Err(DeliveryError::Down);
        }
        match target.stdin.as_ref().map(|stdin| stdin.try_send(line)) {
            Some(Ok(())) => Ok(()),
            Some(Err(TrySendError::Full(_))) => Err(DeliveryError::NotReading),
            Some(Err(TrySendError::Disconnected(_))) | None => Err(DeliveryError::Down),
        }
    }

    fn wait(&mut self, deadline: Duration, events: &mut Vec<NodeEvent>) {
        let before = events.len();
        self.poll_exits(events);
        if events.len() > before {
            return;
        }
        // Wait no longer than the next look for exits.
        let deadline = deadline.min(self.now() + EXIT_POLL);
        let first = match deadline.checked_sub(self.now()) {
            Some(timeout) if !timeout.is_zero() => self.events.recv_timeout(timeout).ok(),
            _ => self.events.try_recv().ok(),
        };
        let Some(first) = first else {
            self.poll_exits(events);
            return;
        };
        let mut next = Some(first);
        let mut taken = 0;
        while let Some((generation, node, raw)) = next.take() {
            // Whatever a killed process said after it was replaced no longer counts, nor what
            // comes after a node was seen to exit.
            let current = generation == self.nodes[node].generation;
            if current && !self.nodes[node].exited {
                match raw {
                    Raw::Line(line) => events.push(NodeEvent::Output { node, line }),
                    Raw::TooLong => events.push(NodeEvent::LineTooLong { node }),
                    Raw::Eof => {
                        let exit = self.reap_after_eof(node);
                        let event = self.exited(node, exit);
                        events.push(event);
                    }
                }
            }
            taken += 1;
            // Bounded, so that a flood of output cannot starve the harness's own schedule.
            if taken < 4096 {
                next = self.events.try_recv().ok();
            }
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
        target.stdin = None;
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
        for node in &mut self.nodes {
            node.stdin = None;
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
