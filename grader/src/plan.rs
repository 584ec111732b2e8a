//! Grading plans: each stage's cluster runs and their thresholds, declared as data.
//!
//! The plan lives in `grading.toml` at the workspace root, one `[[stage]]` table per stage
//! with its `[[stage.run]]`s. A run lists `grader test` settings (any left out take the
//! harness's defaults, except `time_limit` 10 s, `recovery` 2 s and `seed` 1, chosen for
//! quick, repeatable grading) and the figures it must reach:
//!
//! ```toml
//! [[stage]]
//! name = "stage-01-flooding"
//!
//! [[stage.run]]
//! name = "grid-5"
//! node_count = 5
//! rate = 10
//! expect_valid = true
//! checks = [{ figure = "/net/servers/msgs_per_op", below = 30 }]
//! ```
//!
//! A check names a figure by its JSON pointer into `results.json` and bounds it with one of
//! `below`, `at_most`, `above`, `at_least` or `equals`.

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::harness::{TestConfig, Workload};
use crate::nemesis::parse_faults;
use crate::network::{Latency, LatencyDistribution};
use crate::topology::Topology;

/// The whole plan.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// One entry per stage that has cluster runs.
    #[serde(rename = "stage", default)]
    pub stages: Vec<StagePlan>,
}

/// One stage's runs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StagePlan {
    /// The stage's crate name.
    pub name: String,
    /// Its cluster runs.
    #[serde(rename = "run", default)]
    pub runs: Vec<RunPlan>,
}

/// One cluster run: settings and expectations.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunPlan {
    /// A short name for the table.
    pub name: String,
    /// The workload (default broadcast).
    pub workload: Option<String>,
    /// Nodes (default 5).
    pub node_count: Option<usize>,
    /// Seconds of operations (default 10 here).
    pub time_limit: Option<f64>,
    /// Operations per second (default 5).
    pub rate: Option<f64>,
    /// Worker clients (default one per node).
    pub concurrency: Option<usize>,
    /// Mean latency in ms (default 0).
    pub latency: Option<f64>,
    /// constant, uniform or exponential.
    pub latency_dist: Option<String>,
    /// grid, line, total, tree2, tree3, tree4.
    pub topology: Option<String>,
    /// Faults, comma-separated.
    pub nemesis: Option<String>,
    /// Mean seconds between nemesis actions (default 10).
    pub nemesis_interval: Option<f64>,
    /// Seconds of quiet before the final reads (default 2 here).
    pub recovery: Option<f64>,
    /// The harness seed (default 1 here).
    pub seed: Option<u64>,
    /// Arguments for the node.
    #[serde(default)]
    pub node_args: Vec<String>,
    /// Whether the run must be valid (default true); `"any"` when validity is not the point,
    /// as for a protocol expected to miss nodes, whose checks say what it must reach instead.
    pub expect_valid: Option<ExpectValid>,
    /// Bounds on figures.
    #[serde(default)]
    pub checks: Vec<Check>,
}

/// What a run's verdict must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum ExpectValid {
    /// Exactly valid (`true`) or exactly invalid (`false`).
    Exactly(bool),
    /// Any verdict: the checks decide.
    Any(AnyVerdict),
}

/// The word `"any"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AnyVerdict {
    /// Any verdict.
    Any,
}

impl ExpectValid {
    /// Whether `valid` (from results.json) is what was expected.
    pub fn accepts(self, valid: &Json) -> bool {
        match self {
            ExpectValid::Exactly(expected) => *valid == Json::Bool(expected),
            ExpectValid::Any(_) => true,
        }
    }
}

impl fmt::Display for ExpectValid {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpectValid::Exactly(expected) => write!(formatter, "{expected}"),
            ExpectValid::Any(_) => formatter.write_str("any"),
        }
    }
}

