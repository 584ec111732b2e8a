//! The list-append checker on hand-built histories, one per anomaly, each judged under every
//! model (the brute force over serial orders is in `brute_force.rs`, with these histories'
//! builder).

use serde_json::{Value as Json, json};

use super::*;
use crate::checker::Validity::{Invalid, Valid};
use crate::checker::testing::Builder;
use crate::history::OpKind;

/// Hand-built txn histories: each transaction is invoked and completed at the times given.
pub(super) struct Txns {
    pub(super) b: Builder,
}

impl Txns {
    pub(super) fn new() -> Self {
        Txns { b: Builder::new() }
    }

    /// A committed transaction: `done` is the completed micro-ops (reads filled in); the
    /// invocation has the reads' values blanked.
    pub(super) fn ok(&mut self, process: u64, done: Json, from: u64, to: u64) -> &mut Self {
        let invoked = blank(&done);
        self.b.op(process, OpKind::Invoke, "txn", invoked, from).op(
            process,
            OpKind::Ok,
            "txn",
            done,
            to,
        );
        self
    }

    pub(super) fn failed(&mut self, process: u64, mops: Json, from: u64, to: u64) -> &mut Self {
        self.b
            .op(process, OpKind::Invoke, "txn", mops.clone(), from)
            .op(process, OpKind::Fail, "txn", mops, to);
        self
    }

    pub(super) fn check(&self, model: &'static str) -> TxnResult {
        check_list_append(self.b.history.ops(), &[model]).unwrap()
    }

    pub(super) fn types(&self, model: &'static str) -> Vec<String> {
        self.check(model).anomaly_types
    }
}

fn blank(done: &Json) -> Json {
    Json::Array(
        done.as_array()
            .unwrap()
            .iter()
            .map(|mop| {
                if mop[0] == "r" {
                    json!(["r", mop[1], null])
                } else {
                    mop.clone()
                }
            })
            .collect(),
    )
}

#[test]
fn a_serial_history_is_valid_under_every_model() {
    let mut h = Txns::new();
    h.ok(0, json!([["append", 1, 1]]), 0, 1)
        .ok(1, json!([["r", 1, [1]], ["append", 1, 2]]), 2, 3)
        .ok(0, json!([["r", 1, [1, 2]], ["r", 2, null]]), 4, 5);
    for model in models::MODELS {
        let result = h.check(model);
        assert_eq!(result.valid, Valid, "{model}: {result:?}");
        assert!(result.anomaly_types.is_empty());
    }
    assert_eq!(h.check("serializable").txn_count, 3);
}

#[test]
fn g0_a_write_cycle_fails_even_read_uncommitted() {
    let mut h = Txns::new();
    // x: T0's 1 then T1's 2; y: T1's 3 then T0's 4.
    h.ok(0, json!([["append", 1, 1], ["append", 2, 4]]), 0, 10)
        .ok(1, json!([["append", 1, 2], ["append", 2, 3]]), 0, 10)
        .ok(2, json!([["r", 1, [1, 2]], ["r", 2, [3, 4]]]), 20, 21);
    let result = h.check("read-uncommitted");
    assert_eq!(result.valid, Invalid, "{result:?}");
    assert!(result.anomaly_types.contains(&"G0".to_owned()));
    assert_eq!(result.not, ["read-uncommitted"]);
    let case = &result.anomalies.0["G0"].examples[0];
    assert_eq!(case.cycle.len(), 2, "{case:?}");
    assert!(case.cycle.iter().all(|step| step.kind == "ww"));
    assert!(case.words.contains("right before"), "{}", case.words);
}

#[test]
fn g1a_an_aborted_append_read_fails_read_committed_only() {
    let mut h = Txns::new();
    h.failed(0, json!([["append", 1, 1]]), 0, 1)
        .ok(1, json!([["r", 1, [1]]]), 2, 3);
    assert_eq!(h.check("read-uncommitted").valid, Valid);
    let result = h.check("read-committed");
    assert_eq!(result.valid, Invalid);
    assert_eq!(result.anomaly_types, ["G1a"]);
    assert!(
        result.anomalies.0["G1a"].examples[0]
            .words
            .contains("failed")
    );
}

