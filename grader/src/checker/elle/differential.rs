//! Our checkers against adya, an independent Elle written in Rust, on the same histories,
//! judged under every model both know; the verdicts must agree on every one compared:
//!
//! - adya's simulated database at five isolation levels (serializable, snapshot isolation, read
//!   committed, read uncommitted, and a snapshot that loses updates), both workloads;
//! - small random histories of every outcome (committed, failed, unknown), with reads of
//!   anything a key could hold or not, both workloads.
//!
//! Two kinds of case are not compared, and counted: where adya departs from Elle (it stops
//! looking at a transaction after its first internal read, so misses a later future read, which
//! Elle and we find), and where Elle's own answer is a guess (incompatible orders under
//! read-uncommitted: the version order is then one of the longest reads, ties broken
//! arbitrarily).
//!
//! Written, this comparison found gaps in ours, all since closed, each with its own test:
//! list-append ignored appends no read holds (Elle orders them after every element read);
//! rw-register did not look for lost updates or cyclic versions, looked for aborted and
//! intermediate reads only in a transaction's first read of a key, let transactions of unknown
//! outcome and intermediate writes into the graph (Elle takes committed transactions' last
//! writes only), and a transaction's own appends out of order counted against the models
//! (Elle does not look: now a warning, and invalid in strict mode).

use adya::r#gen::{GenOpts, Kind};
use adya::sim::{Isolation, SimOpts, run};
use adya::{History as AdyaHistory, Opts, Valid, Workload};
use serde_json::Value as Json;

use super::models::MODELS;
use super::{TxnResult, check_list_append, check_rw_register};
use crate::checker::Validity;
use crate::checker::testing::Builder;
use crate::history::OpKind;

/// adya's history (Elle's JSON lines) as ours: each line an entry one millisecond after the
/// last, so real-time order is line order in both.
fn ours(lines: &str) -> Builder {
    let mut b = Builder::new();
    for (at, line) in lines
        .lines()
        .filter(|line| !line.trim().is_empty())
        .enumerate()
    {
        let op: Json = serde_json::from_str(line).expect("adya writes JSON lines");
        let kind = match op["type"].as_str() {
            Some("invoke") => OpKind::Invoke,
            Some("ok") => OpKind::Ok,
            Some("fail") => OpKind::Fail,
            _ => OpKind::Info,
        };
        let process = op["process"].as_u64().expect("a process number");
        b.op(process, kind, "txn", op["value"].clone(), at as u64);
    }
    b
}

fn theirs(lines: &str, kind: Kind, model: &str) -> (Valid, Vec<String>) {
    let history = AdyaHistory::from_json(lines).expect("adya reads its own history");
    let workload = match kind {
        Kind::ListAppend => Workload::ListAppend,
        Kind::RwRegister => Workload::RwRegister,
    };
    let opts = Opts {
        models: vec![model.into()],
        wfr_keys: kind == Kind::RwRegister,
        ..Opts::default()
    };
    let report = adya::check(&history, workload, &opts);
    (report.valid, report.anomaly_types)
}

fn judge(b: &Builder, kind: Kind, model: &'static str) -> TxnResult {
    let ops = b.history.ops();
    match kind {
        Kind::ListAppend => check_list_append(ops, &[model]),
        Kind::RwRegister => check_rw_register(ops, &[model]),
    }
    .expect("the history reads")
}

/// One simulated history: `txns` transactions by 5 processes at `isolation`, 10 % of them
/// aborted and 5 % indefinite.
fn simulated(isolation: Isolation, kind: Kind, seed: u64, txns: usize) -> String {
    let opts = SimOpts {
        isolation,
        txns,
        seed,
        processes: 5,
        r#gen: GenOpts {
            kind,
            ..GenOpts::default()
        },
        ..SimOpts::default()
    };
    run(&opts)
}

const LEVELS: [Isolation; 5] = [
    Isolation::Serializable,
    Isolation::SnapshotIsolation,
    Isolation::ReadCommitted,
    Isolation::ReadUncommitted,
    Isolation::LostUpdate,
];

