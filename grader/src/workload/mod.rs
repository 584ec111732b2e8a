//! Workloads: what the clients do and how their history is judged.
//!
//! A workload owns everything that depends on what the nodes are for: the request a node's setup
//! client sends after `init`, the operation generator, the reply schemas, what a convergence
//! probe reads, which values a server message carries (for counting duplicate deliveries), the
//! checker with its sections of `results.json` and its summary lines, and the figures a grade
//! table shows. The harness knows none of it; it asks the workload chosen by name ([`by_name`]).
//!
//! A new workload is one file here and one line in [`REGISTRY`]. A workload may take options
//! (`--workload-options key=value,…`), which it declares in its registry entry.

mod arrivals;
pub mod broadcast;
pub mod concurrent_writers;
pub mod counter;
mod declaration;
pub mod echo;
pub mod g_set;
pub mod kafka;
pub mod kv_bench;
pub mod lin_kv;
pub mod lww_kv;
pub mod two_phase_set;
pub mod txn_list_append;
pub mod txn_rw_register;
pub mod unique_ids;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use rand::rngs::ChaCha8Rng;
use serde_json::{Map, Value as Json};

pub use self::arrivals::Arrivals;
pub use self::declaration::{
    ConcurrencyRule, DEFAULT_RPC_TIMEOUT, Declaration, ErrorRule, RpcTimeout,
};
use crate::checker::Validity;
use crate::history::{Op, OpKind};
use crate::topology::NeighbourMap;

/// A workload's options, by key (`--workload-options read_field=elements`).
pub type Options = BTreeMap<String, String>;

/// Makes a fresh workload from its options (only keys it declared reach it); an unusable value
/// is an error saying what it takes.
pub type MakeWorkload = fn(&Options) -> Result<Box<dyn Workload>, String>;

/// One workload on offer.
#[derive(Debug, Clone, Copy)]
pub struct Registered {
    /// Its name, as `-w` takes it.
    pub name: &'static str,
    /// Its options: (key, what it means and takes).
    pub options: &'static [(&'static str, &'static str)],
    /// Makes it.
    pub make: MakeWorkload,
}

/// The workloads, by name: `-w NAME` picks one.
pub const REGISTRY: &[Registered] = &[
    Registered {
        name: "broadcast",
        options: &[],
        make: |_| Ok(Box::new(broadcast::Broadcast::default())),
    },
    Registered {
        name: "concurrent-writers",
        options: concurrent_writers::OPTIONS,
        make: concurrent_writers::make,
    },
    Registered {
        name: "echo",
        options: &[],
        make: |_| Ok(Box::new(echo::Echo)),
    },
    Registered {
        name: "g-counter",
        options: &[],
        make: |_| Ok(Box::new(counter::Counter::grow_only())),
    },
    Registered {
        name: "g-set",
        options: g_set::OPTIONS,
        make: g_set::make,
    },
    Registered {
        name: "kafka",
        options: &[],
        make: |_| Ok(Box::new(kafka::Kafka::default())),
    },
    Registered {
        name: "kv-bench",
        options: &[],
        make: |_| Ok(Box::new(kv_bench::KvBench::default())),
    },
    Registered {
        name: "lin-kv",
        options: lin_kv::OPTIONS,
        make: lin_kv::make,
    },
    Registered {
        name: "lww-kv",
        options: lww_kv::OPTIONS,
        make: lww_kv::make,
    },
    Registered {
        name: "pn-counter",
        options: &[],
        make: |_| Ok(Box::new(counter::Counter::positive_negative())),
    },
    Registered {
        name: "two-phase-set",
        options: &[],
        make: |_| Ok(Box::new(two_phase_set::TwoPhaseSet::default())),
    },
    Registered {
        name: "txn-list-append",
        options: txn_list_append::OPTIONS,
        make: txn_list_append::make,
    },
    Registered {
        name: "txn-rw-register",
        options: txn_rw_register::OPTIONS,
        make: txn_rw_register::make,
    },
    Registered {
        name: "unique-ids",
        options: &[],
        make: |_| Ok(Box::new(unique_ids::UniqueIds)),
    },
];