#[test]
fn a_committed_append_after_a_failed_one_is_a_dirty_update() {
    // The failed append, one of unknown outcome, then a committed one: the committed append
    // was built on the failed one's state.
    let mut h = Txns::new();
    h.failed(0, json!([["append", 1, 1]]), 0, 1).b.op(
        1,
        OpKind::Invoke,
        "txn",
        json!([["append", 1, 2]]),
        2,
    );
    h.ok(2, json!([["append", 1, 3]]), 3, 4)
        .ok(3, json!([["r", 1, [1, 2, 3]]]), 5, 6);
    let result = h.check("read-committed");
    assert_eq!(result.valid, Invalid);
    assert_eq!(result.anomaly_types, ["G1a", "dirty-update"]);
    let words = &result.anomalies.0["dirty-update"].examples[0].words;
    assert!(
        words.contains("holds 1, appended by T0") && words.contains("after it 3, appended by T2"),
        "{words}"
    );
    assert_eq!(h.check("read-uncommitted").valid, Valid);
    // A failed append at the end of the list builds nothing on it.
    let mut h = Txns::new();
    h.ok(0, json!([["append", 1, 1]]), 0, 1)
        .failed(1, json!([["append", 1, 2]]), 2, 3)
        .ok(2, json!([["r", 1, [1, 2]]]), 4, 5);
    assert_eq!(h.types("read-committed"), ["G1a"]);
}

#[test]
fn g1b_an_intermediate_read_fails_read_committed() {
    let mut h = Txns::new();
    h.ok(0, json!([["append", 1, 1], ["append", 1, 2]]), 0, 1)
        .ok(1, json!([["r", 1, [1]]]), 2, 3);
    assert_eq!(h.check("read-uncommitted").valid, Valid);
    let result = h.check("read-committed");
    assert_eq!(result.valid, Invalid);
    assert!(
        result.anomaly_types.contains(&"G1b".to_owned()),
        "{result:?}"
    );
}

#[test]
fn g1c_circular_information_flow_fails_read_committed() {
    let mut h = Txns::new();
    h.ok(0, json!([["append", 1, 1], ["r", 2, [2]]]), 0, 10).ok(
        1,
        json!([["append", 2, 2], ["r", 1, [1]]]),
        0,
        10,
    );
    assert_eq!(h.check("read-uncommitted").valid, Valid);
    let result = h.check("read-committed");
    assert_eq!(result.valid, Invalid);
    assert_eq!(result.anomaly_types, ["G1c"]);
    let cycle = &result.anomalies.0["G1c"].examples[0].cycle;
    assert!(cycle.iter().all(|step| step.kind == "wr"), "{cycle:?}");
}

#[test]
fn read_skew_is_g_single_allowed_by_read_committed_not_by_si_or_repeatable_read() {
    let mut h = Txns::new();
    h.ok(0, json!([["append", 1, 1], ["append", 2, 1]]), 0, 10)
        .ok(1, json!([["r", 1, null], ["r", 2, [1]]]), 0, 10)
        .ok(2, json!([["r", 1, [1]]]), 20, 21);
    assert_eq!(h.check("read-committed").valid, Valid);
    for model in ["repeatable-read", "snapshot-isolation", "serializable"] {
        assert_eq!(h.check(model).valid, Invalid, "{model}");
    }
    assert!(
        h.types("serializable")
            .contains(&"G-single-item".to_owned())
    );
}

