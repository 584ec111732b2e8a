//! The concurrent-writers workload (stage 18's demonstration): clients on every node write unique
//! integers to a few shared keys, each write carrying the context its client last saw, and read
//! them back; judged by [`crate::checker::vv`].
//!
//! - Setup: `set_mode {mode}` → `set_mode_ok`, with the run's `mode` option (`vv`, the default,
//!   or `lww`), so one node binary is graded in both modes.
//! - `vv_write {key, value, context}` → `vv_write_ok {vc}`; `vv_read {key}` → `vv_read_ok
//!   {values: [{value, vc}], conflict}`.
//! - Each worker keeps a context per key: the entry-wise maximum of the vectors it has read and
//!   been acknowledged on that key, so its next write says exactly what it knew. Workers read as
//!   often as they write, so their contexts go stale while others write: the writes overlap.
//!
//! Option `keys` (default 2). Final reads take the keys in turn, worker by worker, so with
//! `2n` workers on an odd number of nodes every node is read on every key; convergence probes
//! read every key of every node.

use std::collections::BTreeMap;

use rand::RngExt;
use rand::rngs::ChaCha8Rng;
use serde_json::{Value as Json, json};

use super::{
    CheckContext, Checked, Figure, Operation, Options, Probes, Survivors, Workload, closed_reply,
};
use crate::checker::Validity;
use crate::checker::vv::{self, Mode, Vector, included, merge_into, vector};
use crate::history::{Op, OpKind};
use crate::topology::NeighbourMap;

/// Its options.
pub const OPTIONS: &[(&str, &str)] = &[
    (
        "mode",
        "what set_mode asks the nodes for: vv (keep concurrent writes as siblings, the default) or lww (one value per key)",
    ),
    (
        "keys",
        "how many keys clients write and read: 1 to 100, default 2",
    ),
];

/// Makes the workload from its options.
pub fn make(options: &Options) -> Result<Box<dyn Workload>, String> {
    let mode = match options.get("mode").map(String::as_str) {
        None | Some("vv") => Mode::Vv,
        Some("lww") => Mode::Lww,
        Some(other) => return Err(format!("mode is vv or lww, not `{other}`")),
    };
    let keys = match options.get("keys") {
        None => 2,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|keys| (1..=100).contains(keys))
            .ok_or_else(|| format!("keys is a number from 1 to 100, not `{text}`"))?,
    };
    Ok(Box::new(ConcurrentWriters {
        mode,
        keys,
        next_value: 0,
        next_final: 0,
        contexts: Vec::new(),
        required: vec![Vec::new(); keys],
    }))
}

/// The workload's state.
#[derive(Debug)]
pub struct ConcurrentWriters {
    mode: Mode,
    keys: usize,
    next_value: i64,
    next_final: usize,
    /// Per worker, per key: what the worker has seen.
    contexts: Vec<BTreeMap<String, Vector>>,
    /// Per key, when convergence started: in vv mode the acknowledged writes no write
    /// superseded (every replica must hold them all); in lww mode the candidates to win (one
    /// of them will do).
    required: Vec<Vec<Json>>,
}

fn key_name(index: usize) -> String {
    format!("k{index}")
}

fn read(key: String) -> Operation {
    Operation {
        f: "read",
        value: json!({ "key": key }),
        body: json!({"type": "vv_read", "key": key}),
    }
}

/// The values of a `vv_read_ok` body, or why it is not one.
fn read_values(body: &Json) -> Result<Vec<Json>, String> {
    let fields = closed_reply(body, "vv_read_ok", &["values", "conflict"])?;
    let values = fields
        .get("values")
        .and_then(Json::as_array)
        .ok_or("vv_read_ok needs `values`, an array of {value, vc}")?;
    for sibling in values {
        let well_formed = sibling.as_object().is_some_and(|map| {
            map.len() == 2 && map.contains_key("value") && vector(&map["vc"]).is_some()
        });
        if !well_formed {
            return Err(format!(
                "each of vv_read_ok's values is {{value, vc}} with vc an object of counts, not {sibling}"
            ));
        }
    }
    let conflict = fields
        .get("conflict")
        .and_then(Json::as_bool)
        .ok_or("vv_read_ok needs a boolean `conflict`")?;
    if conflict != (values.len() > 1) {
        return Err(format!(
            "conflict must be true exactly when more than one value is returned; it is {conflict} with {} values",
            values.len()
        ));
    }
    Ok(values.clone())
}

