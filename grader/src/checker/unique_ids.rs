//! Jepsen's `unique-ids` checker, as Maelstrom's unique-ids workload uses it: no id may be
//! acknowledged twice. Ids are any JSON values and compared as values, so `1`, `1.0` and `"1"`
//! are three different ids.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value as Json;

use super::Validity;
use crate::history::{Op, OpKind, paired};

/// How many duplicated ids the result lists (Jepsen's 48).
pub const SHOWN_DUPLICATES: usize = 48;

/// One acknowledged `generate`: which operation, on which node.
#[derive(Debug, Clone, Serialize)]
pub struct Acknowledgement {
    /// The completion's index in the history.
    pub index: usize,
    /// Its process.
    pub process: String,
    /// The node that answered.
    pub node: Option<String>,
}

/// An id acknowledged more than once.
#[derive(Debug, Clone, Serialize)]
pub struct Duplicate {
    /// The id.
    pub id: Json,
    /// Every acknowledgement of it, in history order.
    pub acknowledged: Vec<Acknowledgement>,
}

/// The unique-ids checker's result (`results.json`'s `workload`).
#[derive(Debug, Clone, Serialize)]
pub struct UniqueIdsResult {
    /// The verdict.
    #[serde(rename = "valid?")]
    pub valid: Validity,
    /// `generate` operations invoked.
    pub attempted_count: usize,
    /// `generate` operations acknowledged with an id.
    pub acknowledged_count: usize,
    /// Ids acknowledged more than once.
    pub duplicated_count: usize,
    /// The most duplicated ids (at most [`SHOWN_DUPLICATES`]), most often first, then in the
    /// order they were first acknowledged.
    pub duplicated: Vec<Duplicate>,
    /// The smallest and largest id, when every id is a number, or every id is a string.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub range: Option<[Json; 2]>,
}

/// Judges the `generate` operations of `history`.
pub fn check(history: &[Op]) -> UniqueIdsResult {
    let mut attempted_count = 0;
    // Keyed by the id's JSON text: serde_json writes a value one way (object keys sorted), so
    // equal texts are equal values and `1` and `1.0` stay apart.
    let mut seen: BTreeMap<String, (usize, Json, Vec<Acknowledgement>)> = BTreeMap::new();
    let mut acknowledged_count = 0;
    for (invoke, completion) in paired(history) {
        if invoke.f != "generate" {
            continue;
        }
        attempted_count += 1;
        let Some(done) = completion.filter(|done| done.kind == OpKind::Ok) else {
            continue;
        };
        acknowledged_count += 1;
        let order = seen.len();
        let entry = seen
            .entry(done.value.to_string())
            .or_insert_with(|| (order, done.value.clone(), Vec::new()));
        entry.2.push(Acknowledgement {
            index: done.index,
            process: done.process.to_string(),
            node: done.node.clone(),
        });
    }
    let range = id_range(seen.values().map(|(_, id, _)| id));
    let mut duplicated: Vec<(usize, Duplicate)> = seen
        .into_values()
        .filter(|(_, _, acks)| acks.len() > 1)
        .map(|(order, id, acknowledged)| (order, Duplicate { id, acknowledged }))
        .collect();
    duplicated.sort_by_key(|(order, duplicate)| {
        (std::cmp::Reverse(duplicate.acknowledged.len()), *order)
    });
    let duplicated_count = duplicated.len();
    UniqueIdsResult {
        valid: if duplicated_count == 0 {
            Validity::Valid
        } else {
            Validity::Invalid
        },
        attempted_count,
        acknowledged_count,
        duplicated_count,
        duplicated: duplicated
            .into_iter()
            .take(SHOWN_DUPLICATES)
            .map(|(_, duplicate)| duplicate)
            .collect(),
        range,
    }
}

/// The least and greatest id when they are all numbers or all strings.
fn id_range<'a>(ids: impl Iterator<Item = &'a Json> + Clone) -> Option<[Json; 2]> {
    if let Some(numbers) = ids.clone().map(Json::as_f64).collect::<Option<Vec<f64>>>() {
        let least = numbers.iter().copied().reduce(f64::min)?;
        let greatest = numbers.iter().copied().reduce(f64::max)?;
        let find = |target: f64| {
            ids.clone()
                .find(|id| id.as_f64() == Some(target))
                .cloned()
                .unwrap_or(Json::Null)
        };
        return Some([find(least), find(greatest)]);
    }
    let strings: Option<Vec<&str>> = ids.map(Json::as_str).collect();
    let strings = strings?;
    let least = strings.iter().min()?;
    let greatest = strings.iter().max()?;
    Some([Json::from(*least), Json::from(*greatest)])
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::checker::testing::Builder;

    fn generate(history: &mut Builder, process: u64, id: Json, ms: u64) {
        history
            .op(process, OpKind::Invoke, "generate", Json::Null, ms)
            .op(process, OpKind::Ok, "generate", id, ms + 1);
    }

    #[test]
    fn distinct_ids_are_valid_and_a_repeated_one_names_both_operations() {
        let mut history = Builder::new();
        generate(&mut history, 0, json!("n0-1"), 0);
        generate(&mut history, 1, json!("n1-1"), 2);
        let valid = check(history.history.ops());
        assert_eq!(valid.valid, Validity::Valid);
        assert_eq!(valid.range, Some([json!("n0-1"), json!("n1-1")]));
        generate(&mut history, 2, json!("n0-1"), 4);
        let invalid = check(history.history.ops());
        assert_eq!(invalid.valid, Validity::Invalid);
        assert_eq!(invalid.duplicated_count, 1);
        let duplicate = &invalid.duplicated[0];
        assert_eq!(duplicate.id, json!("n0-1"));
        let nodes: Vec<_> = duplicate
            .acknowledged
            .iter()
            .map(|ack| ack.node.as_deref().unwrap())
            .collect();
        assert_eq!(nodes, ["n0", "n2"]);
    }

    #[test]
    fn ids_are_json_values_so_one_and_one_point_oh_and_the_string_differ() {
        let mut history = Builder::new();
        generate(&mut history, 0, json!(1), 0);
        generate(&mut history, 1, json!(1.0), 2);
        generate(&mut history, 2, json!("1"), 4);
        generate(&mut history, 3, json!({"b": 1, "a": 2}), 6);
        generate(&mut history, 4, json!({"a": 2, "b": 1}), 8);
        let result = check(history.history.ops());
        assert_eq!(result.duplicated_count, 1, "only the two equal objects");
        assert_eq!(result.range, None, "mixed types have no range");
    }

    #[test]
    fn failed_and_indefinite_generates_count_as_attempts_only() {
        let mut history = Builder::new();
        generate(&mut history, 0, json!(5), 0);
        history.op(1, OpKind::Invoke, "generate", Json::Null, 1).op(
            1,
            OpKind::Info,
            "generate",
            Json::Null,
            2,
        );
        let result = check(history.history.ops());
        assert_eq!((result.attempted_count, result.acknowledged_count), (2, 1));
        assert_eq!(result.range, Some([json!(5), json!(5)]));
    }

    #[test]
    fn the_most_repeated_id_is_listed_first() {
        let mut history = Builder::new();
        for (process, id) in [(0, 1), (1, 2), (2, 2), (3, 1), (4, 2)] {
            generate(&mut history, process, json!(id), process * 2);
        }
        let result = check(history.history.ops());
        assert_eq!(result.duplicated[0].id, json!(2));
        assert_eq!(result.duplicated[1].id, json!(1));
    }
}
