//! Maelstrom's txn-list-append workload (Maelstrom's guide, chapter 5): transactions of up to
//! `--max-txn-length` micro-ops, `["r", k, null]` (answered with the key's whole list) and
//! `["append", k, v]`, as `txn {txn}` → `txn_ok {txn}` with the reads filled in.
//!
//! The generator is Elle's `append-txns` as Maelstrom sets it up: each micro-op reads or appends
//! with even odds, on one of `--key-count` keys drawn with an exponential skew (the first key
//! about half the time); each key's appended values run 1, 2, …, and a key that has had
//! `--max-writes-per-key` appends is retired for a fresh one. A timeout or an indefinite error
//! leaves a transaction unknown, a definite error (such as 30, txn-conflict) failed. No final
//! phase.
//!
//! The checker is [`crate::checker::elle`]'s list-append, against `--consistency-models`
//! (default strict-serializable). Maelstrom trusts a reply's micro-ops as the transaction that
//! ran: a reply that drops, renames or reorders the request's micro-ops passes there (Maelstrom
//! issues #57 and #14). Here it is counted and warned of, and `--workload-options strict=true`
//! makes it invalid. Two holes of Elle's get the same treatment: a transaction's own appends
//! held out of their order in a key's list (Elle does not look), and, for txn-rw-register,
//! transactions of unknown outcome left out of the graph (strict mode puts their writes in).

use rand::RngExt;
use rand::rngs::ChaCha8Rng;
use serde_json::{Value as Json, json};

use super::{CheckContext, Checked, Declaration, ErrorRule, Operation, Options, Workload};
use crate::checker::Validity;
use crate::checker::elle::{self, models};
use crate::history::{Op, OpKind, paired};

/// The options txn-list-append takes (Maelstrom's flags of the same names set the first four).
pub const OPTIONS: &[(&str, &str)] = &[
    (
        "consistency_models",
        "the models to check, separated by spaces (default strict-serializable; --consistency-models sets it)",
    ),
    (
        "key_count",
        "keys in play at once (default 10; --key-count sets it)",
    ),
    (
        "max_txn_length",
        "the most micro-ops in one transaction (default 4; --max-txn-length sets it)",
    ),
    (
        "max_writes_per_key",
        "appends to a key before it is retired (default 16; --max-writes-per-key sets it)",
    ),
    (
        "strict",
        "true to close Maelstrom's holes (default false: Maelstrom's verdict, with a warning): a reply whose micro-ops differ from the request's is invalid, so is a transaction whose own appends a list holds out of order, and transactions of unknown outcome take part in txn-rw-register's graph",
    ),
];

fn number(options: &Options, key: &str, default: u64) -> Result<u64, String> {
    match options.get(key) {
        None => Ok(default),
        Some(text) => text
            .parse::<u64>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("{key} takes a whole number above 0, not `{text}`")),
    }
}

/// The models named by `text` (spaces or commas between them), canonical.
pub fn parse_models(text: &str) -> Result<Vec<&'static str>, String> {
    let models = text
        .split([' ', ','])
        .filter(|word| !word.is_empty())
        .map(models::canonical)
        .collect::<Result<Vec<_>, _>>()?;
    if models.is_empty() {
        return Err("name at least one consistency model".into());
    }
    Ok(models)
}

/// Which transaction workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `["append", k, v]`, reads return lists.
    ListAppend,
    /// `["w", k, v]`, reads return one value (txn-rw-register).
    RwRegister,
}

/// Makes the workload from its options.
pub fn make(options: &Options) -> Result<Box<dyn Workload>, String> {
    make_kind(options, Kind::ListAppend)
}

/// Makes either transaction workload from its options.
pub fn make_kind(options: &Options, kind: Kind) -> Result<Box<dyn Workload>, String> {
    let strict = match options.get("strict").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => return Err(format!("strict takes true or false, not `{other}`")),
    };
    Ok(Box::new(TxnListAppend {
        kind,
        models: parse_models(
            options
                .get("consistency_models")
                .map_or("strict-serializable", String::as_str),
        )?,
        key_count: number(options, "key_count", 10)? as usize,
        max_txn_length: number(options, "max_txn_length", 4)?,
        max_writes_per_key: number(options, "max_writes_per_key", 16)?,
        strict,
        keys: Vec::new(),
        next_key: 0,
    }))
}

