//! Gossiper's grader: runs node binaries, in any language, and judges what they write.
//!
//! Today it grades **protocol fixtures** ([`fixtures`]): one node process, a scripted stdin,
//! its stdout compared as parsed JSON with the recorded insta snapshot.
//!
//! ```no_run
//! use std::path::Path;
//! use grader::fixtures::{grade_fixtures, DEFAULT_TIMEOUT};
//!
//! let outcomes = grade_fixtures(
//!     Path::new("target/release/stage-01-flooding"),
//!     Path::new("fixtures/stage-01-flooding"),
//!     DEFAULT_TIMEOUT,
//! )?;
//! for outcome in outcomes {
//!     println!("{} {}", outcome.name, if outcome.passed { "pass" } else { "FAIL" });
//! }
//! # anyhow::Ok(())
//! ```

pub mod bench;
pub mod checker;
pub mod cli;
pub mod cluster;
pub mod fixtures;
pub mod harness;
pub mod history;
pub mod nemesis;
pub mod network;
pub mod plan;
pub mod results;
pub mod sim;
pub mod test_run;
pub mod topology;
