//! Hand-built histories (each in both modes), and the search against a brute force over every
//! order on thousands of small random histories.

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use serde_json::{Value as Json, json};

use super::search::{Action, Outcome, RegisterOp, search};
use super::*;
use crate::history::Process;

/// A lin-kv history by hand, entry by entry in the order given.
#[derive(Default)]
struct Kv {
    ops: Vec<Op>,
}

impl Kv {
    fn push(
        &mut self,
        process: u64,
        kind: OpKind,
        f: &'static str,
        value: Json,
        error: Option<u64>,
    ) -> &mut Self {
        let index = self.ops.len();
        self.ops.push(Op {
            index,
            time_ns: index as u64 * 1_000_000,
            process: Process::Worker(process),
            kind,
            f,
            value,
            error: error.map(|code| format!("error {code}: refused")),
            node: Some(format!("n{}", process % 2)),
            final_read: false,
        });
        self
    }

    fn invoke(&mut self, process: u64, f: &'static str, value: Json) -> &mut Self {
        self.push(process, OpKind::Invoke, f, value, None)
    }

    fn ok(&mut self, process: u64, f: &'static str, value: Json) -> &mut Self {
        self.push(process, OpKind::Ok, f, value, None)
    }

    fn info(&mut self, process: u64, f: &'static str, value: Json) -> &mut Self {
        self.push(process, OpKind::Info, f, value, None)
    }

    fn fail(&mut self, process: u64, f: &'static str, value: Json, code: u64) -> &mut Self {
        self.push(process, OpKind::Fail, f, value, Some(code))
    }

    /// A whole operation, nothing overlapping it: `read` with what it saw, `write` with its
    /// value, `cas` with `[from, to]`.
    fn op(&mut self, process: u64, f: &'static str, value: Json) -> &mut Self {
        let invoked = if f == "read" {
            json!([0, null])
        } else {
            json!([0, value])
        };
        self.invoke(process, f, invoked);
        self.ok(process, f, json!([0, value]))
    }

    fn check(&self, mode: Mode) -> LinearizableResult {
        check(&self.ops, mode, DEFAULT_BUDGET)
    }

    fn both(&self) -> (Validity, Validity) {
        (
            self.check(Mode::Knossos).valid,
            self.check(Mode::Strict).valid,
        )
    }
}

use Validity::{Invalid, Valid};

#[test]
fn a_sequential_register_history_is_linearizable() {
    let mut kv = Kv::default();
    kv.op(0, "write", json!(1))
        .op(1, "read", json!(1))
        .op(0, "cas", json!([1, 2]))
        .op(1, "read", json!(2));
    assert_eq!(kv.both(), (Valid, Valid));
}

#[test]
fn a_stale_read_is_not() {
    let mut kv = Kv::default();
    kv.op(0, "write", json!(1))
        .op(0, "write", json!(2))
        .op(1, "read", json!(1));
    assert_eq!(kv.both(), (Invalid, Invalid));
    let result = kv.check(Mode::Knossos);
    let failure = &result.failures[0];
    assert_eq!(failure.stuck.f, "read");
    assert_eq!(failure.state_then, json!(2));
    assert!(failure.words.contains("read 1"), "{}", failure.words);
}

#[test]
fn a_lost_write_is_not() {
    // Two writes, then reads that see only the first forever.
    let mut kv = Kv::default();
    kv.op(0, "write", json!(1))
        .op(1, "write", json!(2))
        .op(0, "read", json!(1))
        .op(1, "read", json!(1));
    assert_eq!(kv.both(), (Invalid, Invalid));
}

#[test]
fn a_cas_on_a_stale_value_is_not() {
    let mut kv = Kv::default();
    kv.op(0, "write", json!(1))
        .op(1, "write", json!(3))
        .op(0, "cas", json!([1, 2]));
    assert_eq!(kv.both(), (Invalid, Invalid));
}

#[test]
fn a_read_of_a_value_never_written_is_not() {
    let mut kv = Kv::default();
    kv.op(0, "write", json!(1)).op(1, "read", json!(4));
    assert_eq!(kv.both(), (Invalid, Invalid));
}

