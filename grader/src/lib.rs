//! Gossiper's grader: runs node binaries, in any language, and judges what they write.
//!
//! - [`fixtures`]: protocol fixtures. One node process, a scripted stdin, its stdout compared
//!   as parsed JSON with the recorded insta snapshot.
//! - [`harness`]: the Maelstrom-compatible harness. One event loop drives a [`cluster::Cluster`]
//!   through Maelstrom's phases with a workload, a nemesis ([`nemesis`]) and a simulated
//!   network ([`network`]); [`checker`] judges the history and [`results`] writes the store.
//!   [`test_run`] runs it against real processes ([`cluster::ProcessCluster`]), [`sim`]
//!   against `common` nodes in virtual time ([`sim::SimCluster`]).
//! - [`plan`]: each stage's cluster runs and thresholds, read from `grading.toml`.
//! - [`bench`]: the harness's and the simulation's own speed.
//!
//! ```no_run
//! use std::path::Path;
//! use grader::harness::TestConfig;
//!
//! // What `grader test --bin target/release/stage-01-flooding --time-limit 10 --rate 10` does.
//! let config = TestConfig { time_limit: std::time::Duration::from_secs(10), rate: 10.0, ..TestConfig::default() };
//! let bin = Path::new("target/release/stage-01-flooding");
//! let run = grader::test_run::run_process_test(&config, bin, &[], Path::new("store"), None)?;
//! println!("{}", run.summary);
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