/// The workload called `name` with `options`, fresh. An unknown name is an error listing the
/// known ones; an option it does not take, one listing the options it does.
pub fn build(name: &str, options: &Options) -> Result<Box<dyn Workload>, String> {
    let Some(entry) = REGISTRY.iter().find(|entry| entry.name == name) else {
        let names: Vec<&str> = REGISTRY.iter().map(|entry| entry.name).collect();
        return Err(format!(
            "unknown workload `{name}`; the workloads on offer are: {}",
            names.join(", ")
        ));
    };
    if let Some(unknown) = options
        .keys()
        .find(|key| !entry.options.iter().any(|(known, _)| known == key))
    {
        let known = if entry.options.is_empty() {
            "it takes none".to_owned()
        } else {
            let listed: Vec<String> = entry
                .options
                .iter()
                .map(|(key, about)| format!("{key} ({about})"))
                .collect();
            format!("it takes: {}", listed.join("; "))
        };
        return Err(format!(
            "the {name} workload has no option `{unknown}`; {known}"
        ));
    }
    (entry.make)(options).map_err(|error| format!("--workload-options: {error}"))
}

/// The workload called `name` with its default options.
pub fn by_name(name: &str) -> Result<Box<dyn Workload>, String> {
    build(name, &Options::new())
}

/// Parses `key=value,key=value` (spaces around either are ignored).
pub fn parse_options(text: &str) -> Result<Options, String> {
    text.split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (key, value) = part.split_once('=').ok_or_else(|| {
                format!(
                    "--workload-options takes key=value pairs separated by commas, not `{part}`"
                )
            })?;
            Ok((key.trim().to_owned(), value.trim().to_owned()))
        })
        .collect()
}

/// Writes options back as `parse_options` reads them.
pub fn format_options(options: &Options) -> String {
    options
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// One operation a client performs: its history `f` and value, and the request body it sends
/// (without `msg_id`, which the client adds).
#[derive(Debug, Clone)]
pub struct Operation {
    /// The history's `f`, such as `broadcast` or `read`.
    pub f: &'static str,
    /// The history's value at invocation (the value added; null for reads).
    pub value: Json,
    /// The request body.
    pub body: Json,
}

/// What a run looks like, for [`Workload::prepare`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunShape {
    /// How many nodes.
    pub nodes: usize,
    /// How many worker clients.
    pub concurrency: usize,
    /// Operations per second, all workers together.
    pub rate: f64,
    /// The main phase's length.
    pub time_limit: Duration,
    /// The run's seed, for a workload that draws numbers outside [`Workload::next_operation`].
    pub seed: u64,
}

/// A worker's next operation in the final phase, and how long it waits before invoking it.
#[derive(Debug, Clone)]
pub struct FinalStep {
    /// The operation.
    pub operation: Operation,
    /// The pause before it, after the worker's previous final operation completed.
    pub after: Duration,
}

/// A workload's verdict on a history.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The workload's verdict.
    pub valid: Validity,
    /// Its sections of `results.json`, by key (`workload`, and any others it reports).
    pub sections: BTreeMap<String, Json>,
    /// Summary lines about what the operations achieved, shown after the operation counts.
    pub summary: Vec<String>,
    /// Summary lines about what went wrong (lost values and the like), shown after the traffic.
    pub anomalies: Vec<String>,
    /// Why the workload's verdict is not valid, in a sentence each (empty when it is valid).
    pub reasons: Vec<String>,
}

impl Checked {
    /// A verdict whose figures are one `workload` section: `result` serialised.
    pub fn with_workload_section(
        valid: Validity,
        result: &impl serde::Serialize,
        summary: Vec<String>,
        anomalies: Vec<String>,
        reasons: Vec<String>,
    ) -> Self {
        Self {
            valid,
            sections: [(
                "workload".to_owned(),
                serde_json::to_value(result).expect("a checker's result serialises"),
            )]
            .into(),
            summary,
            anomalies,
            reasons,
        }
    }
}

/// The reason a KV store's run is invalid when its replicas' final reads disagree on `keys`.
pub fn diverged_reason(keys: &[String]) -> String {
    format!(
        "the replicas' final reads disagree on {}: they never converged",
        keys.join(", ")
    )
}

/// What crash-stop faults (`--nemesis crash`) left behind, for judging the survivors: the nodes
/// down for good, and every value a surviving node was ever handed (by a client or a server).
#[derive(Debug, Clone, Default)]
pub struct Survivors {
    /// The ids of the crashed nodes.
    pub crashed: BTreeSet<String>,
    /// The values handed to nodes that did not crash.
    pub handed: BTreeSet<i64>,
}

impl Survivors {
    /// True when `value`, acknowledged by node `acked_by`, went down with it: that node crashed
    /// and no surviving node was ever handed the value, so no protocol could still deliver it.
    pub fn lost_with_node(&self, acked_by: Option<&str>, value: i64) -> bool {
        acked_by.is_some_and(|node| self.crashed.contains(node)) && !self.handed.contains(&value)
    }
}

