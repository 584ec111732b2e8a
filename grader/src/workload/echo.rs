//! Maelstrom's echo workload (Gossip Glomers 1): `echo {echo}` → `echo_ok {echo}`, the payload
//! returned exactly. No setup request and no final phase; a timeout or an error reply leaves
//! the echo without its payload, and Maelstrom's checker fails the run for it.

use rand::RngExt;
use rand::rngs::ChaCha8Rng;
use serde_json::{Value as Json, json};

use super::{CheckContext, Checked, Declaration, Figure, Operation, Workload, closed_reply};
use crate::checker::echo::{self, EchoError};
use crate::history::Op;

/// The echo workload.
#[derive(Debug, Default)]
pub struct Echo;

impl Workload for Echo {
    fn name(&self) -> &'static str {
        "echo"
    }

    fn declaration(&self) -> Declaration {
        Declaration::ONE_BY_ONE
    }

    fn next_operation(&mut self, _: usize, rng: &mut ChaCha8Rng) -> Operation {
        let payload = format!("Please echo {}", rng.random_range(0..128));
        Operation {
            f: "echo",
            value: json!(payload),
            body: json!({"type": "echo", "echo": payload}),
        }
    }

    fn judge_reply(&self, _: &str, _: &Json, body: &Json) -> Result<Json, String> {
        let fields = closed_reply(body, "echo_ok", &["echo"])?;
        fields
            .get("echo")
            .cloned()
            .ok_or_else(|| "echo_ok needs the `echo` it was sent".to_owned())
    }

    fn check(&self, history: &[Op], _: &CheckContext) -> Checked {
        let result = echo::check(history);
        let summary = vec![format!(
            "echoes     {} sent, {} returned exactly, {} altered, {} unanswered",
            result.attempted_count,
            result.exact_count,
            result.altered_count,
            result.unanswered_count
        )];
        let mut reasons = Vec::new();
        let altered: Vec<&EchoError> = result.errors.iter().filter(|e| e.got.is_some()).collect();
        if let Some(first) = altered.first() {
            reasons.push(format!(
                "{} echo(es) came back altered; the first: {} answered {} with {} (history op {}); echo_ok must carry `echo` back exactly as it came",
                altered.len(),
                first.node.as_deref().unwrap_or("a node"),
                first.expected,
                first.got.as_ref().expect("filtered"),
                first.index
            ));
        }
        let unanswered: Vec<&EchoError> =
            result.errors.iter().filter(|e| e.got.is_none()).collect();
        if let Some(first) = unanswered.first() {
            reasons.push(format!(
                "{} echo(es) got no echo_ok; the first, to {}: {} (Maelstrom fails a run on any echo that is not answered)",
                unanswered.len(),
                first.node.as_deref().unwrap_or("a node"),
                first.error.as_deref().unwrap_or("no reply")
            ));
        }
        Checked::with_workload_section(result.valid, &result, summary, Vec::new(), reasons)
    }

    fn headline_figures(&self) -> &'static [Figure] {
        &[
            Figure {
                pointer: "/workload/altered_count",
                label: "altered",
            },
            Figure {
                pointer: "/workload/unanswered_count",
                label: "unanswered",
            },
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::Validity;
    use crate::checker::testing::Builder;
    use crate::history::OpKind;
    use crate::workload::Survivors;
    use rand::SeedableRng;

    #[test]
    fn asks_for_payloads_maelstrom_style_and_takes_back_only_echo_ok() {
        let mut workload = Echo;
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let operation = workload.next_operation(0, &mut rng);
        let payload = operation.value.as_str().unwrap().to_owned();
        assert!(payload.starts_with("Please echo "), "{payload}");
        assert_eq!(operation.body, json!({"type": "echo", "echo": payload}));
        let reply = json!({"type": "echo_ok", "in_reply_to": 1, "echo": payload});
        assert_eq!(
            workload.judge_reply("echo", &Json::Null, &reply),
            Ok(json!(payload))
        );
        let extra = json!({"type": "echo_ok", "in_reply_to": 1, "echo": 1, "note": 2});
        assert!(workload.judge_reply("echo", &Json::Null, &extra).is_err());
        let missing = json!({"type": "echo_ok", "in_reply_to": 1});
        assert!(
            workload
                .judge_reply("echo", &Json::Null, &missing)
                .unwrap_err()
                .contains("`echo`")
        );
        assert!(!workload.declaration().final_phase);
    }

    #[test]
    fn an_altered_echo_is_explained_with_its_node_and_payloads() {
        let mut history = Builder::new();
        history
            .op(1, OpKind::Invoke, "echo", json!("Please echo 9"), 0)
            .op(1, OpKind::Ok, "echo", json!("Please echo 8"), 1);
        let checked = Echo.check(
            history.history.ops(),
            &CheckContext::plain(&Survivors::default()),
        );
        assert_eq!(checked.valid, Validity::Invalid);
        assert!(
            checked.reasons[0].contains("n1 answered \"Please echo 9\" with \"Please echo 8\""),
            "{:?}",
            checked.reasons
        );
    }
}
