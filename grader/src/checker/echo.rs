//! Maelstrom's echo checker: every echo's completion must carry back exactly the payload it
//! was invoked with. An echo that failed or timed out carries nothing back, so it counts
//! against the run too (Maelstrom's checker flags it the same way).

use serde::Serialize;
use serde_json::Value as Json;

use super::Validity;
use crate::history::{Op, OpKind, paired};

/// One echo that did not come back exactly.
#[derive(Debug, Clone, Serialize)]
pub struct EchoError {
    /// The invocation's index in the history.
    pub index: usize,
    /// Its process.
    pub process: String,
    /// The node it went to.
    pub node: Option<String>,
    /// What was sent.
    pub expected: Json,
    /// What came back (absent when nothing did).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub got: Option<Json>,
    /// Why nothing came back (a timeout or an error reply), when nothing did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The echo checker's result (`results.json`'s `workload`).
#[derive(Debug, Clone, Serialize)]
pub struct EchoResult {
    /// The verdict.
    #[serde(rename = "valid?")]
    pub valid: Validity,
    /// Echoes invoked.
    pub attempted_count: usize,
    /// Echoes answered with their own payload.
    pub exact_count: usize,
    /// Echoes answered with another payload.
    pub altered_count: usize,
    /// Echoes that got no `echo_ok` (a timeout or an error reply).
    pub unanswered_count: usize,
    /// Every echo that did not come back exactly, in invocation order.
    pub errors: Vec<EchoError>,
}

/// Judges the `echo` operations of `history`.
pub fn check(history: &[Op]) -> EchoResult {
    let mut result = EchoResult {
        valid: Validity::Valid,
        attempted_count: 0,
        exact_count: 0,
        altered_count: 0,
        unanswered_count: 0,
        errors: Vec::new(),
    };
    for (invoke, completion) in paired(history) {
        if invoke.f != "echo" {
            continue;
        }
        result.attempted_count += 1;
        let error = |got: Option<Json>, why: Option<String>| EchoError {
            index: invoke.index,
            process: invoke.process.to_string(),
            node: invoke.node.clone(),
            expected: invoke.value.clone(),
            got,
            error: why,
        };
        match completion {
            Some(done) if done.kind == OpKind::Ok && done.value == invoke.value => {
                result.exact_count += 1;
            }
            Some(done) if done.kind == OpKind::Ok => {
                result.altered_count += 1;
                result.errors.push(error(Some(done.value.clone()), None));
            }
            Some(done) => {
                result.unanswered_count += 1;
                let why = done.error.clone().unwrap_or_else(|| "no reply".into());
                result.errors.push(error(None, Some(why)));
            }
            None => {
                result.unanswered_count += 1;
                result
                    .errors
                    .push(error(None, Some("never completed".into())));
            }
        }
    }
    if !result.errors.is_empty() {
        result.valid = Validity::Invalid;
    }
    result
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::checker::testing::Builder;

    #[test]
    fn exact_echoes_are_valid_and_altered_or_unanswered_ones_are_not() {
        let mut history = Builder::new();
        history
            .op(0, OpKind::Invoke, "echo", json!("Please echo 1"), 0)
            .op(0, OpKind::Ok, "echo", json!("Please echo 1"), 1);
        let exact = check(history.history.ops());
        assert_eq!(exact.valid, Validity::Valid);
        assert_eq!((exact.attempted_count, exact.exact_count), (1, 1));

        history
            .op(1, OpKind::Invoke, "echo", json!("Please echo 2"), 2)
            .op(1, OpKind::Ok, "echo", json!("please echo 2"), 3)
            .op(2, OpKind::Invoke, "echo", json!("Please echo 3"), 4)
            .op(2, OpKind::Info, "echo", json!("Please echo 3"), 5);
        let wrong = check(history.history.ops());
        assert_eq!(wrong.valid, Validity::Invalid);
        assert_eq!((wrong.altered_count, wrong.unanswered_count), (1, 1));
        assert_eq!(wrong.errors[0].got, Some(json!("please echo 2")));
        assert_eq!(wrong.errors[0].node.as_deref(), Some("n1"));
        assert_eq!(wrong.errors[1].error.as_deref(), Some("no reply"));
    }

    #[test]
    fn a_payload_of_another_json_type_is_altered() {
        let mut history = Builder::new();
        history
            .op(0, OpKind::Invoke, "echo", json!("7"), 0)
            .op(0, OpKind::Ok, "echo", json!(7), 1);
        assert_eq!(check(history.history.ops()).altered_count, 1);
    }
}
