//! One node process as the harness holds it: started in its own process group with the run's
//! tag, the harness's ends of its stdin and stdout non-blocking, lines queued for its stdin,
//! its stdout cut into lines, and a thread that copies its stderr (to its log, when it has
//! one) and keeps the last lines.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use nix::fcntl::{FcntlArg, OFlag, fcntl};

use super::MAX_LINE_BYTES;
use crate::cluster::{NodeEvent, NodeExit};
use crate::procs;

/// The most bytes of a node's stderr kept for reports (its log, when it has one, keeps all).
pub const STDERR_TAIL_BYTES: usize = 64 * 1024;

/// The most bytes of one stderr line kept in the tail (a quarter of it, so a long line leaves
/// room for the lines around it).
const STDERR_LINE_BYTES: usize = STDERR_TAIL_BYTES / 4;

/// What becomes of a node's stderr besides the tail the harness keeps.
#[derive(Debug, Clone)]
pub struct StderrCopy {
    /// The folder its log (`<id>.log`) goes to; none keeps only the tail.
    pub log_dir: Option<PathBuf>,
    /// Each line is also printed to the console as `id: line` (`--log-stderr`).
    pub echo: bool,
    /// How many of its last lines are kept (and at most [`STDERR_TAIL_BYTES`]).
    pub tail_lines: usize,
}

/// A node's last stderr lines, bounded by count and bytes.
#[derive(Debug, Default)]
pub(super) struct StderrTail {
    lines: VecDeque<String>,
    bytes: usize,
    max_lines: usize,
}

impl StderrTail {
    fn push(&mut self, line: String) {
        self.bytes += line.len() + 1;
        self.lines.push_back(line);
        while self.lines.len() > 1
            && (self.lines.len() > self.max_lines || self.bytes > STDERR_TAIL_BYTES)
        {
            let dropped = self.lines.pop_front().expect("more than one line");
            self.bytes -= dropped.len() + 1;
        }
    }
}

pub(super) struct ProcessNode {
    /// Counts restarts, so that a restarted node draws a fresh seed.
    pub generation: u64,
    pub child: Child,
    /// `None` once the node has exited or its stdin was closed (by it or by the harness).
    pub stdin: Option<ChildStdin>,
    /// `None` once it closed or the node exited.
    pub stdout: Option<ChildStdout>,
    /// Lines waiting for its stdin (without their newlines); the first may be partly written.
    pub queued: VecDeque<String>,
    /// Bytes of the first queued line (and then its newline) already written.
    pub written: usize,
    /// Its stdin pipe was full at the last write; written again once `poll` says it has room.
    pub stdin_full: bool,
    /// Its stdin is to be closed once the queued lines are written (end of input).
    pub close_when_written: bool,
    /// Stdout bytes after the last complete line.
    pub partial: Vec<u8>,
    /// The line being read is over [`MAX_LINE_BYTES`] and is being skipped.
    pub too_long: bool,
    stderr_tail: Arc<Mutex<StderrTail>>,
    stderr_copier: Option<thread::JoinHandle<()>>,
    pub exited: bool,
}

/// Makes the harness's end of a pipe non-blocking (the node's end is another file
/// description, untouched).
fn set_nonblocking(fd: impl AsFd) -> io::Result<()> {
    let flags = fcntl(fd.as_fd(), FcntlArg::F_GETFL)?;
    let flags = OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK;
    fcntl(fd.as_fd(), FcntlArg::F_SETFL(flags))?;
    Ok(())
}

/// A process's exit status as a [`NodeExit`].
pub(super) fn exit_of(status: std::process::ExitStatus) -> NodeExit {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => NodeExit::Code(code),
        (None, Some(signal)) => NodeExit::Signal(signal),
        (None, None) => NodeExit::Signal(0),
    }
}

