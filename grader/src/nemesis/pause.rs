//! The pause fault: stop some nodes where they stand, then let them go on. A paused node is
//! slow, not dead: it keeps its state, and what was sent to it arrives when it resumes.
//!
//! In the process cluster the node's whole process group gets SIGSTOP and later SIGCONT; in the
//! simulation its timers wait. In both, the network holds the messages for it and delivers them,
//! in order, when it resumes (a partition in force by then still cuts them).

use rand::rngs::ChaCha8Rng;

/// Picks the nodes to pause among `candidates`, by the same rule as kill: one, a third or a
/// minority of them; returned sorted.
pub fn targets(candidates: &[usize], rng: &mut ChaCha8Rng) -> Vec<usize> {
    super::kill::targets(candidates, rng)
}
