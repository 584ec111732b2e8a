//! Reading Maelstrom's (Jepsen's) `history.edn`: one operation map a line, as Clojure's `prn`
//! writes them, into this grader's history entries, so `grader check` can judge Maelstrom's own
//! runs.
//!
//! The reader takes the EDN that histories hold: `nil`, booleans, integers, floats, strings,
//! keywords, symbols, vectors, lists, sets, maps, and tagged values (`#jepsen.history.Op{…}`:
//! the tag is dropped). It becomes JSON: keywords and symbols lose their colon and become
//! strings, vectors, lists and sets become arrays, map keys become their text.

use serde_json::{Map, Value as Json};

use crate::history::{Op, OpKind, Process};

/// Parses one EDN value from `text`, returning it and what follows.
fn value(text: &str) -> Result<(Json, &str), String> {
    let text = skip_space(text);
    let mut chars = text.chars();
    let Some(first) = chars.next() else {
        return Err("the line ended where a value was expected".into());
    };
    match first {
        '{' => collection(&text[1..], '}').and_then(|(items, rest)| {
            if items.len() % 2 != 0 {
                return Err("a map with an odd number of forms".into());
            }
            let mut map = Map::new();
            for pair in items.chunks(2) {
                let key = match &pair[0] {
                    Json::String(text) => text.clone(),
                    other => other.to_string(),
                };
                map.insert(key, pair[1].clone());
            }
            Ok((Json::Object(map), rest))
        }),
        '[' => collection(&text[1..], ']').map(|(items, rest)| (Json::Array(items), rest)),
        '(' => collection(&text[1..], ')').map(|(items, rest)| (Json::Array(items), rest)),
        '#' if text[1..].starts_with('{') => {
            collection(&text[2..], '}').map(|(items, rest)| (Json::Array(items), rest))
        }
        '#' => {
            // A tagged value: skip the tag, read what it tags.
            let end = text[1..]
                .find(|c: char| c.is_whitespace() || "{[(\"".contains(c))
                .map_or(text.len(), |at| at + 1);
            value(&text[end..])
        }
        '"' => string(&text[1..]),
        ':' => {
            let (word, rest) = word(&text[1..]);
            Ok((Json::String(word.to_owned()), rest))
        }
        _ => {
            let (word, rest) = word(text);
            let parsed = match word {
                "nil" => Json::Null,
                "true" => Json::Bool(true),
                "false" => Json::Bool(false),
                _ => {
                    let number = word.trim_end_matches(['N', 'M']);
                    if let Ok(integer) = number.parse::<i64>() {
                        Json::from(integer)
                    } else if let Ok(float) = number.parse::<f64>() {
                        Json::from(float)
                    } else if word.is_empty() {
                        return Err(format!("unexpected `{first}`"));
                    } else {
                        // A symbol.
                        Json::String(word.to_owned())
                    }
                }
            };
            Ok((parsed, rest))
        }
    }
}

fn skip_space(text: &str) -> &str {
    text.trim_start_matches(|c: char| c.is_whitespace() || c == ',')
}

/// A word: up to whitespace, a comma or a delimiter.
fn word(text: &str) -> (&str, &str) {
    let end = text
        .find(|c: char| c.is_whitespace() || ",{}[]()\"".contains(c))
        .unwrap_or(text.len());
    (&text[..end], &text[end..])
}

fn collection(mut text: &str, close: char) -> Result<(Vec<Json>, &str), String> {
    let mut items = Vec::new();
    loop {
        text = skip_space(text);
        if let Some(rest) = text.strip_prefix(close) {
            return Ok((items, rest));
        }
        if text.is_empty() {
            return Err(format!("a collection is not closed with `{close}`"));
        }
        let (item, rest) = value(text)?;
        items.push(item);
        text = rest;
    }
}

fn string(text: &str) -> Result<(Json, &str), String> {
    let mut out = String::new();
    let mut chars = text.char_indices();
    while let Some((at, c)) = chars.next() {
        match c {
            '"' => return Ok((Json::String(out), &text[at + 1..])),
            '\\' => match chars.next() {
                Some((_, 'n')) => out.push('\n'),
                Some((_, 't')) => out.push('\t'),
                Some((_, 'r')) => out.push('\r'),
                Some((_, other)) => out.push(other),
                None => break,
            },
            other => out.push(other),
        }
    }
    Err("a string is not closed".into())
}

