//! Our checkers against adya, an independent Elle written in Rust, on the same random
//! histories: adya's simulated database run at five isolation levels (serializable, snapshot
//! isolation, read committed, read uncommitted, and a snapshot that loses updates), for both
//! workloads, judged under every model both know. The verdicts must agree on every one.
//!
//! Written, this comparison found two gaps in ours, both since closed (each has its own test
//! too): list-append ignored appends no read holds (Elle orders them after every element read,
//! which closes write-skew cycles and G0 on keys nobody reads again), and rw-register did not
//! look for lost updates.

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
