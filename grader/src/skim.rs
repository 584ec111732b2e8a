//! Reading a few top-level fields of a message body without building a JSON value of all of
//! it.
//!
//! The harness looks at every body that crosses the network (the values it carries, the
//! `in_reply_to` of a reply, the list a convergence probe read back), and a body may be large:
//! a read of a thousand values, a topology of a thousand nodes. [`fields`] finds the named
//! fields and skips the rest unparsed; each field is then read on its own. The answers are the
//! ones a [`serde_json::Value`] of the body would give: a field given twice counts its last
//! time, and a number is an integer only if it is one and fits.

use serde::de::{Deserialize, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::Value as Json;
use serde_json::value::RawValue;

/// The fields `names` of `body`, each as its JSON text (`None` where absent); `None` when the
/// body is not a JSON object.
pub fn fields<'a, const N: usize>(
    body: &'a str,
    names: [&str; N],
) -> Option<[Option<&'a RawValue>; N]> {
    let mut deserializer = serde_json::Deserializer::from_str(body);
    let found = Fields { names }.deserialize(&mut deserializer).ok()?;
    deserializer.end().ok()?;
    found
}

/// The field `name` of `body` as a JSON value (small fields: a type, an id), or `None` where
/// absent or where the body is not an object.
pub fn field(body: &str, name: &str) -> Option<Json> {
    let [raw] = fields(body, [name])?;
    serde_json::from_str(raw?.get()).ok()
}

/// The integers of a JSON list, in order, leaving out items that are not integers in `i64`'s
/// range; `None` when `raw` is not a list.
pub fn integer_list(raw: &RawValue) -> Option<Vec<i64>> {
    serde_json::from_str::<IntegerList>(raw.get())
        .ok()
        .and_then(|list| list.0)
}

/// `raw` as an integer in `i64`'s range, if it is one.
pub fn integer(raw: &RawValue) -> Option<i64> {
    serde_json::from_str::<Json>(raw.get())
        .ok()
        .and_then(|value| value.as_i64())
}

/// Finds the fields `names` of an object.
struct Fields<'n, const N: usize> {
    names: [&'n str; N],
}

impl<'de, const N: usize> DeserializeSeed<'de> for Fields<'_, N> {
    type Value = Option<[Option<&'de RawValue>; N]>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de, const N: usize> Visitor<'de> for Fields<'_, N> {
    type Value = Option<[Option<&'de RawValue>; N]>;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = [None; N];
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match self.names.iter().position(|name| *name == key) {
                Some(at) => found[at] = Some(map.next_value::<&'de RawValue>()?),
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Some(found))
    }

    // Anything but an object has no fields.
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}

/// A list's integers (`None` for anything but a list).
struct IntegerList(Option<Vec<i64>>);

impl<'de> Deserialize<'de> for IntegerList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(IntegerListVisitor)
    }
}

struct IntegerListVisitor;

