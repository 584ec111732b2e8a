//! The one run configuration: [`TestConfig`], its flags ([`RunArgs`], Maelstrom's `test` flags
//! with Maelstrom's defaults), its validation ([`TestConfig::from_args`]) and its canonical
//! spelling ([`TestConfig::to_args`], which the reproduce command prints).
//!
//! Every way of describing a run goes through the same parser and the same checks: the flags
//! of `grader test` and `cargo xtask sim`, the settings of a `grading.toml` run (turned into
//! the same flags by [`settings_to_args`]), and a reproduce command read back.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use clap::{CommandFactory, FromArgMatches, Parser};
use serde::Serialize;

use crate::checker::availability::Availability;
use crate::nemesis::schedule::Schedule;
use crate::nemesis::{Fault, Targets, parse_faults};
use crate::net::{Delivery, Latency, LatencyDistribution};
pub use crate::node_bin::check_bin;
use crate::topology::Topology;

mod args;
pub use args::RunArgs;

/// How long nodes get to answer `init` (Maelstrom's 10 s).
pub const INIT_TIMEOUT: Duration = Duration::from_secs(10);

/// One run's settings. It is built only from flags, through their checks: with
/// [`TestConfig::from_args`], [`TestConfig::parse`] or [`TestConfig::parse_command`] (tests and
/// benchmarks too: `TestConfig::parse_command("--node-count 5 --rate 10 --seed 1")`);
/// [`TestConfig::default`] is Maelstrom's defaults with seed 0. Its fields can be read, and a
/// struct literal outside this module does not compile (a private field), so no configuration
/// skips the checks or restates a default such as `concurrency: nodes`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TestConfig {
    /// The workload, by name (default broadcast).
    pub workload: String,
    /// The workload's options (default none).
    pub workload_options: crate::workload::Options,
    /// How many nodes, named `n0…` (default 5).
    pub node_count: usize,
    /// Length of the main phase (default 60 s).
    #[serde(serialize_with = "seconds")]
    pub time_limit: Duration,
    /// Client operations per second across all workers (default 5; 0 means none).
    pub rate: f64,
    /// Worker clients; worker t talks to node t mod node_count (default one per node).
    pub concurrency: usize,
    /// Latency between servers (default none).
    pub latency: Latency,
    /// How messages reach nodes and operations reach workers (default Maelstrom's rules).
    pub delivery: Delivery,
    /// Faults to inject (default none).
    pub faults: BTreeSet<Fault>,
    /// Mean time between nemesis actions (default 10 s).
    #[serde(serialize_with = "seconds")]
    pub nemesis_interval: Duration,
    /// Which nodes kill, pause and crash choose from (default random).
    pub nemesis_targets: Targets,
    /// A scripted fault schedule instead of the random one (`--nemesis-schedule`).
    #[serde(
        serialize_with = "display_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub schedule: Option<Schedule>,
    /// The topology sent to nodes (default grid).
    #[serde(serialize_with = "display")]
    pub topology: Topology,
    /// Seeds the harness's one random generator: latencies, the generator, the nemesis.
    pub seed: u64,
    /// Quiet time after the heal before the final reads (default 10 s).
    #[serde(serialize_with = "seconds")]
    pub recovery: Duration,
    /// How long nodes get to answer `init` (Maelstrom's 10 s; shorter in tests; no flag).
    #[serde(serialize_with = "seconds")]
    pub init_timeout: Duration,
    /// What fraction of operations must succeed (`--availability`; default: none required).
    #[serde(
        serialize_with = "display_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub availability: Option<Availability>,
    /// The nodes' ids, when `--nodes` named them (default `n0 … n(N-1)`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_names: Option<Vec<String>>,
    /// What is echoed to the console as the run goes (no effect on the run; not repeated by
    /// the reproduce command).
    #[serde(skip)]
    pub console: ConsoleLog,
    /// Proof that the flags' checks built it.
    #[serde(skip)]
    checked: Checked,
}

/// Made only by [`TestConfig::from_args`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Checked;

