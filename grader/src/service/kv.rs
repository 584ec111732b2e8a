//! The key-value map behind `lin-kv` and `seq-kv`, and its three operations.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use super::error;

/// A map from keys to values, both JSON; a key is kept by its JSON text, so `1`, `1.0` and
/// `"1"` are different keys, as Maelstrom's services compare them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Kv {
    entries: BTreeMap<String, Json>,
}

/// A request's field, or JSON `null` when it has none (a missing field reads as Clojure's `nil`
/// in Maelstrom).
fn field<'a>(body: &'a Json, name: &str) -> &'a Json {
    body.get(name).unwrap_or(&Json::Null)
}

impl Kv {
    /// The value at `key`.
    pub fn get(&self, key: &Json) -> Option<&Json> {
        self.entries.get(&key.to_string())
    }

    /// Applies `read`, `write` or `cas` to the map: the reply body (without `in_reply_to`) and
    /// whether the map changed. `None` for any other type, which a service does not answer.
    pub fn apply(&mut self, body: &Json) -> Option<(bool, Json)> {
        let key = field(body, "key");
        let kind = body.get("type").and_then(Json::as_str)?;
        let missing = || error(20, "key does not exist".into());
        Some(match kind {
            "read" => match self.get(key) {
                Some(value) => (
                    false,
                    serde_json::json!({"type": "read_ok", "value": value}),
                ),
                None => (false, missing()),
            },
            "write" => {
                let value = field(body, "value");
                let changed = self.get(key) != Some(value);
                if changed {
                    self.entries.insert(key.to_string(), value.clone());
                }
                (changed, serde_json::json!({"type": "write_ok"}))
            }
            "cas" => {
                let (from, to) = (field(body, "from"), field(body, "to"));
                let create = field(body, "create_if_not_exists")
                    .as_bool()
                    .unwrap_or(false);
                match self.get(key) {
                    Some(current) if current == from => {
                        let changed = current != to;
                        if changed {
                            self.entries.insert(key.to_string(), to.clone());
                        }
                        (changed, serde_json::json!({"type": "cas_ok"}))
                    }
                    Some(current) => (
                        false,
                        error(22, format!("current value {current} is not {from}")),
                    ),
                    None if create => {
                        self.entries.insert(key.to_string(), to.clone());
                        (true, serde_json::json!({"type": "cas_ok"}))
                    }
                    None => (false, missing()),
                }
            }
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn apply(kv: &mut Kv, body: Json) -> (bool, Json) {
        kv.apply(&body).expect("a known type")
    }

    #[test]
    fn reads_writes_and_cas_as_maelstroms_kv_api_says() {
        let mut kv = Kv::default();
        assert_eq!(
            apply(&mut kv, json!({"type": "read", "key": "a"})),
            (
                false,
                json!({"type": "error", "code": 20, "text": "key does not exist"})
            )
        );
        assert_eq!(
            apply(&mut kv, json!({"type": "write", "key": "a", "value": [1]})),
            (true, json!({"type": "write_ok"}))
        );
        // Writing what is there already changes nothing (seq-kv serves that from a stale state).
        assert!(!apply(&mut kv, json!({"type": "write", "key": "a", "value": [1]})).0);
        assert_eq!(
            apply(&mut kv, json!({"type": "read", "key": "a"})),
            (false, json!({"type": "read_ok", "value": [1]}))
        );
        assert_eq!(
            apply(
                &mut kv,
                json!({"type": "cas", "key": "a", "from": [2], "to": [3]})
            ),
            (
                false,
                json!({"type": "error", "code": 22, "text": "current value [1] is not [2]"})
            )
        );
        assert_eq!(
            apply(
                &mut kv,
                json!({"type": "cas", "key": "a", "from": [1], "to": [1, 2]})
            ),
            (true, json!({"type": "cas_ok"}))
        );
        assert_eq!(
            apply(
                &mut kv,
                json!({"type": "cas", "key": "b", "from": 0, "to": 1})
            ),
            (
                false,
                json!({"type": "error", "code": 20, "text": "key does not exist"})
            )
        );
        assert_eq!(
            apply(
                &mut kv,
                json!({"type": "cas", "key": "b", "from": 0, "to": 1, "create_if_not_exists": true})
            ),
            (true, json!({"type": "cas_ok"}))
        );
        assert_eq!(kv.get(&json!("b")), Some(&json!(1)));
        assert_eq!(kv.apply(&json!({"type": "delete", "key": "a"})), None);
    }

    #[test]
    fn keys_compare_as_json_so_one_one_point_zero_and_the_string_differ() {
        let mut kv = Kv::default();
        apply(&mut kv, json!({"type": "write", "key": 1, "value": "int"}));
        apply(
            &mut kv,
            json!({"type": "write", "key": 1.0, "value": "float"}),
        );
        apply(
            &mut kv,
            json!({"type": "write", "key": "1", "value": "string"}),
        );
        assert_eq!(kv.get(&json!(1)), Some(&json!("int")));
        assert_eq!(kv.get(&json!(1.0)), Some(&json!("float")));
        assert_eq!(kv.get(&json!("1")), Some(&json!("string")));
    }
}