#[test]
fn appends_no_read_holds_still_follow_every_read_so_unread_write_skew_is_seen() {
    // As above, but nobody reads the keys afterwards: each append still came after the empty
    // list the other transaction read (Elle's inference for unread appends), so rw both ways.
    let mut h = Txns::new();
    h.ok(0, json!([["r", 1, null], ["append", 2, 1]]), 0, 10)
        .ok(1, json!([["r", 2, null], ["append", 1, 1]]), 0, 10);
    assert_eq!(h.types("serializable"), ["G2-item"]);
    assert_eq!(h.check("snapshot-isolation").valid, Valid);
    assert_eq!(h.check("serializable").valid, Invalid);
    // The same for an append after elements that were read: it follows the last one read.
    let mut h = Txns::new();
    h.ok(0, json!([["append", 1, 1], ["append", 2, 1]]), 0, 10)
        .ok(1, json!([["r", 1, [1]], ["append", 2, 2]]), 20, 30)
        .ok(2, json!([["r", 2, [1]], ["append", 1, 2]]), 20, 30);
    assert_eq!(h.types("serializable"), ["G2-item"]);
    let cycle = &h.check("serializable").anomalies.0["G2-item"].examples[0].cycle;
    assert!(
        cycle.iter().any(|step| step.words.contains("never read")),
        "{cycle:?}"
    );
}

#[test]
fn nonadjacent_anti_dependencies_fail_snapshot_isolation() {
    // T0 -rw(x)-> T1 -wr(y)-> T2 -rw(z)-> T3 -wr(w)-> T0: two rw edges, never adjacent.
    let mut h = Txns::new();
    h.ok(0, json!([["r", 1, null], ["r", 4, [1]]]), 0, 10)
        .ok(1, json!([["append", 1, 1], ["append", 2, 1]]), 0, 10)
        .ok(2, json!([["r", 2, [1]], ["r", 3, null]]), 0, 10)
        .ok(3, json!([["append", 3, 1], ["append", 4, 1]]), 0, 10)
        .ok(4, json!([["r", 1, [1]], ["r", 3, [1]]]), 20, 21);
    let result = h.check("snapshot-isolation");
    assert_eq!(result.valid, Invalid, "{result:?}");
    assert!(
        result
            .anomaly_types
            .contains(&"G-nonadjacent-item".to_owned())
    );
    assert_eq!(h.check("read-committed").valid, Valid);
}

#[test]
fn internal_inconsistency_fails_snapshot_isolation() {
    let mut h = Txns::new();
    h.ok(0, json!([["append", 1, 1], ["r", 1, null]]), 0, 1);
    assert_eq!(h.check("read-committed").valid, Valid);
    let result = h.check("snapshot-isolation");
    assert_eq!(result.valid, Invalid);
    assert_eq!(result.anomaly_types, ["internal"]);
}

#[test]
fn reads_that_are_not_prefixes_of_one_list_are_incompatible_orders() {
    let mut h = Txns::new();
    h.ok(0, json!([["append", 1, 1], ["append", 1, 2]]), 0, 1)
        .ok(1, json!([["append", 1, 3]]), 0, 1)
        .ok(2, json!([["r", 1, [1, 2]]]), 2, 3)
        .ok(3, json!([["r", 1, [1, 3]]]), 2, 3);
    let result = h.check("read-committed");
    assert!(
        result
            .anomaly_types
            .contains(&"incompatible-order".to_owned()),
        "{result:?}"
    );
    assert_eq!(result.valid, Invalid);
}

#[test]
fn a_read_with_an_element_twice_fails_read_uncommitted() {
    let mut h = Txns::new();
    h.ok(0, json!([["append", 1, 1]]), 0, 1)
        .ok(1, json!([["r", 1, [1, 1]]]), 2, 3);
    let result = h.check("read-uncommitted");
    assert_eq!(result.valid, Invalid);
    assert!(
        result
            .anomaly_types
            .contains(&"duplicate-elements".to_owned())
    );
}

#[test]
fn two_appends_after_one_read_of_the_same_version_are_a_lost_update() {
    let mut h = Txns::new();
    h.ok(0, json!([["r", 1, null], ["append", 1, 1]]), 0, 10)
        .ok(1, json!([["r", 1, null], ["append", 1, 2]]), 0, 10)
        .ok(2, json!([["r", 1, [1, 2]]]), 20, 21);
    let types = h.types("repeatable-read");
    assert!(types.contains(&"lost-update".to_owned()), "{types:?}");
    assert_eq!(h.check("read-committed").valid, Valid);
    assert_eq!(h.check("repeatable-read").valid, Invalid);
}

