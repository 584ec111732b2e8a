//! The [`Cluster`] seam: something that takes lines for nodes, yields the lines nodes write,
//! and owns a clock. Two implementations: [`ProcessCluster`] runs real node processes in real
//! time; [`SimCluster`] runs `common` nodes in memory in virtual time.

mod process;
mod sim;

use std::time::Duration;

pub use process::{MAX_LINE_BYTES, ProcessCluster, STDERR_TAIL_BYTES, StderrCopy};
pub use sim::{NodeFactory, SimCluster};

/// Something a node did.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeEvent {
    /// It wrote a line to stdout.
    Output {
        /// The node's index.
        node: usize,
        /// The line, without its newline.
        line: String,
    },
    /// It wrote a line longer than [`MAX_LINE_BYTES`]; the line was dropped.
    LineTooLong {
        /// The node's index.
        node: usize,
    },
    /// It exited, or closed its stdout and was stopped.
    Exited {
        /// The node's index.
        node: usize,
        /// How.
        exit: NodeExit,
        /// Its last stderr lines.
        stderr_tail: Vec<String>,
    },
}

/// How a node's process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeExit {
    /// It exited with this status.
    Code(i32),
    /// A signal ended it (a crash, or a kill from outside the harness).
    Signal(i32),
    /// It closed its stdout while still running; it could no longer talk, so the harness
    /// stopped it.
    ClosedStdout,
}

impl std::fmt::Display for NodeExit {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NodeExit::Code(code) => write!(formatter, "exited with status {code}"),
            NodeExit::Signal(signal) => {
                let name = nix::sys::signal::Signal::try_from(*signal).map_or_else(
                    |_| "an unknown signal".to_owned(),
                    |s| s.as_str().to_owned(),
                );
                write!(formatter, "was killed by signal {signal} ({name})")
            }
            NodeExit::ClosedStdout => formatter
                .write_str("closed its stdout while still running, so the harness stopped it"),
        }
    }
}

/// Why a line could not be handed to a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryError {
    /// The node has exited.
    Down,
    /// The node's stdin queue is full: it is not reading.
    NotReading,
}

/// A cluster of nodes behind one clock.
pub trait Cluster {
    /// The cluster's clock: time since it started.
    fn now(&self) -> Duration;
    /// Hands a line to a node's stdin.
    fn deliver(&mut self, node: usize, line: String) -> Result<(), DeliveryError>;
    /// Waits until `deadline` at most, returning early when nodes produced events, which are
    /// appended to `events` in the order they happened.
    fn wait(&mut self, deadline: Duration, events: &mut Vec<NodeEvent>);
    /// Kills a node at once (the kill nemesis); its state is gone.
    fn kill(&mut self, node: usize);
    /// Starts a killed node afresh; the harness then sends it `init` again.
    fn restart(&mut self, node: usize) -> anyhow::Result<()>;
    /// Stops a node where it stands (its whole process group, or its timers in the simulation)
    /// until [`Cluster::resume`]; the harness holds the messages for it meanwhile.
    fn pause(&mut self, node: usize);
    /// Lets a paused node go on.
    fn resume(&mut self, node: usize);
    /// Stops every node (closing stdin, then killing what is left) and reaps them.
    fn shutdown(&mut self);
}

/// The seed node `index` runs with after `restarts` restarts: the run's seed plus its index, with
/// the restart count in the high bits, so that a restarted node draws afresh. Both clusters use it
/// (the process cluster passes it as `GOSSIP_SEED`).
pub fn node_seed(seed: u64, index: usize, restarts: u64) -> u64 {
    seed.wrapping_add(index as u64).wrapping_add(restarts << 32)
}
