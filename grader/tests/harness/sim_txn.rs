//! The txn-list-append workload in the simulated cluster, with small nodes of our own: one node
//! applying each transaction atomically is strict-serializable; a node that answers some
//! transactions with an abort but keeps their appends shows aborted reads (G1a) under
//! read-committed; two nodes that never share their state are not serializable; and a node
//! that drops micro-ops from its replies passes Maelstrom's verdict with a warning and fails
//! the strict one, as does one that applies a transaction's appends out of their order; a node
//! whose `txn_ok` carries no list of micro-ops has every reply refused,
//! with the reply quoted; and Fly.io's 6a command runs txn-rw-register on a register node.

use std::collections::BTreeMap;

use common::{Context, ErrorCode, Message, NoTimer, Node, RpcError};
use grader::checker::Validity;
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use crate::nodes::config;

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Payload {
    Txn { txn: Vec<Json> },
    TxnOk { txn: Json },
}

#[derive(Debug, Clone, clap::Args)]
struct Flags {
    /// Answer every fifth transaction with error 30, keeping its appends.
    #[arg(long)]
    dirty_aborts: bool,
    /// Leave reads out of the replies.
    #[arg(long)]
    drop_reads: bool,
    /// Serve txn-rw-register (a read returns the last value written).
    #[arg(long)]
    registers: bool,
    /// Answer `txn_ok` with a `txn` that is not a list.
    #[arg(long)]
    txn_not_a_list: bool,
    /// Apply a transaction's appends last, in reverse order.
    #[arg(long)]
    reverse_appends: bool,
}

/// What a read returns: the whole list (txn-list-append), or its last element as the
/// register's value (txn-rw-register).
fn read(list: Option<&Vec<Json>>, registers: bool) -> Json {
    match (list, registers) {
        (None, _) => Json::Null,
        (Some(list), true) => list.last().cloned().unwrap_or(Json::Null),
        (Some(list), false) => json!(list),
    }
}

/// A key-value store of lists on one node, each transaction applied at once.
struct Lists {
    flags: Flags,
    /// Serve txn-rw-register: a read returns the key's last write.
    registers: bool,
    lists: BTreeMap<String, Vec<Json>>,
    count: u64,
}

impl Node for Lists {
    type Payload = Payload;
    type Timer = NoTimer;
    type Flags = Flags;

    fn new(flags: Flags) -> Self {
        Lists {
            registers: flags.registers,
            flags,
            lists: BTreeMap::new(),
            count: 0,
        }
    }

    fn on_message(
        &mut self,
        msg: Message<Payload>,
        ctx: &mut Context<Payload, NoTimer>,
    ) -> Result<(), RpcError> {
        let Payload::Txn { txn } = &msg.body.payload else {
            return Ok(());
        };
        self.count += 1;
        let mut done = Vec::new();
        let mut held = Vec::new();
        for mop in txn {
            let key = mop[1].to_string();
            match mop[0].as_str() {
                Some("append" | "w") if self.flags.reverse_appends => {
                    held.push((key, mop[2].clone()));
                    done.push(mop.clone());
                }
                Some("append" | "w") => {
                    self.lists.entry(key).or_default().push(mop[2].clone());
                    done.push(mop.clone());
                }
                _ if self.flags.drop_reads => {}
                _ => {
                    done.push(json!([
                        "r",
                        mop[1],
                        read(self.lists.get(&key), self.registers)
                    ]));
                }
            }
        }
        for (key, value) in held.into_iter().rev() {
            self.lists.entry(key).or_default().push(value);
        }
        if self.flags.dirty_aborts && self.count.is_multiple_of(5) {
            return Err(RpcError::new(
                ErrorCode::TxnConflict,
                "aborted (but its appends stay)",
            ));
        }
        let txn = if self.flags.txn_not_a_list {
            json!("done")
        } else {
            json!(done)
        };
        ctx.reply(&msg, Payload::TxnOk { txn });
        Ok(())
    }
}

fn run(flags: &str, node_flags: &[&str]) -> grader::sim::SimRun {
    let node_flags: Vec<String> = node_flags.iter().map(|flag| flag.to_string()).collect();
    grader::sim::simulate::<Lists>(&config(flags), &node_flags).unwrap()
}

#[test]
fn one_node_applying_transactions_whole_is_strict_serializable() {
    let run = run(
        "-w txn-list-append --node-count 1 --concurrency 4 --rate 100 --time-limit 5 --seed 1",
        &[],
    );
    assert_eq!(run.report.valid, Validity::Valid, "{}", run.summary);
    let count = run.report.figure_u64("/workload/txn_count").unwrap();
    assert!(count > 300, "{count} transactions\n{}", run.summary);
    assert!(run.summary.contains("no anomalies"), "{}", run.summary);
}

