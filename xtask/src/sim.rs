//! `cargo xtask sim`: one of our stages' nodes in the simulated cluster, and the registry of
//! which node type each stage's crate provides. A new stage adds one line to the registry.

use std::path::Path;
use std::process::ExitCode;

use anyhow::bail;
use grader::config::{RunArgs, TestConfig};
use grader::results::{EXIT_BAD_ARGUMENTS, EXIT_INTERNAL};
use grader::run::TestRun;
use grader::sim::simulate_to_store;

/// Declares the simulated stages: their names ([`SIMULATED`]) and the dispatch to their node
/// types ([`simulate_stage`]), from one list.
macro_rules! registry {
    ($($stage:literal => $node:ty,)*) => {
        /// The stages whose nodes run in the simulation, by crate name.
        pub const SIMULATED: &[&str] = &[$($stage),*];

        /// Runs `stage`'s node in the simulated cluster in memory and returns `results.json`.
        pub fn simulate_in_memory(
            stage: &str,
            config: &TestConfig,
            node_args: &[String],
        ) -> anyhow::Result<serde_json::Value> {
            match stage {
                $($stage => Ok(grader::sim::simulate::<$node>(config, node_args)?.results),)*
                other => bail!(
                    "{other} has no node registered for simulation; the stages that do: {}",
                    SIMULATED.join(", ")
                ),
            }
        }

        /// Runs `stage`'s node in the simulated cluster and writes the store.
        pub fn simulate_stage(
            stage: &str,
            config: &TestConfig,
            node_args: &[String],
            store: &Path,
            reproduce: String,
        ) -> anyhow::Result<TestRun> {
            match stage {
                $($stage => simulate_to_store::<$node>(config, node_args, store, reproduce),)*
                other => bail!(
                    "{other} has no node registered for simulation; the stages that do: {}",
                    SIMULATED.join(", ")
                ),
            }
        }
    };
}

// Stage 07's node answers theory questions, not a workload: it is not simulated.
registry! {
    "stage-01-flooding" => stage_01_flooding::Flooding,
    "stage-02-flat-tree" => stage_02_flat_tree::FlatTree,
    "stage-03-random-gossip" => stage_03_random_gossip::RandomGossip,
    "stage-04-batching" => stage_04_batching::Batching,
    "stage-05-partition-healing" => stage_05_partition_healing::PartitionHealing,
    "stage-06-gossip-fanout" => stage_06_gossip_fanout::GossipFanout,
    "stage-08-gossip-timer" => stage_08_gossip_timer::GossipTimer,
    "stage-09-anti-entropy" => stage_09_anti_entropy::AntiEntropy,
    "stage-10-tuning" => stage_10_tuning::Tuning,
    "stage-11-tree-overlay" => stage_11_tree_overlay::TreeOverlay,
    "stage-12-tree-failure" => stage_12_tree_failure::TreeFailure,
    "stage-13-hybrid" => stage_13_hybrid::Hybrid,
    "stage-14-partition-sim" => stage_14_partition_sim::PartitionSim,
    "stage-15-g-set" => stage_15_g_set::GSet,
    "stage-16-two-phase-set" => stage_16_two_phase_set::TwoPhaseSet,
    "stage-17-lww-kv" => stage_17_lww_kv::LwwKv,
    "stage-18-version-vectors" => stage_18_version_vectors::VersionVectors,
    "stage-19-kv-bench" => stage_19_kv_bench::KvBench,
    "glomers-1-echo" => glomers_1_echo::Echo,
    "glomers-2-unique-ids" => glomers_2_unique_ids::UniqueIds,
    "glomers-4-g-counter" => glomers_4_g_counter::SeqCounter,
    "glomers-5a-kafka" => glomers_5a_kafka::SingleLog,
    "glomers-5b-kafka" => glomers_5b_kafka::SharedOffsets,
    "glomers-5c-kafka" => glomers_5c_kafka::OwnedLogs,
    "glomers-6a-txn" => glomers_6a_txn::SingleStore,
    "glomers-6b-txn" => glomers_6b_txn::ReplicatedStore,
    "glomers-6c-txn" => glomers_6c_txn::ReadCommittedStore,
    "guide-4-pn-counter" => guide_4_pn_counter::PnCounter,
    "guide-5-datomic" => guide_5_datomic::Datomic,
    "guide-6-raft" => guide_6_raft::Raft,
}

/// Runs a stage's node in the simulated cluster and prints the summary.
pub fn sim(stage: &str, run: &RunArgs, store: &Path, node_args: &[String]) -> ExitCode {
    let resolved = crate::manifest().and_then(|manifest| Ok(manifest.resolve(stage)?.name.clone()));
    let (stage, config) = match (resolved, TestConfig::from_args(run)) {
        (Ok(stage), Ok(config)) => (stage, config),
        (Err(error), _) => {
            eprintln!("error: {error:#}");
            return ExitCode::from(EXIT_BAD_ARGUMENTS);
        }
        (_, Err(message)) => {
            eprintln!("error: {message}");
            return ExitCode::from(EXIT_BAD_ARGUMENTS);
        }
    };
    let reproduce = config.reproduce_command(&format!("cargo xtask sim {stage}"), node_args);
    match simulate_stage(&stage, &config, node_args, store, reproduce) {
        Ok(run) => {
            print!("{}", run.summary);
            ExitCode::from(run.report.valid.exit_code())
        }
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(EXIT_INTERNAL)
        }
    }
}
