//! Results: `results.json`, the store ([`store`]), the one-screen summary ([`summary`]) and
//! exit codes.

pub mod report;
pub mod store;
pub mod summary;

use serde::Serialize;

use crate::checker::availability::AvailabilityResult;
use crate::checker::{StatsResult, Validity};
use crate::config::TestConfig;
use crate::harness::{Convergence, CrashReport, RunReport};
use crate::net::NetStats;

pub use store::{link_latest, new_store_dir, write_store};
pub use summary::summary;

/// The exit code for bad arguments.
pub const EXIT_BAD_ARGUMENTS: u8 = 254;
/// The exit code for the harness's own failures.
pub const EXIT_INTERNAL: u8 = 255;

/// The wall-clock facts of a run: the only part of `results.json` that differs between two
/// runs of the same seed in virtual time.
#[derive(Debug, Clone, Serialize)]
pub struct RunFacts {
    /// When the run started, UTC, ISO 8601.
    pub started_at: String,
    /// The store directory.
    pub store: String,
    /// Wall-clock seconds from start to results.
    pub wall_seconds: f64,
}

/// The harness's part of `results.json`; the workload adds its own sections (`workload`, …).
#[derive(Debug, Clone, Serialize)]
struct Results<'a> {
    valid: Validity,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    reasons: &'a [String],
    warnings: &'a [String],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    mistakes: &'a [crate::harness::mistakes::Recognised],
    stats: &'a StatsResult,
    #[serde(skip_serializing_if = "Option::is_none")]
    availability: Option<&'a AvailabilityResult>,
    net: &'a NetStats,
    convergence: &'a Convergence,
    crashed: &'a [CrashReport],
    config: &'a TestConfig,
    reproduce: &'a str,
    duration_seconds: f64,
    run: RunFacts,
}

/// `results.json` as a value: the verdict, the workload's sections, the harness's figures, the
/// settings and the wall-clock facts.
pub fn results_json(
    report: &RunReport,
    config: &TestConfig,
    reproduce: &str,
    run: RunFacts,
) -> serde_json::Value {
    let results = Results {
        valid: report.valid,
        error: report.error.as_deref(),
        reasons: &report.reasons,
        warnings: &report.warnings,
        mistakes: &report.mistakes,
        stats: &report.stats,
        availability: report.availability.as_ref(),
        net: &report.net,
        convergence: &report.convergence,
        crashed: &report.crashed,
        config,
        reproduce,
        duration_seconds: report.duration.as_secs_f64(),
        run,
    };
    let mut value = serde_json::to_value(&results).expect("results serialise to JSON");
    let fields = value.as_object_mut().expect("an object");
    for (key, section) in &report.workload.sections {
        fields.insert(key.clone(), section.clone());
    }
    value
}
