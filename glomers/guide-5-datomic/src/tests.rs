//! The node on the test bench, the services' answers given by hand.

use common::testing::TestNode;
use serde_json::{Value, json};

use super::*;

fn node() -> TestNode<Datomic> {
    let flags = Flags {
        kv_timeout_ms: 1000,
        retry_ms: 10,
    };
    TestNode::new(Datomic::new(flags), "n0", &["n0", "n1"], 1)
}

/// The one message in `out`, checked to go to `dest`; its body.
fn only(out: &[Value], dest: &str) -> Value {
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0]["dest"], dest, "{out:?}");
    out[0]["body"].clone()
}

/// Answers `request` (a body the node sent) with `body`.
fn answer(
    bench: &mut TestNode<Datomic>,
    from: &str,
    request: &Value,
    body: Value,
    at: u64,
) -> Vec<Value> {
    let mut body = body;
    body["in_reply_to"] = request["msg_id"].clone();
    bench.deliver(from, body, at)
}

#[test]
fn a_first_append_writes_a_thunk_then_creates_the_root_and_answers() {
    let mut bench = node();
    let txn = json!({"type": "txn", "msg_id": 5, "txn": [["append", 1, 7], ["r", 1, null], ["r", 2, null]]});
    let read = only(&bench.deliver("c1", txn, 0), "lin-kv");
    assert_eq!(
        (read["type"].as_str(), &read["key"]),
        (Some("read"), &json!("root"))
    );
    let write = only(
        &answer(
            &mut bench,
            "lin-kv",
            &read,
            json!({"type": "error", "code": 20}),
            1,
        ),
        "lww-kv",
    );
    assert_eq!(write["key"], "n0-1");
    assert_eq!(write["value"], json!([7]));
    let cas = only(
        &answer(&mut bench, "lww-kv", &write, json!({"type": "write_ok"}), 2),
        "lin-kv",
    );
    assert_eq!(cas["from"], json!({}));
    assert_eq!(cas["to"], json!({"1": "n0-1"}));
    assert_eq!(cas["create_if_not_exists"], true);
    let done = only(
        &answer(&mut bench, "lin-kv", &cas, json!({"type": "cas_ok"}), 3),
        "c1",
    );
    assert_eq!(done["type"], "txn_ok");
    assert_eq!(done["in_reply_to"], 5);
    assert_eq!(
        done["txn"],
        json!([["append", 1, 7], ["r", 1, [7]], ["r", 2, null]])
    );
}

#[test]
fn a_thunk_lww_kv_lacks_is_read_again_and_a_lost_cas_aborts_with_error_30() {
    let mut bench = node();
    let txn = json!({"type": "txn", "msg_id": 5, "txn": [["r", 1, null], ["append", 1, 8]]});
    let read = only(&bench.deliver("c1", txn, 0), "lin-kv");
    let root = json!({"type": "read_ok", "value": {"1": "n1-4"}});
    let thunk = only(&answer(&mut bench, "lin-kv", &read, root, 1), "lww-kv");
    assert_eq!(thunk["key"], "n1-4");
    // Not on this replica yet: nothing until the retry.
    assert!(
        answer(
            &mut bench,
            "lww-kv",
            &thunk,
            json!({"type": "error", "code": 20}),
            2
        )
        .is_empty()
    );
    assert!(bench.tick(5).is_empty());
    let again = only(&bench.tick(12), "lww-kv");
    assert_eq!(again["key"], "n1-4");
    let write = only(
        &answer(
            &mut bench,
            "lww-kv",
            &again,
            json!({"type": "read_ok", "value": [3]}),
            13,
        ),
        "lww-kv",
    );
    assert_eq!(write["value"], json!([3, 8]));
    let cas = only(
        &answer(
            &mut bench,
            "lww-kv",
            &write,
            json!({"type": "write_ok"}),
            14,
        ),
        "lin-kv",
    );
    assert_eq!(cas["from"], json!({"1": "n1-4"}));
    assert_eq!(cas["to"], json!({"1": "n0-1"}));
    assert!(cas.get("create_if_not_exists").is_none());
    let refused = only(
        &answer(
            &mut bench,
            "lin-kv",
            &cas,
            json!({"type": "error", "code": 22}),
            15,
        ),
        "c1",
    );
    assert_eq!(
        (refused["type"].as_str(), &refused["code"]),
        (Some("error"), &json!(30))
    );
}

#[test]
fn a_read_only_transaction_commits_at_its_read_of_the_root_and_cached_thunks_are_not_read_again() {
    let mut bench = node();
    let first = json!({"type": "txn", "msg_id": 5, "txn": [["r", 1, null]]});
    let read = only(&bench.deliver("c1", first, 0), "lin-kv");
    let root = json!({"type": "read_ok", "value": {"1": "n1-4"}});
    let thunk = only(
        &answer(&mut bench, "lin-kv", &read, root.clone(), 1),
        "lww-kv",
    );
    let done = only(
        &answer(
            &mut bench,
            "lww-kv",
            &thunk,
            json!({"type": "read_ok", "value": [3, 4]}),
            2,
        ),
        "c1",
    );
    assert_eq!(done["txn"], json!([["r", 1, [3, 4]]]));
    let second = json!({"type": "txn", "msg_id": 6, "txn": [["r", 1, null]]});
    let read = only(&bench.deliver("c1", second, 3), "lin-kv");
    let done = only(&answer(&mut bench, "lin-kv", &read, root, 4), "c1");
    assert_eq!(done["txn"], json!([["r", 1, [3, 4]]]));
}

#[test]
fn an_unanswered_cas_leaves_the_client_unanswered_and_an_unanswered_read_says_try_again() {
    let mut bench = node();
    let txn = json!({"type": "txn", "msg_id": 5, "txn": [["append", 1, 7]]});
    let read = only(&bench.deliver("c1", txn, 0), "lin-kv");
    let write = only(
        &answer(
            &mut bench,
            "lin-kv",
            &read,
            json!({"type": "error", "code": 20}),
            1,
        ),
        "lww-kv",
    );
    only(
        &answer(&mut bench, "lww-kv", &write, json!({"type": "write_ok"}), 2),
        "lin-kv",
    );
    assert!(bench.tick(2_000).is_empty(), "the cas may have happened");
    let txn = json!({"type": "txn", "msg_id": 6, "txn": [["r", 1, null]]});
    only(&bench.deliver("c1", txn, 3_000), "lin-kv");
    let refused = only(&bench.tick(4_100), "c1");
    assert_eq!(
        (refused["code"].as_u64(), refused["in_reply_to"].as_u64()),
        (Some(11), Some(6))
    );
}

#[test]
fn a_malformed_micro_op_is_refused_before_any_service_is_asked() {
    let mut bench = node();
    let txn = json!({"type": "txn", "msg_id": 5, "txn": [["append", 1, 7], ["w", 1, 8]]});
    let refused = only(&bench.deliver("c1", txn, 0), "c1");
    assert_eq!(refused["code"], 12);
}
