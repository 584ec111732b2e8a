//! Maelstrom's guide, chapter 5: transactions over lists (the txn-list-append workload) kept in
//! Maelstrom's key-value services the way Datomic keeps its database: immutable values, and
//! one mutable pointer to them.
//!
//! - **Thunks.** Each key's list is stored in `lww-kv` under a fresh, never reused id
//!   (`n0-7`: the node and a counter). Nothing ever changes a thunk, so any node may cache one
//!   forever once it has read it, and a write needs no coordination.
//! - **The root.** One `lin-kv` key, `root`, maps each key (as JSON text) to the id of its
//!   current thunk. It is the only thing that changes, and lin-kv is linearizable.
//! - **A transaction** reads the root, fetches the thunks it needs (from its cache, or from
//!   lww-kv), runs its micro-ops on those lists, writes a new thunk for each list it changed,
//!   and then swaps the root from the map it read to the map with the new ids (`cas`). If
//!   another transaction swapped the root first, the cas fails (error 22) and this one is
//!   aborted with error 30 (txn-conflict): certain not to have happened, so the client may try
//!   again. A transaction that only reads commits at its read of the root.
//!
//! Each committed transaction takes effect at one instant, its cas (or its read of the root),
//! between its request and its reply, on the state every earlier one left: the history is
//! strict serializable. Two things make it so: the root is read and swapped in lin-kv, not in
//! a store that may serve stale states; and a new thunk is written, and acknowledged, before
//! the root points at it, so no one can follow the root to a thunk that is not there.
//!
//! **lww-kv is only eventually consistent.** A thunk another node wrote a moment ago may not
//! have reached the replica that serves this read: the read says the key does not exist
//! (error 20), and the node asks again `--retry-ms` later. The thunk was acknowledged before
//! the root pointed at it, so it arrives.
//!
//! **A cas that gets no answer** in `--kv-timeout-ms` may or may not have swapped the root, so
//! the client is not answered (a timeout: may have happened). A request to a service that
//! times out before the cas is answered with error 11: nothing was committed.
//!
//! Messages per transaction: the root read and the cas (4), a thunk write per changed key (2
//! each), and a thunk read (2) for each key whose thunk this node has not seen, mostly those
//! another node wrote.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use common::{Context, ErrorCode, Message, Node, NodeId, RpcError, RpcTimeout};
use glomers_6a_txn::txn_payload;
use serde_json::{Map, Value, json};

txn_payload! {
    kv;
    /// The workload's messages and the services' (lin-kv for the root, lww-kv for thunks).
    pub enum Payload {}
}

/// The node's flags.
#[derive(Debug, Clone, clap::Args)]
pub struct Flags {
    /// How long to wait for a service's answer before giving the transaction up.
    #[arg(long, default_value_t = 1000, value_name = "MS")]
    pub kv_timeout_ms: u64,
    /// How long to wait before reading again a thunk lww-kv did not have yet.
    #[arg(long, default_value_t = 10, value_name = "MS")]
    pub retry_ms: u64,
}

/// The root: each key (as JSON text) to its thunk's id.
pub type Root = Map<String, Value>;

/// The lin-kv key that holds the root.
pub const ROOT: &str = "root";

/// Runs `mops` on `lists` (each key's list, by JSON text; a key without one is empty) and
/// returns them with the reads filled in (`null` for a key with no list) and the keys whose
/// lists changed. A micro-op that is not `["r", k, _]` or `["append", k, v]` is an error (12).
pub fn apply(
    lists: &mut BTreeMap<String, Vec<Value>>,
    mops: &[Value],
) -> Result<(Vec<Value>, Vec<String>), RpcError> {
    let mut done = Vec::with_capacity(mops.len());
    let mut changed: Vec<String> = Vec::new();
    for mop in mops {
        let parts = mop.as_array().filter(|parts| parts.len() == 3);
        let Some(parts) = parts else {
            return Err(malformed(mop));
        };
        let key = parts[1].to_string();
        match parts[0].as_str() {
            Some("r") => {
                let read = lists.get(&key).map_or(Value::Null, |list| json!(list));
                done.push(json!(["r", parts[1], read]));
            }
            Some("append") => {
                lists.entry(key.clone()).or_default().push(parts[2].clone());
                if !changed.contains(&key) {
                    changed.push(key);
                }
                done.push(mop.clone());
            }
            _ => return Err(malformed(mop)),
        }
    }
    Ok((done, changed))
}

fn malformed(mop: &Value) -> RpcError {
    RpcError::new(
        ErrorCode::MalformedRequest,
        format!("a micro-op must be [\"r\", key, null] or [\"append\", key, value], not {mop}"),
    )
}

