//! Maelstrom's lin-kv workload (Maelstrom's guide, chapter 6: Raft): registers under integer
//! keys, `read {key}` → `read_ok {value}`, `write {key, value}` → `write_ok`, `cas {key, from,
//! to}` → `cas_ok`, with error 20 for a key that does not exist and 22 for a cas whose `from`
//! does not match.
//!
//! The generator is Jepsen's independent concurrent generator as Maelstrom sets it up: the
//! workers are split into groups of `2n` (`n` nodes; `--concurrency` must be a multiple of
//! `2n`), each group on one key; in each group the first `n` workers only read and the other
//! `n` write a value from 0 to 4 (a third of their operations) or cas between two such values
//! (two thirds). Once 20 processes have worked a key (a worker whose operation ended unknown
//! goes on as a new process) the group moves on to the next unused key. No final phase, and
//! the RPC timeout is ten times the mean latency, at least a second. A read that fails or times
//! out certainly did nothing (`with-errors` with reads idempotent); a write or cas that timed
//! out may have happened.
//!
//! The checker is [`crate::checker::linearizable`], per key: Knossos's verdict by default,
//! `--workload-options strict=true` for the strict mode that closes its holes.

use std::collections::BTreeSet;
use std::time::Duration;

use rand::RngExt;
use rand::rngs::ChaCha8Rng;
use serde_json::{Value as Json, json};

use super::{
    CheckContext, Checked, ConcurrencyRule, Declaration, ErrorRule, Figure, Operation, Options,
    RpcTimeout, RunShape, Workload, closed_reply,
};
use crate::checker::linearizable::{self, DEFAULT_BUDGET, Mode};
use crate::history::{Op, OpKind};

/// The options lin-kv takes.
pub const OPTIONS: &[(&str, &str)] = &[(
    "strict",
    "true to judge null reads and failed operations by what they say (default false: Knossos's verdict)",
)];

/// Processes per key before its group moves to the next key (Jepsen's `process-limit`).
const PROCESS_LIMIT: usize = 20;

/// Makes the workload from its options.
pub fn make(options: &Options) -> Result<Box<dyn Workload>, String> {
    let strict = match options.get("strict").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => return Err(format!("strict takes true or false, not `{other}`")),
    };
    Ok(Box::new(LinKv {
        mode: if strict { Mode::Strict } else { Mode::Knossos },
        ..LinKv::default()
    }))
}

/// One group of workers: its key, and the processes that have worked it.
#[derive(Debug, Default, Clone)]
struct Group {
    key: u64,
    processes: BTreeSet<(usize, u64)>,
}

/// The lin-kv workload.
#[derive(Debug)]
pub struct LinKv {
    mode: Mode,
    nodes: usize,
    groups: Vec<Group>,
    next_key: u64,
    /// Per worker, how many times it went on as a new process.
    generation: Vec<u64>,
}

impl Default for LinKv {
    fn default() -> Self {
        LinKv {
            mode: Mode::Knossos,
            nodes: 1,
            groups: Vec::new(),
            next_key: 0,
            generation: Vec::new(),
        }
    }
}

impl LinKv {
    /// Worker `worker`'s group, created (with the next key) when first met.
    fn group(&mut self, worker: usize) -> &mut Group {
        let index = worker / (2 * self.nodes.max(1));
        while self.groups.len() <= index {
            let key = self.next_key;
            self.next_key += 1;
            self.groups.push(Group {
                key,
                processes: BTreeSet::new(),
            });
        }
        &mut self.groups[index]
    }
}

