//! Stage 09, anti-entropy with digests: compare first, transfer only on a difference.
//!
//! Every `--interval-ms` a node asks `--fanout` random peers to compare: it sends its digest (a
//! hash of its sorted values) and no values. Equal digests end the exchange with a few bytes
//! each way. Different digests bring back the peer's whole set, which the node merges (a pull;
//! the peer will pull the node's extra values in one of its own rounds). Once the cluster
//! agrees, rounds cost two small messages instead of stage 08's whole sets.
//!
//! ```
//! use stage_09_anti_entropy::digest;
//! use common::Value;
//!
//! let empty = digest(&Default::default());
//! let one = digest(&[Value::Int(1)].into_iter().collect());
//! assert_eq!(empty.len(), 16);
//! assert_ne!(empty, one);
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::{Context, Message, Node, NodeId, RpcError, Value};
use serde::{Deserialize, Serialize};

/// The messages: the broadcast workload's and the digest exchange.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Payload {
    /// The cluster's neighbour lists (not used: peers are every other node).
    Topology {
        /// Neighbours by node id.
        topology: BTreeMap<NodeId, Vec<NodeId>>,
    },
    /// Answer to `topology`.
    TopologyOk,
    /// A value from a client.
    Broadcast {
        /// The value.
        message: Value,
    },
    /// Answer to `broadcast`.
    BroadcastOk,
    /// Asks for every value held.
    Read,
    /// Every value held, sorted.
    ReadOk {
        /// The values.
        messages: Vec<Value>,
    },
    /// Asks for this node's digest.
    Digest,
    /// The digest of the sorted values, and how many there are.
    DigestOk {
        /// 16 hex digits.
        digest: String,
        /// Values held.
        count: usize,
    },
    /// Compare digests; merge `remote_messages` if they differ.
    DigestSync {
        /// The sender's digest.
        remote_digest: String,
        /// Values to merge (absent or null for a pure comparison).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        remote_messages: Option<BTreeSet<Value>>,
    },
    /// The comparison's result.
    DigestSyncOk {
        /// True when the digests were equal (then nothing was merged or sent).
        #[serde(rename = "match")]
        matched: bool,
        /// Values this node learned from `remote_messages`.
        transferred: usize,
        /// On a mismatch: the whole set after the merge.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        local_messages: Option<BTreeSet<Value>>,
    },
}

/// The node's one timer: a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Round;

/// The node's flags.
#[derive(Debug, Clone, clap::Args)]
pub struct Flags {
    /// Milliseconds between rounds.
    #[arg(long = "interval-ms", default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..))]
    pub interval_ms: u64,
    /// Peers compared with per round.
    #[arg(long, default_value_t = 1)]
    pub fanout: usize,
}

