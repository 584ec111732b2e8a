//! Maelstrom's g-set workload: a 50/50 mix of `add {element}` (the integers 0, 1, 2, … in
//! order) and `read`, no setup request, and `set-full`, exactly as broadcast (the same
//! [`SetWorkload`], with g-set's names). Maelstrom's `read_ok` holds the set in `value`; the
//! track's stage 15 answers `elements`, so the read field is an option:
//! `--workload-options read_field=elements`.

use super::broadcast::{SetSpec, SetWorkload};
use super::{Options, Workload};

/// g-set's names.
pub const G_SET_SPEC: SetSpec = SetSpec {
    name: "g-set",
    add: "add",
    add_field: "element",
    topology: false,
    carried_field: Some("elements"),
};

/// Its options.
pub const OPTIONS: &[(&str, &str)] = &[(
    "read_field",
    "the field of read_ok holding the set: value (Maelstrom's, the default) or elements (the track's)",
)];

/// Makes the workload from its options.
pub fn make(options: &Options) -> Result<Box<dyn Workload>, String> {
    let field = options.get("read_field").map_or("value", String::as_str);
    if !["value", "elements"].contains(&field) {
        return Err(format!("read_field is value or elements, not `{field}`"));
    }
    Ok(Box::new(SetWorkload::new(&G_SET_SPEC, field)))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value as Json, json};

    use super::*;

    #[test]
    fn adds_elements_and_reads_the_field_it_is_told() {
        let maelstrom = make(&Options::new()).unwrap();
        assert_eq!(maelstrom.name(), "g-set");
        assert!(maelstrom.setup_request(&Default::default()).is_none());
        let judge =
            |workload: &dyn Workload, f, body: Json| workload.judge_reply(f, &json!(3), &body);
        assert_eq!(
            judge(
                maelstrom.as_ref(),
                "read",
                json!({"type": "read_ok", "in_reply_to": 1, "value": [1, 2]})
            ),
            Ok(json!([1, 2]))
        );
        let error = judge(
            maelstrom.as_ref(),
            "read",
            json!({"type": "read_ok", "in_reply_to": 1, "elements": [1]}),
        )
        .unwrap_err();
        assert!(error.contains("`value` list"), "{error}");
        assert_eq!(
            judge(
                maelstrom.as_ref(),
                "add",
                json!({"type": "add_ok", "in_reply_to": 1})
            ),
            Ok(json!(3))
        );
        let track = make(&Options::from([("read_field".into(), "elements".into())])).unwrap();
        assert_eq!(
            judge(
                track.as_ref(),
                "read",
                json!({"type": "read_ok", "in_reply_to": 1, "elements": [4]})
            ),
            Ok(json!([4]))
        );
        let delivered =
            |from_client, body| super::super::delivered(track.as_ref(), from_client, body);
        assert_eq!(delivered(true, r#"{"type":"add","element":4}"#), [4]);
        assert!(delivered(true, r#"{"type":"read"}"#).is_empty());
        assert_eq!(
            delivered(false, r#"{"type":"merge","elements":[4,5]}"#),
            [4, 5]
        );
    }
}