#[test]
fn overlapping_operations_can_be_ordered_one_way_only_and_that_is_enough() {
    // Two concurrent writes; a read after both sees 2, so the write of 2 went last.
    let concurrent = |kv: &mut Kv| {
        kv.invoke(0, "write", json!([0, 1]))
            .invoke(1, "write", json!([0, 2]))
            .ok(0, "write", json!([0, 1]))
            .ok(1, "write", json!([0, 2]))
            .op(2, "read", json!(2));
    };
    let mut kv = Kv::default();
    concurrent(&mut kv);
    kv.op(3, "read", json!(2));
    assert_eq!(kv.both(), (Valid, Valid));
    // A later read of 1 contradicts that order, and the other order contradicts the first read.
    let mut wrong = Kv::default();
    concurrent(&mut wrong);
    wrong.op(3, "read", json!(1));
    assert_eq!(wrong.both(), (Invalid, Invalid));
    // A read overlapping both writes may see either.
    let mut during = Kv::default();
    during
        .invoke(2, "read", json!([0, null]))
        .invoke(0, "write", json!([0, 1]))
        .invoke(1, "write", json!([0, 2]))
        .ok(0, "write", json!([0, 1]))
        .ok(1, "write", json!([0, 2]))
        .ok(2, "read", json!([0, 2]))
        .op(3, "read", json!(1));
    assert_eq!(during.both(), (Valid, Valid));
}

#[test]
fn an_unknown_write_may_or_may_not_have_happened() {
    let mut kv = Kv::default();
    kv.op(0, "write", json!(1))
        .invoke(1, "write", json!([0, 2]))
        .info(1, "write", json!([0, 2]))
        .op(2, "read", json!(1))
        .op(2, "read", json!(2));
    assert_eq!(kv.both(), (Valid, Valid));
    // But once it showed, the older value cannot come back.
    kv.op(2, "read", json!(1));
    assert_eq!(kv.both(), (Invalid, Invalid));
}

#[test]
fn a_null_read_passes_knossos_and_fails_strict_mode_with_a_warning_figure() {
    let mut kv = Kv::default();
    kv.op(0, "write", json!(1)).op(1, "read", Json::Null);
    assert_eq!(kv.both(), (Valid, Invalid));
    assert_eq!(kv.check(Mode::Knossos).null_reads, 1);
}

#[test]
fn failures_are_left_out_by_knossos_and_observe_what_they_say_in_strict_mode() {
    // A read told the key does not exist after a write finished.
    let mut absent = Kv::default();
    absent
        .op(0, "write", json!(1))
        .invoke(1, "read", json!([0, null]))
        .fail(1, "read", json!([0, null]), 20);
    assert_eq!(absent.both(), (Valid, Invalid));
    // A cas refused with error 22 although the value was its `from`.
    let mut refused = Kv::default();
    refused
        .op(0, "write", json!(1))
        .invoke(1, "cas", json!([0, [1, 2]]))
        .fail(1, "cas", json!([0, [1, 2]]), 22);
    assert_eq!(refused.both(), (Valid, Invalid));
    // Refused rightly: the value was 3.
    let mut right = Kv::default();
    right
        .op(0, "write", json!(3))
        .invoke(1, "cas", json!([0, [1, 2]]))
        .fail(1, "cas", json!([0, [1, 2]]), 22);
    assert_eq!(right.both(), (Valid, Valid));
    // A cas told the key is missing before any write: right.
    let mut missing = Kv::default();
    missing
        .invoke(1, "cas", json!([0, [1, 2]]))
        .fail(1, "cas", json!([0, [1, 2]]), 20)
        .op(0, "write", json!(1));
    assert_eq!(missing.both(), (Valid, Valid));
}

#[test]
fn keys_are_checked_apart() {
    let mut kv = Kv::default();
    kv.invoke(0, "write", json!([0, 1]))
        .ok(0, "write", json!([0, 1]))
        .invoke(1, "write", json!([1, 5]))
        .ok(1, "write", json!([1, 5]))
        .invoke(0, "read", json!([1, null]))
        .ok(0, "read", json!([1, 5]))
        .invoke(1, "read", json!([0, null]))
        .ok(1, "read", json!([0, 5]));
    let result = kv.check(Mode::Knossos);
    assert_eq!(result.keys, 2);
    assert_eq!(result.valid, Invalid);
    assert_eq!(result.failures.len(), 1);
    assert_eq!(result.failures[0].key, "0");
}

