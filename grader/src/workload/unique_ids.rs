//! Maelstrom's unique-ids workload (Gossip Glomers 2): `generate` → `generate_ok {id}`, any
//! JSON value as the id, and Jepsen's `unique-ids` checker: no id acknowledged twice. No setup
//! request and no final phase.
//!
//! Maelstrom never restarts a node in this workload, so ids from a counter kept only in memory
//! pass there; this harness's `--nemesis kill` restarts nodes empty, and such a node then hands
//! out its first ids again, which the checker catches.

use rand::rngs::ChaCha8Rng;
use serde_json::{Value as Json, json};

use super::{CheckContext, Checked, Declaration, Figure, Operation, Workload, closed_reply};
use crate::checker::unique_ids;
use crate::history::Op;

/// The unique-ids workload.
#[derive(Debug, Default)]
pub struct UniqueIds;

impl Workload for UniqueIds {
    fn name(&self) -> &'static str {
        "unique-ids"
    }

    fn declaration(&self) -> Declaration {
        Declaration::ONE_BY_ONE
    }

    fn next_operation(&mut self, _: usize, _: &mut ChaCha8Rng) -> Operation {
        Operation {
            f: "generate",
            value: Json::Null,
            body: json!({"type": "generate"}),
        }
    }

    fn judge_reply(&self, _: &str, _: &Json, body: &Json) -> Result<Json, String> {
        let fields = closed_reply(body, "generate_ok", &["id"])?;
        fields
            .get("id")
            .cloned()
            .ok_or_else(|| "generate_ok needs an `id`".to_owned())
    }

    fn check(&self, history: &[Op], _: &CheckContext) -> Checked {
        let result = unique_ids::check(history);
        let summary = vec![format!(
            "ids        {} attempted, {} acknowledged, {} duplicated",
            result.attempted_count, result.acknowledged_count, result.duplicated_count
        )];
        let reasons = result
            .duplicated
            .first()
            .map(|first| {
                let by: Vec<String> = first
                    .acknowledged
                    .iter()
                    .take(2)
                    .map(|ack| {
                        format!(
                            "{} (history op {}, process {})",
                            ack.node.as_deref().unwrap_or("a node"),
                            ack.index,
                            ack.process
                        )
                    })
                    .collect();
                format!(
                    "{} id(s) were handed out more than once; the first, {}, by {}: an id must be unique across the whole cluster and across restarts (a node's own id with a counter that survives a restart, or a random id with enough bits)",
                    result.duplicated_count,
                    first.id,
                    by.join(" and ")
                )
            })
            .into_iter()
            .collect();
        Checked::with_workload_section(result.valid, &result, summary, Vec::new(), reasons)
    }

    fn headline_figures(&self) -> &'static [Figure] {
        &[Figure {
            pointer: "/workload/duplicated_count",
            label: "duplicated ids",
        }]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::Validity;
    use crate::checker::testing::Builder;
    use crate::history::OpKind;
    use crate::workload::Survivors;

    #[test]
    fn any_json_id_is_taken_and_a_duplicate_names_both_nodes() {
        let workload = UniqueIds;
        let reply = json!({"type": "generate_ok", "in_reply_to": 1, "id": [1, "a"]});
        assert_eq!(
            workload.judge_reply("generate", &Json::Null, &reply),
            Ok(json!([1, "a"]))
        );
        let missing = json!({"type": "generate_ok", "in_reply_to": 1});
        assert!(
            workload
                .judge_reply("generate", &Json::Null, &missing)
                .is_err()
        );
        let mut history = Builder::new();
        for process in [0, 2] {
            history
                .op(process, OpKind::Invoke, "generate", Json::Null, process)
                .op(process, OpKind::Ok, "generate", json!(1), process + 1);
        }
        let checked = workload.check(
            history.history.ops(),
            &CheckContext::plain(&Survivors::default()),
        );
        assert_eq!(checked.valid, Validity::Invalid);
        assert!(
            checked.reasons[0].contains("the first, 1, by n0 (history op 1, process 0) and n2"),
            "{:?}",
            checked.reasons
        );
    }
}