/// Runs every level and seed for `kind`; returns the disagreements, and how many verdicts were
/// compared and how many of them invalid.
fn compare(kind: Kind, seeds: std::ops::Range<u64>, txns: usize) -> (Vec<String>, usize, usize) {
    let (mut differ, mut compared, mut invalid) = (Vec::new(), 0, 0);
    for isolation in LEVELS {
        for seed in seeds.clone() {
            let lines = simulated(isolation, kind, seed, txns);
            let b = ours(&lines);
            for &model in MODELS {
                let (want, their_types) = theirs(&lines, kind, model);
                if want == Valid::Unknown {
                    continue;
                }
                let got = judge(&b, kind, model);
                compared += 1;
                let agree = match want {
                    Valid::True => got.valid == Validity::Valid,
                    _ => got.valid == Validity::Invalid,
                };
                invalid += usize::from(want == Valid::False);
                if !agree {
                    differ.push(format!(
                        "{isolation:?} seed {seed} under {model}: adya {want:?} ({their_types:?}), ours {:?} ({:?})",
                        got.valid, got.anomaly_types
                    ));
                }
            }
        }
    }
    (differ, compared, invalid)
}

/// Compares six seeds of 300 transactions at every level and model for `kind`: every verdict
/// judged by both and equal. Returns how many were invalid.
fn agree(kind: Kind) -> usize {
    let (differ, compared, invalid) = compare(kind, 0..6, 300);
    eprintln!("{kind:?}: {compared} verdicts compared, {invalid} invalid");
    assert!(
        differ.is_empty(),
        "{} of {compared}:\n{}",
        differ.len(),
        differ.join("\n")
    );
    assert_eq!(compared, 180, "adya could not judge some");
    invalid
}

#[test]
fn list_append_verdicts_agree_with_adya_at_every_isolation_level_and_model() {
    // The levels must give both verdicts, or the comparison proves little.
    let invalid = agree(Kind::ListAppend);
    assert!(invalid > 45 && invalid < 180, "{invalid} of 180 invalid");
}

#[test]
fn rw_register_verdicts_agree_with_adya_at_every_isolation_level_and_model() {
    let invalid = agree(Kind::RwRegister);
    assert!(invalid > 0 && invalid < 180, "{invalid} of 180 invalid");
}

/// A small random history in Elle's JSON lines: 3 to 6 transactions, each its own process, of 1
/// to 3 micro-ops on 2 keys; 70 % committed, 15 % failed, 15 % unknown; reads return anything
/// a key could hold or not (a prefix of a random order of its appends, failed ones included,
/// now and then a list no order gives; for registers any value written or null), and
/// invocations and completions are interleaved at random.
fn random_lines(rng: &mut rand::rngs::ChaCha8Rng, kind: Kind) -> String {
    use rand::RngExt as _;
    use rand::seq::SliceRandom as _;
    let count = rng.random_range(3..=6);
    let mut next = [1u64, 1];
    let mut txns: Vec<Vec<(bool, u64, u64)>> = (0..count)
        .map(|_| {
            (0..rng.random_range(1..=3))
                .map(|_| {
                    let key = rng.random_range(0..2u64);
                    let write = rng.random_bool(0.5);
                    let value = if write {
                        next[key as usize] += 1;
                        next[key as usize] - 1
                    } else {
                        0
                    };
                    (write, key, value)
                })
                .collect()
        })
        .collect();
    let mut orders: Vec<Vec<u64>> = (0..2).map(|k| (1..next[k]).collect()).collect();
    for order in &mut orders {
        order.shuffle(rng);
    }
    let outcomes: Vec<&str> = (0..count)
        .map(|_| match rng.random_range(0..20) {
            0..14 => "ok",
            14..17 => "fail",
            _ => "info",
        })
        .collect();
    let mop = |(write, key, value): (bool, u64, u64), read: Json| match (write, kind) {
        (true, Kind::ListAppend) => serde_json::json!(["append", key, value]),
        (true, Kind::RwRegister) => serde_json::json!(["w", key, value]),
        (false, _) => serde_json::json!(["r", key, read]),
    };
    let mut done: Vec<Json> = Vec::new();
    for txn in &mut txns {
        let mops: Vec<Json> = txn
            .iter()
            .map(|&(write, key, value)| {
                let order = &orders[key as usize];
                let read = match kind {
                    Kind::ListAppend => {
                        let mut list = order[..rng.random_range(0..=order.len())].to_vec();
                        if list.len() > 1 && rng.random_bool(0.1) {
                            list.swap(0, 1);
                        }
                        if list.is_empty() {
                            Json::Null
                        } else {
                            serde_json::json!(list)
                        }
                    }
                    Kind::RwRegister => match order.get(rng.random_range(0..=order.len())) {
                        Some(value) => serde_json::json!(value),
                        None => Json::Null,
                    },
                };
                mop((write, key, value), read)
            })
            .collect();
        done.push(Json::Array(mops));
    }
    // Events: each transaction's invocation, then its completion, interleaved at random.
    let mut events: Vec<usize> = (0..count).flat_map(|t| [t, t]).collect();
    events.shuffle(rng);
    let mut started = vec![false; count];
    let mut lines = String::new();
    for (index, t) in events.into_iter().enumerate() {
        let invoked: Vec<Json> = txns[t].iter().map(|&m| mop(m, Json::Null)).collect();
        let (kind, value) = if !started[t] {
            started[t] = true;
            ("invoke", Json::Array(invoked))
        } else if outcomes[t] == "ok" {
            ("ok", done[t].clone())
        } else {
            (outcomes[t], Json::Array(invoked))
        };
        let line = serde_json::json!({"index": index, "type": kind, "process": t, "value": value});
        lines.push_str(&line.to_string());
        lines.push('\n');
    }
    lines
}

