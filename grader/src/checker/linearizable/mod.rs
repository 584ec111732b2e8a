//! Linearizability of a key-value history of registers (Maelstrom's lin-kv): each key's
//! operations (read, write, compare-and-set) checked on their own against a register that
//! starts absent (P-compositionality: a history is linearizable when every key's is), by the
//! search in [`search`].
//!
//! Two modes.
//!
//! - **Knossos's** (the default, Maelstrom's verdict): failed operations are left out (a read
//!   told the key does not exist, a refused cas), a read that returned `null` matches any
//!   state, and an operation whose outcome is unknown may or may not have happened.
//! - **Strict** closes Knossos's holes: a read that returned `null` or error 20 saw the key
//!   absent; a cas refused with error 22 saw a value other than its `from`, with error 20 saw
//!   the key absent. A node that answers every read with `null` passes the default mode (with
//!   a warning, [`LinearizableResult::null_reads`]) and fails this one.
//!
//! History values are Maelstrom's independent tuples: `[key, value]` (a cas's value is `[from,
//! to]`; a read's invocation `[key, null]`).

pub mod search;
pub mod synthetic;

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use serde_json::Value as Json;

use self::search::{Action, Outcome, RegisterOp, State};
use super::Validity;
use super::kafka::OpRef;
use crate::history::{Op, OpKind};

/// Steps the search may take per key before it gives up with `unknown`.
pub const DEFAULT_BUDGET: u64 = 50_000_000;

/// How failed operations and `null` reads are judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Knossos's: failures left out, a `null` read matches anything.
    Knossos,
    /// Failures and `null` reads observe what they say.
    Strict,
}

/// One key that is not linearizable, explained.
#[derive(Debug, Clone, Serialize)]
pub struct KeyFailure {
    /// The key.
    pub key: String,
    /// The operations the search could put in order, at most the last 8 of them.
    pub linearized_tail: Vec<OpRef>,
    /// The operation that then had to take effect and could not.
    pub stuck: OpRef,
    /// What it did, in the model's terms.
    pub stuck_action: String,
    /// The state the register was in when it could not.
    pub state_then: Json,
    /// The operations that overlap the stuck one in time (any of them could have gone first).
    pub concurrent: Vec<OpRef>,
    /// The failure in a sentence.
    pub words: String,
}

/// The linearizability checker's result.
#[derive(Debug, Clone, Serialize)]
pub struct LinearizableResult {
    /// The verdict.
    #[serde(rename = "valid?")]
    pub valid: Validity,
    /// The mode it was checked in.
    pub mode: Mode,
    /// Keys checked.
    pub keys: usize,
    /// Operations checked (acknowledged, unknown, and in strict mode the failed ones).
    pub operations: usize,
    /// The keys that are not linearizable, explained.
    pub failures: Vec<KeyFailure>,
    /// Keys the search gave up on, with the steps it took.
    pub gave_up: BTreeMap<String, u64>,
    /// Acknowledged reads that returned `null`, which Knossos accepts in any state.
    pub null_reads: usize,
}

/// The values seen, numbered: the model compares numbers, not JSON.
#[derive(Default)]
struct Values(HashMap<String, u32>);

impl Values {
    fn number(&mut self, value: &Json) -> u32 {
        let next = self.0.len() as u32;
        *self.0.entry(value.to_string()).or_insert(next)
    }
}

/// The error code of a failed operation (`error 22: …`).
fn error_code(op: &Op) -> Option<u64> {
    op.error
        .as_deref()?
        .strip_prefix("error ")?
        .split(':')
        .next()?
        .trim()
        .parse()
        .ok()
}

/// One operation on one key, as the checker reads it.
struct KeyOp<'a> {
    invoke: &'a Op,
    done: Option<&'a Op>,
    op: RegisterOp,
}

