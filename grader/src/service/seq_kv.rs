//! `seq-kv`: sequentially consistent, as Maelstrom builds it. The service keeps its recent
//! states (the last [`KEPT_STATES`]) and, per client, the newest state that client has seen. A
//! request is tried on a state drawn at random between the two: if it would change nothing (a
//! read, a failed cas, a missing key, a write of the value already there) it is answered from
//! that state, which may be stale, and the client has now seen it; otherwise it is applied to the
//! newest state, which it extends, and the client has seen that. So each client sees states in
//! order, and a client that writes something unique first reads the latest state next (the
//! "sequential consistency trick").

use std::collections::{HashMap, VecDeque};

use rand::RngExt as _;
use rand::rngs::ChaCha8Rng;
use serde_json::Value as Json;

use super::Kv;

/// How many recent states the service keeps (Maelstrom's ring buffer holds 32).
pub const KEPT_STATES: usize = 32;

/// The service's state.
#[derive(Debug)]
pub struct SeqKv {
    /// The recent states, oldest first; the last is the newest.
    states: VecDeque<Kv>,
    /// The index of the newest state (the empty map is state 0).
    last: u64,
    /// Per client: the index of the newest state it has seen.
    seen: HashMap<String, u64>,
}

impl Default for SeqKv {
    fn default() -> Self {
        Self {
            states: VecDeque::from([Kv::default()]),
            last: 0,
            seen: HashMap::new(),
        }
    }
}

impl SeqKv {
    /// The reply to `body` from `src`, or `None` for a type the service does not know.
    pub fn handle(&mut self, src: &str, body: &Json, rng: &mut ChaCha8Rng) -> Option<Json> {
        let oldest = self.last + 1 - self.states.len() as u64;
        // A client that lags further than the states kept is served the oldest kept: unlike
        // Maelstrom's ring buffer, whose index then wraps round to a state out of order.
        let from = self.seen.get(src).copied().unwrap_or(0).max(oldest);
        let index = rng.random_range(from..=self.last);
        let mut state = self.states[(index - oldest) as usize].clone();
        let (changed, reply) = state.apply(body)?;
        if !changed {
            self.seen.insert(src.to_owned(), index);
            return Some(reply);
        }
        let mut newest = self.states.back().expect("a state").clone();
        let (_, reply) = newest.apply(body)?;
        self.states.push_back(newest);
        if self.states.len() > KEPT_STATES {
            self.states.pop_front();
        }
        self.last += 1;
        self.seen.insert(src.to_owned(), self.last);
        Some(reply)
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng as _;
    use serde_json::json;

    use super::*;

    fn read(kv: &mut SeqKv, src: &str, rng: &mut ChaCha8Rng) -> Json {
        kv.handle(src, &json!({"type": "read", "key": "k"}), rng)
            .unwrap()
    }

    #[test]
    fn reads_can_be_stale_but_never_go_back_and_a_unique_write_first_sees_the_latest() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut kv = SeqKv::default();
        for value in 1..=5 {
            let reply = kv
                .handle(
                    "n0",
                    &json!({"type": "write", "key": "k", "value": value}),
                    &mut rng,
                )
                .unwrap();
            assert_eq!(reply, json!({"type": "write_ok"}));
        }
        // The writer has seen state 5 (value 5): its reads are never older.
        for _ in 0..20 {
            assert_eq!(read(&mut kv, "n0", &mut rng)["value"], 5);
        }
        // Another client starts at state 0: over many reads it sees stale states (a missing
        // key, older values), in an order that never goes back.
        let mut stale = 0;
        let mut last_seen = 0;
        for _ in 0..50 {
            let reply = read(&mut kv, "n1", &mut rng);
            let value = reply["value"].as_i64().unwrap_or(0);
            assert!(value >= last_seen, "went back from {last_seen} to {value}");
            last_seen = value;
            if value < 5 {
                stale += 1;
            }
        }
        assert!(stale > 0, "some reads are stale");
        assert_eq!(last_seen, 5, "and they reach the newest state");
        // The trick: a client that writes something unique first reads the latest next.
        let fresh = "n2";
        kv.handle(
            fresh,
            &json!({"type": "write", "key": "unique-n2", "value": 1}),
            &mut rng,
        )
        .unwrap();
        assert_eq!(read(&mut kv, fresh, &mut rng)["value"], 5);
    }

    #[test]
    fn a_failed_cas_can_be_served_from_a_stale_state_and_a_successful_one_from_the_newest() {
        // Hand-computed: writes 1 and 2 make states 1 and 2. A cas from 1 by a client at state
        // 0 is tried on state 0, 1 or 2: on 0 it fails with 20, on 2 with 22 (both change
        // nothing, so they are answered there), on 1 it would succeed, so it runs on the newest
        // state (2), where it fails with 22 and is answered from there.
        let mut kv = SeqKv::default();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for value in [1, 2] {
            kv.handle(
                "w",
                &json!({"type": "write", "key": "k", "value": value}),
                &mut rng,
            );
        }
        let mut codes = std::collections::BTreeSet::new();
        for client in 0..40 {
            let reply = kv
                .handle(
                    &format!("c{client}"),
                    &json!({"type": "cas", "key": "k", "from": 1, "to": 9}),
                    &mut rng,
                )
                .unwrap();
            codes.insert(reply["code"].as_u64().unwrap());
        }
        assert_eq!(codes, [20, 22].into());
        // A cas that succeeds on the newest state extends it.
        let reply = kv
            .handle(
                "w",
                &json!({"type": "cas", "key": "k", "from": 2, "to": 3}),
                &mut rng,
            )
            .unwrap();
        assert_eq!(reply, json!({"type": "cas_ok"}));
        assert_eq!(read(&mut kv, "w", &mut rng)["value"], 3);
    }

    #[test]
    fn only_the_last_states_are_kept_and_a_lagging_client_gets_the_oldest_of_them() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut kv = SeqKv::default();
        for value in 1..=100 {
            kv.handle(
                "w",
                &json!({"type": "write", "key": "k", "value": value}),
                &mut rng,
            );
        }
        assert_eq!(kv.states.len(), KEPT_STATES);
        for client in 0..30 {
            let value = read(&mut kv, &format!("late{client}"), &mut rng)["value"]
                .as_i64()
                .unwrap();
            assert!(value > 100 - KEPT_STATES as i64, "{value}");
        }
    }
}