/// What a run echoes to the console as it goes: Maelstrom's `--log-stderr`, `--log-net-send`
/// and `--log-net-recv`. Everything is kept in the store either way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConsoleLog {
    /// Each node's stderr lines, as they are written.
    pub stderr: bool,
    /// Every message as it is sent.
    pub net_send: bool,
    /// Every message as it is delivered.
    pub net_recv: bool,
}

fn display_option<S: serde::Serializer, T: std::fmt::Display>(
    value: &Option<T>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(value) => serializer.collect_str(value),
        None => serializer.serialize_none(),
    }
}

fn seconds<S: serde::Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(duration.as_secs_f64())
}

fn display<S: serde::Serializer, T: std::fmt::Display>(
    value: &T,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

impl Default for TestConfig {
    /// The flags' defaults (Maelstrom's), with seed 0.
    fn default() -> Self {
        TestConfig::parse(&["--seed".to_owned(), "0".to_owned()]).expect("the defaults are valid")
    }
}

/// A parser for the run flags alone, for reading settings back.
#[derive(Debug, Parser)]
struct RunOnly {
    #[command(flatten)]
    run: RunArgs,
}

fn seconds_of(value: f64, flag: &str) -> Result<Duration, String> {
    if value.is_finite() && value >= 0.0 {
        Ok(Duration::from_secs_f64(value))
    } else {
        Err(format!(
            "{flag} must be a number of seconds, 0 or more (got {value})"
        ))
    }
}

impl TestConfig {
    /// Checks the flags and turns them into a configuration; the error says which flag is
    /// wrong and what it takes.
    pub fn from_args(args: &RunArgs) -> Result<TestConfig, String> {
        let mut workload_options = match &args.workload_options {
            Some(text) => crate::workload::parse_options(text)?,
            None => crate::workload::Options::new(),
        };
        // Maelstrom's transaction flags are the transaction workloads' options.
        let flags = [
            ("consistency_models", args.consistency_models.clone()),
            ("key_count", args.key_count.map(|n| n.to_string())),
            ("max_txn_length", args.max_txn_length.map(|n| n.to_string())),
            (
                "max_writes_per_key",
                args.max_writes_per_key.map(|n| n.to_string()),
            ),
        ];
        for (key, value) in flags {
            if let Some(value) = value {
                workload_options.insert(key.to_owned(), value.replace(',', " "));
            }
        }
        let declaration = crate::workload::build(&args.workload, &workload_options)?.declaration();
        let node_names = args.nodes.as_deref().map(parse_node_names).transpose()?;
        let node_count = match &node_names {
            Some(names) => names.len(),
            None => args.node_count,
        };
        if node_count == 0 {
            return Err("--node-count must be at least 1".into());
        }
        if !(args.rate.is_finite() && args.rate >= 0.0) {
            return Err(format!("--rate must be 0 or more (got {})", args.rate));
        }
        if !(args.latency.is_finite() && args.latency >= 0.0) {
            return Err(format!(
                "--latency must be 0 or more milliseconds (got {})",
                args.latency
            ));
        }
        let distribution: LatencyDistribution = args.latency_dist.parse()?;
        if distribution == LatencyDistribution::Exponential && args.latency == 0.0 {
            return Err("--latency-dist exponential needs a mean: pass --latency above 0".into());
        }
        let concurrency = match args.concurrency.strip_suffix('n') {
            Some(per_node) => per_node.parse::<usize>().map(|k| k * node_count),
            None => args.concurrency.parse::<usize>(),
        }
        .map_err(|_| {
            format!(
                "--concurrency takes a number (5) or a multiple of the node count (2n), not `{}`",
                args.concurrency
            )
        })?;
        if concurrency == 0 {
            return Err("--concurrency must be at least 1".into());
        }
        declaration
            .concurrency
            .check(&args.workload, concurrency, node_count)?;
        let nemesis_interval = seconds_of(args.nemesis_interval, "--nemesis-interval")?;
        let faults = match &args.nemesis {
            Some(text) => parse_faults(text)?,
            None => BTreeSet::new(),
        };
        if !faults.is_empty() && nemesis_interval.is_zero() {
            return Err("--nemesis-interval must be above 0".into());
        }
        let topology: Topology = args.topology.parse()?;
        let delivery: Delivery = args.delivery.parse()?;
        let nemesis_targets: Targets = args.nemesis_targets.parse()?;
        if nemesis_targets != Targets::Random
            && !faults.iter().any(|fault| fault.entry().chooses_targets)
        {
            return Err(
                "--nemesis-targets chooses the nodes kill, pause and crash act on: add --nemesis kill, pause or crash".into(),
            );
        }
        let ids = ids_of(node_names.as_deref(), node_count);
        nemesis_targets.candidates(&ids, Vec::new)?;
        let schedule: Option<Schedule> = args
            .nemesis_schedule
            .as_deref()
            .map(str::parse)
            .transpose()?;
        if let Some(schedule) = &schedule {
            if !faults.is_empty() {
                return Err(
                    "--nemesis-schedule replaces the random faults: leave out --nemesis (or the schedule)".into(),
                );
            }
            schedule.check(&ids)?;
        }
        if nemesis_targets == Targets::Interior && topology.interior(node_count).is_empty() {
            return Err(format!(
                "--nemesis-targets interior: the {topology} topology on {} node(s) has no interior nodes; use more nodes or --nemesis-targets random",
                node_count
            ));
        }
        Ok(TestConfig {
            workload: args.workload.clone(),
            workload_options,
            node_count,
            time_limit: seconds_of(args.time_limit, "--time-limit")?,
            rate: args.rate,
            concurrency,
            latency: Latency {
                mean_ms: args.latency,
                distribution,
            },
            delivery,
            faults,
            nemesis_interval,
            nemesis_targets,
            schedule,
            topology,
            seed: args.seed.unwrap_or_else(rand::random),
            recovery: seconds_of(args.recovery, "--recovery")?,
            init_timeout: INIT_TIMEOUT,
            availability: args.availability.as_deref().map(str::parse).transpose()?,
            node_names,
            console: ConsoleLog {
                stderr: args.log_stderr,
                net_send: args.log_net_send,
                net_recv: args.log_net_recv,
            },
            checked: Checked,
        })
    }

    /// Parses and checks run flags (no program name): `["--node-count", "3", …]`.
    pub fn parse(words: &[String]) -> Result<TestConfig, String> {
        TestConfig::parse_words(words, false)
    }

    /// [`TestConfig::parse`]; with `later_wins`, a flag given twice takes its last value.
    fn parse_words(words: &[String], later_wins: bool) -> Result<TestConfig, String> {
        let command = RunOnly::command()
            .no_binary_name(true)
            .args_override_self(later_wins);
        let matches = command
            .try_get_matches_from(words)
            .map_err(|error| error.render().to_string().trim().to_owned())?;
        let parsed = RunOnly::from_arg_matches(&matches).map_err(|error| error.to_string())?;
        TestConfig::from_args(&parsed.run)
    }

    /// This configuration with more flags on top, checked as the command line is (a flag given
    /// here replaces its value): `config.with("--nemesis partition --nemesis-interval 1")`.
    /// What has no flag (the init timeout, the console echo) is kept.
    pub fn with(&self, flags: &str) -> Result<TestConfig, String> {
        let mut words = self.to_args();
        words.extend(flags.split_whitespace().map(str::to_owned));
        let mut config = TestConfig::parse_words(&words, true)?;
        config.init_timeout = self.init_timeout;
        config.console = self.console;
        Ok(config)
    }

    /// [`TestConfig::parse`] on a command line as one string, split on whitespace: the flags
    /// as Maelstrom's `test` takes them (`"-w g-counter --node-count 3 --rate 100"`).
    pub fn parse_command(flags: &str) -> Result<TestConfig, String> {
        let words: Vec<String> = flags.split_whitespace().map(str::to_owned).collect();
        TestConfig::parse(&words)
    }

    /// The flags that give this configuration back through [`TestConfig::parse`], every
    /// setting spelled out, the seed included.
    pub fn to_args(&self) -> Vec<String> {
        let mut words: Vec<String> = vec![
            "-w".into(),
            self.workload.clone(),
            "--node-count".into(),
            self.node_count.to_string(),
            "--time-limit".into(),
            self.time_limit.as_secs_f64().to_string(),
            "--rate".into(),
            self.rate.to_string(),
            "--concurrency".into(),
            self.concurrency.to_string(),
            "--topology".into(),
            self.topology.to_string(),
        ];
        if !self.workload_options.is_empty() {
            words.extend([
                "--workload-options".into(),
                crate::workload::format_options(&self.workload_options),
            ]);
        }
        if self.latency.mean_ms > 0.0 {
            words.extend(["--latency".into(), self.latency.mean_ms.to_string()]);
        }
        if self.latency.distribution != LatencyDistribution::Constant {
            words.extend([
                "--latency-dist".into(),
                self.latency.distribution.to_string(),
            ]);
        }
        if self.delivery != Delivery::default() {
            words.extend(["--delivery".into(), self.delivery.to_string()]);
        }
        if !self.faults.is_empty() {
            let faults: Vec<&str> = self.faults.iter().map(|fault| fault.name()).collect();
            words.extend(["--nemesis".into(), faults.join(",")]);
        }
        let defaults = TestConfig::default();
        if !self.faults.is_empty() || self.nemesis_interval != defaults.nemesis_interval {
            words.extend([
                "--nemesis-interval".into(),
                self.nemesis_interval.as_secs_f64().to_string(),
            ]);
        }
        if self.nemesis_targets != Targets::Random {
            words.extend(["--nemesis-targets".into(), self.nemesis_targets.to_string()]);
        }
        if let Some(schedule) = &self.schedule {
            words.extend(["--nemesis-schedule".into(), schedule.to_string()]);
        }
        if let Some(availability) = self.availability {
            words.extend(["--availability".into(), availability.to_string()]);
        }
        if let Some(names) = &self.node_names {
            words.extend(["--nodes".into(), names.join(",")]);
        }
        words.extend([
            "--recovery".into(),
            self.recovery.as_secs_f64().to_string(),
            "--seed".into(),
            self.seed.to_string(),
        ]);
        words
    }

    /// The command line that repeats a run: `program` (such as `grader test --bin X`), every
    /// setting, and the node's arguments after `--`, quoted for a POSIX shell.
    pub fn reproduce_command(&self, program: &str, node_args: &[String]) -> String {
        let mut words = self.to_args();
        if !node_args.is_empty() {
            words.push("--".into());
            words.extend(node_args.iter().cloned());
        }
        let settings: Vec<String> = words.iter().map(|word| shell_quote(word)).collect();
        format!("{program} {}", settings.join(" "))
    }

    /// The node ids: `--nodes`' names, or `n0 … n(N-1)`.
    pub fn node_ids(&self) -> Vec<String> {
        ids_of(self.node_names.as_deref(), self.node_count)
    }
}

/// The nodes' ids: the names `--nodes` gave, or `n0 … n(count-1)`.
fn ids_of(names: Option<&[String]>, count: usize) -> Vec<String> {
    match names {
        Some(names) => names.to_vec(),
        None => crate::topology::node_names(count),
    }
}

/// Reads `--nodes n1,n2,n3`: unique ids that cannot be taken for a client (`c…`) or a service.
fn parse_node_names(text: &str) -> Result<Vec<String>, String> {
    let names: Vec<String> = text
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .collect();
    if names.is_empty() {
        return Err("--nodes takes node ids separated by commas, such as n1,n2,n3".into());
    }
    for name in &names {
        if name.starts_with('c') || crate::service::NAMES.contains(&name.as_str()) {
            return Err(format!(
                "--nodes: `{name}` cannot be a node id: ids starting with c are clients', and {} are services'; use ids such as n1,n2,n3",
                crate::service::NAMES.join(", ")
            ));
        }
        if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!(
                "--nodes: `{name}` has spaces or control characters"
            ));
        }
    }
    let unique: BTreeSet<&String> = names.iter().collect();
    if unique.len() != names.len() {
        return Err(format!("--nodes names a node twice: {text}"));
    }
    Ok(names)
}