impl Workload for ConcurrentWriters {
    fn name(&self) -> &'static str {
        "concurrent-writers"
    }

    fn setup_request(&self, _: &NeighbourMap) -> Option<Json> {
        Some(json!({"type": "set_mode", "mode": self.mode.name()}))
    }

    fn judge_setup_reply(&self, body: &Json) -> Result<(), String> {
        closed_reply(body, "set_mode_ok", &[]).map(|_| ())
    }

    fn next_operation(&mut self, worker: usize, rng: &mut ChaCha8Rng) -> Operation {
        let key = key_name(rng.random_range(0..self.keys));
        if rng.random_bool(0.5) {
            let value = self.next_value;
            self.next_value += 1;
            let context = self
                .contexts
                .get(worker)
                .and_then(|contexts| contexts.get(&key))
                .cloned()
                .unwrap_or_default();
            Operation {
                f: "write",
                value: json!({"key": key, "value": value, "context": context}),
                body: json!({"type": "vv_write", "key": key, "value": value, "context": context}),
            }
        } else {
            read(key)
        }
    }

    fn completed(&mut self, worker: usize, _: &str, kind: OpKind, value: &Json) {
        if kind != OpKind::Ok {
            return;
        }
        let Some(key) = value["key"].as_str() else {
            return;
        };
        if self.contexts.len() <= worker {
            self.contexts.resize_with(worker + 1, BTreeMap::new);
        }
        let context = self.contexts[worker].entry(key.to_owned()).or_default();
        if let Some(vc) = vector(&value["vc"]) {
            merge_into(context, &vc);
        }
        for sibling in value["values"].as_array().into_iter().flatten() {
            if let Some(vc) = vector(&sibling["vc"]) {
                merge_into(context, &vc);
            }
        }
    }

    fn final_operation(&mut self) -> Operation {
        let key = key_name(self.next_final % self.keys);
        self.next_final += 1;
        read(key)
    }

    fn judge_reply(&self, f: &str, value: &Json, body: &Json) -> Result<Json, String> {
        if f == "read" {
            let values = read_values(body)?;
            let conflict = values.len() > 1;
            Ok(json!({"key": value["key"], "values": values, "conflict": conflict}))
        } else {
            let fields = closed_reply(body, "vv_write_ok", &["vc"])?;
            let vc = fields
                .get("vc")
                .filter(|vc| vector(vc).is_some())
                .ok_or("vv_write_ok needs `vc`, an object of non-negative integer counts")?;
            let mut done = value.clone();
            done["vc"] = vc.clone();
            Ok(done)
        }
    }

    fn check(&self, history: &[Op], _: &CheckContext) -> Checked {
        let result = vv::check(history, self.mode);
        let summary = vec![
            format!(
                "writes     {} invoked, {} acknowledged, {} superseded by a write that saw them, {} lost (mode {})",
                result.write_count,
                result.acknowledged_count,
                result.superseded_count,
                result.lost_write_count,
                self.mode.name()
            ),
            format!(
                "reads      {} ok, {} with siblings (conflicts), at most {} values at once",
                result.read_count, result.conflict_count, result.max_siblings
            ),
        ];
        let mut reasons = Vec::new();
        if !result.diverged_keys.is_empty() {
            reasons.push(super::diverged_reason(&result.diverged_keys));
        }
        if !result.unknown_values.is_empty() {
            reasons.push(format!(
                "final reads returned values nobody wrote: {}",
                result.unknown_values.join(", ")
            ));
        }
        if !result.bad_vectors.is_empty() {
            reasons.push(format!(
                "{} acknowledged writes came back with a vector that is not their context with the writer's entry raised by one (first: {})",
                result.bad_vectors.len(),
                result.bad_vectors[0]
            ));
        }
        if self.mode == Mode::Vv && result.lost_write_count > 0 {
            reasons.push(format!(
                "{} acknowledged writes vanished though no later write's context included them: in vv mode a concurrent write must stay as a sibling",
                result.lost_write_count
            ));
        }
        if !result.dominated_kept.is_empty() {
            reasons.push(format!(
                "final reads kept values another kept value dominates ({}): a dominated sibling must be dropped",
                result.dominated_kept.join(", ")
            ));
        }
        if result.multi_value_reads_in_lww > 0 {
            reasons.push(format!(
                "{} reads returned several values though the nodes were set to lww mode (one value per key)",
                result.multi_value_reads_in_lww
            ));
        }
        if result.valid == Validity::Unknown {
            reasons.push("no final read succeeded, so the end state could not be judged".into());
        }
        let anomalies = result
            .lost_writes
            .iter()
            .take(5)
            .map(|lost| {
                format!(
                    "LOST WRITE {} = {} (by {}, vc {}) gone, and no write that saw it replaced it",
                    lost.key,
                    lost.value,
                    lost.node,
                    serde_json::to_string(&lost.vc).expect("serialises")
                )
            })
            .collect();
        Checked::with_workload_section(result.valid, &result, summary, anomalies, reasons)
    }

    fn headline_figures(&self) -> &'static [Figure] {
        &[
            Figure {
                pointer: "/workload/acknowledged_count",
                label: "writes acked",
            },
            Figure {
                pointer: "/workload/lost_write_count",
                label: "lost writes",
            },
            Figure {
                pointer: "/workload/conflict_count",
                label: "conflicts",
            },
        ]
    }

    fn probes(&mut self) -> Option<&mut dyn Probes> {
        Some(self)
    }
}

