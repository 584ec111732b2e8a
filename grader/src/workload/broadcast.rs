//! Maelstrom's broadcast workload: a 50/50 mix of `broadcast` (the integers 0, 1, 2, … in
//! order) and `read`, the topology sent by each node's setup client, and Jepsen's `set-full`
//! checker, with coverage (how much of what was acknowledged the final reads hold).
//!
//! The machinery is [`SetWorkload`], which Maelstrom's g-set workload shares (`g_set.rs`):
//! both add the integers 0, 1, 2, … to a grow-only set and read it back, and differ only in
//! their names ([`SetSpec`]).

use std::collections::BTreeSet;

use rand::RngExt;
use rand::rngs::ChaCha8Rng;
use serde_json::{Value as Json, json};

use super::{
    CheckContext, Checked, Figure, Operation, Probes, Survivors, TrackValues, Workload,
    closed_reply,
};
use crate::checker::set_full::{self, SetFullResult};
use crate::checker::{QUANTILES, Validity};
use crate::history::{Op, OpKind};
use crate::skim;
use crate::topology::NeighbourMap;

/// What names a grow-only set workload uses.
#[derive(Debug)]
pub struct SetSpec {
    /// The workload's name.
    pub name: &'static str,
    /// The history's `f` (and the request's type) of an add: `broadcast` or `add`.
    pub add: &'static str,
    /// The add request's field holding the value: `message` or `element`.
    pub add_field: &'static str,
    /// Whether each node's setup client sends the topology first.
    pub topology: bool,
    /// The field of a server's message that may carry values, besides `message`,
    /// `messages` and `values`.
    pub carried_field: Option<&'static str>,
}

/// Maelstrom's broadcast workload.
pub const BROADCAST_SPEC: SetSpec = SetSpec {
    name: "broadcast",
    add: BROADCAST,
    add_field: "message",
    topology: true,
    carried_field: None,
};

/// A grow-only set workload's state: its names, the read reply's field, the next value, and
/// what convergence waits for.
#[derive(Debug)]
pub struct SetWorkload {
    spec: &'static SetSpec,
    read_field: String,
    next_value: i64,
    acknowledged: BTreeSet<i64>,
}

/// The broadcast workload.
pub type Broadcast = SetWorkload;

impl Default for SetWorkload {
    fn default() -> Self {
        Self::new(&BROADCAST_SPEC, "messages")
    }
}

const BROADCAST: &str = "broadcast";
const READ: &str = "read";

impl SetWorkload {
    /// A fresh workload with `spec`'s names, whose read replies hold the set in `read_field`.
    pub fn new(spec: &'static SetSpec, read_field: &str) -> Self {
        Self {
            spec,
            read_field: read_field.to_owned(),
            next_value: 0,
            acknowledged: BTreeSet::new(),
        }
    }

    fn read() -> Operation {
        Operation {
            f: READ,
            value: Json::Null,
            body: json!({"type": "read"}),
        }
    }

    /// True when `read` (the integers of a read reply, in any order) holds every acknowledged
    /// value.
    fn holds_acknowledged(&self, mut read: Vec<i64>) -> bool {
        // Nodes answer sorted lists as a rule: sorting those costs one pass. Then both are
        // sorted: one merge, rather than a set built for each probe.
        read.sort_unstable();
        read.dedup();
        let mut read = read.iter().peekable();
        self.acknowledged.iter().all(|wanted| {
            while read.next_if(|value| *value < wanted).is_some() {}
            read.next_if_eq(&wanted).is_some()
        })
    }
}