impl<'de> Visitor<'de> for IntegerListVisitor {
    type Value = IntegerList;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<IntegerList, A::Error> {
        let mut values = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element::<MaybeInteger>()? {
            values.extend(item.0);
        }
        Ok(IntegerList(Some(values)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<IntegerList, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(IntegerList(None))
    }
    fn visit_bool<E>(self, _: bool) -> Result<IntegerList, E> {
        Ok(IntegerList(None))
    }
    fn visit_i64<E>(self, _: i64) -> Result<IntegerList, E> {
        Ok(IntegerList(None))
    }
    fn visit_u64<E>(self, _: u64) -> Result<IntegerList, E> {
        Ok(IntegerList(None))
    }
    fn visit_f64<E>(self, _: f64) -> Result<IntegerList, E> {
        Ok(IntegerList(None))
    }
    fn visit_str<E>(self, _: &str) -> Result<IntegerList, E> {
        Ok(IntegerList(None))
    }
    fn visit_unit<E>(self) -> Result<IntegerList, E> {
        Ok(IntegerList(None))
    }
}

/// An item of a list: an integer in `i64`'s range, or nothing (anything else, skipped).
struct MaybeInteger(Option<i64>);

impl<'de> Deserialize<'de> for MaybeInteger {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(MaybeIntegerVisitor)
    }
}

struct MaybeIntegerVisitor;

impl<'de> Visitor<'de> for MaybeIntegerVisitor {
    type Value = MaybeInteger;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("a JSON value")
    }
    fn visit_i64<E>(self, value: i64) -> Result<MaybeInteger, E> {
        Ok(MaybeInteger(Some(value)))
    }
    fn visit_u64<E>(self, value: u64) -> Result<MaybeInteger, E> {
        Ok(MaybeInteger(i64::try_from(value).ok()))
    }
    fn visit_f64<E>(self, _: f64) -> Result<MaybeInteger, E> {
        Ok(MaybeInteger(None))
    }
    fn visit_bool<E>(self, _: bool) -> Result<MaybeInteger, E> {
        Ok(MaybeInteger(None))
    }
    fn visit_str<E>(self, _: &str) -> Result<MaybeInteger, E> {
        Ok(MaybeInteger(None))
    }
    fn visit_unit<E>(self) -> Result<MaybeInteger, E> {
        Ok(MaybeInteger(None))
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<MaybeInteger, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(MaybeInteger(None))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<MaybeInteger, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(MaybeInteger(None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same answers from a JSON value of the whole body.
    fn by_value(body: &str, name: &str) -> (Option<Vec<i64>>, Option<i64>, Option<Json>) {
        let value: Json = serde_json::from_str(body).unwrap_or(Json::Null);
        let field = value.get(name);
        (
            field
                .and_then(Json::as_array)
                .map(|items| items.iter().filter_map(Json::as_i64).collect()),
            field.and_then(Json::as_i64),
            field.cloned(),
        )
    }

    fn by_skim(body: &str, name: &str) -> (Option<Vec<i64>>, Option<i64>, Option<Json>) {
        let raw = fields(body, [name]).and_then(|[raw]| raw);
        (
            raw.and_then(integer_list),
            raw.and_then(integer),
            field(body, name),
        )
    }

    #[test]
    fn fields_read_as_a_json_value_of_the_body_reads_them() {
        let bodies = [
            r#"{"type":"read_ok","messages":[1,2.5,-3,"4",null,[5],{"a":6},9223372036854775808,7],"in_reply_to":3}"#,
            r#"{"messages":1,"messages":[2,3],"type":"x"}"#,
            r#"{"messages":[2,3],"messages":{"a":1}}"#,
            r#"{"mess\u0061ges":[4],"in_reply_to":-1}"#,
            r#"{"in_reply_to":1.0,"messages":"x"}"#,
            r#"{"in_reply_to":18446744073709551615,"messages":true}"#,
            r#"{"in_reply_to":{"deep":[1,{"x":2}]},"messages":[]}"#,
            r#"[1,2]"#,
            r#"7"#,
            r#""text""#,
            r#"{}"#,
            r#"{"a":1} trailing"#,
        ];
        for body in bodies {
            for name in ["messages", "in_reply_to", "type", "absent"] {
                assert_eq!(
                    by_skim(body, name),
                    by_value(body, name),
                    "{name} of {body}"
                );
            }
        }
    }

    #[test]
    fn several_fields_are_found_in_one_pass() {
        let body = r#"{"type":"gossip","hops":2,"messages":[1],"type":"relay"}"#;
        let [kind, messages, absent] = fields(body, ["type", "messages", "absent"]).unwrap();
        assert_eq!(kind.unwrap().get(), r#""relay""#);
        assert_eq!(messages.and_then(integer_list), Some(vec![1]));
        assert!(absent.is_none());
        assert!(fields("not json", ["type"]).is_none());
    }
}