#[test]
fn many_keys_searched_at_once_keep_each_keys_verdict() {
    let mut kv = Kv::default();
    for key in 0..9u64 {
        let seen = if key == 2 || key == 7 { 1 } else { 2 };
        kv.invoke(0, "write", json!([key, 1]))
            .ok(0, "write", json!([key, 1]))
            .invoke(0, "write", json!([key, 2]))
            .ok(0, "write", json!([key, 2]))
            .invoke(1, "read", json!([key, null]))
            .ok(1, "read", json!([key, seen]));
    }
    let result = kv.check(Mode::Knossos);
    assert_eq!(result.keys, 9);
    let failed: Vec<&str> = result.failures.iter().map(|f| f.key.as_str()).collect();
    assert_eq!(failed, ["2", "7"]);
}

#[test]
fn the_search_gives_up_within_its_budget_as_unknown() {
    let mut kv = Kv::default();
    for process in 0..12 {
        kv.invoke(process, "write", json!([0, process]));
    }
    for process in 0..12 {
        kv.ok(process, "write", json!([0, process]));
    }
    kv.op(20, "read", json!(99));
    let result = check(&kv.ops, Mode::Knossos, 50);
    assert_eq!(result.valid, Validity::Unknown);
    assert!(result.gave_up["0"] > 50);
}

/// Every order of every subset of the unknown operations, respecting real time: the slow,
/// obviously right answer.
fn brute_force(ops: &[RegisterOp]) -> bool {
    let n = ops.len();
    let unknown: Vec<usize> = (0..n).filter(|i| ops[*i].ret.is_none()).collect();
    for mask in 0..(1u32 << unknown.len()) {
        let chosen: Vec<usize> = (0..n)
            .filter(|i| {
                ops[*i].ret.is_some()
                    || unknown
                        .iter()
                        .position(|u| u == i)
                        .is_some_and(|bit| mask & (1 << bit) != 0)
            })
            .collect();
        if orders(ops, &chosen, &mut Vec::new(), None) {
            return true;
        }
    }
    false
}

fn orders(ops: &[RegisterOp], left: &[usize], done: &mut Vec<usize>, state: State) -> bool {
    if left.is_empty() {
        return true;
    }
    for (position, &op) in left.iter().enumerate() {
        // `op` may go next only if no other remaining op returned before it was called.
        let blocked = left
            .iter()
            .any(|&other| other != op && ops[other].ret.is_some_and(|ret| ret < ops[op].call));
        if blocked {
            continue;
        }
        let Some(next) = ops[op].action.step(state) else {
            continue;
        };
        let mut rest = left.to_vec();
        rest.remove(position);
        done.push(op);
        if orders(ops, &rest, done, next) {
            return true;
        }
        done.pop();
    }
    false
}

#[test]
fn the_search_agrees_with_a_brute_force_on_thousands_of_small_random_histories() {
    let mut rng = ChaCha8Rng::seed_from_u64(31);
    let (mut linearizable, mut not) = (0, 0);
    for round in 0..4_000 {
        let count = rng.random_range(1..=6);
        // Each op gets a call and a return position among 2 × count slots.
        let mut slots: Vec<usize> = (0..2 * count).collect();
        for i in (1..slots.len()).rev() {
            let j = rng.random_range(0..=i);
            slots.swap(i, j);
        }
        let ops: Vec<RegisterOp> = (0..count)
            .map(|i| {
                let (a, b) = (slots[2 * i], slots[2 * i + 1]);
                let value = rng.random_range(0..3u32);
                let action = match rng.random_range(0..6) {
                    0 | 1 => Action::Read(if rng.random_bool(0.2) {
                        None
                    } else {
                        Some(value)
                    }),
                    2 | 3 => Action::Write(value),
                    4 => Action::Cas(value, rng.random_range(0..3)),
                    _ => Action::CasRefused(value),
                };
                RegisterOp {
                    call: a.min(b),
                    ret: (!rng.random_bool(0.15)).then_some(a.max(b)),
                    action,
                }
            })
            .collect();
        let expected = brute_force(&ops);
        let got = match search(&ops, None, 1_000_000) {
            Outcome::Linearizable(order) => {
                // The order it found really is one.
                let mut state = None;
                for op in &order {
                    state = ops[*op].action.step(state).expect("each step is possible");
                }
                true
            }
            Outcome::NotLinearizable { .. } => false,
            Outcome::GaveUp(_) => panic!("round {round}: gave up on {count} operations"),
        };
        assert_eq!(got, expected, "round {round}: {ops:?}");
        if expected {
            linearizable += 1;
        } else {
            not += 1;
        }
    }
    assert!(linearizable > 500 && not > 500, "{linearizable} / {not}");
}