/// A transaction in flight.
#[derive(Debug)]
struct Txn {
    request: Message<Payload>,
    /// The root as read (none until it is), and whether lin-kv had one.
    root: Option<(Root, bool)>,
    /// Service requests not yet answered (thunk reads, then thunk writes).
    waiting: usize,
    /// After the thunk writes: the micro-ops as they ran, and the root to swap in.
    commit: Option<(Vec<Value>, Root)>,
}

/// What a service request is for: the transaction's id, and the step.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    ReadRoot,
    ReadThunk(String),
    WriteThunk,
    Cas,
}

/// The timers: read a thunk again.
#[derive(Debug, Clone)]
pub enum Timer {
    /// (transaction, thunk id)
    RetryThunk(u64, String),
}

/// The node.
#[derive(Debug)]
pub struct Datomic {
    flags: Flags,
    /// Thunks seen, by id: they never change.
    cache: HashMap<String, Vec<Value>>,
    /// Thunk ids written so far.
    written: u64,
    txns: HashMap<u64, Txn>,
    next_txn: u64,
    /// Service requests in flight, by msg_id.
    pending: HashMap<u64, (u64, Step)>,
}

impl Datomic {
    fn timeout(&self) -> Duration {
        Duration::from_millis(self.flags.kv_timeout_ms)
    }

    fn ask(&mut self, ctx: &mut Ctx, service: &str, body: Payload, txn: u64, step: Step) {
        let timeout = self.timeout();
        let msg_id = ctx.rpc(NodeId::new(service), body, timeout);
        self.pending.insert(msg_id, (txn, step));
    }

    /// Ends `txn` with an error to its client.
    fn abort(&mut self, ctx: &mut Ctx, txn: u64, code: ErrorCode, text: String) {
        if let Some(txn) = self.txns.remove(&txn) {
            ctx.reply(
                &txn.request,
                Payload::Error {
                    code: code.code(),
                    text,
                },
            );
        }
    }

    /// The root is read: fetch the thunks not cached, or go on.
    fn root_read(&mut self, ctx: &mut Ctx, id: u64, root: Root, existed: bool) {
        let Some(txn) = self.txns.get_mut(&id) else {
            return;
        };
        let Payload::Txn { txn: mops } = &txn.request.body.payload else {
            return;
        };
        let mut missing: Vec<String> = Vec::new();
        for mop in mops {
            let key = mop.get(1).map(Value::to_string).unwrap_or_default();
            if let Some(Value::String(thunk)) = root.get(&key)
                && !self.cache.contains_key(thunk)
                && !missing.contains(thunk)
            {
                missing.push(thunk.clone());
            }
        }
        txn.root = Some((root, existed));
        txn.waiting = missing.len();
        if missing.is_empty() {
            self.run(ctx, id);
        }
        for thunk in missing {
            self.read_thunk(ctx, id, thunk);
        }
    }

    fn read_thunk(&mut self, ctx: &mut Ctx, txn: u64, thunk: String) {
        let body = Payload::Read {
            key: Value::String(thunk.clone()),
        };
        self.ask(ctx, "lww-kv", body, txn, Step::ReadThunk(thunk));
    }

    /// Every thunk is at hand: run the micro-ops; answer a read-only transaction, or write the
    /// changed lists as new thunks.
    fn run(&mut self, ctx: &mut Ctx, id: u64) {
        let Some(txn) = self.txns.get_mut(&id) else {
            return;
        };
        let (Payload::Txn { txn: mops }, Some((root, _))) = (&txn.request.body.payload, &txn.root)
        else {
            return;
        };
        // Only the lists the micro-ops name: the root holds every key ever written.
        let mut lists: BTreeMap<String, Vec<Value>> = mops
            .iter()
            .filter_map(|mop| {
                let key = mop.get(1)?.to_string();
                let list = self.cache.get(root.get(&key)?.as_str()?)?;
                Some((key, list.clone()))
            })
            .collect();
        let (done, changed) = match apply(&mut lists, mops) {
            Ok(applied) => applied,
            Err(error) => return self.abort(ctx, id, error.code, error.text),
        };
        if changed.is_empty() {
            let request = self.txns.remove(&id).expect("in flight").request;
            ctx.reply(&request, Payload::TxnOk { txn: done });
            return;
        }
        let mut new_root = root.clone();
        let mut writes = Vec::new();
        for key in changed {
            self.written += 1;
            let thunk = format!("{}-{}", ctx.node_id(), self.written);
            let list = lists.remove(&key).unwrap_or_default();
            self.cache.insert(thunk.clone(), list.clone());
            new_root.insert(key, Value::String(thunk.clone()));
            writes.push(Payload::Write {
                key: Value::String(thunk),
                value: json!(list),
            });
        }
        txn.waiting = writes.len();
        txn.commit = Some((done, new_root));
        for write in writes {
            self.ask(ctx, "lww-kv", write, id, Step::WriteThunk);
        }
    }

