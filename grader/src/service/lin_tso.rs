//! `lin-tso`: a linearizable timestamp oracle. `ts` → `ts_ok {ts}`, with 0, 1, 2, … across all
//! callers; any other type gets no reply.

use serde_json::Value as Json;

/// The next timestamp.
#[derive(Debug, Default)]
pub struct LinTso {
    next: u64,
}

impl LinTso {
    /// The reply to `body`, or `None` for any type but `ts`.
    pub fn handle(&mut self, body: &Json) -> Option<Json> {
        (body.get("type").and_then(Json::as_str) == Some("ts")).then(|| {
            self.next += 1;
            serde_json::json!({"type": "ts_ok", "ts": self.next - 1})
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn timestamps_count_from_zero_and_other_types_get_no_reply() {
        let mut tso = LinTso::default();
        assert_eq!(
            tso.handle(&json!({"type": "ts"})),
            Some(json!({"type": "ts_ok", "ts": 0}))
        );
        assert_eq!(tso.handle(&json!({"type": "read"})), None);
        assert_eq!(
            tso.handle(&json!({"type": "ts"})),
            Some(json!({"type": "ts_ok", "ts": 1}))
        );
    }
}
