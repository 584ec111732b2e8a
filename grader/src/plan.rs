//! Grading plans: each stage's cluster runs and their thresholds, declared as data.
//!
//! The plan lives in `grading.toml` at the workspace root: a `[defaults]` table of settings
//! every run starts from, then one `[[stage]]` table per stage with its `[[stage.run]]`s. A run
//! lists `grader test` settings by their flag names (`node_count` for `--node-count`); they
//! become those very flags and are parsed and checked exactly as `grader test` checks them, so
//! a bad value is the same error, named with its stage, run and setting. Settings left out take
//! the defaults table's value, then the flag's default. A run also says the figures it must
//! reach:
//!
//! ```toml
//! [defaults]
//! time_limit = 10
//! seed = 1
//!
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
//! `below`, `at_most`, `above`, `at_least` or `equals`, or relative to another run of the same
//! stage: `{ figure = "/workload/stable_latencies/0.5", times = 1.5, of_run = "tree4-plain" }`
//! holds the figure to at most 1.5 times that run's. A run with `bin_stage = "stage-11-…"`
//! runs that stage's reference node instead of the one being graded: a baseline measured in
//! the same grading run.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use anyhow::{Context as _, bail};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::config::{TestConfig, setting_names, settings_to_args};

/// The whole plan.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// Settings every run starts from (grading favours short, seeded runs).
    #[serde(default)]
    pub defaults: BTreeMap<String, toml::Value>,
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
    /// Checks every run of the stage must pass too (each run's list starts with them once the
    /// plan is loaded).
    #[serde(default)]
    pub checks: Vec<Check>,
}

/// One cluster run: settings and expectations.
#[derive(Debug, Clone, Deserialize)]
pub struct RunPlan {
    /// A short name for the table.
    pub name: String,
    /// Arguments for the node.
    #[serde(default)]
    pub node_args: Vec<String>,
    /// Run this stage's reference node instead of the node being graded (a baseline for
    /// relative checks).
    pub bin_stage: Option<String>,
    /// Whether the run must be valid (default true); `"any"` when validity is not the point,
    /// as for a protocol expected to miss nodes, whose checks say what it must reach instead.
    pub expect_valid: Option<ExpectValid>,
    /// Bounds on figures.
    #[serde(default)]
    pub checks: Vec<Check>,
    /// `grader test` settings by flag name (`node_count`, `nemesis`, …).
    #[serde(flatten)]
    pub settings: BTreeMap<String, toml::Value>,
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
    /// With `of_run`: the figure must be at most this many times the same figure of that run.
    pub times: Option<f64>,
    /// The run of the same stage a `times` bound is relative to.
    pub of_run: Option<String>,
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
    /// `baseline` is the `of_run` run's `results.json`, for a relative check.
    pub fn judge(&self, results: &Json, baseline: Option<&Json>) -> (Option<f64>, bool) {
        let actual = results.pointer(&self.figure).and_then(Json::as_f64);
        let relative = match (self.times, &self.of_run) {
            (Some(times), Some(_)) => Some(
                baseline
                    .and_then(|baseline| baseline.pointer(&self.figure))
                    .and_then(Json::as_f64)
                    .map(|figure| times * figure),
            ),
            _ => None,
        };
        let passed = actual.is_some_and(|value| {
            let absolute = self.bounds().iter().all(|(symbol, bound)| match *symbol {
                "<" => value < *bound,
                "≤" => value <= *bound,
                ">" => value > *bound,
                "≥" => value >= *bound,
                _ => (value - bound).abs() < 1e-9,
            });
            let relative = match relative {
                None => true,
                Some(bound) => bound.is_some_and(|bound| value <= bound),
            };
            absolute && relative
        });
        (actual, passed)
    }

    /// True when the check has a bound of either kind.
    fn is_bounded(&self) -> bool {
        !self.bounds().is_empty() || (self.times.is_some() && self.of_run.is_some())
    }
}

impl Check {
    /// True when the check caps a figure that depends on timing (a latency quantile or the
    /// convergence time) from above: such a run must have the machine to itself.
    pub fn caps_timing(&self) -> bool {
        let timing = self.figure.contains("latenc") || self.figure.starts_with("/convergence/");
        timing
            && (self.below.is_some()
                || self.at_most.is_some()
                || self.equals.is_some()
                || self.times.is_some())
    }
}