/// Ours against adya on `cases` small random histories of `kind`, under every model.
fn agree_on_random(kind: Kind, cases: u64) -> (usize, usize, usize) {
    use rand::SeedableRng as _;
    let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(11);
    let (mut differ, mut compared, mut invalid, mut skipped) = (Vec::new(), 0, 0, 0);
    for case in 0..cases {
        let lines = random_lines(&mut rng, kind);
        let b = ours(&lines);
        for &model in MODELS {
            let (want, their_types) = theirs(&lines, kind, model);
            if want == Valid::Unknown {
                continue;
            }
            let Ok(got) = (match kind {
                Kind::ListAppend => check_list_append(b.history.ops(), &[model]),
                Kind::RwRegister => check_rw_register(b.history.ops(), &[model]),
            }) else {
                continue;
            };
            let has = |t: &str| got.anomaly_types.iter().any(|found| found == t);
            // Where adya departs from Elle, or Elle's own answer is a guess, the case is not
            // compared (and counted): a transaction with an internal read as well as a future
            // one (adya stops looking at a transaction after its first internal read, Elle
            // does not, nor do we); and incompatible orders under read-uncommitted (the
            // version order is then one of the longest reads, ties broken arbitrarily, so a
            // write cycle may or may not be seen by either).
            if (has("internal") && has("future-read"))
                || (model == "read-uncommitted" && has("incompatible-order"))
            {
                skipped += 1;
                continue;
            }
            compared += 1;
            invalid += usize::from(want == Valid::False);
            let agree = match want {
                Valid::True => got.valid == Validity::Valid,
                _ => got.valid == Validity::Invalid,
            };
            if !agree && differ.len() < 10 {
                differ.push(format!(
                    "case {case} under {model}: adya {want:?} ({their_types:?}), ours {:?} ({:?})\n{lines}",
                    got.valid, got.anomaly_types
                ));
            }
        }
    }
    assert!(differ.is_empty(), "{}", differ.join("\n"));
    (compared, invalid, skipped)
}

#[test]
fn verdicts_agree_with_adya_on_small_random_histories_of_every_outcome() {
    for kind in [Kind::ListAppend, Kind::RwRegister] {
        let (compared, invalid, skipped) = agree_on_random(kind, 1_000);
        eprintln!(
            "{kind:?}: {compared} verdicts compared, {invalid} invalid, {skipped} not compared"
        );
    }
}
