//! The lww-kv workload: clients on every node write unique integers to a few keys
//! (`write {key, value}` → `write_ok {ts}`) and read them (`kv_read {key}` →
//! `kv_read_ok {key, value, ts}`, or error 20 for a key never written); judged by
//! [`crate::checker::lww`]: the replicas agree on each key, on the right winner, and lost writes
//! are counted. Option `keys` (default 3). Final reads take the keys in turn, worker by worker,
//! so with as many workers as nodes × keys and the two counts coprime (5 nodes, 3 keys, `3n`)
//! every node is read on every key; convergence probes read every key of every node.

use rand::RngExt;
use rand::rngs::ChaCha8Rng;
use serde_json::{Value as Json, json};

use super::{
    CheckContext, Checked, Figure, Operation, Options, Probes, Survivors, Workload, closed_reply,
};
use crate::checker::Validity;
use crate::checker::lww::{self, later_stamp};
use crate::history::{Op, OpKind};
use crate::topology::NeighbourMap;

/// Its options.
pub const OPTIONS: &[(&str, &str)] = &[(
    "keys",
    "how many keys clients write and read: 1 to 100, default 3",
)];

/// Makes the workload from its options.
pub fn make(options: &Options) -> Result<Box<dyn Workload>, String> {
    let keys = match options.get("keys") {
        None => 3,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|keys| (1..=100).contains(keys))
            .ok_or_else(|| format!("keys is a number from 1 to 100, not `{text}`"))?,
    };
    Ok(Box::new(LwwKv {
        keys,
        next_value: 0,
        next_final: 0,
        expected: vec![None; keys],
    }))
}

/// The workload's state.
#[derive(Debug)]
pub struct LwwKv {
    keys: usize,
    next_value: i64,
    next_final: usize,
    /// Per key, the stamp (ts, node) and value of the acknowledged winner when convergence
    /// started.
    expected: Vec<Option<(f64, String, Json)>>,
}

fn key_name(index: usize) -> String {
    format!("k{index}")
}

impl LwwKv {
    fn read(key: String) -> Operation {
        Operation {
            f: "read",
            value: json!({ "key": key }),
            body: json!({"type": "kv_read", "key": key}),
        }
    }
}

impl Workload for LwwKv {
    fn name(&self) -> &'static str {
        "lww-kv"
    }

    fn setup_request(&self, _: &NeighbourMap) -> Option<Json> {
        None
    }

    fn judge_setup_reply(&self, _: &Json) -> Result<(), String> {
        Ok(())
    }

    fn next_operation(&mut self, _: usize, rng: &mut ChaCha8Rng) -> Operation {
        let key = key_name(rng.random_range(0..self.keys));
        if rng.random_bool(0.5) {
            let value = self.next_value;
            self.next_value += 1;
            Operation {
                f: "write",
                value: json!({"key": key, "value": value}),
                body: json!({"type": "write", "key": key, "value": value}),
            }
        } else {
            Self::read(key)
        }
    }

    fn final_operation(&mut self) -> Operation {
        let key = key_name(self.next_final % self.keys);
        self.next_final += 1;
        Self::read(key)
    }

    fn judge_reply(&self, f: &str, value: &Json, body: &Json) -> Result<Json, String> {
        if f == "read" {
            let fields = closed_reply(body, "kv_read_ok", &["key", "value", "ts"])?;
            let ts = fields
                .get("ts")
                .and_then(Json::as_f64)
                .ok_or("kv_read_ok needs a numeric `ts`")?;
            if fields.get("key") != value.get("key") {
                return Err(format!(
                    "kv_read_ok is for key {:?}, not the one asked",
                    fields.get("key")
                ));
            }
            Ok(
                json!({"key": value["key"], "value": fields.get("value").cloned().unwrap_or(Json::Null), "ts": ts}),
            )
        } else {
            let fields = closed_reply(body, "write_ok", &["ts"])?;
            let ts = fields
                .get("ts")
                .and_then(Json::as_f64)
                .ok_or("write_ok needs a numeric `ts`")?;
            Ok(json!({"key": value["key"], "value": value["value"], "ts": ts}))
        }
    }

    fn check(&self, history: &[Op], _: &CheckContext) -> Checked {
        let result = lww::check(history);
        let summary = vec![format!(
            "writes     {} invoked, {} acknowledged, {} lost to a write that did not follow them; keys {} diverged, {} with the wrong winner",
            result.write_count,
            result.acknowledged_count,
            result.lost_write_count,
            result.diverged_keys.len(),
            result.wrong_keys.len()
        )];
        let mut reasons = Vec::new();
        if !result.diverged_keys.is_empty() {
            reasons.push(super::diverged_reason(&result.diverged_keys));
        }
        if !result.wrong_keys.is_empty() {
            reasons.push(format!(
                "the replicas agree on {} but not on the write with the largest (ts, node): ties must break by node id and later stamps must win everywhere",
                result.wrong_keys.join(", ")
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
                    "LOST WRITE {} = {} (by {}, ts {:.6}) overwritten by {} from a write that did not follow it",
                    lost.key, lost.value, lost.node, lost.ts, lost.overwritten_by
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
        ]
    }

    fn probes(&mut self) -> Option<&mut dyn Probes> {
        Some(self)
    }
}

impl Probes for LwwKv {
    fn start_convergence(&mut self, history: &[Op], _: &Survivors) -> usize {
        self.expected = vec![None; self.keys];
        for (_, completion) in crate::history::paired(history) {
            let Some(op) = completion.filter(|op| op.f == "write" && op.kind == OpKind::Ok) else {
                continue;
            };
            let (Some(key), Some(ts)) = (op.value["key"].as_str(), op.value["ts"].as_f64()) else {
                continue;
            };
            let Some(index) = key.strip_prefix('k').and_then(|n| n.parse::<usize>().ok()) else {
                continue;
            };
            let node = op.node.clone().unwrap_or_default();
            let Some(slot) = self.expected.get_mut(index) else {
                continue;
            };
            if slot
                .as_ref()
                .is_none_or(|(best, best_node, _)| later_stamp((ts, &node), (*best, best_node)))
            {
                *slot = Some((ts, node, op.value["value"].clone()));
            }
        }
        self.expected.iter().flatten().count()
    }

    fn probe_parts(&self) -> usize {
        self.keys
    }

    fn probe_request(&self, part: usize) -> Json {
        json!({"type": "kv_read", "key": key_name(part)})
    }

    fn probe_converged(&self, part: usize, reply: &Json) -> bool {
        match self.expected.get(part) {
            Some(Some((ts, _, value))) => {
                reply.get("type").and_then(Json::as_str) == Some("kv_read_ok")
                    && (reply.get("value") == Some(value)
                        || reply
                            .get("ts")
                            .and_then(Json::as_f64)
                            .is_some_and(|seen| seen > *ts))
            }
            // Nothing acknowledged on this key: whatever the node holds will do.
            _ => true,
        }
    }
}
