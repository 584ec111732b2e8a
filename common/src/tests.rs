//! Unit tests of the conventions in `spec/stages.md`, through the in-memory driver and the
//! runtime core (no processes).

use std::io::Cursor;
use std::time::Duration;

use rand::RngExt;
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use crate::{
    Context, ErrorCode, Message, NoFlags, Node, NodeId, RpcError, RpcTimeout, Runtime, TimerId,
    serve,
};

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Payload {
    Echo { echo: String },
    EchoOk { echo: String },
    Fanout,
    FanoutOk,
    Note { text: String },
    StartTimer { delay_ms: u64 },
    StartTimerOk,
    StopTimer,
    Random,
    RandomOk { value: u64 },
    Call { to: NodeId, timeout_ms: u64 },
    CallOk,
    Fail,
    Panic,
}

#[derive(Debug, Clone, PartialEq)]
enum Timer {
    Tick,
}

#[derive(Default)]
struct Probe {
    timeouts: Vec<RpcTimeout>,
    ticks: usize,
    periodic: Option<TimerId>,
}

impl Node for Probe {
    type Payload = Payload;
    type Timer = Timer;
    type Flags = NoFlags;

    fn new(_: NoFlags) -> Self {
        Self::default()
    }

    fn on_message(
        &mut self,
        msg: Message<Payload>,
        ctx: &mut Context<Payload, Timer>,
    ) -> Result<(), RpcError> {
        match &msg.body.payload {
            Payload::Echo { echo } => {
                ctx.reply(&msg, Payload::EchoOk { echo: echo.clone() });
            }
            Payload::Fanout => {
                ctx.reply(&msg, Payload::FanoutOk);
                for peer in ctx.peers() {
                    ctx.send(
                        peer,
                        Payload::Note {
                            text: "hello".into(),
                        },
                    );
                }
            }
            Payload::StartTimer { delay_ms } => {
                ctx.reply(&msg, Payload::StartTimerOk);
                if *delay_ms == 0 {
                    ctx.set_timer(Duration::ZERO, Timer::Tick);
                } else {
                    self.periodic = Some(ctx.every(Duration::from_millis(*delay_ms), Timer::Tick));
                }
            }
            Payload::StopTimer => {
                if let Some(id) = self.periodic.take() {
                    ctx.cancel_timer(id);
                }
            }
            Payload::Random => {
                let value = ctx.rng().random_range(0..u64::MAX);
                ctx.reply(&msg, Payload::RandomOk { value });
            }
            Payload::Call { to, timeout_ms } => {
                ctx.rpc(
                    to.clone(),
                    Payload::Echo {
                        echo: "ping".into(),
                    },
                    Duration::from_millis(*timeout_ms),
                );
                ctx.reply(&msg, Payload::CallOk);
            }
            Payload::Fail => return Err(RpcError::new(ErrorCode::KeyDoesNotExist, "no such key")),
            Payload::Panic => {
                ctx.reply(
                    &msg,
                    Payload::EchoOk {
                        echo: "before".into(),
                    },
                );
                panic!("a handler's bug");
            }
            _ => {}
        }
        Ok(())
    }

    fn on_timer(&mut self, _: Timer, ctx: &mut Context<Payload, Timer>) {
        self.ticks += 1;
        ctx.send(
            NodeId::new("c1"),
            Payload::Note {
                text: "tick".into(),
            },
        );
    }

    fn on_rpc_timeout(&mut self, timeout: RpcTimeout, _: &mut Context<Payload, Timer>) {
        self.timeouts.push(timeout);
    }
}

fn init(node_ids: &[&str]) -> String {
    json!({"src": "c0", "dest": node_ids[0], "body": {"type": "init", "msg_id": 1, "node_id": node_ids[0], "node_ids": node_ids}}).to_string()
}

fn request(src: &str, msg_id: u64, body: Json) -> String {
    let mut body = body;
    body["msg_id"] = msg_id.into();
    json!({"src": src, "dest": "n1", "body": body}).to_string()
}

/// Runs the in-memory driver over `lines` until EOF; returns stdout lines (parsed) and stderr.
fn run(lines: &[String], seed: u64) -> (Vec<Json>, String) {
    let input = lines
        .iter()
        .map(|line| format!("{line}\n"))
        .collect::<String>();
    let mut output = Vec::new();
    let mut log = Vec::new();
    serve(
        Probe::default(),
        seed,
        Cursor::new(input),
        &mut output,
        &mut log,
    )
    .expect("serve returns Ok at EOF");
    let output = String::from_utf8(output).unwrap();
    let parsed = output
        .lines()
        .map(|line| serde_json::from_str(line).expect("every output line is JSON"))
        .collect();
    (parsed, String::from_utf8(log).unwrap())
}