    /// The new thunks are stored: swap the root.
    fn swap_root(&mut self, ctx: &mut Ctx, id: u64) {
        let Some(txn) = self.txns.get(&id) else {
            return;
        };
        let (Some((root, existed)), Some((_, new_root))) = (&txn.root, &txn.commit) else {
            return;
        };
        let body = Payload::Cas {
            key: json!(ROOT),
            from: Value::Object(root.clone()),
            to: Value::Object(new_root.clone()),
            create_if_not_exists: !existed,
        };
        self.ask(ctx, "lin-kv", body, id, Step::Cas);
    }

    /// A service's answer to the request `(id, step)`.
    fn answer(&mut self, ctx: &mut Ctx, id: u64, step: Step, payload: Payload) {
        match (step, payload) {
            (Step::ReadRoot, Payload::ReadOk { value }) => match value {
                Value::Object(root) => self.root_read(ctx, id, root, true),
                other => self.abort(
                    ctx,
                    id,
                    ErrorCode::Abort,
                    format!("lin-kv's root is not a map: {other}"),
                ),
            },
            (Step::ReadRoot, Payload::Error { code: 20, .. }) => {
                self.root_read(ctx, id, Root::new(), false);
            }
            (Step::ReadThunk(thunk), Payload::ReadOk { value }) => {
                let list = value.as_array().cloned().unwrap_or_default();
                self.cache.insert(thunk, list);
                if let Some(txn) = self.txns.get_mut(&id) {
                    txn.waiting -= 1;
                    if txn.waiting == 0 {
                        self.run(ctx, id);
                    }
                }
            }
            (Step::ReadThunk(thunk), Payload::Error { code: 20, .. }) => {
                // Not on this lww-kv replica yet: ask again shortly.
                let delay = Duration::from_millis(self.flags.retry_ms);
                ctx.set_timer(delay, Timer::RetryThunk(id, thunk));
            }
            (Step::WriteThunk, Payload::WriteOk) => {
                if let Some(txn) = self.txns.get_mut(&id) {
                    txn.waiting -= 1;
                    if txn.waiting == 0 {
                        self.swap_root(ctx, id);
                    }
                }
            }
            (Step::Cas, Payload::CasOk) => {
                if let Some(mut txn) = self.txns.remove(&id)
                    && let Some((done, _)) = txn.commit.take()
                {
                    ctx.reply(&txn.request, Payload::TxnOk { txn: done });
                }
            }
            (Step::Cas, Payload::Error { code: 22, .. }) => self.abort(
                ctx,
                id,
                ErrorCode::TxnConflict,
                "another transaction committed first; try again".into(),
            ),
            (step, other) => self.abort(
                ctx,
                id,
                ErrorCode::TemporarilyUnavailable,
                format!("a service answered {other:?} to {step:?}"),
            ),
        }
    }
}

type Ctx = Context<Payload, Timer>;

impl Node for Datomic {
    type Payload = Payload;
    type Timer = Timer;
    type Flags = Flags;

    fn new(flags: Flags) -> Self {
        Datomic {
            flags,
            cache: HashMap::new(),
            written: 0,
            txns: HashMap::new(),
            next_txn: 0,
            pending: HashMap::new(),
        }
    }

    fn on_message(&mut self, msg: Message<Payload>, ctx: &mut Ctx) -> Result<(), RpcError> {
        if let Some(answered) = msg.body.in_reply_to {
            if let Some((id, step)) = self.pending.remove(&answered) {
                self.answer(ctx, id, step, msg.body.payload);
            }
            return Ok(());
        }
        if let Payload::Txn { txn } = &msg.body.payload {
            // Refuse a malformed transaction before touching any service.
            apply(&mut BTreeMap::new(), txn)?;
            let id = self.next_txn;
            self.next_txn += 1;
            self.txns.insert(
                id,
                Txn {
                    request: msg,
                    root: None,
                    waiting: 0,
                    commit: None,
                },
            );
            let body = Payload::Read { key: json!(ROOT) };
            self.ask(ctx, "lin-kv", body, id, Step::ReadRoot);
        }
        Ok(())
    }

    fn on_timer(&mut self, timer: Timer, ctx: &mut Ctx) {
        let Timer::RetryThunk(id, thunk) = timer;
        if self.txns.contains_key(&id) {
            self.read_thunk(ctx, id, thunk);
        }
    }

    fn on_rpc_timeout(&mut self, timeout: RpcTimeout, ctx: &mut Ctx) {
        let Some((id, step)) = self.pending.remove(&timeout.msg_id) else {
            return;
        };
        if step == Step::Cas {
            // The root may or may not have been swapped: the client is left to time out.
            self.txns.remove(&id);
        } else {
            let text = format!("{} did not answer; nothing was committed", timeout.dest);
            self.abort(ctx, id, ErrorCode::TemporarilyUnavailable, text);
        }
    }
}

#[cfg(test)]
mod tests;