#[test]
fn a_stale_read_after_a_completed_append_fails_strict_serializability_only() {
    let mut h = Txns::new();
    h.ok(0, json!([["append", 1, 1]]), 0, 10)
        .ok(1, json!([["r", 1, null]]), 20, 30)
        .ok(2, json!([["r", 1, [1]]]), 40, 50);
    assert_eq!(h.check("serializable").valid, Valid);
    let result = h.check("strict-serializable");
    assert_eq!(result.valid, Invalid, "{result:?}");
    assert!(
        result
            .anomaly_types
            .contains(&"G-single-item-realtime".to_owned())
    );
    assert_eq!(result.not, ["strict-serializable"]);
}

#[test]
fn unreadable_transactions_are_errors_that_name_the_operation() {
    let mut h = Txns::new();
    h.ok(0, json!([["increment", 1, 1]]), 0, 1);
    let error = check_list_append(h.b.history.ops(), &["serializable"]).unwrap_err();
    assert!(
        error.contains("op 1") && error.contains("increment"),
        "{error}"
    );
    let mut twice = Txns::new();
    twice
        .ok(0, json!([["append", 1, 1]]), 0, 1)
        .ok(1, json!([["append", 1, 1]]), 0, 1);
    let error = check_list_append(twice.b.history.ops(), &["serializable"]).unwrap_err();
    assert!(error.contains("unique"), "{error}");
}