/// A bound on one figure of `results.json`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Check {
    /// A JSON pointer into `results.json`, such as `/net/servers/msgs_per_op`.
    pub figure: String,
    /// The figure must be strictly below this.
    pub below: Option<f64>,
    /// The figure must be at most this.
    pub at_most: Option<f64>,
    /// The figure must be strictly above this.
    pub above: Option<f64>,
    /// The figure must be at least this.
    pub at_least: Option<f64>,
    /// The figure must equal this.
    pub equals: Option<f64>,
}

impl Check {
    fn bounds(&self) -> Vec<(&'static str, f64)> {
        [
            ("<", self.below),
            ("≤", self.at_most),
            (">", self.above),
            ("≥", self.at_least),
            ("=", self.equals),
        ]
        .into_iter()
        .filter_map(|(symbol, bound)| bound.map(|bound| (symbol, bound)))
        .collect()
    }

    /// Judges the check on a run's `results.json`; the figure read, and whether it passed.
    pub fn judge(&self, results: &Json) -> (Option<f64>, bool) {
        let actual = results.pointer(&self.figure).and_then(Json::as_f64);
        let passed = actual.is_some_and(|value| {
            self.bounds().iter().all(|(symbol, bound)| match *symbol {
                "<" => value < *bound,
                "≤" => value <= *bound,
                ">" => value > *bound,
                "≥" => value >= *bound,
                _ => (value - bound).abs() < 1e-9,
            })
        });
        (actual, passed)
    }
}

impl fmt::Display for Check {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bounds: Vec<String> = self
            .bounds()
            .iter()
            .map(|(symbol, bound)| format!("{symbol} {bound}"))
            .collect();
        write!(
            formatter,
            "{} {}",
            short_figure(&self.figure),
            bounds.join(" and ")
        )
    }
}

/// A readable name for a figure's pointer: `/net/servers/msgs_per_op` is `servers msgs-per-op`.
pub fn short_figure(pointer: &str) -> String {
    match pointer {
        "/net/servers/msgs_per_op" => "servers msgs-per-op".into(),
        "/net/all/msgs_per_op" => "all msgs-per-op".into(),
        "/workload/stable_latencies/0.5" => "median latency ms".into(),
        "/workload/stable_latencies/1" => "max latency ms".into(),
        "/workload/lost_count" => "lost".into(),
        "/net/duplicate_deliveries" => "duplicate deliveries".into(),
        "/convergence/after_ms" => "convergence ms".into(),
        "/coverage/fraction" => "coverage".into(),
        other => other.trim_start_matches('/').replace('/', "."),
    }
}

impl Plan {
    /// Reads and checks a plan file.
    pub fn load(path: &Path) -> anyhow::Result<Plan> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the grading plan {}", path.display()))?;
        let plan: Plan = toml::from_str(&text)
            .with_context(|| format!("{} is not a valid grading plan", path.display()))?;
        for stage in &plan.stages {
            for run in &stage.runs {
                run.config()
                    .with_context(|| format!("{}: run `{}`", stage.name, run.name))?;
                for check in &run.checks {
                    if check.bounds().is_empty() {
                        bail!(
                            "{}: run `{}`: the check on {} has no bound (below, at_most, above, at_least or equals)",
                            stage.name,
                            run.name,
                            check.figure
                        );
                    }
                }
            }
        }
        Ok(plan)
    }

    /// The runs of one stage (none if the plan does not mention it).
    pub fn runs_for(&self, stage: &str) -> &[RunPlan] {
        self.stages
            .iter()
            .find(|plan| plan.name == stage)
            .map_or(&[], |plan| &plan.runs)
    }
}