impl RunPlan {
    /// True when the run's figures are judged by timing (see [`Check::caps_timing`]), so it
    /// is not run beside others.
    pub fn is_timing_sensitive(&self) -> bool {
        self.checks.iter().any(Check::caps_timing)
    }
}

impl fmt::Display for Check {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut bounds: Vec<String> = self
            .bounds()
            .iter()
            .map(|(symbol, bound)| format!("{symbol} {bound}"))
            .collect();
        if let (Some(times), Some(run)) = (self.times, &self.of_run) {
            bounds.push(format!("≤ {times} × run {run}'s"));
        }
        write!(
            formatter,
            "{} {}",
            short_figure(&self.figure),
            bounds.join(" and ")
        )
    }
}

impl Check {
    /// The check in words, for a learner: what the figure measures and the bound it must keep
    /// ("values read that no client sent must be 0").
    pub fn in_words(&self) -> String {
        let mut bounds: Vec<String> = self
            .bounds()
            .iter()
            .map(|(symbol, bound)| {
                let words = match *symbol {
                    "<" => "below",
                    "≤" => "at most",
                    ">" => "above",
                    "≥" => "at least",
                    _ => "exactly",
                };
                format!("{words} {bound}")
            })
            .collect();
        if let (Some(times), Some(run)) = (self.times, &self.of_run) {
            bounds.push(format!("at most {times} times run {run}'s"));
        }
        let bounds = bounds.join(" and ");
        let bounds = bounds.strip_prefix("exactly ").unwrap_or(&bounds);
        format!("{} must be {bounds}", figure_in_words(&self.figure))
    }
}

/// What a figure measures, in words; a pointer without words is shown by its short name.
pub fn figure_in_words(pointer: &str) -> String {
    let words = match pointer {
        "/net/servers/msgs_per_op" => {
            "messages between nodes, and between nodes and services, per client operation"
        }
        "/net/all/msgs_per_op" => "messages per client operation, clients' included",
        "/net/duplicate_deliveries" => "deliveries of a value the node already held",
        "/convergence/after_ms" => {
            "ms from the last heal (or the end of operations) until every node held every value"
        }
        "/coverage/fraction" => "the share of nodes each value reached",
        "/workload/unexpected_count" => "values read that no client ever sent",
        "/workload/lost_count" => "acknowledged values missing from the final reads",
        "/workload/lost_write_count" => "acknowledged writes missing from the final reads",
        "/workload/resurrected_count" => "removed elements that came back",
        "/workload/conflict_count" => "reads that returned concurrent siblings",
        "/workload/disagreeing_reports" => {
            "nodes whose own message count disagrees with the harness's"
        }
        "/workload/stable_latencies/0.5" => {
            "median ms from a value's broadcast until every node held it"
        }
        "/workload/stable_latencies/1" => {
            "longest ms from a value's broadcast until every node held it"
        }
        "/workload/convergence_ms/0.5" => "median ms from a write until every node held it",
        "/workload/convergence_ms/0.99" => {
            "99th-percentile ms from a write until every node held it"
        }
        "/workload/duplicated_count" => "ids handed out to more than one operation",
        "/workload/altered_count" => "echoes answered with another payload",
        "/workload/unanswered_count" => "echoes that got no answer (Maelstrom fails any)",
        "/workload/error_count" => "acknowledged final reads outside the totals the adds allow",
        "/workload/unchecked_final_reads" => {
            "final reads that failed, which Maelstrom's checker never looks at"
        }
        other => return short_figure(other),
    };
    words.to_owned()
}

/// A readable name for a figure's pointer: the harness's own figures and each workload's
/// headline figures have names (`/net/servers/msgs_per_op` is `servers msgs-per-op`); any
/// other pointer is shown with dots.
pub fn short_figure(pointer: &str) -> String {
    let named = crate::grade::HARNESS_FIGURES
        .iter()
        .copied()
        .chain(
            crate::workload::REGISTRY
                .iter()
                .filter_map(|entry| (entry.make)(&Default::default()).ok())
                .flat_map(|workload| workload.headline_figures().to_vec()),
        )
        .find(|figure| figure.pointer == pointer);
    match named {
        Some(figure) => figure.label.to_owned(),
        None => pointer.trim_start_matches('/').replace('/', "."),
    }
}

