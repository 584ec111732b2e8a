//! Starting one node process: its own process group and run tag, non-blocking pipe ends for
//! the harness, and a thread that copies its stderr to its log and keeps the last lines.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::os::fd::AsFd;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread;

use anyhow::Context as _;
use nix::fcntl::{FcntlArg, OFlag, fcntl};

use super::{NodeExit, ProcessNode, STDERR_TAIL};
use crate::procs;

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

/// Starts node `id` (its `generation`-th process) in its own process group, tagged `tag`, with
/// its pipes' harness ends non-blocking and its stderr copied to `log` and kept as a tail (and
/// printed to the console, `id: line`, when `echo` is set).
pub(super) fn spawn_node(
    bin: &Path,
    args: &[String],
    generation: u64,
    (id, tag, echo): (&str, &str, bool),
    log: &Path,
    seed: u64,
) -> anyhow::Result<ProcessNode> {
    // Its own process group (a Ctrl-C at the terminal reaches the harness, which then stops
    // the nodes itself), tagged with the run.
    let mut child = procs::node_command(bin, args, &seed.to_string(), tag).spawn()?;
    let stdin = child.stdin.take().expect("piped");
    let stdout = child.stdout.take().expect("piped");
    let stderr = child.stderr.take().expect("piped");
    let made_nonblocking = set_nonblocking(&stdin).and_then(|()| set_nonblocking(&stdout));
    if let Err(error) = made_nonblocking {
        procs::kill_and_reap(&mut child);
        return Err(error).context("cannot make the node's pipes non-blocking");
    }
    // Appended to, so a restarted node's log follows its predecessor's.
    let log = match File::options().create(true).append(true).open(log) {
        Ok(log) => log,
        Err(error) => {
            procs::kill_and_reap(&mut child);
            return Err(error).with_context(|| format!("cannot create {}", log.display()));
        }
    };
    let stderr_tail = Arc::new(Mutex::new(VecDeque::new()));
    let tail = Arc::clone(&stderr_tail);
    let echo = echo.then(|| id.to_owned());
    thread::Builder::new()
        .name(format!("{id}-stderr"))
        .spawn(move || copy_stderr(stderr, log, &tail, echo.as_deref()))?;
    Ok(ProcessNode {
        generation,
        child,
        stdin: Some(stdin),
        stdout: Some(stdout),
        queued: VecDeque::new(),
        written: 0,
        stdin_full: false,
        partial: Vec::new(),
        too_long: false,
        stderr_tail,
        exited: false,
    })
}

fn copy_stderr(stderr: impl Read, log: File, tail: &Mutex<VecDeque<String>>, echo: Option<&str>) {
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
                if let Some(id) = echo {
                    eprintln!("{id}: {text}");
                }
                let mut tail = tail.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                if tail.len() == STDERR_TAIL {
                    tail.pop_front();
                }
                tail.push_back(text);
            }
        }
    }
}