/// A figure the grade table shows for every run of a workload.
#[derive(Debug, Clone, Copy)]
pub struct Figure {
    /// Its JSON pointer into `results.json`.
    pub pointer: &'static str,
    /// Its column heading.
    pub label: &'static str,
}

/// What a checker may need beyond the history.
#[derive(Debug, Clone, Copy)]
pub struct CheckContext<'a> {
    /// What crash-stop faults left behind (empty without them).
    pub survivors: &'a Survivors,
    /// When each node was first handed each value (empty for workloads that do not
    /// [`TrackValues`]).
    pub arrivals: &'a Arrivals,
}

impl<'a> CheckContext<'a> {
    /// A context with `survivors` and no arrivals, for judging a history read from a file or
    /// built by hand.
    pub fn plain(survivors: &'a Survivors) -> Self {
        static NONE: std::sync::LazyLock<Arrivals> = std::sync::LazyLock::new(Arrivals::default);
        Self {
            survivors,
            arrivals: &NONE,
        }
    }
}

/// What a workload does; see the module docs.
///
/// Four methods are required, because every workload has them: its name, its generator, its
/// judgement of a reply and its checker. The rest have Maelstrom's usual answers
/// ([`Declaration::MAELSTROM`], no setup request, a read as the final operation), and two
/// capabilities are for broadcast-like workloads only: [`TrackValues`] (which values each
/// message hands a node: duplicate deliveries, survivors of crash-stop) and [`Probes`]
/// (convergence timed by the harness's own reads).
pub trait Workload {
    /// Its name, as `-w` takes it.
    fn name(&self) -> &'static str;

    /// The generator's next operation in the main phase, for worker `worker` (from 0; a worker
    /// keeps its index when its client is replaced after an `info`).
    fn next_operation(&mut self, worker: usize, rng: &mut ChaCha8Rng) -> Operation;

    /// Judges a reply that is not an `error`: the op's completed value, or why the reply is
    /// malformed (by Maelstrom's closed schemas). `value` is the invocation's value, or for a
    /// later request of an operation of several (see [`Workload::after_reply`]) what the
    /// earlier replies made of it.
    fn judge_reply(&self, f: &str, value: &Json, body: &Json) -> Result<Json, String>;

    /// Judges the whole history. Values that went down with a crashed node (see
    /// [`Survivors::lost_with_node`]) are reported apart, not as lost.
    fn check(&self, history: &[Op], context: &CheckContext) -> Checked;

    /// What the harness must know before it runs the workload.
    fn declaration(&self) -> Declaration {
        Declaration::MAELSTROM
    }

    /// The request a node's setup client sends once the node answered `init` (broadcast sends
    /// the topology), or none.
    fn setup_request(&self, topology: &NeighbourMap) -> Option<Json> {
        let _ = topology;
        None
    }

    /// Judges the reply to the setup request: `Err` says why it is not acceptable.
    fn judge_setup_reply(&self, body: &Json) -> Result<(), String> {
        let _ = body;
        Ok(())
    }

    /// The outcome of an operation the client completes by itself, sending nothing (kafka's
    /// client crash is `info`; an assign that seeks to the beginning is `ok`), or none for an
    /// operation that is a request (the default).
    fn done_by_client(&self, operation: &Operation) -> Option<OpKind> {
        let _ = operation;
        None
    }

    /// Worker `worker`'s request for operation `f` was answered ok with `reply`, judged as
    /// `value`: the operation's next request, or none when it is complete (the default). For
    /// clients that keep what replies tell them (kafka's committed offsets) or whose one
    /// operation is several RPCs (kafka's poll commits the offsets it polled before it
    /// completes). An error or a timeout in a later request completes the operation as
    /// [`ErrorRule`] says, with its invocation's value; a later reply is judged with the value
    /// so far.
    fn after_reply(&mut self, worker: usize, f: &str, value: &Json, reply: &Json) -> Option<Json> {
        let _ = (worker, f, value, reply);
        None
    }

    /// Called once before the run with its shape, for a workload whose generator depends on
    /// it (kafka crashes each client about every 30 s, whatever the rate and concurrency).
    fn prepare(&mut self, run: &RunShape) {
        let _ = run;
    }

    /// Worker `worker`'s operation `f` completed as `kind` with `value` (what [`judge_reply`]
    /// made of the reply, or the invocation's value when it failed). A workload whose clients
    /// carry what they saw into their next request (a read's context) keeps it here.
    ///
    /// [`judge_reply`]: Workload::judge_reply
    fn completed(&mut self, worker: usize, f: &str, kind: OpKind, value: &Json) {
        let _ = (worker, f, kind, value);
    }

