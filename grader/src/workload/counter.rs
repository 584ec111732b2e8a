//! Maelstrom's counter workloads: `g-counter` (Gossip Glomers 4, grow-only) and `pn-counter`
//! (Maelstrom's guide, with decrements). `add {delta}` → `add_ok` and `read` → `read_ok
//! {value}`, half and half; pn-counter's deltas are −5 to 4, g-counter drops the negative ones
//! (so two in three operations are reads, with deltas 0 to 4). After the recovery each worker
//! reads once more, and every acknowledged final read must be a total the adds can explain
//! ([`crate::checker::counter`]).
//!
//! Maelstrom's counter clients have no `with-errors`: every error reply and every timeout,
//! reads' included, leaves an operation `info`.

use rand::RngExt;
use rand::rngs::ChaCha8Rng;
use serde_json::{Value as Json, json};

use super::{
    CheckContext, Checked, Declaration, ErrorRule, Figure, Operation, Workload, closed_reply,
};
use crate::checker::counter::{self, acceptable_in_words};
use crate::history::Op;

/// A counter workload: grow-only or not.
#[derive(Debug)]
pub struct Counter {
    /// False for g-counter: no negative deltas.
    decrements: bool,
}

impl Counter {
    /// Maelstrom's g-counter.
    pub fn grow_only() -> Self {
        Counter { decrements: false }
    }

    /// Maelstrom's pn-counter.
    pub fn positive_negative() -> Self {
        Counter { decrements: true }
    }
}

impl Workload for Counter {
    fn name(&self) -> &'static str {
        if self.decrements {
            "pn-counter"
        } else {
            "g-counter"
        }
    }

    fn declaration(&self) -> Declaration {
        Declaration {
            services: if self.decrements { &[] } else { &["seq-kv"] },
            errors: ErrorRule::AllIndefinite,
            ..Declaration::MAELSTROM
        }
    }

    fn next_operation(&mut self, _: usize, rng: &mut ChaCha8Rng) -> Operation {
        loop {
            if rng.random_bool(0.5) {
                return self.final_operation();
            }
            let delta: i64 = rng.random_range(0..10) - 5;
            // g-counter filters Maelstrom's pn-counter generator: a negative add is dropped
            // and the next operation drawn instead.
            if delta < 0 && !self.decrements {
                continue;
            }
            return Operation {
                f: "add",
                value: json!(delta),
                body: json!({"type": "add", "delta": delta}),
            };
        }
    }

    fn judge_reply(&self, f: &str, value: &Json, body: &Json) -> Result<Json, String> {
        if f == "add" {
            closed_reply(body, "add_ok", &[])?;
            return Ok(value.clone());
        }
        let fields = closed_reply(body, "read_ok", &["value"])?;
        match fields.get("value").and_then(Json::as_i64) {
            Some(total) => Ok(json!(total)),
            None => Err("read_ok needs a `value` that is a whole number".into()),
        }
    }

    fn check(&self, history: &[Op], _: &CheckContext) -> Checked {
        let result = counter::check(history);
        let expected = acceptable_in_words(&result.acceptable);
        let reads: Vec<String> = result
            .final_reads
            .iter()
            .map(|read| {
                format!(
                    "{} {}{}",
                    read.node.as_deref().unwrap_or("?"),
                    read.value,
                    if read.acceptable { "" } else { " (wrong)" }
                )
            })
            .collect();
        let summary = vec![
            format!(
                "adds       {} acknowledged (sum {}), {} unknown",
                result.acknowledged_adds, result.acknowledged_sum, result.unknown_adds
            ),
            format!(
                "final      expected {expected}; read {}",
                if reads.is_empty() {
                    "nothing".to_owned()
                } else {
                    reads.join(", ")
                }
            ),
        ];
        let mut anomalies = Vec::new();
        if result.unchecked_final_reads > 0 {
            anomalies.push(format!(
                "WARNING    {} final read(s) failed or timed out and were not checked; Maelstrom passes a run whose final reads all fail, so a node must answer them (a grading plan can require /workload/unchecked_final_reads = 0)",
                result.unchecked_final_reads
            ));
        }
        let reasons = result
            .final_reads
            .iter()
            .filter(|read| !read.acceptable)
            .take(1)
            .map(|read| {
                let allowed = if result.unknown_adds == 0 {
                    format!("so every final read must be {expected}")
                } else {
                    format!(
                        "and the {} add(s) whose outcome is unknown allow only {expected}",
                        result.unknown_adds
                    )
                };
                format!(
                    "{} final read(s) show a total the adds cannot explain; the first: {} read {}, but the acknowledged adds sum to {}, {allowed} (an add lost to a concurrent write, or a decrement undone by a merge?)",
                    result.error_count,
                    read.node.as_deref().unwrap_or("a node"),
                    read.value,
                    result.acknowledged_sum,
                )
            })
            .collect();
        Checked::with_workload_section(result.valid, &result, summary, anomalies, reasons)
    }

    fn headline_figures(&self) -> &'static [Figure] {
        &[
            Figure {
                pointer: "/workload/error_count",
                label: "wrong reads",
            },
            Figure {
                pointer: "/workload/unchecked_final_reads",
                label: "unchecked",
            },
        ]
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn g_counter_never_adds_a_negative_delta_and_reads_two_times_in_three() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut grow = Counter::grow_only();
        let ops: Vec<Operation> = (0..3000)
            .map(|_| grow.next_operation(0, &mut rng))
            .collect();
        let adds: Vec<i64> = ops
            .iter()
            .filter(|op| op.f == "add")
            .map(|op| op.value.as_i64().unwrap())
            .collect();
        assert!(adds.iter().all(|delta| (0..5).contains(delta)));
        let reads = ops.len() - adds.len();
        assert!((1900..2100).contains(&reads), "{reads} reads of 3000");
        let mut both = Counter::positive_negative();
        let deltas: Vec<i64> = (0..3000)
            .map(|_| both.next_operation(0, &mut rng))
            .filter(|op| op.f == "add")
            .map(|op| op.value.as_i64().unwrap())
            .collect();
        assert_eq!(deltas.iter().min(), Some(&-5));
        assert_eq!(deltas.iter().max(), Some(&4));
    }

    #[test]
    fn reads_must_answer_a_whole_number_and_errors_are_all_indefinite() {
        let workload = Counter::positive_negative();
        let read = |body: Json| workload.judge_reply("read", &Json::Null, &body);
        assert_eq!(read(json!({"type": "read_ok", "value": 4})), Ok(json!(4)));
        assert!(read(json!({"type": "read_ok", "value": 4.5})).is_err());
        assert!(read(json!({"type": "read_ok"})).is_err());
        assert!(read(json!({"type": "read_ok", "value": 1, "ts": 2})).is_err());
        let errors = workload.declaration().errors;
        assert!(!errors.fails("read", true) && !errors.fails("add", true));
        assert_eq!(Counter::grow_only().declaration().services, ["seq-kv"]);
    }
}
