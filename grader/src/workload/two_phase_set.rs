//! The two-phase-set workload: clients add the integers 0, 1, 2, …, remove elements that were
//! already added, and read the set (`read_ok {elements}`); judged by
//! [`crate::checker::two_phase`]: final reads equal the model (acknowledged adds minus
//! acknowledged removes), no resurrection, and how long removes take to be seen everywhere.

use std::collections::BTreeSet;

use rand::RngExt;
use rand::rngs::ChaCha8Rng;
use serde_json::{Value as Json, json};

use super::broadcast::{carried_values_in, format_quantiles};
use super::{
    CheckContext, Checked, Figure, Operation, Probes, Survivors, TrackValues, Workload,
    closed_reply,
};
use crate::checker::Validity;
use crate::checker::two_phase;
use crate::history::{Op, OpKind};
use crate::topology::NeighbourMap;

/// The workload's state: the next element, the elements added and not yet chosen for removal,
/// and what convergence waits for.
#[derive(Debug, Default)]
pub struct TwoPhaseSet {
    next_element: i64,
    removable: Vec<i64>,
    must_hold: BTreeSet<i64>,
    must_not_hold: BTreeSet<i64>,
}

const ADD: &str = "add";
const REMOVE: &str = "remove";
const READ: &str = "read";

/// The fields a server's message may carry elements in (a merge's `add_set`, or lists).
const CARRIED: &[&str] = &["add_set", "elements", "messages", "values"];

fn read() -> Operation {
    Operation {
        f: READ,
        value: Json::Null,
        body: json!({"type": "read"}),
    }
}

impl Workload for TwoPhaseSet {
    fn name(&self) -> &'static str {
        "two-phase-set"
    }

    fn setup_request(&self, _: &NeighbourMap) -> Option<Json> {
        None
    }

    fn judge_setup_reply(&self, _: &Json) -> Result<(), String> {
        Ok(())
    }

    /// Two in five operations add, one in five removes (when something is left to remove),
    /// the rest read.
    fn next_operation(&mut self, _: usize, rng: &mut ChaCha8Rng) -> Operation {
        let roll: f64 = rng.random_range(0.0..1.0);
        if roll < 0.4 || (roll < 0.6 && self.removable.is_empty()) {
            let element = self.next_element;
            self.next_element += 1;
            self.removable.push(element);
            Operation {
                f: ADD,
                value: json!(element),
                body: json!({"type": "add", "element": element}),
            }
        } else if roll < 0.6 {
            let element = self
                .removable
                .swap_remove(rng.random_range(0..self.removable.len()));
            Operation {
                f: REMOVE,
                value: json!(element),
                body: json!({"type": "remove", "element": element}),
            }
        } else {
            read()
        }
    }

    fn final_operation(&mut self) -> Operation {
        read()
    }

    fn judge_reply(&self, f: &str, value: &Json, body: &Json) -> Result<Json, String> {
        match f {
            READ => {
                if body.get("type").and_then(Json::as_str) == Some("read_ok")
                    && !matches!(body.get("elements"), Some(Json::Array(_)))
                {
                    return Err("read_ok needs an `elements` list".into());
                }
                let fields = closed_reply(body, "read_ok", &["elements"])?;
                Ok(fields["elements"].clone())
            }
            REMOVE => {
                closed_reply(body, "remove_ok", &[])?;
                Ok(value.clone())
            }
            _ => {
                closed_reply(body, "add_ok", &[])?;
                Ok(value.clone())
            }
        }
    }

    fn check(&self, history: &[Op], _: &CheckContext) -> Checked {
        let result = two_phase::check(history);
        let summary = vec![
            format!(
                "elements   {} added ({} acknowledged), {} removed, {} lost, {} not removed, {} resurrected",
                result.attempt_count,
                result.added_count,
                result.removed_count,
                result.lost_count,
                result.not_removed_count,
                result.resurrected_count
            ),
            format!(
                "removes    seen everywhere after ms quantiles {}",
                format_quantiles(&result.remove_latencies)
            ),
        ];
        let mut anomalies: Vec<String> = result
            .resurrections
            .iter()
            .take(10)
            .map(|r| {
                format!(
                    "RESURRECTED {} on {} at {:.3} s: removed at {:.3} s, and that node's read at {:.3} s no longer held it",
                    r.element,
                    r.node,
                    r.at_ms as f64 / 1000.0,
                    r.removed_at_ms as f64 / 1000.0,
                    r.absent_at_ms as f64 / 1000.0
                )
            })
            .collect();
        for (element, nodes) in result.lost.iter().take(10) {
            anomalies.push(format!(
                "LOST       {element}: acknowledged, never removed, missing from the final reads of {}",
                nodes.join(", ")
            ));
        }
        for (element, nodes) in result.not_removed.iter().take(10) {
            anomalies.push(format!(
                "NOT REMOVED {element}: its remove was acknowledged, yet the final reads of {} hold it",
                nodes.join(", ")
            ));
        }
        let mut reasons = Vec::new();
        if result.lost_count > 0 {
            reasons.push(format!(
                "{} acknowledged add(s) that nothing removed are missing from final reads",
                result.lost_count
            ));
        }
        if result.not_removed_count > 0 {
            reasons.push(format!(
                "{} element(s) whose remove was acknowledged are still in final reads: the remove did not reach every node, or an add overrode its tombstone",
                result.not_removed_count
            ));
        }
        if result.resurrected_count > 0 {
            reasons.push(format!(
                "{} removed element(s) came back: a node that had dropped one showed it again (a remove needs a tombstone that merges cannot undo)",
                result.resurrected_count
            ));
        }
        if result.valid == Validity::Unknown {
            reasons.push("no final read succeeded, so the end state could not be judged".into());
        }
        Checked::with_workload_section(result.valid, &result, summary, anomalies, reasons)
    }

    fn headline_figures(&self) -> &'static [Figure] {
        &[
            Figure {
                pointer: "/workload/lost_count",
                label: "lost",
            },
            Figure {
                pointer: "/workload/resurrected_count",
                label: "resurrected",
            },
            Figure {
                pointer: "/workload/remove_latencies/1",
                label: "remove seen ms",
            },
        ]
    }

    fn probes(&mut self) -> Option<&mut dyn Probes> {
        Some(self)
    }

    fn tracks_values(&self) -> Option<&dyn TrackValues> {
        Some(self)
    }
}

