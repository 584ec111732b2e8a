//! The grader's integration tests, in one test binary: one link instead of eight, and the tests
//! that wait on real processes and real time (`cluster`, `hostile`, `services`) overlap with
//! each other and with the simulated ones.
//!
//! - `cluster`, `hostile`, `services`, `conventions`, `maelstrom_cli`: real processes over real
//!   pipes, most of them the Python test nodes in `tests/nodes/`;
//! - `sim_counters`, `sim_lin_kv`, `sim_mistakes`, `sim_services`, `sim_txn`, `sim_workloads`:
//!   small nodes of our own on the `common` runtime, in the simulated cluster.

#[path = "../nodes/mod.rs"]
mod nodes;

mod cluster;
mod conventions;
mod hostile;
mod maelstrom_cli;
mod services;
mod sim_counters;
mod sim_lin_kv;
mod sim_mistakes;
mod sim_services;
mod sim_txn;
mod sim_workloads;