impl Probes for ConcurrentWriters {
    fn start_convergence(&mut self, history: &[Op], _: &Survivors) -> usize {
        // Writes that may have happened, with their vectors when acknowledged.
        let mut writes: Vec<(usize, Json, Vector, Option<Vector>)> = Vec::new();
        for (invocation, completion) in crate::history::paired(history) {
            if invocation.f != "write" || completion.is_some_and(|op| op.kind == OpKind::Fail) {
                continue;
            }
            let Some(index) = invocation.value["key"]
                .as_str()
                .and_then(|key| key.strip_prefix('k'))
                .and_then(|n| n.parse::<usize>().ok())
                .filter(|index| *index < self.keys)
            else {
                continue;
            };
            let context = vector(&invocation.value["context"]).unwrap_or_default();
            let vc = completion
                .filter(|op| op.kind == OpKind::Ok)
                .and_then(|op| vector(&op.value["vc"]));
            writes.push((index, invocation.value["value"].clone(), context, vc));
        }
        self.required = vec![Vec::new(); self.keys];
        for (index, value, _, vc) in &writes {
            let superseded = |vc: &Vector| {
                writes.iter().any(|(other_index, other, context, _)| {
                    other_index == index && other != value && included(vc, context)
                })
            };
            let candidate = match (self.mode, vc) {
                (Mode::Vv, Some(vc)) => !superseded(vc),
                (Mode::Vv, None) => false,
                // In lww mode an unacknowledged write may win too.
                (Mode::Lww, vc) => vc.as_ref().is_none_or(|vc| !superseded(vc)),
            };
            if candidate {
                self.required[*index].push(value.clone());
            }
        }
        self.required.iter().map(Vec::len).sum()
    }

    fn probe_parts(&self) -> usize {
        self.keys
    }

    fn probe_request(&self, part: usize) -> Json {
        json!({"type": "vv_read", "key": key_name(part)})
    }

    fn probe_converged(&self, part: usize, reply: &Json) -> bool {
        let required = self.required.get(part).map_or(&[][..], Vec::as_slice);
        let Ok(values) = read_values(reply) else {
            return false;
        };
        let held: Vec<&Json> = values.iter().map(|sibling| &sibling["value"]).collect();
        match self.mode {
            Mode::Vv => required.iter().all(|value| held.contains(&value)),
            Mode::Lww => required.is_empty() || held.iter().any(|value| required.contains(value)),
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn a_worker_writes_from_what_it_read_and_was_acknowledged() {
        let mut workload = make(&Options::new()).unwrap();
        assert_eq!(
            workload.setup_request(&NeighbourMap::new()),
            Some(json!({"type": "set_mode", "mode": "vv"}))
        );
        let read = json!({"key": "k0", "values": [{"value": 1, "vc": {"c1": 2}}, {"value": 2, "vc": {"c2": 1}}], "conflict": true});
        workload.completed(3, "read", OpKind::Ok, &read);
        let written = json!({"key": "k0", "value": 5, "context": {}, "vc": {"c4": 1, "c1": 1}});
        workload.completed(3, "write", OpKind::Ok, &written);
        // A failed operation teaches the worker nothing.
        workload.completed(
            3,
            "write",
            OpKind::Info,
            &json!({"key": "k0", "vc": {"c9": 9}}),
        );
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let context = (0..50)
            .map(|_| workload.next_operation(3, &mut rng))
            .find(|op| op.f == "write" && op.value["key"] == "k0")
            .map(|op| op.body["context"].clone())
            .unwrap();
        assert_eq!(context, json!({"c1": 2, "c2": 1, "c4": 1}));
        let other = (0..50)
            .map(|_| workload.next_operation(0, &mut rng))
            .find(|op| op.f == "write")
            .unwrap();
        assert_eq!(other.body["context"], json!({}));
    }

    #[test]
    fn malformed_replies_say_what_is_wrong() {
        let workload = make(&Options::new()).unwrap();
        let key = json!({"key": "k0"});
        let judge = |body: Json| workload.judge_reply("read", &key, &body);
        assert!(judge(json!({"type": "vv_read_ok", "values": [], "conflict": false})).is_ok());
        let lying = judge(
            json!({"type": "vv_read_ok", "values": [{"value": 1, "vc": {}}, {"value": 2, "vc": {}}], "conflict": false}),
        );
        assert!(lying.unwrap_err().contains("more than one value"));
        let bare = judge(json!({"type": "vv_read_ok", "values": [1], "conflict": false}));
        assert!(bare.unwrap_err().contains("{value, vc}"));
        let write = workload.judge_reply(
            "write",
            &json!({"key": "k0", "value": 1, "context": {}}),
            &json!({"type": "vv_write_ok", "vc": {"c1": -1}}),
        );
        assert!(write.unwrap_err().contains("non-negative integer counts"));
        assert!(
            make(&[("mode".into(), "crdt".into())].into())
                .err()
                .unwrap()
                .contains("vv or lww")
        );
    }
}