/// Quotes a word for a POSIX shell when it needs it.
pub fn shell_quote(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=,:+".contains(c))
    {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// The settings a run file (such as a `grading.toml` run) may name: the flags' names with `_`
/// for `-` (`node_count`, `latency_dist`, …).
pub fn setting_names() -> Vec<String> {
    RunOnly::command()
        .get_arguments()
        .filter(|argument| argument.get_long().is_some())
        .map(|argument| argument.get_id().to_string())
        .collect()
}

/// Turns run settings written as data (`node_count = 25`, `nemesis = "partition"`) into the
/// flags that say the same, so that they are parsed and checked exactly as flags are. An
/// unknown setting, or a value that is not a number or a string, is an error naming it.
pub fn settings_to_args(settings: &BTreeMap<String, toml::Value>) -> Result<Vec<String>, String> {
    let known = setting_names();
    let mut words = Vec::new();
    for (name, value) in settings {
        if !known.contains(name) {
            return Err(format!(
                "unknown setting `{name}`; the settings are: {}",
                known.join(", ")
            ));
        }
        let text = match value {
            toml::Value::String(text) => text.clone(),
            toml::Value::Integer(number) => number.to_string(),
            toml::Value::Float(number) => number.to_string(),
            other => {
                return Err(format!(
                    "`{name}` must be a number or a string, not {}",
                    other.type_str()
                ));
            }
        };
        words.push(format!("--{}", name.replace('_', "-")));
        words.push(text);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn with_lays_flags_over_a_configuration_and_checks_them_as_the_command_line_does() {
        let base = TestConfig::parse_command("--node-count 4 --rate 10 --seed 2").unwrap();
        let partitioned = base.with("--nemesis partition --rate 20").unwrap();
        assert_eq!(partitioned.rate, 20.0, "a later flag wins");
        assert_eq!(partitioned.node_count, 4, "the rest is kept");
        assert_eq!(partitioned.seed, 2);
        assert_eq!(
            partitioned.faults,
            BTreeSet::from([Fault::named("partition").unwrap()])
        );
        let error = base.with("--nemesis-targets interior").unwrap_err();
        assert!(
            error.contains("add --nemesis kill, pause or crash"),
            "{error}"
        );
        assert!(base.with("--rate -1").is_err());
    }

    #[test]
    fn the_defaults_are_maelstroms() {
        let config = TestConfig::default();
        assert_eq!(config.workload, "broadcast");
        assert_eq!((config.node_count, config.concurrency), (5, 5));
        assert_eq!(config.time_limit, Duration::from_secs(60));
        assert_eq!(config.rate, 5.0);
        assert_eq!(config.recovery, Duration::from_secs(10));
        assert_eq!(config.topology, Topology::Grid);
        assert!(config.faults.is_empty());
    }

    #[test]
    fn a_reproduce_command_parses_back_into_the_same_configuration() {
        for flags in [
            "--seed 3",
            "--node-count 25 --time-limit 20 --rate 100 --latency 100 --topology tree4 --seed 1",
            "--node-count 7 --concurrency 2n --latency 12.5 --latency-dist uniform --nemesis partition,kill,pause --nemesis-interval 0.75 --recovery 0.5 --seed 18446744073709551615",
            "--node-count 25 --topology tree4 --nemesis kill --nemesis-targets interior --seed 9",
            "--node-count 5 --nemesis pause,kill --nemesis-targets n0,n4 --seed 9",
            "--delivery ideal --latency 100 --seed 4",
            "--rate 0 --time-limit 0.1 --latency 30 --latency-dist exponential --seed 2",
            "-w unique-ids --availability total --nodes n1,n2,n3 --seed 5",
            "-w g-counter --availability 0.95 --seed 6",
        ] {
            let config = TestConfig::parse(&words(flags)).unwrap();
            let again = TestConfig::parse(&config.to_args()).unwrap();
            assert_eq!(again, config, "{flags}");
            let command = config.reproduce_command("grader test --bin x", &["--fanout".into()]);
            assert!(command.ends_with("-- --fanout"), "{command}");
        }
    }

    #[test]
    fn bad_values_name_the_flag_and_what_it_takes() {
        let error = |flags: &str| TestConfig::parse(&words(flags)).unwrap_err();
        assert!(error("--node-count 0").contains("--node-count must be at least 1"));
        assert!(error("--node-count -1").contains("--node-count"));
        assert!(!error("--node-count -1").contains("-- -1"));
        assert!(error("--nemesis partition --nemesis-interval 0").contains("above 0"));
        assert!(error("--concurrency 3x").contains("--concurrency takes"));
        assert!(error("--topology ring").contains("unknown topology"));
        assert!(error("-w bank").contains("workloads on offer are: broadcast"));
        // Maelstrom's transaction flags are the transaction workloads' options.
        assert!(
            error("-w txn-list-append --consistency-models eventual")
                .contains("unknown consistency model")
        );
        assert!(error("-w broadcast --key-count 3").contains("key_count"));
        let txn = TestConfig::parse(&words(
            "-w txn-list-append --consistency-models read-committed,serializable --key-count 3 --max-txn-length 2",
        ))
        .unwrap();
        assert_eq!(
            txn.workload_options["consistency_models"],
            "read-committed serializable"
        );
        assert_eq!(txn.workload_options["key_count"], "3");
        assert!(error("--nemesis flood").contains("unknown nemesis"));
        assert!(
            error("--nemesis partition --nemesis-targets interior")
                .contains("kill, pause or crash")
        );
        assert!(
            error("--node-count 1 --topology tree4 --nemesis kill --nemesis-targets interior")
                .contains("no interior nodes")
        );
        assert!(
            error("--node-count 3 --nemesis kill --nemesis-targets n3")
                .contains("names n3, which is not a node of this cluster (n0, n1, n2)")
        );
        // With --nodes, targets are the named ids: n3 is the third node here, and n0 is none.
        let named =
            TestConfig::parse_command("--nodes n1,n2,n3 --nemesis kill --nemesis-targets n3")
                .unwrap();
        assert_eq!(
            named
                .nemesis_targets
                .candidates(&named.node_ids(), Vec::new),
            Ok(vec![2])
        );
        assert!(error("--nodes n1,n2,n3 --nemesis kill --nemesis-targets n0").contains("names n0"));
        assert!(error("--nemesis pause --nemesis-targets hub").contains("node ids such as n0"));
        assert!(error("--latency-dist exponential").contains("needs a mean"));
        assert!(error("--delivery fast").contains("maelstrom or ideal"));
        assert!(error("--availability most").contains("`total`"));
        assert!(error("--nodes n1,c2").contains("`c2` cannot be a node id"));
        assert!(error("--nodes n1,seq-kv").contains("services'"));
        assert!(error("--nodes n1,n1").contains("names a node twice"));
    }

    #[test]
    fn nodes_named_on_the_command_line_set_the_count_and_the_ids() {
        let config = TestConfig::parse(&words("--nodes n1,n2,n3 --concurrency 2n")).unwrap();
        assert_eq!(config.node_count, 3);
        assert_eq!(config.concurrency, 6);
        assert_eq!(config.node_ids(), ["n1", "n2", "n3"]);
        let logged = TestConfig::parse(&words("--log-stderr --log-net-recv")).unwrap();
        assert!(logged.console.stderr && logged.console.net_recv && !logged.console.net_send);
        assert!(
            !logged
                .to_args()
                .iter()
                .any(|word| word.starts_with("--log")),
            "what is echoed is not part of the run"
        );
    }

    #[test]
    fn settings_as_data_become_the_same_flags() {
        let settings: BTreeMap<String, toml::Value> = toml::from_str(
            "node_count = 25\nconcurrency = \"2n\"\nlatency = 100.0\nnemesis = \"partition\"",
        )
        .unwrap();
        let config = TestConfig::parse(&settings_to_args(&settings).unwrap()).unwrap();
        assert_eq!((config.node_count, config.concurrency), (25, 50));
        assert_eq!(
            config.faults,
            BTreeSet::from([Fault::named("partition").unwrap()])
        );
        let unknown: BTreeMap<String, toml::Value> = toml::from_str("rated = 1").unwrap();
        let error = settings_to_args(&unknown).unwrap_err();
        assert!(
            error.contains("unknown setting `rated`") && error.contains("node_count"),
            "{error}"
        );
        let list: BTreeMap<String, toml::Value> = toml::from_str("rate = [1]").unwrap();
        assert!(
            settings_to_args(&list)
                .unwrap_err()
                .contains("number or a string")
        );
    }
}