fn types(output: &[Json]) -> Vec<&str> {
    output
        .iter()
        .map(|m| m["body"]["type"].as_str().unwrap())
        .collect()
}

fn msg_ids(output: &[Json]) -> Vec<u64> {
    output
        .iter()
        .map(|m| m["body"]["msg_id"].as_u64().unwrap())
        .collect()
}

#[test]
fn one_counter_from_zero_at_init_ok_covers_replies_errors_and_sends() {
    let (output, _) = run(
        &[
            init(&["n1", "n2", "n3"]),
            request("c1", 1, json!({"type": "echo", "echo": "a"})),
            request("c1", 2, json!({"type": "nope"})),
            request("c1", 3, json!({"type": "fanout"})),
        ],
        1,
    );
    assert_eq!(
        types(&output),
        ["init_ok", "echo_ok", "error", "fanout_ok", "note", "note"]
    );
    assert_eq!(msg_ids(&output), [0, 1, 2, 3, 4, 5]);
    assert_eq!(output[0]["body"]["in_reply_to"], 1);
    assert_eq!(output[0]["src"], "n1");
    assert_eq!(output[0]["dest"], "c0");
}

#[test]
fn reply_comes_first_then_forwards_without_in_reply_to() {
    let (output, _) = run(
        &[
            init(&["n1", "n2", "n3"]),
            request("c4", 7, json!({"type": "fanout"})),
        ],
        1,
    );
    assert_eq!(
        output[1]["body"],
        json!({"type": "fanout_ok", "msg_id": 1, "in_reply_to": 7})
    );
    assert_eq!(output[1]["dest"], "c4");
    assert_eq!(output[2]["dest"], "n2");
    assert_eq!(output[3]["dest"], "n3");
    for forward in &output[2..] {
        assert!(forward["body"].get("in_reply_to").is_none(), "{forward}");
    }
}

#[test]
fn absent_fields_are_omitted_never_null() {
    let (output, _) = run(
        &[
            init(&["n1", "n2"]),
            request("c1", 1, json!({"type": "fanout"})),
        ],
        1,
    );
    for message in &output {
        assert!(!message.to_string().contains("null"), "{message}");
    }
}

#[test]
fn unknown_type_gets_error_10_and_malformed_body_error_12() {
    let (output, log) = run(
        &[
            init(&["n1"]),
            request("c1", 5, json!({"type": "frobnicate"})),
            request("c1", 6, json!({"type": "echo", "echo": 3})),
            request("c1", 7, json!({"echo": "no type"})),
            json!({"src": "c1", "dest": "n1", "body": 17}).to_string(),
        ],
        1,
    );
    let errors: Vec<(u64, Json)> = output[1..]
        .iter()
        .map(|m| {
            (
                m["body"]["code"].as_u64().unwrap(),
                m["body"]["in_reply_to"].clone(),
            )
        })
        .collect();
    assert_eq!(
        errors,
        [
            (10, json!(5)),
            (12, json!(6)),
            (12, json!(7)),
            (12, Json::Null)
        ]
    );
    assert!(
        output[1]["body"]["text"]
            .as_str()
            .unwrap()
            .contains("frobnicate")
    );
    assert!(log.contains("answered error 10"), "{log}");
}

#[test]
fn handler_errors_are_sent_as_error_replies() {
    let (output, _) = run(
        &[init(&["n1"]), request("c2", 9, json!({"type": "fail"}))],
        1,
    );
    assert_eq!(
        output[1]["body"],
        json!({"type": "error", "code": 20, "text": "no such key", "msg_id": 1, "in_reply_to": 9})
    );
    assert_eq!(output[1]["dest"], "c2");
}

#[test]
fn non_json_lines_are_logged_and_skipped_and_the_loop_goes_on() {
    let (output, log) = run(
        &[
            init(&["n1"]),
            "this is not json".into(),
            "{\"half\":".into(),
            request("c1", 1, json!({"type": "echo", "echo": "still here"})),
        ],
        1,
    );
    assert_eq!(types(&output), ["init_ok", "echo_ok"]);
    assert_eq!(msg_ids(&output), [0, 1]);
    assert!(
        log.contains("not JSON") && log.contains("this is not json"),
        "{log}"
    );
}

#[test]
fn messages_before_init_are_logged_not_answered() {
    let (output, log) = run(
        &[
            request("c1", 1, json!({"type": "echo", "echo": "early"})),
            init(&["n1"]),
        ],
        1,
    );
    assert_eq!(types(&output), ["init_ok"]);
    assert_eq!(msg_ids(&output), [0]);
    assert!(log.contains("before `init`"), "{log}");
}