impl ProcessNode {
    /// Starts node `id` (its `generation`-th process) in its own process group, tagged `tag`,
    /// with its pipes' harness ends non-blocking and its stderr copied as `stderr` says.
    pub fn spawn(
        (bin, args): (&Path, &[String]),
        (id, tag): (&str, &str),
        generation: u64,
        seed: u64,
        stderr: &StderrCopy,
    ) -> anyhow::Result<ProcessNode> {
        // Its own process group (a Ctrl-C at the terminal reaches the harness, which then stops
        // the nodes itself), tagged with the run.
        let mut child = procs::node_command(bin, args, &seed.to_string(), tag).spawn()?;
        let stdin = child.stdin.take().expect("piped");
        let stdout = child.stdout.take().expect("piped");
        let stderr_pipe = child.stderr.take().expect("piped");
        let made_nonblocking = set_nonblocking(&stdin).and_then(|()| set_nonblocking(&stdout));
        if let Err(error) = made_nonblocking {
            procs::kill_and_reap(&mut child);
            return Err(error).context("cannot make the node's pipes non-blocking");
        }
        // Appended to, so a restarted node's log follows its predecessor's.
        let log = match &stderr.log_dir {
            None => None,
            Some(dir) => {
                let path = dir.join(format!("{id}.log"));
                match File::options().create(true).append(true).open(&path) {
                    Ok(log) => Some(log),
                    Err(error) => {
                        procs::kill_and_reap(&mut child);
                        return Err(error)
                            .with_context(|| format!("cannot create {}", path.display()));
                    }
                }
            }
        };
        let stderr_tail = Arc::new(Mutex::new(StderrTail {
            max_lines: stderr.tail_lines,
            ..StderrTail::default()
        }));
        let tail = Arc::clone(&stderr_tail);
        let echo = stderr.echo.then(|| id.to_owned());
        let copier = thread::Builder::new()
            .name(format!("{id}-stderr"))
            .spawn(move || copy_stderr(stderr_pipe, log, &tail, echo.as_deref()));
        let copier = match copier {
            Ok(copier) => copier,
            Err(error) => {
                procs::kill_and_reap(&mut child);
                return Err(error).context("cannot start a thread for the node's stderr");
            }
        };
        Ok(ProcessNode {
            generation,
            child,
            stdin: Some(stdin),
            stdout: Some(stdout),
            queued: VecDeque::new(),
            written: 0,
            stdin_full: false,
            close_when_written: false,
            partial: Vec::new(),
            too_long: false,
            stderr_tail,
            stderr_copier: Some(copier),
            exited: false,
        })
    }

    /// Its last stderr lines. Once the node is gone, its stderr ends with it (its group is
    /// killed by then), so up to `wait` is spent letting the copier finish, for the lines a
    /// crashing node wrote last; a descendant that escaped and holds the pipe cannot hold it
    /// up longer.
    pub fn stderr_tail(&mut self, wait: Duration) -> Vec<String> {
        if let Some(copier) = self.stderr_copier.take() {
            let deadline = Instant::now() + wait;
            while !copier.is_finished() && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(1));
            }
            if copier.is_finished() {
                let _ = copier.join();
            } else {
                self.stderr_copier = Some(copier);
            }
        }
        self.stderr_tail
            .lock()
            .map(|tail| tail.lines.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Drops the harness's ends of the node's stdin and stdout, and whatever was queued.
    pub fn close_pipes(&mut self) {
        self.stdin = None;
        self.stdout = None;
        self.queued.clear();
        self.written = 0;
        self.partial.clear();
    }

    /// Closes its stdin now if nothing is queued for it, or once what is queued is written.
    pub fn end_input(&mut self) {
        self.close_when_written = true;
        if self.queued.is_empty() {
            self.stdin = None;
        }
    }

    /// `count` more bytes of the queued lines (each followed by its newline) were written.
    pub fn advance(&mut self, mut count: usize) {
        while count > 0 {
            let Some(line) = self.queued.front() else {
                break;
            };
            let left = line.len() + 1 - self.written;
            if count >= left {
                count -= left;
                self.queued.pop_front();
                self.written = 0;
            } else {
                self.written += count;
                count = 0;
            }
        }
        if self.close_when_written && self.queued.is_empty() {
            self.stdin = None;
        }
    }

    /// Appends the complete lines in `bytes` (after what was left from the last read) to
    /// `events`, keeping the rest for the next read. A line over [`MAX_LINE_BYTES`] is
    /// skipped up to its newline and reported once.
    pub fn take_lines(&mut self, node: usize, mut bytes: &[u8], events: &mut Vec<NodeEvent>) {
        while let Some(end) = bytes.iter().position(|byte| *byte == b'\n') {
            let (piece, rest) = (&bytes[..end], &bytes[end + 1..]);
            bytes = rest;
            if self.too_long || self.partial.len() + piece.len() > MAX_LINE_BYTES {
                self.too_long = false;
                self.partial.clear();
                events.push(NodeEvent::LineTooLong { node });
                continue;
            }
            let line = if self.partial.is_empty() {
                decode(piece)
            } else {
                self.partial.extend_from_slice(piece);
                let line = decode(&self.partial);
                self.partial.clear();
                line
            };
            events.push(NodeEvent::Output { node, line });
        }
        if self.too_long {
            return;
        }
        if self.partial.len() + bytes.len() > MAX_LINE_BYTES {
            self.too_long = true;
            self.partial = Vec::new();
        } else {
            self.partial.extend_from_slice(bytes);
        }
    }
}