impl RunPlan {
    /// The harness settings for this run.
    pub fn config(&self) -> anyhow::Result<TestConfig> {
        let defaults = TestConfig::default();
        let node_count = self.node_count.unwrap_or(defaults.node_count);
        let parse = |text: &Option<String>, default: &str| {
            text.clone().unwrap_or_else(|| default.to_owned())
        };
        let workload: Workload = parse(&self.workload, "broadcast")
            .parse()
            .map_err(anyhow::Error::msg)?;
        let topology: Topology = parse(&self.topology, "grid")
            .parse()
            .map_err(anyhow::Error::msg)?;
        let distribution: LatencyDistribution = parse(&self.latency_dist, "constant")
            .parse()
            .map_err(anyhow::Error::msg)?;
        let faults = match &self.nemesis {
            Some(text) => parse_faults(text).map_err(anyhow::Error::msg)?,
            None => BTreeSet::new(),
        };
        let seconds = |value: Option<f64>, default: f64| {
            Duration::from_secs_f64(value.unwrap_or(default).max(0.0))
        };
        Ok(TestConfig {
            workload,
            node_count,
            time_limit: seconds(self.time_limit, 10.0),
            rate: self.rate.unwrap_or(defaults.rate),
            concurrency: self.concurrency.unwrap_or(node_count),
            latency: Latency {
                mean_ms: self.latency.unwrap_or(0.0),
                distribution,
            },
            faults,
            nemesis_interval: seconds(self.nemesis_interval, 10.0),
            topology,
            seed: self.seed.unwrap_or(1),
            recovery: seconds(self.recovery, 2.0),
            init_timeout: defaults.init_timeout,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn checks_bound_figures_found_by_pointer() {
        let results = json!({"net": {"servers": {"msgs_per_op": 12.5}}, "workload": {"stable_latencies": {"0.5": 80}}});
        let check = |text: &str| -> Check { toml::from_str(text).unwrap() };
        assert_eq!(
            check(
                r#"figure = "/net/servers/msgs_per_op"
below = 13"#
            )
            .judge(&results),
            (Some(12.5), true)
        );
        assert!(
            !check(
                r#"figure = "/net/servers/msgs_per_op"
below = 12.5"#
            )
            .judge(&results)
            .1
        );
        assert!(
            check(
                r#"figure = "/net/servers/msgs_per_op"
at_most = 12.5"#
            )
            .judge(&results)
            .1
        );
        assert!(
            check(
                r#"figure = "/workload/stable_latencies/0.5"
at_least = 10
below = 100"#
            )
            .judge(&results)
            .1
        );
        let missing = check(
            r#"figure = "/nope"
below = 1"#,
        );
        assert_eq!(missing.judge(&results), (None, false));
        assert_eq!(
            check(
                r#"figure = "/workload/stable_latencies/0.5"
below = 400"#
            )
            .to_string(),
            "median latency ms < 400"
        );
    }

    #[test]
    fn runs_take_grading_defaults_and_reject_bad_settings() {
        let plan: Plan = toml::from_str(
            r#"
[[stage]]
name = "stage-01-flooding"
[[stage.run]]
name = "one"
node_count = 1
"#,
        )
        .unwrap();
        let config = plan.runs_for("stage-01-flooding")[0].config().unwrap();
        assert_eq!(
            (config.node_count, config.concurrency, config.seed),
            (1, 1, 1)
        );
        assert_eq!(config.time_limit, Duration::from_secs(10));
        assert!(plan.runs_for("stage-99").is_empty());
        let bad: RunPlan = toml::from_str("name = \"x\"\ntopology = \"ring\"").unwrap();
        assert!(
            bad.config()
                .unwrap_err()
                .to_string()
                .contains("unknown topology")
        );
        assert!(
            toml::from_str::<RunPlan>("name = \"x\"\nrated = 1").is_err(),
            "unknown keys are refused"
        );
        let any: RunPlan = toml::from_str("name = \"x\"\nexpect_valid = \"any\"").unwrap();
        assert!(any.expect_valid.unwrap().accepts(&serde_json::json!(false)));
        let strict: RunPlan = toml::from_str("name = \"x\"\nexpect_valid = false").unwrap();
        assert!(
            !strict
                .expect_valid
                .unwrap()
                .accepts(&serde_json::json!(true))
        );
        assert!(toml::from_str::<RunPlan>("name = \"x\"\nexpect_valid = \"maybe\"").is_err());
    }

    #[test]
    fn the_workspace_plan_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../grading.toml");
        let plan = Plan::load(&path).unwrap();
        assert!(!plan.runs_for("stage-01-flooding").is_empty());
    }
}