/// The digest of a set: FNV-1a (64 bits) over the JSON of its sorted values, as 16 hex digits.
/// Every node computes the same digest for the same set, and the empty set has one too.
pub fn digest(values: &BTreeSet<Value>) -> String {
    let text = serde_json::to_string(values).expect("values serialise");
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// The digest-first anti-entropy node.
#[derive(Debug)]
pub struct AntiEntropy {
    interval: Duration,
    fanout: usize,
    values: BTreeSet<Value>,
}

impl Node for AntiEntropy {
    type Payload = Payload;
    type Timer = Round;
    type Flags = Flags;

    fn new(flags: Flags) -> Self {
        Self {
            interval: Duration::from_millis(flags.interval_ms),
            fanout: flags.fanout,
            values: BTreeSet::new(),
        }
    }

    fn on_init(&mut self, ctx: &mut Context<Payload, Round>) {
        ctx.every(self.interval, Round);
    }

    fn on_message(
        &mut self,
        msg: Message<Payload>,
        ctx: &mut Context<Payload, Round>,
    ) -> Result<(), RpcError> {
        match &msg.body.payload {
            Payload::Topology { .. } => {
                ctx.reply(&msg, Payload::TopologyOk);
            }
            Payload::Broadcast { message } => {
                ctx.reply(&msg, Payload::BroadcastOk);
                self.values.insert(message.clone());
            }
            Payload::Read => {
                let messages = self.values.iter().cloned().collect();
                ctx.reply(&msg, Payload::ReadOk { messages });
            }
            Payload::Digest => {
                let reply = Payload::DigestOk {
                    digest: digest(&self.values),
                    count: self.values.len(),
                };
                ctx.reply(&msg, reply);
            }
            Payload::DigestSync {
                remote_digest,
                remote_messages,
            } => {
                if *remote_digest == digest(&self.values) {
                    ctx.reply(
                        &msg,
                        Payload::DigestSyncOk {
                            matched: true,
                            transferred: 0,
                            local_messages: None,
                        },
                    );
                } else {
                    let before = self.values.len();
                    self.values
                        .extend(remote_messages.iter().flatten().cloned());
                    let transferred = self.values.len() - before;
                    let local_messages = Some(self.values.clone());
                    ctx.reply(
                        &msg,
                        Payload::DigestSyncOk {
                            matched: false,
                            transferred,
                            local_messages,
                        },
                    );
                }
            }
            Payload::DigestSyncOk { local_messages, .. } => {
                self.values.extend(local_messages.iter().flatten().cloned());
            }
            Payload::TopologyOk
            | Payload::BroadcastOk
            | Payload::ReadOk { .. }
            | Payload::DigestOk { .. } => {}
        }
        Ok(())
    }

    fn on_timer(&mut self, _: Round, ctx: &mut Context<Payload, Round>) {
        let peers = ctx.random_peers(self.fanout, None);
        let remote_digest = digest(&self.values);
        for peer in peers {
            ctx.send(
                peer,
                Payload::DigestSync {
                    remote_digest: remote_digest.clone(),
                    remote_messages: None,
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use common::testing::TestNode;
    use serde_json::{Value as Json, json};

    use super::*;

    fn node() -> TestNode<AntiEntropy> {
        let flags = Flags {
            interval_ms: 100,
            fanout: 1,
        };
        TestNode::new(AntiEntropy::new(flags), "n0", &["n0", "n1"], 4)
    }

    fn deliver(bench: &mut TestNode<AntiEntropy>, src: &str, body: Json) -> Vec<Json> {
        bench.deliver(src, body, 0)
    }

    #[test]
    fn digests_depend_on_the_set_only() {
        let a: BTreeSet<Value> = [Value::Int(2), Value::Int(1)].into_iter().collect();
        let b: BTreeSet<Value> = [Value::Int(1), Value::Int(2)].into_iter().collect();
        assert_eq!(digest(&a), digest(&b));
        assert_ne!(digest(&a), digest(&[Value::Int(1)].into_iter().collect()));
        assert_ne!(
            digest(&[Value::Int(1)].into_iter().collect()),
            digest(&[Value::Str("1".into())].into_iter().collect())
        );
        assert!(
            digest(&BTreeSet::new())
                .chars()
                .all(|c| c.is_ascii_hexdigit())
        );
    }

    #[test]
    fn equal_digests_match_and_move_nothing() {
        let mut runtime = node();
        let out = deliver(
            &mut runtime,
            "n1",
            json!({"type": "digest_sync", "msg_id": 3, "remote_digest": digest(&BTreeSet::new())}),
        );
        assert_eq!(
            out[0]["body"],
            json!({"type": "digest_sync_ok", "match": true, "transferred": 0, "msg_id": 1, "in_reply_to": 3})
        );
    }

    #[test]
    fn different_digests_merge_and_return_the_whole_set() {
        let mut runtime = node();
        deliver(
            &mut runtime,
            "c1",
            json!({"type": "broadcast", "msg_id": 1, "message": 1}),
        );
        let out = deliver(
            &mut runtime,
            "n1",
            json!({"type": "digest_sync", "msg_id": 3, "remote_digest": "00", "remote_messages": [1, 2]}),
        );
        assert_eq!(out[0]["body"]["match"], false);
        assert_eq!(out[0]["body"]["transferred"], 1);
        assert_eq!(out[0]["body"]["local_messages"], json!([1, 2]));
        let null = deliver(
            &mut runtime,
            "n1",
            json!({"type": "digest_sync", "msg_id": 4, "remote_digest": "00", "remote_messages": null}),
        );
        assert_eq!(null[0]["body"]["transferred"], 0);
    }

    #[test]
    fn a_round_sends_only_the_digest_and_a_mismatch_answer_is_pulled_in() {
        let mut runtime = node();
        let out = runtime.tick(100);
        assert_eq!(out[0]["body"]["type"], "digest_sync");
        assert!(out[0]["body"].get("remote_messages").is_none());
        deliver(
            &mut runtime,
            "n1",
            json!({"type": "digest_sync_ok", "msg_id": 9, "in_reply_to": 2, "match": false, "transferred": 0, "local_messages": [4, 5]}),
        );
        let read = deliver(&mut runtime, "c1", json!({"type": "read", "msg_id": 1}));
        assert_eq!(read[0]["body"]["messages"], json!([4, 5]));
    }
}