/// The txn-list-append workload, and txn-rw-register with [`Kind::RwRegister`].
#[derive(Debug)]
pub struct TxnListAppend {
    kind: Kind,
    models: Vec<&'static str>,
    key_count: usize,
    max_txn_length: u64,
    max_writes_per_key: u64,
    strict: bool,
    /// The keys in play: (key, appends so far).
    keys: Vec<(u64, u64)>,
    next_key: u64,
}

impl TxnListAppend {
    /// A key index with an exponential skew: 0 about half the time, 1 a quarter, ….
    fn pick(&mut self, rng: &mut ChaCha8Rng) -> usize {
        while self.keys.len() < self.key_count {
            self.keys.push((self.next_key, 0));
            self.next_key += 1;
        }
        let mut at = 0;
        while at + 1 < self.keys.len() && rng.random_bool(0.5) {
            at += 1;
        }
        at
    }
}

/// The micro-ops of a request and of its reply differ: how, in words, or none.
fn mismatch(request: &Json, reply: &Json) -> Option<String> {
    let (Some(asked), Some(got)) = (request.as_array(), reply.as_array()) else {
        return Some("the reply's txn is not a list".into());
    };
    if asked.len() != got.len() {
        return Some(format!(
            "the request had {} micro-ops, the reply {}",
            asked.len(),
            got.len()
        ));
    }
    asked.iter().zip(got).enumerate().find_map(|(at, (a, g))| {
        let writes = a.get(0) == Some(&json!("append")) || a.get(0) == Some(&json!("w"));
        let same =
            a.get(0) == g.get(0) && a.get(1) == g.get(1) && (!writes || a.get(2) == g.get(2));
        (!same).then(|| format!("micro-op {at} was {a} and came back as {g}"))
    })
}