/// The error of a failed or unknown Maelstrom operation as this grader writes it (`error 20:
/// …`), when it names one of Maelstrom's errors; otherwise its text.
fn error_text(error: &Json) -> String {
    let text = match error {
        Json::String(text) => text.clone(),
        other => other.to_string(),
    };
    let code = [
        ("key-does-not-exist", 20),
        ("precondition-failed", 22),
        ("txn-conflict", 30),
        ("timeout", 0),
    ]
    .iter()
    .find(|(name, _)| text.contains(name))
    .map(|(_, code)| *code);
    match code {
        Some(0) | None => {
            if text == "net-timeout" || text.contains("net-timeout") {
                "net-timeout".to_owned()
            } else {
                text
            }
        }
        Some(code) => format!("error {code}: {text}"),
    }
}

/// Reads a `history.edn`. A line that is not an operation map is an error naming the line.
pub fn read_history(text: &str) -> Result<Vec<Op>, String> {
    let mut ops = Vec::new();
    let mut rest = text.trim_start();
    // The whole history may be one vector of maps, or one map a line.
    if let Some(inside) = rest.strip_prefix('[') {
        rest = inside;
    }
    // Lines are counted as the reading moves on, never from the start again.
    let (mut line, mut counted_to) = (1, 0);
    loop {
        rest = skip_space(rest);
        if rest.is_empty() || rest.starts_with(']') {
            break;
        }
        let offset = text.len() - rest.len();
        line += text[counted_to..offset].matches('\n').count();
        counted_to = offset;
        let (op, after) = value(rest).map_err(|error| format!("line {line}: {error}"))?;
        let wrong = |what: &str| format!("line {line}: {what}");
        let field = |name: &str| op.get(name);
        let process = match field("process") {
            Some(Json::Number(number)) => Process::Worker(
                number
                    .as_u64()
                    .ok_or_else(|| wrong(":process is not a whole number"))?,
            ),
            Some(Json::String(name)) if name == "nemesis" => Process::Nemesis,
            _ => return Err(wrong("an operation needs :process, a number or :nemesis")),
        };
        let kind = match field("type").and_then(Json::as_str) {
            Some("invoke") => OpKind::Invoke,
            Some("ok") => OpKind::Ok,
            Some("fail") => OpKind::Fail,
            Some("info") => OpKind::Info,
            _ => return Err(wrong(":type must be :invoke, :ok, :fail or :info")),
        };
        let f = match field("f") {
            Some(Json::String(f)) => f.clone(),
            Some(other) => other.to_string(),
            None => return Err(wrong("an operation needs :f")),
        };
        ops.push(Op {
            index: ops.len(),
            time_ns: field("time").and_then(Json::as_u64).unwrap_or(0),
            process,
            kind,
            f: crate::history::intern(&f),
            value: field("value").cloned().unwrap_or(Json::Null),
            error: field("error").map(error_text),
            node: None,
            final_read: false,
        });
        rest = after;
    }
    Ok(ops)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn edn_values_become_json() {
        let (parsed, rest) = value(
            r#"{:type :ok, :f :poll, :value [[:poll {"56" [[4 5] [5 6]]}]], :x #{1 2}, :y (nil true 1.5 -3), :s "a\"b"} tail"#,
        )
        .unwrap();
        assert_eq!(rest.trim(), "tail");
        assert_eq!(
            parsed,
            json!({"type": "ok", "f": "poll", "value": [["poll", {"56": [[4, 5], [5, 6]]}]], "x": [1, 2], "y": [null, true, 1.5, -3], "s": "a\"b"})
        );
    }

    #[test]
    fn a_maelstrom_history_reads_into_entries_with_its_errors_coded() {
        let text = r#"{:type :invoke, :f :read, :value [0 nil], :time 100, :process 0, :index 0}
{:type :fail, :f :read, :value [0 nil], :time 200, :process 0, :index 1, :error [:key-does-not-exist "key does not exist"]}
#jepsen.history.Op{:index 2, :time 300, :type :info, :process :nemesis, :f :start-partition, :value nil}
{:type :info, :f :cas, :value [0 [1 2]], :time 400, :process 1, :index 3, :error :net-timeout}
"#;
        let ops = read_history(text).unwrap();
        assert_eq!(ops.len(), 4);
        assert_eq!((ops[1].kind, ops[1].f), (OpKind::Fail, "read"));
        assert!(ops[1].error.as_deref().unwrap().starts_with("error 20: "));
        assert_eq!(ops[2].process, Process::Nemesis);
        assert_eq!(ops[3].error.as_deref(), Some("net-timeout"));
        assert_eq!(ops[3].value, json!([0, [1, 2]]));
        let error =
            read_history("{:type :ok, :f :read, :process 0}\n{:type :ok :process}").unwrap_err();
        assert!(error.starts_with("line 2:"), "{error}");
    }
}
