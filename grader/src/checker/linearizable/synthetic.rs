//! Linearizable lin-kv histories of any size, for the checker's benchmark: `processes` clients
//! per key work a register each; every operation takes effect at a random moment between its
//! invocation and its completion (so operations overlap as much as the concurrency allows),
//! reads see the value at that moment, a cas whose `from` does not match fails with error 22,
//! and about one operation in a hundred ends unknown (its process is then replaced).

use std::time::Duration;

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use serde_json::{Value as Json, json};

use crate::history::{Entry, History, Op, OpKind, Process};

/// Where a client is in its operation.
#[derive(Debug, Clone)]
enum Stage {
    Idle,
    /// Invoked; the operation takes effect when `left` reaches 0.
    Invoked {
        f: &'static str,
        argument: Json,
        left: u32,
    },
    /// Took effect; it completes as `kind` with `value` when `left` reaches 0.
    Effected {
        f: &'static str,
        kind: OpKind,
        value: Json,
        error: Option<String>,
        left: u32,
    },
}

/// A history of about `operations` operations spread over `keys` keys, `processes` clients on
/// each.
pub fn history(operations: usize, processes: u64, keys: u64, seed: u64) -> Vec<Op> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let clients = (processes * keys) as usize;
    let mut stages = vec![Stage::Idle; clients];
    let mut ids: Vec<u64> = (0..clients as u64).collect();
    let mut registers: Vec<Option<u64>> = vec![None; keys as usize];
    let mut history = History::default();
    let (mut started, mut tick) = (0, 0u64);
    while started < operations || stages.iter().any(|stage| !matches!(stage, Stage::Idle)) {
        tick += 1;
        let client = rng.random_range(0..clients);
        let key = client as u64 / processes;
        let at = Duration::from_micros(tick * 10);
        let push = |history: &mut History, kind, f, value, error, id| {
            history.push(
                at,
                Entry {
                    process: Process::Worker(id),
                    kind,
                    f,
                    value,
                    error,
                    node: Some(format!("n{}", id % 2)),
                    final_read: false,
                },
            );
        };
        stages[client] = match std::mem::replace(&mut stages[client], Stage::Idle) {
            Stage::Idle if started < operations => {
                started += 1;
                let value = rng.random_range(0..5u64);
                let (f, argument) = match rng.random_range(0..3) {
                    0 => ("read", Json::Null),
                    1 => ("write", json!(value)),
                    _ => ("cas", json!([value, rng.random_range(0..5u64)])),
                };
                push(
                    &mut history,
                    OpKind::Invoke,
                    f,
                    json!([key, argument]),
                    None,
                    ids[client],
                );
                Stage::Invoked {
                    f,
                    argument,
                    left: rng.random_range(0..3),
                }
            }
            Stage::Idle => Stage::Idle,
            Stage::Invoked { f, argument, left } if left > 0 => Stage::Invoked {
                f,
                argument,
                left: left - 1,
            },
            Stage::Invoked { f, argument, .. } => {
                let register = &mut registers[key as usize];
                let (kind, value, error) = match f {
                    "read" => (OpKind::Ok, json!([key, register]), None),
                    "write" => {
                        *register = argument.as_u64();
                        (OpKind::Ok, json!([key, argument]), None)
                    }
                    _ => {
                        let (from, to) = (argument[0].as_u64(), argument[1].as_u64());
                        match *register {
                            None => (
                                OpKind::Fail,
                                json!([key, argument]),
                                Some("error 20: key does not exist".to_owned()),
                            ),
                            Some(now) if Some(now) == from => {
                                *register = to;
                                (OpKind::Ok, json!([key, argument]), None)
                            }
                            Some(_) => (
                                OpKind::Fail,
                                json!([key, argument]),
                                Some("error 22: cas refused".to_owned()),
                            ),
                        }
                    }
                };
                // Now and then the client never hears back.
                let (kind, value, error) = if f != "read" && rng.random_bool(0.01) {
                    (
                        OpKind::Info,
                        json!([key, argument]),
                        Some("net-timeout".to_owned()),
                    )
                } else {
                    (kind, value, error)
                };
                Stage::Effected {
                    f,
                    kind,
                    value,
                    error,
                    left: rng.random_range(0..3),
                }
            }
            Stage::Effected {
                f,
                kind,
                value,
                error,
                left,
            } if left > 0 => Stage::Effected {
                f,
                kind,
                value,
                error,
                left: left - 1,
            },
            Stage::Effected {
                f,
                kind,
                value,
                error,
                ..
            } => {
                push(&mut history, kind, f, value, error, ids[client]);
                if kind == OpKind::Info {
                    ids[client] += clients as u64;
                }
                Stage::Idle
            }
        };
    }
    history.ops().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::Validity;
    use crate::checker::linearizable::{DEFAULT_BUDGET, Mode, check};

    #[test]
    fn synthetic_histories_are_linearizable_in_both_modes() {
        let ops = history(3_000, 5, 2, 1);
        for mode in [Mode::Knossos, Mode::Strict] {
            let result = check(&ops, mode, DEFAULT_BUDGET);
            assert_eq!(
                result.valid,
                Validity::Valid,
                "{mode:?}: {:?}",
                result.failures
            );
            assert_eq!(result.keys, 2);
        }
    }
}