    /// Worker `worker`'s next operation in the final phase, once `done` of its final
    /// operations completed, or none to end its final phase. By default each worker makes one:
    /// [`Workload::final_operation`]. A workload whose final phase is a sequence (kafka: crash,
    /// assign, then polls until caught up) overrides this.
    fn final_step(&mut self, worker: usize, done: usize) -> Option<FinalStep> {
        let _ = worker;
        (done == 0).then(|| FinalStep {
            operation: self.final_operation(),
            after: Duration::ZERO,
        })
    }

    /// Each worker's final operation after the recovery, for a workload that declares a
    /// [`Declaration::final_phase`]: a read.
    fn final_operation(&mut self) -> Operation {
        Operation {
            f: "read",
            value: Json::Null,
            body: serde_json::json!({"type": "read"}),
        }
    }

    /// True when operation `f`'s completed value should carry `harness_server_sends`: how many
    /// messages the answering node had sent to other nodes when it wrote its reply, counted by
    /// the harness (to hold a node's own count against).
    fn counts_sends(&self, f: &str) -> bool {
        let _ = f;
        false
    }

    /// The figures a grade table shows for runs of this workload (beyond Maelstrom's
    /// msgs-per-op and latencies, which every workload has).
    fn headline_figures(&self) -> &'static [Figure] {
        &[]
    }

    /// Its value tracking, if it tracks values (broadcast-like workloads).
    fn tracks_values(&self) -> Option<&dyn TrackValues> {
        None
    }

    /// Its convergence probes, if the harness can time its convergence.
    fn probes(&mut self) -> Option<&mut dyn Probes> {
        None
    }
}

/// A capability: the workload's values are integers that messages carry, so the harness can
/// count duplicate deliveries, know which values each node was handed (and when), and judge
/// the survivors of crash-stop faults.
pub trait TrackValues {
    /// The values a message body hands to a node: from a server, what it carries; from a
    /// client, what the request adds. Appended to `values`.
    fn delivered_values(&self, from_client: bool, body: &str, values: &mut Vec<i64>);
}

/// A capability: the harness times convergence by reading every node after the last fault,
/// until each holds what was acknowledged by then.
pub trait Probes {
    /// Starts timing convergence from `history` (what is acknowledged so far, less what went
    /// down with a crashed node); returns how many values the surviving nodes must all hold.
    fn start_convergence(&mut self, history: &[Op], survivors: &Survivors) -> usize;

    /// How many probes make one full read of a node: 1, or one per key for a KV store. A node
    /// has converged once each part, in turn, shows what it must.
    fn probe_parts(&self) -> usize {
        1
    }

    /// The request a convergence probe sends for part `part` (from 0).
    fn probe_request(&self, part: usize) -> Json;

    /// True when a probe's reply to part `part` shows the node holds what it must.
    fn probe_converged(&self, part: usize, reply: &Json) -> bool;

    /// [`Probes::probe_converged`] of a reply as it came, JSON text (a body that is not
    /// JSON reads as null). A workload whose probes read back large bodies reads only what it
    /// checks here.
    fn probe_converged_text(&self, part: usize, reply: &str) -> bool {
        let reply = serde_json::from_str(reply).unwrap_or(Json::Null);
        self.probe_converged(part, &reply)
    }
}

/// Maelstrom's closed reply schemas: `body` must have type `expected` and no keys but `type`,
/// `msg_id`, `in_reply_to` and `fields`. Returns the body's fields.
pub fn closed_reply<'a>(
    body: &'a Json,
    expected: &str,
    fields: &[&str],
) -> Result<&'a Map<String, Json>, String> {
    let kind = body.get("type").and_then(Json::as_str).unwrap_or("");
    if kind != expected {
        return Err(format!("expected {expected}, got `{kind}`"));
    }
    let map = body
        .as_object()
        .ok_or_else(|| format!("{expected} is not a JSON object"))?;
    let extra: Vec<&String> = map
        .keys()
        .filter(|key| {
            !["type", "msg_id", "in_reply_to"].contains(&key.as_str())
                && !fields.contains(&key.as_str())
        })
        .collect();
    if extra.is_empty() {
        Ok(map)
    } else {
        Err(format!("{expected} has unexpected keys {extra:?}"))
    }
}