impl Workload for TxnListAppend {
    fn name(&self) -> &'static str {
        match self.kind {
            Kind::ListAppend => "txn-list-append",
            Kind::RwRegister => "txn-rw-register",
        }
    }

    fn declaration(&self) -> Declaration {
        Declaration {
            final_phase: false,
            errors: ErrorRule::WithErrors { idempotent: &[] },
            ..Declaration::MAELSTROM
        }
    }

    fn next_operation(&mut self, _: usize, rng: &mut ChaCha8Rng) -> Operation {
        let length = rng.random_range(1..=self.max_txn_length);
        let mut mops = Vec::new();
        for _ in 0..length {
            let at = self.pick(rng);
            let key = self.keys[at].0;
            if rng.random_bool(0.5) {
                mops.push(json!(["r", key, null]));
            } else {
                self.keys[at].1 += 1;
                let f = match self.kind {
                    Kind::ListAppend => "append",
                    Kind::RwRegister => "w",
                };
                mops.push(json!([f, key, self.keys[at].1]));
                if self.keys[at].1 >= self.max_writes_per_key {
                    self.keys[at] = (self.next_key, 0);
                    self.next_key += 1;
                }
            }
        }
        let txn = Json::Array(mops);
        Operation {
            f: "txn",
            value: txn.clone(),
            body: json!({"type": "txn", "txn": txn}),
        }
    }

    fn judge_reply(&self, _: &str, _: &Json, body: &Json) -> Result<Json, String> {
        let fields = super::closed_reply(body, "txn_ok", &["txn"])?;
        let txn = fields.get("txn").ok_or("txn_ok needs the `txn` it ran")?;
        if !txn.is_array() {
            return Err(format!(
                "txn_ok's `txn` must be a list of micro-ops, not {txn}"
            ));
        }
        Ok(txn.clone())
    }

    fn check(&self, history: &[Op], _: &CheckContext) -> Checked {
        let models = self.models.join(", ");
        let (checked, inference) = match self.kind {
            Kind::ListAppend => (
                elle::check_list_append(history, &self.models),
                "list-append",
            ),
            Kind::RwRegister => (
                elle::check_rw_register_with(history, &self.models, self.strict),
                "rw-register; blind writes cannot be ordered, so write cycles (G0) cannot be seen",
            ),
        };
        let result = match checked {
            Ok(result) => result,
            Err(error) => {
                return Checked::with_workload_section(
                    Validity::Unknown,
                    &json!({"valid?": "unknown", "error": error}),
                    vec![format!(
                        "txn        the history could not be checked: {error}"
                    )],
                    Vec::new(),
                    vec![format!("the transactions could not be read: {error}")],
                );
            }
        };
        // Replies whose micro-ops are not the request's.
        let mismatches: Vec<String> = paired(history)
            .into_iter()
            .filter_map(|(invoke, done)| {
                let done = done.filter(|done| done.kind == OpKind::Ok && invoke.f == "txn")?;
                mismatch(&invoke.value, &done.value)
                    .map(|how| format!("op {} (process {:?}): {how}", done.index, done.process))
            })
            .collect();
        let types: Vec<String> = result
            .anomalies
            .0
            .iter()
            .map(|(kind, cases)| format!("{kind} ({})", cases.count))
            .collect();
        let summary = vec![format!(
            "txn        {} transactions checked against {models} ({inference}): {}{}",
            result.txn_count,
            if types.is_empty() {
                "no anomalies".to_owned()
            } else {
                format!("anomalies {}", types.join(", "))
            },
            if result.not.is_empty() {
                String::new()
            } else {
                format!("; not {}", result.not.join(", "))
            }
        )];
        let mut anomalies: Vec<String> = result
            .anomalies
            .0
            .iter()
            .flat_map(|(kind, cases)| {
                cases
                    .examples
                    .iter()
                    .take(2)
                    .map(move |case| format!("{kind}: {}", case.words))
            })
            .collect();
        let mut valid = result.valid;
        let mut reasons: Vec<String> = Vec::new();
        if valid == Validity::Invalid {
            let proscribed: Vec<&str> = self
                .models
                .iter()
                .flat_map(|model| models::proscribed(model))
                .collect();
            for (kind, cases) in &result.anomalies.0 {
                let implied = models::implied(&[kind.as_str()]);
                if implied.iter().any(|a| proscribed.contains(&a.as_str())) {
                    reasons.push(format!(
                        "{kind}, which {models} forbids ({} found); the first: {}",
                        cases.count, cases.examples[0].words
                    ));
                }
            }
        }
        // Where Maelstrom does not look, its verdict stands with a warning; strict mode looks.
        let mut hole = |words: String, why_not: &str| {
            if self.strict {
                valid = Validity::Invalid;
                reasons.push(words);
            } else {
                anomalies.push(format!(
                    "warning: {words}; {why_not}; --workload-options strict=true judges it invalid"
                ));
            }
        };
        if let Some(first) = mismatches.first() {
            hole(
                format!(
                    "{} txn_ok repl(ies) did not carry the request's micro-ops back (dropped, renamed or reordered); the first: {first}",
                    mismatches.len()
                ),
                "Maelstrom trusts the reply, and so does this verdict",
            );
        }
        if let Some(cases) = result.anomalies.0.get("reordered-appends") {
            hole(
                format!(
                    "{} transaction(s) whose own appends a key's list holds out of their order; the first: {}",
                    cases.count, cases.examples[0].words
                ),
                "Elle does not look for this, so neither does Maelstrom's verdict",
            );
        }
        if let Some(reads) = result
            .unknown_writer_reads
            .filter(|&reads| reads > 0 && !self.strict)
        {
            anomalies.push(format!(
                "warning: {reads} committed read(s) saw a value only a transaction of unknown outcome wrote; Elle, and so Maelstrom, leaves such transactions out of the dependency graph, so a cycle through them is not seen; --workload-options strict=true puts them in"
            ));
        }
        let mut section = serde_json::to_value(&result).expect("the result serialises");
        section["reply_mismatches"] = json!(mismatches.len());
        section["valid?"] = serde_json::to_value(valid).expect("a verdict serialises");
        Checked::with_workload_section(valid, &section, summary, anomalies, reasons)
    }
}
