//! The process driver: the only code that touches stdin, stdout and stderr.
//!
//! One reader thread turns stdin into batches of lines (every complete line already buffered
//! goes in one batch) and feeds one channel; the handlers run on the calling thread, so nodes
//! need no locks. Timers fire only after the batch in hand is handled. What the node writes
//! while handling a batch (or a round of timers) goes to stdout in one write at its end, or
//! before a handler's panic goes on.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::process::ExitCode;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::Instant;

use clap::{Args, FromArgMatches};

use crate::node::Node;
use crate::runtime::Runtime;

/// The flags every node binary takes, whatever its stage.
#[derive(Debug, Clone, clap::Args)]
pub struct RuntimeFlags {
    /// Seed for the node's one random generator; the same seed and input give the same output.
    /// Without it a random seed is drawn and logged to stderr.
    #[arg(long, env = "GOSSIP_SEED", value_name = "N")]
    pub seed: Option<u64>,
}

/// What the reader thread hands the event loop.
enum Input {
    Lines(Vec<String>),
    End(io::Result<()>),
}

/// Parses the command line (`--seed` plus the node's own flags), then serves stdin/stdout until
/// stdin closes. Use it as the whole of a stage's `main`.
pub fn main<N: Node>(name: &'static str, about: &'static str) -> ExitCode {
    let command = clap::Command::new(name).about(about);
    let command = N::Flags::augment_args(RuntimeFlags::augment_args(command));
    let matches = command.get_matches();
    let parsed = RuntimeFlags::from_arg_matches(&matches)
        .and_then(|runtime| Ok((runtime, N::Flags::from_arg_matches(&matches)?)));
    let (runtime_flags, node_flags) = match parsed {
        Ok(flags) => flags,
        Err(error) => error.exit(),
    };
    let seed = runtime_flags.seed.unwrap_or_else(rand::random);
    let stderr = io::stderr();
    let _ = writeln!(
        stderr.lock(),
        "{name}: seed {seed} (pass --seed {seed} to replay)"
    );
    match serve(N::new(node_flags), seed, io::stdin(), io::stdout(), stderr) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{name}: stopped: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `node` over any input and outputs until the input ends, then returns after flushing.
///
/// This is the process driver with its pipes made parameters, so tests can run it in memory.
pub fn serve<N, R, W, E>(node: N, seed: u64, input: R, mut output: W, mut log: E) -> io::Result<()>
where
    N: Node,
    R: Read + Send + 'static,
    W: Write,
    E: Write,
{
    let started = Instant::now();
    let mut runtime = Runtime::new(node, seed);
    let (sender, receiver) = mpsc::channel();
    let reader = thread::spawn(move || read_batches(input, &sender));

    let mut written = Vec::new();
    let mut finished = None;
    while finished.is_none() {
        let next = match runtime.next_deadline() {
            None => receiver.recv().map_err(|_| RecvTimeoutError::Disconnected),
            Some(deadline) => receiver.recv_timeout(deadline.saturating_sub(started.elapsed())),
        };
        match next {
            Ok(first) => {
                // Handle every batch already waiting before any timer gets a turn.
                let mut pending = Some(first);
                while let Some(input) = pending.take() {
                    match input {
                        Input::Lines(lines) => {
                            for line in lines {
                                let at = started.elapsed();
                                let mut io = (&mut written, &mut output, &mut log);
                                run_handler(&mut runtime, &mut io, |runtime| {
                                    runtime.handle_line(&line, at);
                                });
                            }
                            write(&mut written, &mut output)?;
                        }
                        Input::End(result) => finished = Some(result),
                    }
                    if finished.is_none() {
                        pending = receiver.try_recv().ok();
                    }
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => finished = Some(Ok(())),
        }
        if finished.is_none() {
            let at = started.elapsed();
            let mut io = (&mut written, &mut output, &mut log);
            run_handler(&mut runtime, &mut io, |runtime| {
                runtime.fire_due(at);
            });
            write(&mut written, &mut output)?;
        }
    }
    let _ = reader.join();
    take(&mut runtime, &mut written, &mut log);
    write(&mut written, &mut output)?;
    finished.unwrap_or(Ok(()))
}

/// Runs one handler and gathers what it wrote into the batch's buffer. Should it panic, what
/// the node wrote before the panic (the rest of the batch's answers, and the panicking
/// handler's own) is written out first, so the panic does not take an `init_ok` already
/// produced with it, and then the panic goes on.
fn run_handler<N: Node, W: Write, E: Write>(
    runtime: &mut Runtime<N>,
    (written, output, log): &mut (&mut Vec<u8>, &mut W, &mut E),
    handler: impl FnOnce(&mut Runtime<N>),
) {
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler(runtime)));
    take(runtime, written, log);
    if let Err(panic) = outcome {
        let _ = write(written, output);
        std::panic::resume_unwind(panic);
    }
}

/// Moves the runtime's output lines into `written` (each with its newline) and writes its log
/// lines.
fn take<N: Node>(runtime: &mut Runtime<N>, written: &mut Vec<u8>, log: &mut impl Write) {
    for line in runtime.take_log() {
        // A closed stderr must not stop the node; its log is best effort.
        let _ = writeln!(log, "{line}");
    }
    for line in runtime.take_output() {
        written.extend_from_slice(line.as_bytes());
        written.push(b'\n');
    }
}

/// Writes and flushes the lines gathered in `written`: a batch of input's answers go out in
/// one write, so a message costs the node no system call of its own.
fn write(written: &mut Vec<u8>, output: &mut impl Write) -> io::Result<()> {
    if written.is_empty() {
        return Ok(());
    }
    output.write_all(written)?;
    output.flush()?;
    written.clear();
    Ok(())
}

/// Reads lines (lossily decoded, so bad UTF-8 cannot stop the reader) and sends every complete
/// line already in the buffer as one batch.
fn read_batches(input: impl Read, sender: &mpsc::Sender<Input>) {
    let mut reader = BufReader::new(input);
    loop {
        let mut batch = Vec::new();
        let end = loop {
            let mut bytes = Vec::new();
            match reader.read_until(b'\n', &mut bytes) {
                Ok(0) => break Some(Ok(())),
                Ok(_) => batch.push(String::from_utf8_lossy(&bytes).into_owned()),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => break Some(Err(error)),
            }
            if !reader.buffer().contains(&b'\n') {
                break None;
            }
        };
        if !batch.is_empty() && sender.send(Input::Lines(batch)).is_err() {
            return;
        }
        if let Some(result) = end {
            let _ = sender.send(Input::End(result));
            return;
        }
    }
}