/// What [`TrackValues::delivered_values`] finds in `body`, for tests.
#[cfg(test)]
pub(crate) fn delivered(workload: &dyn Workload, from_client: bool, body: &str) -> Vec<i64> {
    let mut values = Vec::new();
    workload
        .tracks_values()
        .expect("the workload tracks values")
        .delivered_values(from_client, body, &mut values);
    values
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn unknown_workloads_list_the_known_ones() {
        assert_eq!(by_name("broadcast").unwrap().name(), "broadcast");
        let error = by_name("bank").err().unwrap();
        assert!(error.contains("unknown workload `bank`") && error.contains("g-set"));
    }

    #[test]
    fn options_parse_and_unknown_or_bad_ones_say_what_is_taken() {
        let options = parse_options(" read_field = elements ,").unwrap();
        assert_eq!(format_options(&options), "read_field=elements");
        assert!(
            parse_options("read_field")
                .unwrap_err()
                .contains("key=value")
        );
        assert!(build("g-set", &options).is_ok());
        let unknown = build("g-set", &parse_options("field=x").unwrap())
            .err()
            .unwrap();
        assert!(
            unknown.contains("no option `field`") && unknown.contains("read_field"),
            "{unknown}"
        );
        let none = build("broadcast", &options).err().unwrap();
        assert!(none.contains("it takes none"), "{none}");
        let bad = build("g-set", &parse_options("read_field=items").unwrap())
            .err()
            .unwrap();
        assert!(bad.contains("value or elements"), "{bad}");
    }

    #[test]
    fn timeouts_scale_with_latency_only_when_declared_so() {
        let fixed = RpcTimeout::Fixed(Duration::from_secs(5));
        assert_eq!(fixed.for_latency(400.0), Duration::from_secs(5));
        let scaled = RpcTimeout::LatencyTimes {
            factor: 10,
            floor: Duration::from_secs(1),
        };
        assert_eq!(scaled.for_latency(0.0), Duration::from_secs(1));
        assert_eq!(scaled.for_latency(250.0), Duration::from_millis(2500));
    }

    #[test]
    fn the_concurrency_rule_names_the_flag_to_pass() {
        assert!(ConcurrencyRule::Any.check("echo", 3, 5).is_ok());
        let rule = ConcurrencyRule::MultipleOfTwiceNodes;
        assert!(rule.check("lin-kv", 10, 5).is_ok());
        assert!(rule.check("lin-kv", 20, 5).is_ok());
        let error = rule.check("lin-kv", 5, 5).unwrap_err();
        assert!(
            error.contains("multiple of twice the node count (10 for 5 node(s)), not 5")
                && error.contains("--concurrency 2n"),
            "{error}"
        );
    }

    #[test]
    fn error_rules_decide_which_failures_are_certain() {
        let with_errors = ErrorRule::WithErrors {
            idempotent: &["read"],
        };
        assert!(with_errors.fails("add", true));
        assert!(!with_errors.fails("add", false));
        assert!(with_errors.fails("read", false));
        let none_idempotent = ErrorRule::WithErrors { idempotent: &[] };
        assert!(!none_idempotent.fails("read", false));
        assert!(!ErrorRule::AllIndefinite.fails("read", true));
    }

    #[test]
    fn every_workload_declares_known_services_and_has_its_capabilities_whole() {
        for entry in REGISTRY {
            let mut workload = (entry.make)(&Options::new()).unwrap();
            assert_eq!(workload.name(), entry.name);
            let declaration = workload.declaration();
            for service in declaration.services {
                assert!(
                    crate::service::NAMES.contains(service),
                    "{} declares an unknown service {service}",
                    entry.name
                );
            }
            // Convergence is timed in the recovery, which only a final phase has.
            if workload.probes().is_some() {
                assert!(
                    declaration.final_phase,
                    "{} probes without a final phase",
                    entry.name
                );
            }
        }
    }

    #[test]
    fn closed_schemas_refuse_other_types_and_extra_keys() {
        let ok = json!({"type": "topology_ok", "in_reply_to": 1, "msg_id": 4});
        assert!(closed_reply(&ok, "topology_ok", &[]).is_ok());
        let extra = json!({"type": "topology_ok", "in_reply_to": 1, "note": "hi"});
        assert!(
            closed_reply(&extra, "topology_ok", &[])
                .unwrap_err()
                .contains("unexpected keys [\"note\"]")
        );
        assert!(closed_reply(&extra, "topology_ok", &["note"]).is_ok());
        assert_eq!(
            closed_reply(&ok, "read_ok", &[]).unwrap_err(),
            "expected read_ok, got `topology_ok`"
        );
    }
}
