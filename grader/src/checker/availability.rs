//! Maelstrom's availability check (`--availability`): the fraction of client operations that
//! succeeded, held to a floor. `total` asks for every one; a number from 0 to 1 for at least
//! that fraction. Without the flag nothing is required and no verdict is given.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use super::Validity;
use crate::history::{Op, OpKind};

/// What `--availability` asks for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Availability {
    /// Every operation must succeed.
    Total,
    /// At least this fraction of operations must succeed (0 to 1).
    AtLeast(f64),
}

impl Availability {
    /// The fraction required.
    pub fn required(self) -> f64 {
        match self {
            Availability::Total => 1.0,
            Availability::AtLeast(fraction) => fraction,
        }
    }
}

impl FromStr for Availability {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text == "total" {
            return Ok(Availability::Total);
        }
        match text.parse::<f64>() {
            Ok(fraction) if (0.0..=1.0).contains(&fraction) => Ok(Availability::AtLeast(fraction)),
            _ => Err(format!(
                "--availability takes `total` (every operation must succeed) or a fraction from 0 to 1 (such as 0.99), not `{text}`"
            )),
        }
    }
}

impl fmt::Display for Availability {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Availability::Total => formatter.write_str("total"),
            Availability::AtLeast(fraction) => write!(formatter, "{fraction}"),
        }
    }
}

/// The availability check's result (`results.json`'s `availability`).
#[derive(Debug, Clone, Serialize)]
pub struct AvailabilityResult {
    /// The verdict.
    #[serde(rename = "valid?")]
    pub valid: Validity,
    /// Ok completions over client invocations.
    pub ok_fraction: f64,
    /// The fraction `--availability` asked for.
    pub required: f64,
    /// Client invocations.
    pub invoke_count: usize,
    /// Ok completions.
    pub ok_count: usize,
    /// The first operation that did not succeed, in words (its f, node and error).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_unavailable: Option<String>,
}

/// Checks `history` against `required`.
pub fn check(history: &[Op], required: Availability) -> AvailabilityResult {
    let client = history.iter().filter(|op| op.is_client());
    let invoke_count = client
        .clone()
        .filter(|op| op.kind == OpKind::Invoke)
        .count();
    let ok_count = client.clone().filter(|op| op.kind == OpKind::Ok).count();
    let first_unavailable = client
        .clone()
        .find(|op| matches!(op.kind, OpKind::Fail | OpKind::Info))
        .map(|op| {
            format!(
                "`{}` on {} ({})",
                op.f,
                op.node.as_deref().unwrap_or("a node"),
                op.error.as_deref().unwrap_or("no reply")
            )
        });
    let ok_fraction = if invoke_count == 0 {
        1.0
    } else {
        ok_count as f64 / invoke_count as f64
    };
    AvailabilityResult {
        valid: if ok_fraction >= required.required() {
            Validity::Valid
        } else {
            Validity::Invalid
        },
        ok_fraction,
        required: required.required(),
        invoke_count,
        ok_count,
        first_unavailable,
    }
}

/// Why a run fell short of its availability, in words.
pub fn reason(result: &AvailabilityResult, asked: Availability) -> String {
    let asked = match asked {
        Availability::Total => "--availability total asks for every one".to_owned(),
        Availability::AtLeast(fraction) => {
            format!(
                "--availability {fraction} asks for at least {:.1}%",
                fraction * 100.0
            )
        }
    };
    format!(
        "only {} of {} operations succeeded ({:.1}%), but {asked}; the first that did not: {}",
        result.ok_count,
        result.invoke_count,
        result.ok_fraction * 100.0,
        result
            .first_unavailable
            .as_deref()
            .unwrap_or("an operation still open at the end")
    )
}

#[cfg(test)]
mod tests {
    use serde_json::{Value as Json, json};

    use super::*;
    use crate::checker::testing::Builder;

    #[test]
    fn total_availability_fails_on_one_timeout_and_a_fraction_allows_some() {
        let mut history = Builder::new();
        for process in 0..9 {
            history
                .op(process, OpKind::Invoke, "generate", Json::Null, process)
                .op(process, OpKind::Ok, "generate", json!(process), process + 1);
        }
        let all = check(history.history.ops(), Availability::Total);
        assert_eq!((all.valid, all.ok_fraction), (Validity::Valid, 1.0));
        history
            .op(9, OpKind::Invoke, "generate", Json::Null, 20)
            .op(9, OpKind::Info, "generate", Json::Null, 25);
        let total = check(history.history.ops(), Availability::Total);
        assert_eq!(total.valid, Validity::Invalid);
        assert_eq!((total.ok_count, total.invoke_count), (9, 10));
        let words = reason(&total, Availability::Total);
        assert!(
            words.contains("only 9 of 10 operations succeeded (90.0%)")
                && words.contains("`generate` on n9 (no reply)"),
            "{words}"
        );
        let most = check(history.history.ops(), "0.9".parse().unwrap());
        assert_eq!(most.valid, Validity::Valid);
        assert!(
            "1.5"
                .parse::<Availability>()
                .unwrap_err()
                .contains("`total`")
        );
        assert!("some".parse::<Availability>().is_err());
        assert_eq!(
            "total".parse::<Availability>().unwrap().to_string(),
            "total"
        );
    }
}