/// Checks a lin-kv history in `mode`, giving each key `budget` search steps.
pub fn check(history: &[Op], mode: Mode, budget: u64) -> LinearizableResult {
    let mut values = Values::default();
    let mut by_key: BTreeMap<String, Vec<KeyOp>> = BTreeMap::new();
    let mut null_reads = 0;
    for (invoke, done) in crate::history::paired(history) {
        if !invoke.is_client() || !matches!(invoke.f, "read" | "write" | "cas") {
            continue;
        }
        let Some(key) = invoke.value.get(0) else {
            continue;
        };
        let key = key.to_string();
        let argument = invoke.value.get(1).cloned().unwrap_or(Json::Null);
        let kind = done.map_or(OpKind::Info, |done| done.kind);
        let action = match (invoke.f, kind) {
            ("read", OpKind::Ok) => {
                let seen = done
                    .and_then(|done| done.value.get(1))
                    .cloned()
                    .unwrap_or(Json::Null);
                if seen.is_null() {
                    null_reads += 1;
                    match mode {
                        Mode::Knossos => Some(Action::ReadAny),
                        Mode::Strict => Some(Action::Read(None)),
                    }
                } else {
                    Some(Action::Read(Some(values.number(&seen))))
                }
            }
            ("write", OpKind::Ok | OpKind::Info) => Some(Action::Write(values.number(&argument))),
            ("cas", OpKind::Ok | OpKind::Info) => {
                let (from, to) = (argument.get(0), argument.get(1));
                match (from, to) {
                    (Some(from), Some(to)) => {
                        Some(Action::Cas(values.number(from), values.number(to)))
                    }
                    _ => None,
                }
            }
            ("read", OpKind::Fail) if mode == Mode::Strict => done
                .and_then(error_code)
                .filter(|code| *code == 20)
                .map(|_| Action::Absent),
            ("cas", OpKind::Fail) if mode == Mode::Strict => match done.and_then(error_code) {
                Some(20) => Some(Action::Absent),
                Some(22) => argument
                    .get(0)
                    .map(|from| Action::CasRefused(values.number(from))),
                _ => None,
            },
            // Knossos leaves failures out; an unknown read changes nothing.
            _ => None,
        };
        let Some(action) = action else { continue };
        // An unknown operation never returns; a failed one in strict mode returned with what
        // it observed.
        let ret = match kind {
            OpKind::Info => None,
            _ => done.map(|done| done.index),
        };
        by_key.entry(key).or_default().push(KeyOp {
            invoke,
            done,
            op: RegisterOp {
                call: invoke.index,
                ret,
                action,
            },
        });
    }
    let mut failures = Vec::new();
    let mut gave_up = BTreeMap::new();
    let mut operations = 0;
    let names: HashMap<u32, String> = values
        .0
        .iter()
        .map(|(text, n)| (*n, text.clone()))
        .collect();
    let show = |state: State| -> Json {
        state.map_or(Json::Null, |n| {
            serde_json::from_str(&names[&n]).unwrap_or(Json::Null)
        })
    };
    let registers: Vec<(&String, &Vec<KeyOp>, Vec<RegisterOp>)> = by_key
        .iter()
        .map(|(key, ops)| (key, ops, ops.iter().map(|op| op.op.clone()).collect()))
        .collect();
    let outcomes = search_keys(&registers, budget);
    for ((key, ops, register), outcome) in registers.iter().zip(outcomes) {
        let (key, ops) = (*key, *ops);
        operations += ops.len();
        match outcome {
            Outcome::Linearizable(_) => {}
            Outcome::GaveUp(steps) => {
                gave_up.insert(key.clone(), steps);
            }
            Outcome::NotLinearizable { longest, stuck_at } => {
                let state_then = longest.iter().fold(None, |state, op| {
                    register[*op].action.step(state).unwrap_or(state)
                });
                failures.push(explain(
                    key,
                    ops,
                    &longest,
                    stuck_at,
                    show(state_then),
                    &show,
                ));
            }
        }
    }
    let valid = if !failures.is_empty() {
        Validity::Invalid
    } else if !gave_up.is_empty() {
        Validity::Unknown
    } else {
        Validity::Valid
    };
    LinearizableResult {
        valid,
        mode,
        keys: by_key.len(),
        operations,
        failures,
        gave_up,
        null_reads,
    }
}

/// Searches each key's register on its own thread, as many at once as the machine has cores
/// (keys are independent: a history is linearizable when each key's is); the outcomes in the
/// keys' order.
fn search_keys(registers: &[(&String, &Vec<KeyOp>, Vec<RegisterOp>)], budget: u64) -> Vec<Outcome> {
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(registers.len());
    if threads <= 1 {
        return registers
            .iter()
            .map(|(_, _, register)| search::search(register, None, budget))
            .collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut outcomes: Vec<Option<Outcome>> = vec![None; registers.len()];
    let found = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let at = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some((_, _, register)) = registers.get(at) else {
                            return done;
                        };
                        done.push((at, search::search(register, None, budget)));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| worker.join().expect("a key's search panicked"))
            .collect::<Vec<_>>()
    });
    for (at, outcome) in found {
        outcomes[at] = Some(outcome);
    }
    outcomes
        .into_iter()
        .map(|outcome| outcome.expect("every key searched"))
        .collect()
}

fn op_ref(key_op: &KeyOp) -> OpRef {
    OpRef::of(key_op.done.unwrap_or(key_op.invoke))
}

fn action_words(action: Action, show: &dyn Fn(State) -> Json) -> String {
    match action {
        Action::Read(seen) => format!("read {}", show(seen)),
        Action::ReadAny => "read null".into(),
        Action::Write(value) => format!("write {}", show(Some(value))),
        Action::Cas(from, to) => format!("cas {} to {}", show(Some(from)), show(Some(to))),
        Action::CasRefused(from) => format!("cas from {} refused", show(Some(from))),
        Action::Absent => "told the key does not exist".into(),
    }
}

fn explain(
    key: &str,
    ops: &[KeyOp],
    longest: &[usize],
    stuck_at: usize,
    state_then: Json,
    show: &dyn Fn(State) -> Json,
) -> KeyFailure {
    let stuck = &ops[stuck_at];
    let (call, ret) = (stuck.op.call, stuck.op.ret.unwrap_or(usize::MAX));
    let concurrent: Vec<OpRef> = ops
        .iter()
        .enumerate()
        .filter(|(index, other)| {
            *index != stuck_at
                && other.op.call < ret
                && other.op.ret.is_none_or(|other_ret| other_ret > call)
        })
        .map(|(_, other)| op_ref(other))
        .take(16)
        .collect();
    let linearized_tail: Vec<OpRef> = longest
        .iter()
        .rev()
        .take(8)
        .rev()
        .map(|index| op_ref(&ops[*index]))
        .collect();
    let stuck_ref = op_ref(stuck);
    let stuck_action = action_words(stuck.op.action, show);
    let overlapping = match concurrent.len() {
        0 => "no operation overlaps it that could explain its result".to_owned(),
        1 => "the one operation overlapping it cannot make its result possible".to_owned(),
        count => {
            format!("none of the {count} operations overlapping it can make its result possible")
        }
    };
    let words = format!(
        "key {key}: no order of its operations explains {} ({stuck_action}): once the {} operations before it that can be put in order have taken effect, the register holds {state_then}, and {overlapping}",
        stuck_ref.words(),
        longest.len(),
    );
    KeyFailure {
        key: key.to_owned(),
        linearized_tail,
        stuck: stuck_ref,
        stuck_action,
        state_then,
        concurrent,
        words,
    }
}

#[cfg(test)]
mod tests;
