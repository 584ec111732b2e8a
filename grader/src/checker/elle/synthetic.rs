//! Strict-serializable list-append histories of any size, for the checker's benchmark:
//! `processes` clients run transactions of one to four micro-ops (reads and appends, even odds)
//! over `keys` keys in play with an exponential skew, each retired after 16 appends for a fresh
//! one (as Maelstrom's generator does); each transaction takes effect whole at a random
//! moment between its invocation and its completion, so transactions overlap as much as the
//! concurrency allows and every read sees exactly what came before.

use std::time::Duration;

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use serde_json::{Value as Json, json};

use crate::history::{Entry, History, Op, OpKind, Process};

/// Where a client is.
enum Stage {
    Idle,
    Invoked { mops: Vec<(bool, u64)>, left: u32 },
    Effected { done: Json, left: u32 },
}

/// A history of `txns` transactions by `processes` clients over `keys` keys.
pub fn history(txns: usize, processes: usize, keys: u64, seed: u64) -> Vec<Op> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut stages: Vec<Stage> = (0..processes).map(|_| Stage::Idle).collect();
    // The keys in play: (key, its list).
    let mut slots: Vec<(u64, Vec<u64>)> = (0..keys).map(|key| (key, Vec::new())).collect();
    let mut next_key = keys;
    let mut history = History::default();
    let (mut started, mut tick) = (0, 0u64);
    while started < txns || stages.iter().any(|stage| !matches!(stage, Stage::Idle)) {
        tick += 1;
        let client = rng.random_range(0..processes);
        let at = Duration::from_micros(tick * 10);
        let push = |history: &mut History, kind, value: Json| {
            history.push(
                at,
                Entry {
                    process: Process::Worker(client as u64),
                    kind,
                    f: "txn",
                    value,
                    error: None,
                    node: Some(format!("n{}", client % 2)),
                    final_read: false,
                },
            );
        };
        stages[client] = match std::mem::replace(&mut stages[client], Stage::Idle) {
            Stage::Idle if started < txns => {
                started += 1;
                let mops: Vec<(bool, u64)> = (0..rng.random_range(1..=4))
                    .map(|_| {
                        let mut key = 0;
                        while key + 1 < keys && rng.random_bool(0.5) {
                            key += 1;
                        }
                        (rng.random_bool(0.5), key)
                    })
                    .collect();
                Stage::Invoked {
                    mops,
                    left: rng.random_range(0..3),
                }
            }
            Stage::Idle => Stage::Idle,
            Stage::Invoked { mops, left } if left > 0 => Stage::Invoked {
                mops,
                left: left - 1,
            },
            Stage::Invoked { mops, .. } => {
                // Takes effect now, whole; the invocation is written now too, as the appended
                // values are drawn here (the transaction's window is from now to its
                // completion).
                let mut asked = Vec::new();
                let mut done = Vec::new();
                for (append, slot) in mops {
                    let (key, list) = &mut slots[slot as usize];
                    let key = *key;
                    if append {
                        let value = list.len() as u64 + 1;
                        list.push(value);
                        asked.push(json!(["append", key, value]));
                        done.push(json!(["append", key, value]));
                        if list.len() >= 16 {
                            slots[slot as usize] = (next_key, Vec::new());
                            next_key += 1;
                        }
                    } else {
                        asked.push(json!(["r", key, null]));
                        done.push(json!(["r", key, list.clone()]));
                    }
                }
                push(&mut history, OpKind::Invoke, Json::Array(asked));
                Stage::Effected {
                    done: Json::Array(done),
                    left: rng.random_range(0..3),
                }
            }
            Stage::Effected { done, left } if left > 0 => Stage::Effected {
                done,
                left: left - 1,
            },
            Stage::Effected { done, .. } => {
                push(&mut history, OpKind::Ok, done);
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
    use crate::checker::elle::check_list_append;

    #[test]
    fn synthetic_histories_are_strict_serializable() {
        let ops = history(1_000, 10, 5, 1);
        let result = check_list_append(&ops, &["strict-serializable"]).unwrap();
        assert_eq!(result.valid, Validity::Valid, "{:?}", result.anomaly_types);
        assert_eq!(result.txn_count, 1_000);
    }
}
