use std::collections::BTreeMap;

use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;
use serde_json::json;

use super::*;

fn prepared(concurrency: usize, rate: f64) -> Kafka {
    let mut kafka = Kafka::default();
    kafka.prepare(&RunShape {
        nodes: 1,
        concurrency,
        rate,
        time_limit: Duration::from_secs(20),
        seed: 3,
    });
    kafka
}

#[test]
fn the_generator_sends_sixteen_messages_per_key_over_exponentially_chosen_keys() {
    let mut kafka = prepared(2, 1e9); // no crashes to speak of
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut messages: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    for _ in 0..20_000 {
        let operation = kafka.next_operation(0, &mut rng);
        *kinds.entry(operation.f).or_default() += 1;
        if operation.f == "send" {
            let key = operation.body["key"].as_str().unwrap().to_owned();
            messages
                .entry(key)
                .or_default()
                .push(operation.body["msg"].as_i64().unwrap());
        }
    }
    // Half sends, half polls, about one in 64 an assign.
    let (sends, polls, assigns) = (kinds["send"], kinds["poll"], kinds["assign"]);
    assert!((9_000..11_000).contains(&sends), "{kinds:?}");
    assert!((9_000..11_000).contains(&polls), "{kinds:?}");
    assert!((200..450).contains(&assigns), "{kinds:?}");
    // Each key gets 1, 2, … 16 in order and is then retired.
    for (key, sent) in &messages {
        let expected: Vec<i64> = (1..=sent.len() as i64).collect();
        assert_eq!(sent, &expected, "key {key}");
        assert!(sent.len() <= 16);
    }
    let retired = messages.values().filter(|sent| sent.len() == 16).count();
    assert!(retired > 500, "{retired} keys retired");
}

#[test]
fn keys_are_picked_with_slot_i_twice_as_likely_as_slot_i_minus_1() {
    let mut kafka = prepared(1, 1e9);
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let mut per_slot = [0usize; KEY_COUNT as usize];
    for _ in 0..40_000 {
        // Before any retirement, key i sits in slot i; count a fresh generator's picks.
        let before = kafka.active.clone();
        let (operation, key) = kafka.send_or_poll(0, &mut rng);
        let slot = before.iter().position(|active| *active == key).unwrap();
        per_slot[slot] += 1;
        let _ = operation;
    }
    for slot in 1..per_slot.len() {
        let ratio = per_slot[slot] as f64 / per_slot[slot - 1].max(1) as f64;
        assert!(
            slot < 4 || (1.7..2.3).contains(&ratio),
            "slot {slot}: {per_slot:?}"
        );
    }
}

#[test]
fn a_poll_asks_from_the_clients_offsets_moves_past_what_it_got_and_commits_it() {
    let mut kafka = prepared(1, 1e9);
    kafka.client(0).offsets = BTreeMap::from([("1".to_owned(), 3)]);
    let operation = poll(&kafka.client(0).offsets.clone());
    assert_eq!(operation.body, json!({"type": "poll", "offsets": {"1": 3}}));
    let reply =
        json!({"type": "poll_ok", "msgs": {"1": [[3, 7], [5, 8]], "2": []}, "in_reply_to": 1});
    let value = kafka.judge_reply("poll", &operation.value, &reply).unwrap();
    assert_eq!(value, json!([["poll", {"1": [[3, 7], [5, 8]], "2": []}]]));
    let commit = kafka.after_reply(0, "poll", &value, &reply).unwrap();
    assert_eq!(
        commit,
        json!({"type": "commit_offsets", "offsets": {"1": 5}})
    );
    assert_eq!(
        kafka.client(0).offsets,
        BTreeMap::from([("1".to_owned(), 6), ("2".to_owned(), 0)])
    );
    // The commit's reply completes the poll with what it polled.
    let ok = json!({"type": "commit_offsets_ok", "in_reply_to": 2});
    assert_eq!(kafka.judge_reply("poll", &value, &ok).unwrap(), value);
    assert_eq!(kafka.after_reply(0, "poll", &value, &ok), None);
    // A poll that returned nothing commits nothing.
    let empty = json!({"type": "poll_ok", "msgs": {}});
    let nothing = kafka
        .judge_reply("poll", &json!([["poll"]]), &empty)
        .unwrap();
    assert_eq!(kafka.after_reply(0, "poll", &nothing, &empty), None);
}