#[test]
fn unreadable_replies_are_not_answered_so_errors_cannot_ping_pong() {
    let reply = json!({"src": "n2", "dest": "n1", "body": {"type": "error", "code": 10, "in_reply_to": 3, "msg_id": 8}});
    let (output, log) = run(&[init(&["n1", "n2"]), reply.to_string()], 1);
    assert_eq!(types(&output), ["init_ok"]);
    assert!(log.contains("ignored a reply"), "{log}");
}

#[test]
fn the_seed_makes_randomness_reproducible() {
    let script = [
        init(&["n1"]),
        request("c1", 1, json!({"type": "random"})),
        request("c1", 2, json!({"type": "random"})),
    ];
    let draws = |seed| -> Vec<Json> {
        run(&script, seed).0[1..]
            .iter()
            .map(|m| m["body"]["value"].clone())
            .collect()
    };
    assert_eq!(draws(42), draws(42));
    assert_ne!(draws(42), draws(43));
}

#[test]
fn timers_never_fire_before_the_input_burst_is_handled() {
    let (output, _) = run(
        &[
            init(&["n1"]),
            request("c1", 1, json!({"type": "start_timer", "delay_ms": 0})),
            request("c1", 2, json!({"type": "echo", "echo": "x"})),
            request("c1", 3, json!({"type": "echo", "echo": "y"})),
        ],
        1,
    );
    // At EOF the node exits without waiting for timers, so the tick may be missing, but it
    // must never come before the echoes that arrived with it.
    let kinds = types(&output);
    assert_eq!(
        &kinds[..4],
        ["init_ok", "start_timer_ok", "echo_ok", "echo_ok"]
    );
}

#[test]
fn serve_flushes_everything_and_returns_at_eof() {
    let lines: Vec<String> = std::iter::once(init(&["n1"]))
        .chain((1..=500).map(|i| request("c1", i, json!({"type": "echo", "echo": i.to_string()}))))
        .collect();
    let (output, _) = run(&lines, 1);
    assert_eq!(output.len(), 501);
    assert_eq!(output[500]["body"]["echo"], "500");
}

fn runtime_with(ids: &[&str]) -> Runtime<Probe> {
    let mut runtime = Runtime::new(Probe::default(), 1);
    runtime.handle_line(&init(ids), Duration::ZERO);
    runtime.take_output();
    runtime
}

#[test]
fn periodic_timers_fire_each_period_and_stop_when_cancelled() {
    let mut runtime = runtime_with(&["n1"]);
    runtime.handle_line(
        &request("c1", 1, json!({"type": "start_timer", "delay_ms": 10})),
        Duration::ZERO,
    );
    assert_eq!(runtime.next_deadline(), Some(Duration::from_millis(10)));
    runtime.fire_due(Duration::from_millis(9));
    assert_eq!(runtime.node().ticks, 0);
    runtime.fire_due(Duration::from_millis(10));
    runtime.fire_due(Duration::from_millis(20));
    assert_eq!(runtime.node().ticks, 2);
    // A driver that stalled past several periods gets one tick, not a burst.
    runtime.fire_due(Duration::from_millis(75));
    assert_eq!(runtime.node().ticks, 3);
    assert_eq!(runtime.next_deadline(), Some(Duration::from_millis(85)));
}

#[test]
fn cancelled_timers_do_not_fire() {
    let mut runtime = runtime_with(&["n1"]);
    runtime.handle_line(
        &request("c1", 1, json!({"type": "start_timer", "delay_ms": 10})),
        Duration::ZERO,
    );
    runtime.fire_due(Duration::from_millis(10));
    assert_eq!(runtime.node().ticks, 1);
    runtime.handle_line(
        &request("c1", 2, json!({"type": "stop_timer"})),
        Duration::from_millis(15),
    );
    runtime.fire_due(Duration::from_millis(100));
    assert_eq!(runtime.node().ticks, 1);
}