/// Every anomaly under every model: a small history that shows it (and the anomalies it
/// cannot help showing with it), and the models under which it must be invalid, worked out by
/// hand from Elle's relations (which model proscribes what, which anomaly implies which).
#[test]
fn each_anomaly_is_judged_under_each_model_as_elle_relates_them() {
    const ALL: &[&str] = models::MODELS;
    let above_ru = &models::MODELS[1..];
    let history = |build: &dyn Fn(&mut Txns)| {
        let mut h = Txns::new();
        build(&mut h);
        h
    };
    let cases: Vec<(&str, Txns, &[&str])> = vec![
        (
            "G0",
            history(&|h| {
                h.ok(0, json!([["append", 1, 1], ["append", 2, 4]]), 0, 10)
                    .ok(1, json!([["append", 1, 2], ["append", 2, 3]]), 0, 10)
                    .ok(2, json!([["r", 1, [1, 2]], ["r", 2, [3, 4]]]), 20, 21);
            }),
            ALL,
        ),
        (
            "duplicate-elements",
            history(&|h| {
                h.ok(0, json!([["append", 1, 1]]), 0, 1)
                    .ok(1, json!([["r", 1, [1, 1]]]), 2, 3);
            }),
            ALL,
        ),
        (
            "G1a",
            history(&|h| {
                h.failed(0, json!([["append", 1, 1]]), 0, 1)
                    .ok(1, json!([["r", 1, [1]]]), 2, 3);
            }),
            above_ru,
        ),
        (
            "dirty-update",
            history(&|h| {
                h.failed(0, json!([["append", 1, 1]]), 0, 1)
                    .ok(1, json!([["append", 1, 2]]), 2, 3)
                    .ok(2, json!([["r", 1, [1, 2]]]), 4, 5);
            }),
            above_ru,
        ),
        (
            "G1b",
            history(&|h| {
                h.ok(0, json!([["append", 1, 1], ["append", 1, 2]]), 0, 1)
                    .ok(1, json!([["r", 1, [1]]]), 2, 3);
            }),
            above_ru,
        ),
        (
            "G1c",
            history(&|h| {
                h.ok(0, json!([["append", 1, 1], ["r", 2, [2]]]), 0, 10).ok(
                    1,
                    json!([["append", 2, 2], ["r", 1, [1]]]),
                    0,
                    10,
                );
            }),
            above_ru,
        ),
        (
            "future-read",
            history(&|h| {
                h.ok(0, json!([["r", 1, [1]], ["append", 1, 1]]), 0, 1);
            }),
            above_ru,
        ),
        (
            "incompatible-order",
            history(&|h| {
                h.ok(0, json!([["append", 1, 1]]), 0, 1)
                    .ok(1, json!([["append", 1, 2]]), 0, 1)
                    .ok(2, json!([["r", 1, [1, 2]]]), 2, 3)
                    .ok(3, json!([["r", 1, [2, 1]]]), 2, 3);
            }),
            above_ru,
        ),
        (
            "G-single-item",
            history(&|h| {
                h.ok(0, json!([["append", 1, 1], ["append", 2, 1]]), 0, 10)
                    .ok(1, json!([["r", 1, null], ["r", 2, [1]]]), 0, 10)
                    .ok(2, json!([["r", 1, [1]]]), 20, 21);
            }),
            &[
                "repeatable-read",
                "snapshot-isolation",
                "serializable",
                "strict-serializable",
            ],
        ),
        (
            "G-nonadjacent-item",
            history(&|h| {
                h.ok(0, json!([["r", 1, null], ["r", 4, [1]]]), 0, 10)
                    .ok(1, json!([["append", 1, 1], ["append", 2, 1]]), 0, 10)
                    .ok(2, json!([["r", 2, [1]], ["r", 3, null]]), 0, 10)
                    .ok(3, json!([["append", 3, 1], ["append", 4, 1]]), 0, 10)
                    .ok(4, json!([["r", 1, [1]], ["r", 3, [1]]]), 20, 21);
            }),
            &[
                "repeatable-read",
                "snapshot-isolation",
                "serializable",
                "strict-serializable",
            ],
        ),
        (
            "G2-item",
            history(&|h| {
                h.ok(
                    0,
                    json!([["r", 1, null], ["r", 2, null], ["append", 1, 1]]),
                    0,
                    10,
                )
                .ok(
                    1,
                    json!([["r", 1, null], ["r", 2, null], ["append", 2, 1]]),
                    0,
                    10,
                )
                .ok(2, json!([["r", 1, [1]], ["r", 2, [1]]]), 20, 21);
            }),
            &["repeatable-read", "serializable", "strict-serializable"],
        ),
        (
            "lost-update",
            history(&|h| {
                h.ok(0, json!([["r", 1, null], ["append", 1, 1]]), 0, 10)
                    .ok(1, json!([["r", 1, null], ["append", 1, 2]]), 0, 10)
                    .ok(2, json!([["r", 1, [1, 2]]]), 20, 21);
            }),
            &[
                "repeatable-read",
                "snapshot-isolation",
                "serializable",
                "strict-serializable",
            ],
        ),
        (
            "internal",
            history(&|h| {
                h.ok(0, json!([["append", 1, 1], ["r", 1, null]]), 0, 1);
            }),
            &["snapshot-isolation", "serializable", "strict-serializable"],
        ),
        (
            "G-single-item-realtime",
            history(&|h| {
                h.ok(0, json!([["append", 1, 1]]), 0, 10)
                    .ok(1, json!([["r", 1, null]]), 20, 30)
                    .ok(2, json!([["r", 1, [1]]]), 40, 50);
            }),
            &["strict-serializable"],
        ),
        (
            "reordered-appends",
            history(&|h| {
                h.ok(0, json!([["append", 1, 1], ["append", 1, 2]]), 0, 1)
                    .ok(1, json!([["append", 1, 3]]), 2, 3)
                    .ok(2, json!([["r", 1, [2, 1, 3]]]), 4, 5);
            }),
            &[],
        ),
    ];
    for (anomaly, h, invalid) in &cases {
        let found = h.types("strict-serializable");
        assert!(
            found.contains(&(*anomaly).to_owned()),
            "{anomaly}: found {found:?}"
        );
        for model in ALL {
            let want = if invalid.contains(model) {
                Invalid
            } else {
                Valid
            };
            let result = h.check(model);
            assert_eq!(result.valid, want, "{anomaly} under {model}: {result:?}");
        }
    }
}