#[test]
fn replies_outside_the_schemas_are_refused_with_what_was_wrong() {
    let kafka = Kafka::default();
    let send = json!([["send", "1", 4]]);
    let error = |f, value: &Json, body: Json| kafka.judge_reply(f, value, &body).unwrap_err();
    assert!(error("send", &send, json!({"type": "send_ok"})).contains("integer `offset`"));
    assert_eq!(
        kafka
            .judge_reply("send", &send, &json!({"type": "send_ok", "offset": 9}))
            .unwrap(),
        json!([["send", "1", [9, 4]]])
    );
    let polled = json!([["poll"]]);
    assert!(
        error(
            "poll",
            &polled,
            json!({"type": "poll_ok", "msgs": {"1": [[0]]}})
        )
        .contains("not an [offset, msg] pair")
    );
    assert!(error("poll", &polled, json!({"type": "poll_ok"})).contains("needs `msgs`"));
    // A poll answered with the commit's reply is refused.
    assert!(error("poll", &polled, json!({"type": "commit_offsets_ok"})).contains("poll_ok"));
    let keys = json!(["1"]);
    assert!(
        error(
            "assign",
            &keys,
            json!({"type": "list_committed_offsets_ok", "offsets": {"1": "x"}})
        )
        .contains("not an integer")
    );
}

#[test]
fn an_assign_starts_each_key_at_the_clients_offset_else_the_committed_one_else_zero() {
    let mut kafka = prepared(1, 1e9);
    kafka.client(0).offsets = BTreeMap::from([("1".to_owned(), 4), ("9".to_owned(), 2)]);
    let operation = assign(&["1".to_owned(), "2".to_owned(), "3".to_owned()]);
    assert_eq!(kafka.done_by_client(&operation), None);
    let reply = json!({"type": "list_committed_offsets_ok", "offsets": {"1": 1, "2": 7}});
    let value = kafka
        .judge_reply("assign", &operation.value, &reply)
        .unwrap();
    assert_eq!(value, json!(["1", "2", "3"]));
    assert_eq!(kafka.after_reply(0, "assign", &value, &reply), None);
    assert_eq!(
        kafka.client(0).offsets,
        BTreeMap::from([
            ("1".to_owned(), 4),
            ("2".to_owned(), 7),
            ("3".to_owned(), 0)
        ])
    );
}

#[test]
fn a_crash_ends_info_without_a_request_and_the_fresh_client_has_no_offsets() {
    let mut kafka = prepared(1, 1e9);
    kafka.client(0).offsets = BTreeMap::from([("1".to_owned(), 4)]);
    assert_eq!(kafka.done_by_client(&crash()), Some(OpKind::Info));
    kafka.completed(0, "crash", OpKind::Info, &Json::Null);
    assert!(kafka.client(0).offsets.is_empty());
    // A timed-out poll does the same.
    kafka.client(0).offsets = BTreeMap::from([("1".to_owned(), 4)]);
    kafka.completed(0, "poll", OpKind::Info, &json!([["poll"]]));
    assert!(kafka.client(0).offsets.is_empty());
}

#[test]
fn crashes_come_at_each_clients_rate_of_one_per_30_seconds() {
    // 4 clients at 100 operations a second: 4 / 30 crashes a second, one per 750 operations.
    let mut kafka = prepared(4, 100.0);
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let crashes = (0..150_000)
        .filter(|_| kafka.next_operation(0, &mut rng).f == "crash")
        .count();
    assert!((170..230).contains(&crashes), "{crashes}");
}

#[test]
fn the_final_phase_crashes_assigns_from_the_beginning_and_polls_until_caught_up() {
    let mut kafka = prepared(2, 1e9);
    kafka.completed(1, "send", OpKind::Ok, &json!([["send", "1", [3, 4]]]));
    let step = |kafka: &mut Kafka, done| kafka.final_step(0, done).map(|step| step.operation);
    assert_eq!(step(&mut kafka, 0).unwrap().f, "crash");
    let assign = step(&mut kafka, 1).unwrap();
    assert_eq!((assign.f, assign.value.clone()), ("assign", json!(["1"])));
    assert_eq!(kafka.done_by_client(&assign), Some(OpKind::Ok));
    let first = kafka.final_step(0, 2).unwrap();
    assert_eq!(
        first.operation.body,
        json!({"type": "poll", "offsets": {"1": 0}})
    );
    assert!(first.after < Duration::from_millis(400));
    // A poll that reaches offset 3 ends worker 0's final phase; worker 1 still has to.
    kafka.completed(
        0,
        "poll",
        OpKind::Ok,
        &json!([["poll", {"1": [[0, 1], [3, 4]]}]]),
    );
    assert!(kafka.final_step(0, 3).is_none());
    assert_eq!(kafka.final_step(1, 0).unwrap().operation.f, "crash");
    // With nothing sent, there is no final phase.
    assert!(prepared(1, 1e9).final_step(0, 0).is_none());
}