/// A stdout line as text: bad UTF-8 replaced (it cannot stop the reading), a trailing `\r`
/// dropped.
fn decode(bytes: &[u8]) -> String {
    let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    String::from_utf8_lossy(bytes).into_owned()
}

/// Copies a node's stderr to its log (all of it) and its tail (line by line, a line cut at
/// [`STDERR_LINE_BYTES`]), and to the console when `echo` names the node.
fn copy_stderr(
    mut stderr: impl Read,
    log: Option<File>,
    tail: &Mutex<StderrTail>,
    echo: Option<&str>,
) {
    let mut log = log.map(BufWriter::new);
    let mut chunk = vec![0u8; 8192];
    let mut line = Vec::new();
    let finish = |line: &mut Vec<u8>| {
        let text = String::from_utf8_lossy(line).trim_end().to_owned();
        line.clear();
        if let Some(id) = echo {
            eprintln!("{id}: {text}");
        }
        tail.lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(text);
    };
    loop {
        let read = match stderr.read(&mut chunk) {
            Ok(0) => break,
            Ok(read) => read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        let bytes = &chunk[..read];
        if let Some(log) = &mut log {
            let _ = log.write_all(bytes);
            let _ = log.flush();
        }
        for piece in bytes.split_inclusive(|byte| *byte == b'\n') {
            let room = STDERR_LINE_BYTES.saturating_sub(line.len());
            line.extend_from_slice(&piece[..piece.len().min(room)]);
            if piece.ends_with(b"\n") {
                finish(&mut line);
            }
        }
    }
    if !line.is_empty() {
        finish(&mut line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stderr_tail_keeps_the_last_lines_within_its_count_and_bytes() {
        let mut tail = StderrTail {
            max_lines: 3,
            ..StderrTail::default()
        };
        for line in ["a", "b", "c", "d"] {
            tail.push(line.to_owned());
        }
        assert_eq!(tail.lines, ["b", "c", "d"]);
        // A line of nearly the whole budget pushes out all before it, and is kept itself.
        tail.push("x".repeat(STDERR_TAIL_BYTES - 1));
        assert_eq!(tail.lines.len(), 1);
        assert_eq!(tail.bytes, STDERR_TAIL_BYTES);
        tail.push("e".to_owned());
        assert_eq!(tail.lines, ["e"]);
    }

    #[test]
    fn stderr_is_copied_line_by_line_with_an_unended_last_line_and_a_long_line_cut() {
        let long = "y".repeat(STDERR_TAIL_BYTES + 10);
        let text = format!("first\n{long}\nlast, unended");
        let tail = Mutex::new(StderrTail {
            max_lines: usize::MAX,
            ..StderrTail::default()
        });
        copy_stderr(text.as_bytes(), None, &tail, None);
        let tail = tail.into_inner().unwrap();
        assert_eq!(tail.lines.len(), 3);
        assert_eq!(tail.lines[0], "first");
        assert_eq!(tail.lines[1], "y".repeat(STDERR_LINE_BYTES));
        assert_eq!(tail.lines[2], "last, unended");
    }
}
