//! The learner's and instructor's commands end to end, in one test binary (one link, and the
//! tests that wait on real processes overlap):
//!
//! - `grade`: `cargo xtask grade` on reference nodes, a learner's `--bin`, broken binaries;
//! - `walkthrough`: the README's learner walkthrough, line by line;
//! - `equivalence`: the seeded simulations' recorded journals and figures, byte for byte.

#[path = "../../../grader/tests/nodes/mod.rs"]
mod nodes;

mod equivalence;
mod grade;
mod walkthrough;