impl Plan {
    /// Reads and checks a plan file.
    pub fn load(path: &Path) -> anyhow::Result<Plan> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the grading plan {}", path.display()))?;
        let mut plan: Plan = toml::from_str(&text)
            .with_context(|| format!("{} is not a valid grading plan", path.display()))?;
        for stage in &mut plan.stages {
            for run in &mut stage.runs {
                run.checks.splice(0..0, stage.checks.iter().cloned());
            }
        }
        for stage in &plan.stages {
            for run in &stage.runs {
                plan.config(run).with_context(|| {
                    format!(
                        "{}: stage {}, run `{}`",
                        path.display(),
                        stage.name,
                        run.name
                    )
                })?;
                for check in &run.checks {
                    if !check.is_bounded() {
                        bail!(
                            "{}: run `{}`: the check on {} has no bound (below, at_most, above, at_least or equals, or times with of_run)",
                            stage.name,
                            run.name,
                            check.figure
                        );
                    }
                    if let Some(other) = &check.of_run
                        && (check.times.is_none()
                            || !stage.runs.iter().any(|run| &run.name == other))
                    {
                        bail!(
                            "{}: run `{}`: the check on {} is relative to run `{other}`, which needs `times` and a run of that name in the same stage",
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

    /// True when the run at `index` of `stage` must have the machine to itself: its own checks
    /// cap a timing figure, or another run's check holds a timing figure to a multiple of its.
    pub fn is_timing_sensitive(&self, stage: &str, index: usize) -> bool {
        let runs = self.runs_for(stage);
        let Some(run) = runs.get(index) else {
            return false;
        };
        run.is_timing_sensitive()
            || runs.iter().flat_map(|other| &other.checks).any(|check| {
                check.caps_timing() && check.of_run.as_deref() == Some(run.name.as_str())
            })
    }

    /// The runs of one stage (none if the plan does not mention it).
    pub fn runs_for(&self, stage: &str) -> &[RunPlan] {
        self.stages
            .iter()
            .find(|plan| plan.name == stage)
            .map_or(&[], |plan| &plan.runs)
    }
}

impl Plan {
    /// The harness settings for `run`: the plan's defaults, then the run's own settings, parsed
    /// and checked as `grader test` flags. An error names the setting.
    pub fn config(&self, run: &RunPlan) -> anyhow::Result<TestConfig> {
        let mut settings = self.defaults.clone();
        settings.extend(run.settings.clone());
        let words = settings_to_args(&settings).map_err(anyhow::Error::msg)?;
        TestConfig::parse(&words).map_err(|error| {
            // The longest flag first, so that `--nemesis-interval` is not taken for `--nemesis`.
            let mut names = setting_names();
            names.sort_by_key(|name| std::cmp::Reverse(name.len()));
            let culprit = names.into_iter().find(|name| {
                settings.contains_key(name)
                    && error.contains(&format!("--{}", name.replace('_', "-")))
            });
            match culprit {
                Some(name) => anyhow::anyhow!("setting `{name} = {}`: {error}", settings[&name]),
                None => anyhow::anyhow!(error),
            }
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
            .judge(&results, None),
            (Some(12.5), true)
        );
        assert!(
            !check(
                r#"figure = "/net/servers/msgs_per_op"
below = 12.5"#
            )
            .judge(&results, None)
            .1
        );
        assert!(
            check(
                r#"figure = "/net/servers/msgs_per_op"
at_most = 12.5"#
            )
            .judge(&results, None)
            .1
        );
        assert!(
            check(
                r#"figure = "/workload/stable_latencies/0.5"
at_least = 10
below = 100"#
            )
            .judge(&results, None)
            .1
        );
        let missing = check(
            r#"figure = "/nope"
below = 1"#,
        );
        assert_eq!(missing.judge(&results, None), (None, false));
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
    fn a_relative_check_must_name_a_run_of_its_stage_which_then_runs_alone() {
        let plan = |checks: &str| {
            let text = format!(
                "[[stage]]\nname = \"s\"\n[[stage.run]]\nname = \"plain\"\nbin_stage = \"other\"\n[[stage.run]]\nname = \"hybrid\"\nchecks = [{checks}]\n"
            );
            let file = tempfile::NamedTempFile::new().unwrap();
            std::fs::write(file.path(), text).unwrap();
            Plan::load(file.path())
        };
        let good =
            plan(r#"{ figure = "/workload/stable_latencies/0.5", times = 1.5, of_run = "plain" }"#)
                .unwrap();
        assert_eq!(good.runs_for("s")[0].bin_stage.as_deref(), Some("other"));
        assert!(
            good.is_timing_sensitive("s", 0),
            "the baseline of a timing check"
        );
        assert!(good.is_timing_sensitive("s", 1));
        let unknown =
            plan(r#"{ figure = "/workload/stable_latencies/0.5", times = 1.5, of_run = "nope" }"#)
                .unwrap_err();
        assert!(format!("{unknown:#}").contains("run `nope`"), "{unknown:#}");
        let no_times =
            plan(r#"{ figure = "/workload/stable_latencies/0.5", of_run = "plain" }"#).unwrap_err();
        assert!(
            format!("{no_times:#}").contains("times with of_run"),
            "{no_times:#}"
        );
        let messages =
            plan(r#"{ figure = "/net/servers/msgs_per_op", times = 2.0, of_run = "plain" }"#)
                .unwrap();
        assert!(!messages.is_timing_sensitive("s", 0));
    }

    #[test]
    fn runs_take_the_plans_defaults_and_are_checked_as_flags_are() {
        let plan: Plan = toml::from_str(
            r#"
[defaults]
time_limit = 10
seed = 1
[[stage]]
name = "stage-01-flooding"
[[stage.run]]
name = "one"
node_count = 1
[[stage.run]]
name = "many"
node_count = 4
concurrency = "2n"
seed = 7
"#,
        )
        .unwrap();
        let runs = plan.runs_for("stage-01-flooding");
        let one = plan.config(&runs[0]).unwrap();
        assert_eq!((one.node_count, one.concurrency, one.seed), (1, 1, 1));
        assert_eq!(one.time_limit, std::time::Duration::from_secs(10));
        let many = plan.config(&runs[1]).unwrap();
        assert_eq!((many.concurrency, many.seed), (8, 7));
        assert!(plan.runs_for("stage-99").is_empty());
        let error = |run: &str| {
            let run: RunPlan = toml::from_str(run).unwrap();
            plan.config(&run).unwrap_err().to_string()
        };
        assert!(error("name = \"x\"\ntopology = \"ring\"").contains("unknown topology"));
        let zero = error("name = \"x\"\nnode_count = 0");
        assert!(
            zero.contains("setting `node_count = 0`") && zero.contains("at least 1"),
            "{zero}"
        );
        assert!(
            error("name = \"x\"\nnemesis = \"partition\"\nnemesis_interval = 0")
                .contains("nemesis_interval")
        );
        assert!(error("name = \"x\"\nrated = 1").contains("unknown setting `rated`"));
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
    fn runs_that_cap_latency_or_convergence_are_timing_sensitive() {
        let run = |text: &str| -> RunPlan { toml::from_str(text).unwrap() };
        assert!(run("name = \"a\"\nchecks = [{ figure = \"/workload/stable_latencies/1\", below = 600 }]").is_timing_sensitive());
        assert!(
            run("name = \"a\"\nchecks = [{ figure = \"/convergence/after_ms\", at_most = 900 }]")
                .is_timing_sensitive()
        );
        assert!(
            !run("name = \"a\"\nchecks = [{ figure = \"/convergence/after_ms\", at_least = 0 }]")
                .is_timing_sensitive()
        );
        assert!(
            !run("name = \"a\"\nchecks = [{ figure = \"/net/servers/msgs_per_op\", below = 13 }]")
                .is_timing_sensitive()
        );
        assert!(!run("name = \"a\"").is_timing_sensitive());
    }

    #[test]
    fn every_run_of_the_workspace_plan_is_the_config_its_flags_give() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../grading.toml");
        let plan = Plan::load(&path).unwrap();
        for stage in &plan.stages {
            for run in &stage.runs {
                let config = plan.config(run).unwrap();
                let mut settings = plan.defaults.clone();
                settings.extend(run.settings.clone());
                let flags = settings_to_args(&settings).unwrap();
                assert_eq!(TestConfig::parse(&flags).unwrap(), config, "{}", run.name);
                assert_eq!(
                    TestConfig::parse(&config.to_args()).unwrap(),
                    config,
                    "{}",
                    run.name
                );
            }
        }
    }

    #[test]
    fn the_workspace_plan_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../grading.toml");
        let plan = Plan::load(&path).unwrap();
        assert!(!plan.runs_for("stage-01-flooding").is_empty());
    }
}