#[test]
fn aborted_appends_that_stay_visible_are_g1a_under_read_committed() {
    let command = "-w txn-list-append --node-count 1 --concurrency 4 --rate 100 --time-limit 5 --seed 1 --consistency-models read-committed";
    let run = run(command, &["--dirty-aborts"]);
    assert_eq!(run.report.valid, Validity::Invalid, "{}", run.summary);
    assert!(
        run.report
            .reasons
            .iter()
            .any(|r| r.starts_with("G1a, which read-committed forbids")),
        "{:?}",
        run.report.reasons
    );
    // Read-uncommitted allows it.
    let lenient = run_with_models("read-uncommitted");
    assert_eq!(lenient.report.valid, Validity::Valid, "{}", lenient.summary);
}

fn run_with_models(models: &str) -> grader::sim::SimRun {
    run(
        &format!(
            "-w txn-list-append --node-count 1 --concurrency 4 --rate 100 --time-limit 5 --seed 1 --consistency-models {models}"
        ),
        &["--dirty-aborts"],
    )
}

#[test]
fn two_nodes_that_never_share_their_lists_are_not_serializable() {
    let run = run(
        "-w txn-list-append --node-count 2 --concurrency 2n --rate 100 --time-limit 5 --seed 1 --consistency-models serializable",
        &[],
    );
    assert_eq!(run.report.valid, Validity::Invalid, "{}", run.summary);
    assert!(
        run.summary.contains("incompatible-order"),
        "two lists that diverge cannot be one: {}",
        run.summary
    );
}

#[test]
fn replies_without_their_reads_warn_and_fail_strict_mode() {
    let lenient = run(
        "-w txn-list-append --node-count 1 --concurrency 2 --rate 50 --time-limit 3 --seed 1",
        &["--drop-reads"],
    );
    assert_eq!(lenient.report.valid, Validity::Valid, "{}", lenient.summary);
    assert!(
        lenient
            .summary
            .contains("did not carry the request's micro-ops back"),
        "{}",
        lenient.summary
    );
    let strict = run(
        "-w txn-list-append --node-count 1 --concurrency 2 --rate 50 --time-limit 3 --seed 1 --workload-options strict=true",
        &["--drop-reads"],
    );
    assert_eq!(strict.report.valid, Validity::Invalid, "{}", strict.summary);
}

#[test]
fn appends_held_out_of_their_order_keep_elles_verdict_with_a_warning_and_fail_strict_mode() {
    // Under read-uncommitted, which its stale own reads (internal) and the reads that end in
    // the middle of a reversed run (G1b, as Elle sees them) do not break.
    let command = "-w txn-list-append --node-count 1 --concurrency 2 --rate 100 --time-limit 3 --seed 1 --consistency-models read-uncommitted";
    let lenient = run(command, &["--reverse-appends"]);
    assert_eq!(lenient.report.valid, Validity::Valid, "{}", lenient.summary);
    assert!(
        lenient.summary.contains("warning: ")
            && lenient
                .summary
                .contains("whose own appends a key's list holds out of their order"),
        "{}",
        lenient.summary
    );
    let strict = run(
        &format!("{command} --workload-options strict=true"),
        &["--reverse-appends"],
    );
    assert_eq!(strict.report.valid, Validity::Invalid, "{}", strict.summary);
    assert!(
        strict
            .report
            .reasons
            .iter()
            .any(|r| r.contains("out of their order")),
        "{:?}",
        strict.report.reasons
    );
}

#[test]
fn a_txn_ok_whose_txn_is_not_a_list_is_refused_and_said_so() {
    let run = run(
        "-w txn-list-append --node-count 1 --concurrency 2 --rate 50 --time-limit 2 --seed 1",
        &["--txn-not-a-list"],
    );
    assert_ne!(run.report.valid, Validity::Valid, "{}", run.summary);
    assert!(
        run.summary
            .contains("txn_ok's `txn` must be a list of micro-ops, not \"done\""),
        "{}",
        run.summary
    );
}

#[test]
fn fly_ios_6a_command_runs_txn_rw_register_and_one_atomic_node_passes() {
    // Fly.io's 6a: --node-count 1 --time-limit 20 --rate 1000 --concurrency 2n
    // --consistency-models read-uncommitted --availability total (shortened here).
    let run = run(
        "-w txn-rw-register --node-count 1 --time-limit 3 --rate 200 --concurrency 2n --consistency-models read-uncommitted --availability total --seed 1",
        &["--registers"],
    );
    assert_eq!(run.report.valid, Validity::Valid, "{}", run.summary);
    assert!(
        run.summary.contains("write cycles (G0) cannot be seen"),
        "{}",
        run.summary
    );
    // Held to serializability, the same node passes too: it applies each transaction whole.
    let strict = run_models_registers("serializable");
    assert_eq!(strict.report.valid, Validity::Valid, "{}", strict.summary);
}

fn run_models_registers(models: &str) -> grader::sim::SimRun {
    run(
        &format!(
            "-w txn-rw-register --node-count 1 --time-limit 3 --rate 200 --concurrency 2n --consistency-models {models} --seed 2"
        ),
        &["--registers"],
    )
}