impl Probes for TwoPhaseSet {
    fn start_convergence(&mut self, history: &[Op], _: &Survivors) -> usize {
        // What every node must come to: acknowledged adds no remove may have touched, and none
        // of the acknowledged removes.
        let mut added = BTreeSet::new();
        let mut maybe_removed = BTreeSet::new();
        let mut removed = BTreeSet::new();
        for (invocation, completion) in crate::history::paired(history) {
            let Some(element) = invocation.value.as_i64() else {
                continue;
            };
            match (invocation.f, completion.map(|op| op.kind)) {
                (ADD, Some(OpKind::Ok)) => {
                    added.insert(element);
                }
                (REMOVE, Some(OpKind::Ok)) => {
                    removed.insert(element);
                    maybe_removed.insert(element);
                }
                // Removes that timed out, or are still in flight, may take effect too.
                (REMOVE, Some(OpKind::Info) | None) => {
                    maybe_removed.insert(element);
                }
                _ => {}
            }
        }
        self.must_hold = added.difference(&maybe_removed).copied().collect();
        self.must_not_hold = removed;
        self.must_hold.len() + self.must_not_hold.len()
    }

    fn probe_request(&self, _: usize) -> Json {
        json!({"type": "read"})
    }

    fn probe_converged(&self, _: usize, reply: &Json) -> bool {
        let seen: BTreeSet<i64> = reply
            .get("elements")
            .and_then(Json::as_array)
            .map(|values| values.iter().filter_map(Json::as_i64).collect())
            .unwrap_or_default();
        self.must_hold.is_subset(&seen) && self.must_not_hold.is_disjoint(&seen)
    }
}

impl TrackValues for TwoPhaseSet {
    fn delivered_values(&self, from_client: bool, body: &str, values: &mut Vec<i64>) {
        if from_client {
            if body.contains("\"add\"") {
                carried_values_in(body, &["element"], values);
            }
            return;
        }
        carried_values_in(body, CARRIED, values);
    }
}
