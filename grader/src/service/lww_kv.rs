//! `lww-kv`: eventually consistent, as Maelstrom's documentation describes it: a few replicas,
//! each with a Lamport clock, every value stamped with the clock of the write that made it.
//! Each request first merges one random replica into another (the larger clock; per key the
//! larger stamp, a tie going to the source) and is then served by a random replica. Reads may be
//! stale, but replicas converge, so a read retried long enough sees the last write.
//!
//! Maelstrom's code differs from its documentation here: it runs two replicas and throws each
//! merge away (the operation is applied to the replica as it was before the merge), so its
//! replicas never converge and a write stays invisible to about half of all reads forever. We
//! implement what the documentation says; the grader README says so.

use std::collections::BTreeMap;

use rand::RngExt as _;
use rand::rngs::ChaCha8Rng;
use serde_json::Value as Json;

use super::error;

/// Replicas, as Maelstrom's documentation gives them.
pub const REPLICAS: usize = 5;

#[derive(Debug, Clone, Default)]
struct Replica {
    clock: u64,
    /// Key (as JSON text) → (stamp, value).
    entries: BTreeMap<String, (u64, Json)>,
}

impl Replica {
    fn merge_from(&mut self, other: &Replica) {
        self.clock = self.clock.max(other.clock);
        for (key, (stamp, value)) in &other.entries {
            let newer = self.entries.get(key).is_none_or(|(mine, _)| stamp >= mine);
            if newer {
                self.entries.insert(key.clone(), (*stamp, value.clone()));
            }
        }
    }

    fn stamp(&mut self, key: String, value: Json) {
        self.entries.insert(key, (self.clock, value));
        self.clock += 1;
    }
}

/// The service's replicas.
#[derive(Debug)]
pub struct LwwKv {
    replicas: Vec<Replica>,
}

impl Default for LwwKv {
    fn default() -> Self {
        Self {
            replicas: vec![Replica::default(); REPLICAS],
        }
    }
}

impl LwwKv {
    /// The reply to `body`, or `None` for a type the service does not know.
    pub fn handle(&mut self, body: &Json, rng: &mut ChaCha8Rng) -> Option<Json> {
        let kind = body.get("type").and_then(Json::as_str)?;
        if !["read", "write", "cas"].contains(&kind) {
            return None;
        }
        let (source, target) = (rng.random_range(0..REPLICAS), rng.random_range(0..REPLICAS));
        if source != target {
            let from = self.replicas[source].clone();
            self.replicas[target].merge_from(&from);
        }
        let replica = &mut self.replicas[rng.random_range(0..REPLICAS)];
        let field = |name: &str| body.get(name).unwrap_or(&Json::Null);
        let key = field("key").to_string();
        let current = replica.entries.get(&key).map(|(_, value)| value.clone());
        let missing = || error(20, "key does not exist".into());
        Some(match (kind, current) {
            ("read", Some(value)) => serde_json::json!({"type": "read_ok", "value": value}),
            ("read", None) => missing(),
            ("write", _) => {
                replica.stamp(key, field("value").clone());
                serde_json::json!({"type": "write_ok"})
            }
            (_, Some(current)) if &current == field("from") => {
                replica.stamp(key, field("to").clone());
                serde_json::json!({"type": "cas_ok"})
            }
            (_, Some(current)) => error(
                22,
                format!("current value {current} is not {}", field("from")),
            ),
            (_, None) if field("create_if_not_exists").as_bool() == Some(true) => {
                replica.stamp(key, field("to").clone());
                serde_json::json!({"type": "cas_ok"})
            }
            (_, None) => missing(),
        })
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng as _;
    use serde_json::json;

    use super::*;

    #[test]
    fn reads_may_be_stale_but_the_replicas_converge_on_the_last_write() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut kv = LwwKv::default();
        kv.handle(&json!({"type": "write", "key": "k", "value": 1}), &mut rng);
        let mut replies = Vec::new();
        for _ in 0..200 {
            replies.push(
                kv.handle(&json!({"type": "read", "key": "k"}), &mut rng)
                    .unwrap(),
            );
        }
        assert!(
            replies.iter().any(|reply| reply["code"] == 20),
            "early reads can miss the write"
        );
        assert!(
            replies[150..].iter().all(|reply| reply["value"] == 1),
            "once merged everywhere, every replica has it"
        );
        assert!(kv.replicas.iter().all(|replica| replica.entries.len() == 1));
        assert_eq!(kv.handle(&json!({"type": "ts"}), &mut rng), None);
    }

    #[test]
    fn a_merge_keeps_the_larger_stamp_and_a_tie_goes_to_the_source() {
        let mut older = Replica::default();
        older.stamp("\"k\"".into(), json!("old"));
        let mut newer = Replica::default();
        newer.stamp("\"x\"".into(), json!(0));
        newer.stamp("\"k\"".into(), json!("new"));
        older.merge_from(&newer);
        assert_eq!(older.entries["\"k\""], (1, json!("new")));
        assert_eq!(older.clock, 2);
        let mut tie = Replica::default();
        tie.stamp("\"k\"".into(), json!("tie"));
        let mut other = Replica::default();
        other.stamp("\"k\"".into(), json!("source"));
        tie.merge_from(&other);
        assert_eq!(tie.entries["\"k\""].1, json!("source"));
    }
}
