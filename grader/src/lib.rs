//! Gossiper's grader: runs node binaries, in any language, and judges what they write.
//!
//! - [`fixtures`]: protocol fixtures. One node process, a scripted stdin, its stdout compared
//!   as parsed JSON with the recorded insta snapshot.
//! - [`harness`]: the Maelstrom-compatible harness. One event loop drives a [`cluster::Cluster`]
//!   through Maelstrom's phases with a [`workload`] (chosen by name), a [`nemesis`] and a
//!   simulated network ([`net`]); [`checker`] holds the verdicts workloads share and
//!   [`results`] writes the store. [`config`] is the one run configuration: flags, defaults,
//!   validation and the reproduce command.
//! - [`run`] runs it against real processes ([`cluster::ProcessCluster`]), [`sim`] against
//!   `common` nodes in virtual time ([`cluster::SimCluster`]).
//! - [`plan`] and [`grade`]: each stage's cluster runs and thresholds, read from `grading.toml`,
//!   and a stage's grade (fixtures and runs judged, tables and JSON); [`manifest`]: the list of
//!   stages.
//! - [`bench`]: the harness's and the simulation's own speed.
//!
//! ```no_run
//! use std::path::Path;
//! use grader::config::TestConfig;
//!
//! // What `grader test --bin target/release/stage-01-flooding --time-limit 10 --rate 10` does.
//! let flags = ["--time-limit", "10", "--rate", "10"].map(String::from);
//! let config = TestConfig::parse(&flags).map_err(anyhow::Error::msg)?;
//! let bin = Path::new("target/release/stage-01-flooding");
//! let run = grader::run::run_process_test(&config, bin, &[], Path::new("store"), None)?;
//! println!("{}", run.summary);
//! # anyhow::Ok(())
//! ```

pub mod bench;
pub mod check;
pub mod checker;
pub mod cluster;
pub mod config;
pub mod due;
pub mod edn;
pub mod fixtures;
pub mod grade;
pub mod harness;
pub mod history;
pub mod manifest;
pub mod nemesis;
pub mod net;
pub mod node_bin;
pub mod plan;
pub mod procs;
pub mod results;
pub mod run;
pub mod service;
pub mod sim;
pub mod skim;
pub mod topology;
pub mod workload;