impl Workload for LinKv {
    fn name(&self) -> &'static str {
        "lin-kv"
    }

    fn declaration(&self) -> Declaration {
        Declaration {
            rpc_timeout: RpcTimeout::LatencyTimes {
                factor: 10,
                floor: Duration::from_secs(1),
            },
            final_phase: false,
            concurrency: ConcurrencyRule::MultipleOfTwiceNodes,
            errors: ErrorRule::WithErrors {
                idempotent: &["read"],
            },
            ..Declaration::MAELSTROM
        }
    }

    fn prepare(&mut self, run: &RunShape) {
        self.nodes = run.nodes.max(1);
        self.generation = vec![0; run.concurrency];
    }

    fn next_operation(&mut self, worker: usize, rng: &mut ChaCha8Rng) -> Operation {
        if self.generation.len() <= worker {
            self.generation.resize(worker + 1, 0);
        }
        let process = (worker, self.generation[worker]);
        let reader = worker % (2 * self.nodes) < self.nodes;
        let group = self.group(worker);
        if !group.processes.contains(&process) && group.processes.len() >= PROCESS_LIMIT {
            // This key has had its processes: the group moves on.
            group.processes.clear();
            group.key = u64::MAX;
        }
        if group.key == u64::MAX {
            let key = self.next_key;
            self.next_key += 1;
            self.groups[worker / (2 * self.nodes)].key = key;
        }
        let group = &mut self.groups[worker / (2 * self.nodes)];
        group.processes.insert(process);
        let key = group.key;
        if reader {
            return Operation {
                f: "read",
                value: json!([key, null]),
                body: json!({"type": "read", "key": key}),
            };
        }
        let value = rng.random_range(0..5);
        if rng.random_range(0..3) == 0 {
            Operation {
                f: "write",
                value: json!([key, value]),
                body: json!({"type": "write", "key": key, "value": value}),
            }
        } else {
            let to = rng.random_range(0..5);
            Operation {
                f: "cas",
                value: json!([key, [value, to]]),
                body: json!({"type": "cas", "key": key, "from": value, "to": to}),
            }
        }
    }

    fn judge_reply(&self, f: &str, value: &Json, body: &Json) -> Result<Json, String> {
        match f {
            "read" => {
                let fields = closed_reply(body, "read_ok", &["value"])?;
                let seen = fields
                    .get("value")
                    .ok_or("read_ok needs a `value`")?
                    .clone();
                Ok(json!([value[0], seen]))
            }
            "write" => closed_reply(body, "write_ok", &[]).map(|_| value.clone()),
            "cas" => closed_reply(body, "cas_ok", &[]).map(|_| value.clone()),
            other => Err(format!("no reply expected to `{other}`")),
        }
    }

    fn completed(&mut self, worker: usize, _: &str, kind: OpKind, _: &Json) {
        if kind == OpKind::Info {
            if self.generation.len() <= worker {
                self.generation.resize(worker + 1, 0);
            }
            self.generation[worker] += 1;
        }
    }

    fn check(&self, history: &[Op], _: &CheckContext) -> Checked {
        let result = linearizable::check(history, self.mode, DEFAULT_BUDGET);
        let mode = match self.mode {
            Mode::Knossos => "Knossos's mode",
            Mode::Strict => "strict mode",
        };
        let summary = vec![format!(
            "lin-kv     {} operations on {} keys checked for linearizability ({mode}): {} keys not linearizable, {} given up on",
            result.operations,
            result.keys,
            result.failures.len(),
            result.gave_up.len()
        )];
        let mut anomalies: Vec<String> = result
            .failures
            .iter()
            .map(|failure| failure.words.clone())
            .collect();
        if self.mode == Mode::Knossos && result.null_reads > 0 {
            anomalies.push(format!(
                "warning: {} reads returned null, which Knossos (and so this verdict) accepts whatever the key holds; --workload-options strict=true judges them as saying the key is absent",
                result.null_reads
            ));
        }
        let mut reasons: Vec<String> = result
            .failures
            .iter()
            .take(3)
            .map(|failure| format!("not linearizable: {}", failure.words))
            .collect();
        if !result.gave_up.is_empty() {
            let keys: Vec<&String> = result.gave_up.keys().collect();
            reasons.push(format!(
                "the search gave up on key(s) {keys:?} after {DEFAULT_BUDGET} steps: too many concurrent operations to decide (the verdict is unknown, not valid)"
            ));
        }
        Checked::with_workload_section(result.valid, &result, summary, anomalies, reasons)
    }

    fn headline_figures(&self) -> &'static [Figure] {
        &[Figure {
            pointer: "/workload/null_reads",
            label: "null reads",
        }]
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn groups_of_2n_workers_share_a_key_half_reading_and_move_on_after_20_processes() {
        let mut workload = LinKv::default();
        workload.prepare(&RunShape {
            nodes: 2,
            concurrency: 8,
            rate: 10.0,
            time_limit: Duration::from_secs(1),
            seed: 1,
        });
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let ops: Vec<Operation> = (0..8)
            .map(|w| workload.next_operation(w, &mut rng))
            .collect();
        // Workers 0–3 on key 0, 4–7 on key 1; 0, 1, 4, 5 read.
        let keys: Vec<u64> = ops.iter().map(|op| op.value[0].as_u64().unwrap()).collect();
        assert_eq!(keys, [0, 0, 0, 0, 1, 1, 1, 1]);
        let reads: Vec<bool> = ops.iter().map(|op| op.f == "read").collect();
        assert_eq!(reads, [true, true, false, false, true, true, false, false]);
        // Worker 2's operations keep ending unknown: each time a new process, until 20 have
        // worked key 0 and the group moves on to key 2.
        let mut keys_seen = BTreeSet::new();
        for _ in 0..30 {
            workload.completed(2, "write", OpKind::Info, &Json::Null);
            let op = workload.next_operation(2, &mut rng);
            keys_seen.insert(op.value[0].as_u64().unwrap());
        }
        assert!(keys_seen.contains(&2), "{keys_seen:?}");
        for op in ops.iter().filter(|op| op.f != "read") {
            let value = &op.body;
            let in_range = |v: &Json| v.as_u64().is_some_and(|v| v < 5);
            assert!(
                in_range(&value["value"]) || (in_range(&value["from"]) && in_range(&value["to"])),
                "{value}"
            );
        }
    }

    #[test]
    fn replies_are_judged_by_their_closed_schemas_and_options_are_checked() {
        let workload = LinKv::default();
        assert_eq!(
            workload
                .judge_reply(
                    "read",
                    &json!([3, null]),
                    &json!({"type": "read_ok", "value": 4})
                )
                .unwrap(),
            json!([3, 4])
        );
        assert!(
            workload
                .judge_reply(
                    "cas",
                    &json!([3, [1, 2]]),
                    &json!({"type": "cas_ok", "value": 1})
                )
                .is_err()
        );
        assert!(make(&Options::from([("strict".into(), "maybe".into())])).is_err());
        assert!(make(&Options::from([("strict".into(), "true".into())])).is_ok());
    }
}