#[test]
fn rpcs_time_out_unless_answered() {
    let mut runtime = runtime_with(&["n1", "n2", "n3"]);
    runtime.handle_line(
        &request(
            "c1",
            1,
            json!({"type": "call", "to": "n2", "timeout_ms": 100}),
        ),
        Duration::ZERO,
    );
    runtime.handle_line(
        &request(
            "c1",
            2,
            json!({"type": "call", "to": "n3", "timeout_ms": 100}),
        ),
        Duration::ZERO,
    );
    let sent: Vec<Json> = runtime
        .take_output()
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(types(&sent), ["echo", "call_ok", "echo", "call_ok"]);
    let to_n3 = sent[2]["body"]["msg_id"].as_u64().unwrap();
    // n3 answers in time; n2 never does.
    let answer = json!({"src": "n3", "dest": "n1", "body": {"type": "echo_ok", "echo": "ping", "msg_id": 0, "in_reply_to": to_n3}});
    runtime.handle_line(&answer.to_string(), Duration::from_millis(50));
    runtime.fire_due(Duration::from_millis(99));
    assert!(runtime.node().timeouts.is_empty());
    runtime.fire_due(Duration::from_millis(100));
    let to_n2 = sent[0]["body"]["msg_id"].as_u64().unwrap();
    assert_eq!(
        runtime.node().timeouts,
        [RpcTimeout {
            msg_id: to_n2,
            dest: NodeId::new("n2")
        }]
    );
    assert_eq!(runtime.next_deadline(), None);
}

#[test]
fn random_peers_are_distinct_in_id_order_and_leave_out_what_they_are_told() {
    let mut ctx: Context<Payload, Timer> = Context::new(5);
    let ids: Vec<NodeId> = (0..6).map(|i| NodeId::new(format!("n{i}"))).collect();
    ctx.initialise(ids[0].clone(), &ids);
    let mut drawn = std::collections::BTreeSet::new();
    for _ in 0..50 {
        let peers = ctx.random_peers(3, Some(&ids[1]));
        assert_eq!(peers.len(), 3);
        assert!(peers.windows(2).all(|pair| pair[0] < pair[1]), "{peers:?}");
        assert!(!peers.contains(&ids[0]) && !peers.contains(&ids[1]));
        drawn.extend(peers);
    }
    assert_eq!(drawn.len(), 4, "every eligible peer gets drawn");
    assert_eq!(
        ctx.random_peers(10, None).len(),
        5,
        "capped by the peers there are"
    );
}

#[test]
fn a_random_peer_is_never_the_node_itself_and_every_peer_gets_drawn() {
    let ids: Vec<NodeId> = (0..5).map(|i| NodeId::new(format!("n{i}"))).collect();
    let mut ctx: Context<Payload, Timer> = Context::new(9);
    ctx.initialise(ids[2].clone(), &ids);
    let drawn: std::collections::BTreeSet<NodeId> =
        (0..100).filter_map(|_| ctx.random_peer()).collect();
    let expected: std::collections::BTreeSet<NodeId> =
        ids.iter().filter(|id| **id != ids[2]).cloned().collect();
    assert_eq!(drawn, expected);
    // The same single draw over `peers()` that a node would make by hand.
    let mut by_hand: Context<Payload, Timer> = Context::new(9);
    by_hand.initialise(ids[2].clone(), &ids);
    let mut again: Context<Payload, Timer> = Context::new(9);
    again.initialise(ids[2].clone(), &ids);
    for _ in 0..20 {
        let peers = by_hand.peers();
        let at = by_hand.rng().random_range(0..peers.len());
        assert_eq!(again.random_peer().as_ref(), Some(&peers[at]));
    }
    let mut alone: Context<Payload, Timer> = Context::new(9);
    alone.initialise(ids[0].clone(), &ids[..1]);
    assert_eq!(alone.random_peer(), None);
    // A list naming the node twice still never yields the node.
    let twice = [ids[0].clone(), ids[1].clone(), ids[0].clone()];
    let mut repeated: Context<Payload, Timer> = Context::new(9);
    repeated.initialise(ids[0].clone(), &twice);
    assert!((0..20).all(|_| repeated.random_peer() == Some(ids[1].clone())));
}

#[test]
fn what_a_batch_wrote_before_a_handler_panicked_is_written_before_the_panic_goes_on() {
    let lines = [
        init(&["n1"]),
        request("c1", 1, json!({"type": "echo", "echo": "x"})),
        request("c1", 2, json!({"type": "panic"})),
        request("c1", 3, json!({"type": "echo", "echo": "never"})),
    ];
    let input: String = lines.iter().map(|line| format!("{line}\n")).collect();
    let mut output = Vec::new();
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        serve(
            Probe::default(),
            1,
            Cursor::new(input),
            &mut output,
            &mut Vec::new(),
        )
    }));
    assert!(panicked.is_err(), "the panic goes on");
    let written: Vec<Json> = String::from_utf8(output)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(types(&written), ["init_ok", "echo_ok", "echo_ok"]);
    assert_eq!(written[2]["body"]["echo"], "before");
}