impl Workload for SetWorkload {
    fn name(&self) -> &'static str {
        self.spec.name
    }

    fn setup_request(&self, topology: &NeighbourMap) -> Option<Json> {
        self.spec
            .topology
            .then(|| json!({"type": "topology", "topology": topology}))
    }

    fn judge_setup_reply(&self, body: &Json) -> Result<(), String> {
        closed_reply(body, "topology_ok", &[]).map(|_| ())
    }

    fn next_operation(&mut self, _: usize, rng: &mut ChaCha8Rng) -> Operation {
        if rng.random_bool(0.5) {
            let value = self.next_value;
            self.next_value += 1;
            let mut body = json!({"type": self.spec.add});
            body[self.spec.add_field] = json!(value);
            Operation {
                f: self.spec.add,
                value: json!(value),
                body,
            }
        } else {
            Self::read()
        }
    }

    fn final_operation(&mut self) -> Operation {
        Self::read()
    }

    fn judge_reply(&self, f: &str, value: &Json, body: &Json) -> Result<Json, String> {
        if f == READ {
            let field = self.read_field.as_str();
            if body.get("type").and_then(Json::as_str) == Some("read_ok") {
                match body.get(field) {
                    Some(Json::Array(_)) => {}
                    _ => return Err(format!("read_ok needs a `{field}` list")),
                }
            }
            let fields = closed_reply(body, "read_ok", &[field])?;
            Ok(fields[field].clone())
        } else {
            closed_reply(body, &format!("{}_ok", self.spec.add), &[])?;
            Ok(value.clone())
        }
    }

    fn check(&self, history: &[Op], context: &CheckContext) -> Checked {
        let mut result = set_full::set_full(history, self.spec.add, READ);
        let went_down = went_down(history, self.spec.add, context.survivors);
        result.set_aside(|value| went_down.contains(&value));
        let coverage = set_full::coverage(history, self.spec.add, READ);
        let summary = vec![
            format!(
                "values     {} attempted, {} stable, {} lost, {} never read, {} stale",
                result.attempt_count,
                result.stable_count,
                result.lost_count,
                result.never_read_count,
                result.stale_count
            ),
            format!(
                "latency    stable ms quantiles {}",
                format_quantiles(&result.stable_latencies)
            ),
        ];
        let mut anomalies = lost_lines(&result);
        if result.lost_with_node_count > 0 {
            let shown: Vec<String> = result
                .lost_with_node
                .iter()
                .take(5)
                .map(i64::to_string)
                .collect();
            anomalies.push(format!(
                "WENT DOWN  {} acknowledged value(s) went down with a crashed node before any survivor was handed them ({}{}); not counted as lost",
                result.lost_with_node_count,
                shown.join(", "),
                if result.lost_with_node_count > shown.len() { ", …" } else { "" }
            ));
        }
        if result.unexpected_count > 0 {
            let shown: Vec<String> = result
                .unexpected
                .iter()
                .take(5)
                .map(i64::to_string)
                .collect();
            anomalies.push(format!(
                "WARNING    reads returned {} value(s) that no client ever broadcast ({}{}); Maelstrom ignores them, but a node should only return what it was given",
                result.unexpected_count,
                shown.join(", "),
                if result.unexpected_count > shown.len() { ", …" } else { "" }
            ));
        }
        let reasons = match result.valid {
            Validity::Invalid => {
                let shown: Vec<String> = result.lost.iter().take(5).map(i64::to_string).collect();
                vec![format!(
                    "{} acknowledged value(s) were lost: the last read that looked for each began after it was acknowledged and did not hold it ({}{})",
                    result.lost_count,
                    shown.join(", "),
                    if result.lost_count > shown.len() {
                        ", …"
                    } else {
                        ""
                    }
                )]
            }
            Validity::Unknown => vec![format!(
                "no read ever returned a value that had been {}, so nothing could be judged (were there reads, and did they succeed?)",
                if self.spec.add == BROADCAST {
                    "broadcast"
                } else {
                    "added"
                }
            )],
            Validity::Valid => Vec::new(),
        };
        Checked {
            valid: result.valid,
            sections: [
                (
                    "workload".to_owned(),
                    serde_json::to_value(&result).expect("serialises"),
                ),
                (
                    "coverage".to_owned(),
                    serde_json::to_value(&coverage).expect("serialises"),
                ),
            ]
            .into(),
            summary,
            anomalies,
            reasons,
        }
    }

    fn headline_figures(&self) -> &'static [Figure] {
        &[
            Figure {
                pointer: "/workload/stable_latencies/0.5",
                label: "median latency ms",
            },
            Figure {
                pointer: "/workload/stable_latencies/1",
                label: "max latency ms",
            },
            Figure {
                pointer: "/workload/lost_count",
                label: "lost",
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

impl Probes for SetWorkload {
    fn start_convergence(&mut self, history: &[Op], survivors: &Survivors) -> usize {
        let went_down = went_down(history, self.spec.add, survivors);
        self.acknowledged = set_full::acknowledged(history, self.spec.add)
            .into_iter()
            .filter(|value| !went_down.contains(value))
            .collect();
        self.acknowledged.len()
    }

    fn probe_request(&self, _: usize) -> Json {
        json!({"type": "read"})
    }

    fn probe_converged(&self, _: usize, reply: &Json) -> bool {
        let read = reply
            .get(&self.read_field)
            .and_then(Json::as_array)
            .map(|values| values.iter().filter_map(Json::as_i64).collect())
            .unwrap_or_default();
        self.holds_acknowledged(read)
    }

    fn probe_converged_text(&self, _: usize, reply: &str) -> bool {
        let read = skim::fields(reply, [self.read_field.as_str()])
            .and_then(|[list]| list)
            .and_then(skim::integer_list)
            .unwrap_or_default();
        self.holds_acknowledged(read)
    }
}

impl TrackValues for SetWorkload {
    fn delivered_values(&self, from_client: bool, body: &str, values: &mut Vec<i64>) {
        // From a client only an add request hands the node a value.
        if from_client {
            if body.contains(&format!("\"{}\"", self.spec.add)) {
                carried_values_in(body, &[self.spec.add_field], values);
            }
            return;
        }
        match self.spec.carried_field {
            None => carried_values(body, values),
            Some(field) => {
                carried_values_in(body, &["message", "messages", "values", field], values)
            }
        }
    }
}

/// The acknowledged values that went down with a crashed node (see
/// [`Survivors::lost_with_node`]), judged by the node whose `broadcast_ok` acknowledged them.
fn went_down(history: &[Op], add: &str, survivors: &Survivors) -> BTreeSet<i64> {
    if survivors.crashed.is_empty() {
        return BTreeSet::new();
    }
    history
        .iter()
        .filter(|op| op.is_client() && op.f == add && op.kind == OpKind::Ok)
        .filter_map(|op| Some((op.node.as_deref(), op.value.as_i64()?)))
        .filter(|(node, value)| survivors.lost_with_node(*node, *value))
        .map(|(_, value)| value)
        .collect()
}

/// Quantiles as `0: 0, 0.5: 86, …`, or `none`.
pub fn format_quantiles(latencies: &std::collections::BTreeMap<String, u64>) -> String {
    if latencies.is_empty() {
        return "none".into();
    }
    QUANTILES
        .iter()
        .filter_map(|(_, key)| latencies.get(*key).map(|ms| format!("{key}: {ms}")))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One summary line per lost value (the first ten), saying when it was acknowledged and whose
/// final reads missed it.
fn lost_lines(result: &SetFullResult) -> Vec<String> {
    let mut lines: Vec<String> = result
        .lost_details
        .iter()
        .take(10)
        .map(|detail| {
            let known = detail
                .known_at_ms
                .map_or("never acknowledged".to_owned(), |ms| {
                    format!(
                        "acknowledged at {:.3} s (by {})",
                        ms as f64 / 1000.0,
                        detail.known_by.as_deref().unwrap_or("?")
                    )
                });
            let missing = if detail.missing_from_final_reads_of.is_empty() {
                String::new()
            } else {
                format!(
                    "; missing from the final reads of {}",
                    detail.missing_from_final_reads_of.join(", ")
                )
            };
            format!("LOST       {}: {known}{missing}", detail.element)
        })
        .collect();
    if result.lost_details.len() > 10 {
        lines.push(format!(
            "LOST       … and {} more (see results.json)",
            result.lost_details.len() - 10
        ));
    }
    lines
}

/// The integer values a message body carries: `message` (a value or a list), and the lists
/// `messages` and `values`, appended to `values`. Bodies that mention none of them are not
/// parsed at all.
pub fn carried_values(body: &str, values: &mut Vec<i64>) {
    if !body.contains("\"message") && !body.contains("\"values\"") {
        return;
    }
    carried_values_in(body, &["message", "messages", "values"], values);
}

/// The integer values a message body carries in `fields` (each a value or a list), in the
/// order of `fields`, unless it is an acknowledgement; appended to `values`. Only the named
/// fields and `type` are read (see [`crate::skim`]).
pub fn carried_values_in(body: &str, fields: &[&str], values: &mut Vec<i64>) {
    // At most a type and four fields: a fixed array keeps the skim allocation-free.
    let mut names = ["type", "", "", "", ""];
    assert!(fields.len() < names.len(), "at most four carrying fields");
    names[1..=fields.len()].copy_from_slice(fields);
    let Some(found) = skim::fields(body, names) else {
        return;
    };
    // An acknowledgement (`broadcast_ack {message}`) names a value the sender already has; it
    // hands the receiver nothing.
    let acknowledgement = found[0]
        .and_then(|kind| serde_json::from_str::<Json>(kind.get()).ok())
        .is_some_and(|kind| kind.as_str().is_some_and(|kind| kind.ends_with("_ack")));
    if acknowledgement {
        return;
    }
    for raw in found[1..=fields.len()].iter().flatten() {
        match skim::integer_list(raw) {
            Some(list) => values.extend(list),
            None => values.extend(skim::integer(raw)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_judged_by_maelstroms_closed_schemas() {
        let workload = Broadcast::default();
        let judge = |f, body: Json| workload.judge_reply(f, &json!(7), &body);
        assert_eq!(
            judge(
                BROADCAST,
                json!({"type": "broadcast_ok", "in_reply_to": 3, "msg_id": 9})
            ),
            Ok(json!(7))
        );
        let error = judge(
            BROADCAST,
            json!({"type": "broadcast_ok", "in_reply_to": 3, "extra": 1}),
        )
        .unwrap_err();
        assert!(error.contains("extra"), "{error}");
        assert_eq!(
            judge(
                READ,
                json!({"type": "read_ok", "in_reply_to": 3, "messages": [1, 2]})
            ),
            Ok(json!([1, 2]))
        );
        assert!(
            judge(
                READ,
                json!({"type": "read_ok", "in_reply_to": 3, "messages": 5})
            )
            .is_err()
        );
        assert!(
            judge(
                READ,
                json!({"type": "read_ok", "in_reply_to": 3, "messages": null})
            )
            .is_err()
        );
        assert_eq!(
            judge(READ, json!({"type": "broadcast_ok", "in_reply_to": 3})).unwrap_err(),
            "expected read_ok, got `broadcast_ok`"
        );
        assert!(
            workload
                .judge_setup_reply(&json!({"type": "topology_ok", "in_reply_to": 1, "extra": true}))
                .is_err()
        );
    }

    #[test]
    fn a_probe_converges_once_every_acknowledged_value_is_read() {
        let workload = Broadcast {
            acknowledged: BTreeSet::from([1, 2]),
            ..Broadcast::default()
        };
        assert!(!workload.probe_converged(0, &json!({"type": "read_ok", "messages": [1]})));
        assert!(workload.probe_converged(0, &json!({"type": "read_ok", "messages": [2, 1, 3]})));
        assert!(!workload.probe_converged(0, &json!({"type": "error", "code": 11})));
        assert!(workload.probe_converged(0, &json!({"messages": [3, 2, 2, 0, 1, "x"]})));
        assert!(!workload.probe_converged(0, &json!({"messages": [0, 2, 3]})));
        assert!(!workload.probe_converged(0, &json!({"messages": 1})));
        let nothing = Broadcast::default();
        assert!(nothing.probe_converged(0, &json!({"messages": []})));
        // The text path answers as the value path does.
        for reply in [
            json!({"type": "read_ok", "messages": [1]}),
            json!({"type": "read_ok", "messages": [2, 1, 3]}),
            json!({"messages": [3, 2, 2, 0, 1, "x"]}),
            json!({"messages": 1}),
            json!({"type": "error", "code": 11}),
            json!([1, 2]),
        ] {
            assert_eq!(
                workload.probe_converged_text(0, &reply.to_string()),
                workload.probe_converged(0, &reply),
                "{reply}"
            );
        }
        assert!(!workload.probe_converged_text(0, "not json"));
    }

    #[test]
    fn only_a_clients_broadcast_hands_a_node_values() {
        let workload = Broadcast::default();
        let delivered = |from_client, body| super::super::delivered(&workload, from_client, body);
        assert_eq!(delivered(true, r#"{"type":"broadcast","message":4}"#), [4]);
        assert!(delivered(true, r#"{"type":"read"}"#).is_empty());
        assert_eq!(
            delivered(false, r#"{"type":"gossip","messages":[4,5]}"#),
            [4, 5]
        );
    }

    fn carried(body: &str) -> Vec<i64> {
        let mut values = Vec::new();
        carried_values(body, &mut values);
        values
    }

    #[test]
    fn carried_values_come_from_message_and_value_lists() {
        assert_eq!(carried(r#"{"type":"broadcast","message":4}"#), [4]);
        assert_eq!(carried(r#"{"type":"batch","messages":[1,2,"x"]}"#), [1, 2]);
        assert_eq!(
            carried(r#"{"type":"sync","values":[7],"message":[8]}"#),
            [8, 7]
        );
        assert!(carried(r#"{"type":"chat","hops":3}"#).is_empty());
        assert!(carried(r#"{"type":"broadcast_ack","message":4}"#).is_empty());
    }

    /// The values as a JSON value reads them: the rule [`carried_values_in`] keeps without
    /// building the value.
    fn carried_by_value(body: &str, fields: &[&str]) -> Vec<i64> {
        let Ok(Json::Object(object)) = serde_json::from_str::<Json>(body) else {
            return Vec::new();
        };
        if object
            .get("type")
            .and_then(Json::as_str)
            .is_some_and(|kind| kind.ends_with("_ack"))
        {
            return Vec::new();
        }
        let mut values = Vec::new();
        for key in fields {
            match object.get(*key) {
                Some(Json::Array(items)) => values.extend(items.iter().filter_map(Json::as_i64)),
                Some(value) => values.extend(value.as_i64()),
                None => {}
            }
        }
        values
    }

    #[test]
    fn carried_values_read_bodies_as_a_json_value_would() {
        let fields = ["message", "messages", "values"];
        let bodies = [
            r#"{"type":"gossip","messages":[1,2.5,-3,"4",null,[5],{"a":6},9223372036854775808,7]}"#,
            r#"{"message":1,"message":2,"type":"x"}"#,
            r#"{"type":"x_ack","messages":[1],"type":"relay"}"#,
            r#"{"type":"relay","messages":[1],"type":"relay_ack"}"#,
            r#"{"type":3,"message":-9223372036854775808}"#,
            r#"{"type":"x","message":{"messages":[1]},"values":[[2],3],"hops":[4]}"#,
            r#"{"type":"x","mess\u0061ge":5,"values":1e2}"#,
            r#"{"type":"x","message":true,"messages":"5","values":false}"#,
            r#"[1,2]"#,
            r#"7"#,
            r#"{"type":"x","values":[]}"#,
        ];
        for body in bodies {
            let mut values = Vec::new();
            carried_values_in(body, &fields, &mut values);
            assert_eq!(values, carried_by_value(body, &fields), "{body}");
        }
        // Appended, not replaced.
        let mut values = vec![42];
        carried_values_in(r#"{"message":1}"#, &fields, &mut values);
        assert_eq!(values, [42, 1]);
    }

    #[test]
    fn a_value_lost_with_its_crashed_node_is_set_apart_and_one_a_survivor_had_is_lost() {
        use crate::checker::testing::Builder;
        // n0 acknowledged 1 and 2, then crashed; n1's final read holds neither.
        let mut history = Builder::new();
        history
            .add(0, 1, 0, 5)
            .add(0, 2, 10, 15)
            .add(1, 3, 20, 25)
            .final_read(1, json!([3]), 1000);
        let ops = history.history.ops();
        let workload = Broadcast::default();
        let none = workload.check(ops, &CheckContext::plain(&Survivors::default()));
        assert_eq!(none.valid, Validity::Invalid);
        assert_eq!(none.sections["workload"]["lost"], json!([1, 2]));
        // n1 (a survivor) was handed 2, so 2 is truly lost; 1 went down with n0.
        let survivors = Survivors {
            crashed: ["n0".to_owned()].into(),
            handed: [2, 3].into(),
        };
        let checked = workload.check(ops, &CheckContext::plain(&survivors));
        assert_eq!(checked.valid, Validity::Invalid);
        assert_eq!(checked.sections["workload"]["lost"], json!([2]));
        assert_eq!(checked.sections["workload"]["lost_with_node"], json!([1]));
        assert!(
            checked
                .anomalies
                .iter()
                .any(|line| line.starts_with("WENT DOWN"))
        );
        // Had no survivor been handed 2 either, nothing would be lost.
        let survivors = Survivors {
            handed: [3].into(),
            ..survivors
        };
        let checked = workload.check(ops, &CheckContext::plain(&survivors));
        assert_eq!(checked.valid, Validity::Valid, "{:?}", checked.reasons);
        assert_eq!(checked.sections["workload"]["lost_with_node_count"], 2);
        let mut converging = Broadcast::default();
        assert_eq!(converging.start_convergence(ops, &survivors), 1);
    }
}
