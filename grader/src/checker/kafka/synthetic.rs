//! Kafka histories of any length from a correct log, for the checker's benchmark: the shape of
//! Maelstrom's runs (half sends, half polls or assigns, 10 active keys picked exponentially, 16 messages a
//! key), with every client assigned to the active keys and polling from its offsets, and
//! operations of different processes overlapping.

use std::collections::BTreeMap;
use std::time::Duration;

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use serde_json::{Value as Json, json};

use crate::history::{Entry, History, Op, OpKind, Process};

/// A valid history of about `operations` operations by `processes` clients.
pub fn history(operations: usize, processes: u64, seed: u64) -> Vec<Op> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut active: Vec<u64> = (0..10).collect();
    let mut next_key = 10;
    let mut logs: BTreeMap<u64, Vec<i64>> = BTreeMap::new();
    let mut offsets: Vec<BTreeMap<u64, usize>> = vec![BTreeMap::new(); processes as usize];
    let mut history = History::default();
    // Each process has at most one operation open: (its completion's entry, due after
    // `left` more events).
    let mut open: Vec<Option<(Entry, u32)>> = vec![None; processes as usize];
    let mut now_us = 0u64;
    let mut started = 0;
    while started < operations || open.iter().any(Option::is_some) {
        now_us += 50;
        let process = rng.random_range(0..processes) as usize;
        let at = Duration::from_micros(now_us);
        if let Some((entry, left)) = open[process].take() {
            if left == 0 {
                history.push(at, entry);
            } else {
                open[process] = Some((entry, left - 1));
            }
            continue;
        }
        if started >= operations {
            continue;
        }
        started += 1;
        let entry = |kind, f, value| Entry {
            process: Process::Worker(process as u64),
            kind,
            f,
            value,
            error: None,
            node: Some(format!("n{}", process % 2)),
            final_read: false,
        };
        // The operation takes effect now, between its invocation and its completion.
        let (invoke, done) = if rng.random_bool(0.5) {
            let draw = rng.random_range(0..1023u64) + 1;
            let slot = (63 - draw.leading_zeros()) as usize;
            let key = active[slot];
            let log = logs.entry(key).or_default();
            let message = log.len() as i64 + 1;
            log.push(message);
            if log.len() == 16 {
                active[slot] = next_key;
                next_key += 1;
            }
            let name = key.to_string();
            (
                entry(OpKind::Invoke, "send", json!([["send", name, message]])),
                entry(
                    OpKind::Ok,
                    "send",
                    json!([["send", name, [log.len() - 1, message]]]),
                ),
            )
        } else if rng.random_bool(1.0 / 16.0) {
            // An assign of the active keys: each where this client was, else from the start.
            let was = std::mem::take(&mut offsets[process]);
            offsets[process] = active
                .iter()
                .map(|key| (*key, was.get(key).copied().unwrap_or(0)))
                .collect();
            let keys: Vec<String> = active.iter().map(u64::to_string).collect();
            (
                entry(OpKind::Invoke, "assign", json!(keys)),
                entry(OpKind::Ok, "assign", json!(keys)),
            )
        } else {
            let mut msgs = serde_json::Map::new();
            for (key, offset) in &mut offsets[process] {
                let log = logs.get(key).map_or(&[][..], Vec::as_slice);
                let pairs: Vec<Json> = (*offset..log.len())
                    .map(|at| json!([at, log[at]]))
                    .collect();
                *offset = log.len();
                msgs.insert(key.to_string(), Json::Array(pairs));
            }
            (
                entry(OpKind::Invoke, "poll", json!([["poll"]])),
                entry(OpKind::Ok, "poll", json!([["poll", msgs]])),
            )
        };
        history.push(at, invoke);
        open[process] = Some((done, rng.random_range(0..4)));
    }
    // Everything sent, polled at the end by one more process.
    let mut msgs = serde_json::Map::new();
    for (key, log) in &logs {
        let pairs: Vec<Json> = log
            .iter()
            .enumerate()
            .map(|(at, m)| json!([at, m]))
            .collect();
        msgs.insert(key.to_string(), Json::Array(pairs));
    }
    let at = Duration::from_micros(now_us + 50);
    for (kind, value) in [
        (OpKind::Invoke, json!([["poll"]])),
        (OpKind::Ok, json!([["poll", msgs]])),
    ] {
        history.push(
            at,
            Entry {
                process: Process::Worker(processes),
                kind,
                f: "poll",
                value,
                error: None,
                node: Some("n0".to_owned()),
                final_read: true,
            },
        );
    }
    history.ops().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::Validity;

    #[test]
    fn synthetic_histories_are_valid_and_about_the_length_asked_for() {
        let ops = history(2_000, 4, 1);
        assert!((4_000..4_010).contains(&ops.len()), "{}", ops.len());
        let result = super::super::check(&ops);
        assert_eq!(result.valid, Validity::Valid, "{:?}", result.error_types);
        assert!(result.polled_pairs > 1_000, "{}", result.polled_pairs);
    }
}
