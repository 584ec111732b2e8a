//! Two mistaken stores beside the reference, each judged invalid under read-committed, the
//! weakest model that forbids what they show: one that aborts transactions without rolling
//! their appends back (others read what never committed: G1a), and one that runs
//! transactions side by side with no isolation, a micro-op at a time (others read a list
//! half-way through a transaction: G1b).

use std::collections::BTreeMap;
use std::time::Duration;

use common::{Context, ErrorCode, Message, NoFlags, NoTimer, Node, RpcError};
use grader::checker::Validity;
use grader::sim::simulate_command;
use guide_5_datomic::{Payload, apply};
use serde_json::Value;

/// Answers every fourth transaction that appends with error 30, but keeps its appends.
#[derive(Default)]
struct NoRollback {
    lists: BTreeMap<String, Vec<Value>>,
    appending: u64,
}

impl Node for NoRollback {
    type Payload = Payload;
    type Timer = NoTimer;
    type Flags = NoFlags;

    fn new(_: NoFlags) -> Self {
        Self::default()
    }

    fn on_message(
        &mut self,
        msg: Message<Payload>,
        ctx: &mut Context<Payload, NoTimer>,
    ) -> Result<(), RpcError> {
        let Payload::Txn { txn } = &msg.body.payload else {
            return Ok(());
        };
        let (done, changed) = apply(&mut self.lists, txn)?;
        if !changed.is_empty() {
            self.appending += 1;
            if self.appending.is_multiple_of(4) {
                // The mistake: the conflict is reported, the appends stay.
                return Err(RpcError::new(ErrorCode::TxnConflict, "conflict"));
            }
        }
        ctx.reply(&msg, Payload::TxnOk { txn: done });
        Ok(())
    }
}

/// Runs every transaction in flight a micro-op per millisecond, on the one shared map.
#[derive(Default)]
struct NoIsolation {
    lists: BTreeMap<String, Vec<Value>>,
    /// Each transaction in flight: its request, and the micro-ops done so far.
    running: Vec<(Message<Payload>, Vec<Value>)>,
}

impl Node for NoIsolation {
    type Payload = Payload;
    type Timer = ();
    type Flags = NoFlags;

    fn new(_: NoFlags) -> Self {
        Self::default()
    }

    fn on_message(
        &mut self,
        msg: Message<Payload>,
        ctx: &mut Context<Payload, ()>,
    ) -> Result<(), RpcError> {
        if matches!(msg.body.payload, Payload::Txn { .. }) {
            if self.running.is_empty() {
                ctx.set_timer(Duration::from_millis(1), ());
            }
            self.running.push((msg, Vec::new()));
        }
        Ok(())
    }

    fn on_timer(&mut self, (): (), ctx: &mut Context<Payload, ()>) {
        for (request, done) in std::mem::take(&mut self.running) {
            let Payload::Txn { txn } = &request.body.payload else {
                continue;
            };
            let mut done = done;
            let next = &txn[done.len()..=done.len()];
            // The mistake: each step lands on the shared map at once, seen by every other.
            if let Ok((step, _)) = apply(&mut self.lists, next) {
                done.extend(step);
            }
            if done.len() == txn.len() {
                ctx.reply(&request, Payload::TxnOk { txn: done });
            } else {
                self.running.push((request, done));
            }
        }
        if !self.running.is_empty() {
            ctx.set_timer(Duration::from_millis(1), ());
        }
    }
}

/// Runs `N` on one node under read-committed and returns its anomaly types, checking it
/// invalid.
fn invalid_under_read_committed<N: Node + 'static>() -> Vec<String> {
    let run = simulate_command::<N>(
        "-w txn-list-append --node-count 1 --concurrency 4 --rate 200 --time-limit 5 --consistency-models read-committed --seed 1",
    );
    assert_eq!(run.report.valid, Validity::Invalid, "{}", run.summary);
    let types: Vec<String> = run
        .results
        .pointer("/workload/anomaly_types")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| t.as_str().map(str::to_owned))
        .collect();
    assert!(
        run.summary.contains("read-committed forbids"),
        "{}",
        run.summary
    );
    types
}

#[test]
fn a_store_that_aborts_without_rolling_back_shows_aborted_reads() {
    let types = invalid_under_read_committed::<NoRollback>();
    assert!(types.contains(&"G1a".to_owned()), "{types:?}");
}

#[test]
fn a_store_without_isolation_shows_intermediate_reads() {
    let types = invalid_under_read_committed::<NoIsolation>();
    assert!(types.contains(&"G1b".to_owned()), "{types:?}");
}
