//! Consistency models and the anomalies they proscribe, as Elle relates them
//! (`elle.consistency-model`): an anomaly found implies others (G1a implies G1, G-single-item
//! implies G-single and G2-item, …), and a model is ruled out when any anomaly found, or implied
//! by one found, is among those it proscribes, its weaker models' included.

/// The models `--consistency-models` takes, weakest first.
pub const MODELS: &[&str] = &[
    "read-uncommitted",
    "read-committed",
    "repeatable-read",
    "snapshot-isolation",
    "serializable",
    "strict-serializable",
];

/// Other names Elle accepts for them.
const ALIASES: &[(&str, &str)] = &[
    ("PL-1", "read-uncommitted"),
    ("PL-2", "read-committed"),
    ("PL-2.99", "repeatable-read"),
    ("PL-SI", "snapshot-isolation"),
    ("PL-3", "serializable"),
    ("PL-SS", "strict-serializable"),
];

/// The canonical name of a model, or an error that lists the models there are.
pub fn canonical(name: &str) -> Result<&'static str, String> {
    let name = name.trim().trim_start_matches(':');
    MODELS
        .iter()
        .find(|model| **model == name)
        .copied()
        .or_else(|| {
            ALIASES
                .iter()
                .find(|(alias, _)| *alias == name)
                .map(|(_, model)| *model)
        })
        .ok_or_else(|| {
            format!(
                "unknown consistency model `{name}`: use one of {}",
                MODELS.join(", ")
            )
        })
}

/// What each anomaly implies (Elle's `implied-anomalies`, the part this checker can find).
const IMPLIES: &[(&str, &[&str])] = &[
    ("G0", &["G1c", "G0-realtime"]),
    ("G0-realtime", &["G1c-realtime"]),
    ("G1a", &["G1"]),
    ("G1b", &["G1"]),
    ("G1c", &["G1", "G1c-realtime"]),
    ("G1c-realtime", &["G1-realtime"]),
    ("G1", &["G1-realtime"]),
    (
        "G-single-item",
        &["G-single", "G-nonadjacent-item", "G-single-item-realtime"],
    ),
    (
        "G-single-item-realtime",
        &["G-single-realtime", "G-nonadjacent-item-realtime"],
    ),
    ("G-single", &["G-nonadjacent", "G-single-realtime"]),
    ("G-single-realtime", &["G-nonadjacent-realtime"]),
    (
        "G-nonadjacent-item",
        &["G-nonadjacent", "G2-item", "G-nonadjacent-item-realtime"],
    ),
    (
        "G-nonadjacent-item-realtime",
        &["G2-item-realtime", "G-nonadjacent-realtime"],
    ),
    ("G-nonadjacent", &["G2", "G-nonadjacent-realtime"]),
    ("G-nonadjacent-realtime", &["G2-realtime"]),
    ("G2-item", &["G2", "G2-item-realtime"]),
    ("G2-item-realtime", &["G2-realtime"]),
    ("G2", &["G2-realtime"]),
    ("incompatible-order", &["G1a"]),
    ("dirty-update", &["G1a"]),
    ("future-read", &["G1c"]),
    ("lost-update", &["G2-item"]),
];

/// What each model proscribes directly, and the weaker models it implies.
const PROSCRIBES: &[(&str, &[&str], &[&str])] = &[
    (
        "read-uncommitted",
        &["G0", "duplicate-elements", "cyclic-versions"],
        &[],
    ),
    ("read-committed", &["G1"], &["read-uncommitted"]),
    (
        "repeatable-read",
        &["G1", "G2-item", "lost-update"],
        &["read-committed"],
    ),
    (
        "snapshot-isolation",
        &["internal", "G1", "G-single", "G-nonadjacent", "lost-update"],
        &["read-committed"],
    ),
    (
        "serializable",
        &["internal", "G1", "G2"],
        &["repeatable-read", "snapshot-isolation"],
    ),
    (
        "strict-serializable",
        &["G1", "G1c-realtime", "G2-realtime"],
        &["serializable"],
    ),
];

/// `found` with everything it implies.
pub fn implied(found: &[&str]) -> Vec<String> {
    let mut all: Vec<String> = found.iter().map(|a| (*a).to_owned()).collect();
    let mut at = 0;
    while at < all.len() {
        if let Some((_, more)) = IMPLIES.iter().find(|(anomaly, _)| *anomaly == all[at]) {
            for next in *more {
                if !all.iter().any(|known| known == next) {
                    all.push((*next).to_owned());
                }
            }
        }
        at += 1;
    }
    all
}

/// Every anomaly `model` proscribes, its weaker models' included.
pub fn proscribed(model: &str) -> Vec<&'static str> {
    let mut out = Vec::new();
    let mut pending = vec![model];
    while let Some(next) = pending.pop() {
        if let Some((_, direct, weaker)) = PROSCRIBES.iter().find(|(name, _, _)| *name == next) {
            out.extend(direct.iter().copied());
            pending.extend(weaker.iter().copied());
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// The models `found` rules out, weakest first, and of those the weakest ones (a model none
/// of whose weaker models is ruled out), as Elle's `:not`.
pub fn ruled_out(found: &[&str]) -> (Vec<&'static str>, Vec<&'static str>) {
    let all = implied(found);
    let out: Vec<&'static str> = MODELS
        .iter()
        .copied()
        .filter(|model| proscribed(model).iter().any(|a| all.iter().any(|f| f == a)))
        .collect();
    let weaker = |model: &str| -> Vec<&'static str> {
        PROSCRIBES
            .iter()
            .find(|(name, _, _)| *name == model)
            .map_or(Vec::new(), |(_, _, weaker)| weaker.to_vec())
    };
    let weakest = out
        .iter()
        .copied()
        .filter(|model| !weaker(model).iter().any(|w| out.contains(w)))
        .collect();
    (out, weakest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_anomaly_rules_out_the_models_elle_says() {
        let not = |found: &[&str]| ruled_out(found).1;
        assert_eq!(not(&["G0"]), ["read-uncommitted"]);
        assert_eq!(not(&["G1a"]), ["read-committed"]);
        assert_eq!(not(&["G1b"]), ["read-committed"]);
        assert_eq!(not(&["G1c"]), ["read-committed"]);
        assert_eq!(not(&["incompatible-order"]), ["read-committed"]);
        // A single anti-dependency cycle on items: repeatable read and SI both forbid it.
        assert_eq!(
            not(&["G-single-item"]),
            ["repeatable-read", "snapshot-isolation"]
        );
        // Write skew: SI allows it, repeatable read does not.
        assert_eq!(not(&["G2-item"]), ["repeatable-read"]);
        assert_eq!(not(&["internal"]), ["snapshot-isolation"]);
        assert_eq!(not(&["G2-item-realtime"]), ["strict-serializable"]);
        assert!(ruled_out(&[]).0.is_empty());
        assert_eq!(canonical("PL-2"), Ok("read-committed"));
        assert!(
            canonical("linearizable-ish")
                .unwrap_err()
                .contains("read-committed")
        );
    }
}
