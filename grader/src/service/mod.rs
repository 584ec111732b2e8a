//! Maelstrom's services: `lin-kv`, `seq-kv`, `lww-kv` and `lin-tso`, endpoints the harness
//! answers itself. A node sends one a request like any message (`{"dest":"lin-kv","body":
//! {"type":"read","key":"k","msg_id":3}}`); the harness hands it to the service when it
//! arrives (after latency, as between nodes) and sends the reply back the same way.
//!
//! Semantics follow Maelstrom's services: replies carry `in_reply_to` and no `msg_id`; error 20
//! is "key does not exist", 22 "current value X is not Y"; a type the service does not know gets
//! no reply at all, so the caller's RPC times out. Keys and values compare as parsed JSON, so
//! `1`, `1.0` and `"1"` are three keys.
//!
//! ```
//! use grader::service::Services;
//! use rand::SeedableRng;
//! let mut services = Services::default();
//! let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(1);
//! let body = serde_json::json!({"type": "write", "key": "k", "value": 1, "msg_id": 0});
//! let reply = services.handle("lin-kv", "n0", &body, &mut rng).unwrap();
//! assert_eq!(reply, serde_json::json!({"type": "write_ok", "in_reply_to": 0}));
//! ```

mod kv;
mod lin_tso;
mod lww_kv;
mod seq_kv;

use rand::rngs::ChaCha8Rng;
use serde_json::Value as Json;

pub use kv::Kv;
pub use lin_tso::LinTso;
pub use lww_kv::LwwKv;
pub use seq_kv::SeqKv;

/// The services' names, in endpoint order.
pub const NAMES: [&str; 4] = ["lin-kv", "seq-kv", "lww-kv", "lin-tso"];

/// Every service of one run, each with its state.
#[derive(Debug, Default)]
pub struct Services {
    lin_kv: Kv,
    seq_kv: SeqKv,
    lww_kv: LwwKv,
    lin_tso: LinTso,
}

impl Services {
    /// The reply of service `name` to a request `body` from `src`, with `in_reply_to` set from
    /// the request's `msg_id`; `None` when the service does not answer (an unknown type, or a
    /// name that is no service).
    pub fn handle(
        &mut self,
        name: &str,
        src: &str,
        body: &Json,
        rng: &mut ChaCha8Rng,
    ) -> Option<Json> {
        let mut reply = match name {
            "lin-kv" => self.lin_kv.apply(body)?.1,
            "seq-kv" => self.seq_kv.handle(src, body, rng)?,
            "lww-kv" => self.lww_kv.handle(body, rng)?,
            "lin-tso" => self.lin_tso.handle(body)?,
            _ => return None,
        };
        if let (Some(reply), Some(msg_id)) = (reply.as_object_mut(), body.get("msg_id")) {
            reply.insert("in_reply_to".into(), msg_id.clone());
        }
        Some(reply)
    }
}

/// An error reply body.
fn error(code: u64, text: String) -> Json {
    serde_json::json!({"type": "error", "code": code, "text": text})
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng as _;
    use serde_json::json;

    use super::*;

    #[test]
    fn replies_answer_the_request_by_its_msg_id_and_carry_none_of_their_own() {
        let mut services = Services::default();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for name in ["lin-kv", "seq-kv", "lww-kv"] {
            let reply = services
                .handle(
                    name,
                    "n0",
                    &json!({"type": "read", "key": 0, "msg_id": 4}),
                    &mut rng,
                )
                .unwrap();
            assert_eq!(
                reply,
                json!({"type": "error", "code": 20, "text": "key does not exist", "in_reply_to": 4}),
                "{name}"
            );
        }
        let ts = services
            .handle(
                "lin-tso",
                "n0",
                &json!({"type": "ts", "msg_id": 9}),
                &mut rng,
            )
            .unwrap();
        assert_eq!(ts, json!({"type": "ts_ok", "ts": 0, "in_reply_to": 9}));
        // No reply to a type a service does not know, nor from a service that does not exist:
        // the caller's RPC times out.
        for name in NAMES {
            assert_eq!(
                services.handle(name, "n0", &json!({"type": "echo", "msg_id": 1}), &mut rng),
                None,
                "{name}"
            );
        }
        assert_eq!(
            services.handle("kv", "n0", &json!({"type": "read", "key": 0}), &mut rng),
            None
        );
    }

    #[test]
    fn lin_kv_is_one_map_every_caller_sees_at_once() {
        let mut services = Services::default();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        services.handle(
            "lin-kv",
            "n0",
            &json!({"type": "write", "key": "k", "value": 3}),
            &mut rng,
        );
        for caller in ["n1", "n2", "n3"] {
            let reply = services
                .handle(
                    "lin-kv",
                    caller,
                    &json!({"type": "read", "key": "k"}),
                    &mut rng,
                )
                .unwrap();
            assert_eq!(reply, json!({"type": "read_ok", "value": 3}));
        }
    }
}
