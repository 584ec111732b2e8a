//! [`BodyTemplate`]: a request body that many clients send with only a field or two changed
//! (`init` to every node, the topology to every node), written as JSON once rather than once
//! per request.
//!
//! A 1000-node cluster's `init` lists a thousand ids and its topology maps a thousand nodes;
//! building and writing those bodies afresh for each node costs as much as the nodes' own
//! work. The template is the body written once with placeholders where the changing fields
//! go; a request fills them in. The text is exactly what writing the whole body would give.

use serde_json::{Map, Value as Json};

/// A JSON object written once, with holes for some of its top-level fields.
#[derive(Debug)]
pub(super) struct BodyTemplate {
    /// The text around the holes: one more piece than there are holes.
    pieces: Vec<String>,
    /// For each hole in text order, which of the named fields fills it.
    order: Vec<usize>,
}

impl BodyTemplate {
    /// `body` (an object) with holes where the fields `holes` go, whatever they held.
    pub(super) fn new(body: Map<String, Json>, holes: &[&str]) -> Self {
        let mut body = body;
        // Each placeholder is a string no real body holds: a control character (written as an
        // escape) and the hole's number.
        let placeholder = |hole: usize| format!("\u{1}hole {hole}");
        for (hole, field) in holes.iter().enumerate() {
            body.insert((*field).to_owned(), Json::String(placeholder(hole)));
        }
        let text = Json::Object(body).to_string();
        let mut found: Vec<(usize, usize, usize)> = holes
            .iter()
            .enumerate()
            .map(|(hole, _)| {
                let written = Json::String(placeholder(hole)).to_string();
                let at = text.find(&written).expect("the placeholder is in the text");
                (at, written.len(), hole)
            })
            .collect();
        found.sort_unstable();
        let mut pieces = Vec::with_capacity(found.len() + 1);
        let mut from = 0;
        for &(at, len, _) in &found {
            pieces.push(text[from..at].to_owned());
            from = at + len;
        }
        pieces.push(text[from..].to_owned());
        let order = found.into_iter().map(|(_, _, hole)| hole).collect();
        Self { pieces, order }
    }

    /// The body with each hole filled by the JSON text in `fills` (in the order the holes
    /// were named).
    pub(super) fn render(&self, fills: &[&str]) -> String {
        let length = self.pieces.iter().map(String::len).sum::<usize>()
            + fills.iter().map(|fill| fill.len()).sum::<usize>();
        let mut text = String::with_capacity(length);
        for (piece, hole) in self.pieces.iter().zip(&self.order) {
            text.push_str(piece);
            text.push_str(fills[*hole]);
        }
        text.push_str(self.pieces.last().expect("at least one piece"));
        text
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn object(value: Json) -> Map<String, Json> {
        match value {
            Json::Object(map) => map,
            _ => unreachable!("an object"),
        }
    }

    #[test]
    fn a_filled_template_is_the_text_of_the_whole_body() {
        let body = json!({"type": "init", "node_ids": ["n0", "n1"], "zeta": {"msg_id": 3}});
        let template = BodyTemplate::new(object(body.clone()), &["msg_id", "node_id"]);
        for (msg_id, node) in [(1, "n0"), (27, "n\"1")] {
            let mut whole = body.clone();
            whole["msg_id"] = json!(msg_id);
            whole["node_id"] = json!(node);
            let node = serde_json::to_string(node).unwrap();
            assert_eq!(
                template.render(&[&msg_id.to_string(), &node]),
                whole.to_string()
            );
        }
        let plain = BodyTemplate::new(object(json!({"type": "read"})), &[]);
        assert_eq!(plain.render(&[]), r#"{"type":"read"}"#);
    }
}
