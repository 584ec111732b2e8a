//! The counter workloads in the simulated cluster, with small nodes of our own: a stateless
//! g-counter over seq-kv (right with compare-and-set, wrong with a blind write), and a
//! pn-counter CRDT gossiped between nodes (right with a P and an N map per node, wrong when it
//! keeps one net figure per node and merges by maximum, which loses decrements).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use common::{Context, Message, Node, NodeId, RpcError};
use grader::checker::Validity;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

mod nodes;
use nodes::config;

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Payload {
    Add {
        delta: i64,
    },
    AddOk,
    /// A client's read (no key) and a read of seq-kv (a key).
    Read {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<String>,
    },
    ReadOk {
        value: Json,
    },
    Write {
        key: String,
        value: i64,
    },
    WriteOk,
    Cas {
        key: String,
        from: i64,
        to: i64,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        create_if_not_exists: bool,
    },
    CasOk,
    Error {
        code: u64,
        text: String,
    },
    /// pn-counter gossip: each node's increments and decrements (or net figure).
    Merge {
        p: BTreeMap<String, i64>,
        n: BTreeMap<String, i64>,
    },
}

// ---- g-counter over seq-kv ----

#[derive(Debug, Clone, clap::Args)]
struct SeqFlags {
    /// Read the total, then write total + delta without compare-and-set.
    #[arg(long)]
    blind_write: bool,
}

enum Waiting {
    /// An add's read of the total.
    AddRead(Message<Payload>, i64),
    /// An add's cas or write.
    AddWrite(Message<Payload>, i64),
    /// A client read's unique write (seq-kv's trick), then its read.
    Fresh(Message<Payload>),
    ReadTotal(Message<Payload>),
}

struct SeqCounter {
    flags: SeqFlags,
    waiting: HashMap<u64, Waiting>,
    unique: u64,
}

const TOTAL: &str = "total";
const TIMEOUT: Duration = Duration::from_secs(1);

impl SeqCounter {
    fn call(&mut self, ctx: &mut Context<Payload, ()>, payload: Payload, then: Waiting) {
        let id = ctx.rpc(NodeId::new("seq-kv"), payload, TIMEOUT);
        self.waiting.insert(id, then);
    }

    fn read_total(&mut self, ctx: &mut Context<Payload, ()>, then: Waiting) {
        let key = Some(TOTAL.to_owned());
        self.call(ctx, Payload::Read { key }, then);
    }
}

impl Node for SeqCounter {
    type Payload = Payload;
    type Timer = ();
    type Flags = SeqFlags;

    fn new(flags: SeqFlags) -> Self {
        SeqCounter {
            flags,
            waiting: HashMap::new(),
            unique: 0,
        }
    }

    fn on_message(
        &mut self,
        msg: Message<Payload>,
        ctx: &mut Context<Payload, ()>,
    ) -> Result<(), RpcError> {
        if let Some(answered) = msg.body.in_reply_to
            && let Some(waiting) = self.waiting.remove(&answered)
        {
            let payload = &msg.body.payload;
            match waiting {
                Waiting::AddRead(request, delta) => {
                    let current = match payload {
                        Payload::ReadOk { value } => value.as_i64(),
                        _ => None,
                    };
                    let to = current.unwrap_or(0) + delta;
                    let write = if self.flags.blind_write {
                        Payload::Write {
                            key: TOTAL.into(),
                            value: to,
                        }
                    } else {
                        Payload::Cas {
                            key: TOTAL.into(),
                            from: current.unwrap_or(0),
                            to,
                            create_if_not_exists: current.is_none(),
                        }
                    };
                    self.call(ctx, write, Waiting::AddWrite(request, delta));
                }
                Waiting::AddWrite(request, delta) => match payload {
                    Payload::CasOk | Payload::WriteOk => {
                        ctx.reply(&request, Payload::AddOk);
                    }
                    // A refused cas: someone else added first; read again and retry.
                    _ => self.read_total(ctx, Waiting::AddRead(request, delta)),
                },
                Waiting::Fresh(request) => self.read_total(ctx, Waiting::ReadTotal(request)),
                Waiting::ReadTotal(request) => {
                    let value = match payload {
                        Payload::ReadOk { value } => value.as_i64().unwrap_or(0),
                        _ => 0,
                    };
                    ctx.reply(
                        &request,
                        Payload::ReadOk {
                            value: value.into(),
                        },
                    );
                }
            }
            return Ok(());
        }
        match &msg.body.payload {
            Payload::Add { delta } => {
                let delta = *delta;
                self.read_total(ctx, Waiting::AddRead(msg, delta));
            }
            Payload::Read { .. } => {
                self.unique += 1;
                let key = format!("{}-{}", ctx.node_id(), self.unique);
                self.call(ctx, Payload::Write { key, value: 0 }, Waiting::Fresh(msg));
            }
            _ => {}
        }
        Ok(())
    }
}

fn g_counter(seed: u64, flags: &[&str]) -> grader::sim::SimRun {
    let flags: Vec<String> = flags.iter().map(|flag| flag.to_string()).collect();
    let config = config(&format!(
        "-w g-counter --node-count 3 --time-limit 10 --rate 20 --latency 10 --recovery 3 --seed {seed}"
    ));
    grader::sim::simulate::<SeqCounter>(&config, &flags).unwrap()
}

#[test]
fn a_stateless_g_counter_with_compare_and_set_is_valid_and_every_node_reads_the_sum() {
    for seed in 1..=3 {
        let run = g_counter(seed, &[]);
        assert_eq!(run.report.valid, Validity::Valid, "{}", run.summary);
        let reads = run.report.figure("/workload/final_reads").unwrap();
        assert_eq!(reads.as_array().unwrap().len(), 3, "{}", run.summary);
        assert!(
            run.summary.contains("final      expected "),
            "{}",
            run.summary
        );
        assert!(run.report.net.service_requests["seq-kv"]["cas"] > 0);
    }
}

#[test]
fn a_g_counter_that_reads_then_writes_without_cas_loses_adds() {
    let mut invalid = 0;
    for seed in 1..=3 {
        let run = g_counter(seed, &["--blind-write"]);
        if run.report.valid == Validity::Invalid {
            invalid += 1;
            let reason = run.report.reasons.join("\n");
            assert!(
                reason.contains("show a total the adds cannot explain"),
                "{reason}"
            );
        }
    }
    assert_eq!(invalid, 3, "every seed loses an add to a concurrent write");
}

// ---- pn-counter as a CRDT ----

#[derive(Debug, Clone, clap::Args)]
struct PnFlags {
    /// Keep one net figure per node and merge by maximum (loses decrements).
    #[arg(long)]
    net_max: bool,
}

struct PnCounter {
    flags: PnFlags,
    p: BTreeMap<String, i64>,
    n: BTreeMap<String, i64>,
}

impl PnCounter {
    fn merge(mine: &mut BTreeMap<String, i64>, theirs: &BTreeMap<String, i64>) {
        for (node, count) in theirs {
            let kept = mine.entry(node.clone()).or_insert(*count);
            *kept = (*kept).max(*count);
        }
    }
}

impl Node for PnCounter {
    type Payload = Payload;
    type Timer = ();
    type Flags = PnFlags;

    fn new(flags: PnFlags) -> Self {
        PnCounter {
            flags,
            p: BTreeMap::new(),
            n: BTreeMap::new(),
        }
    }

    fn on_init(&mut self, ctx: &mut Context<Payload, ()>) {
        ctx.every(Duration::from_millis(200), ());
    }

    fn on_timer(&mut self, _: (), ctx: &mut Context<Payload, ()>) {
        for peer in ctx.peers() {
            let merge = Payload::Merge {
                p: self.p.clone(),
                n: self.n.clone(),
            };
            ctx.send(peer, merge);
        }
    }

    fn on_message(
        &mut self,
        msg: Message<Payload>,
        ctx: &mut Context<Payload, ()>,
    ) -> Result<(), RpcError> {
        let me = ctx.node_id().to_string();
        match &msg.body.payload {
            Payload::Add { delta } => {
                if *delta >= 0 || self.flags.net_max {
                    *self.p.entry(me).or_default() += delta;
                } else {
                    *self.n.entry(me).or_default() -= delta;
                }
                ctx.reply(&msg, Payload::AddOk);
            }
            Payload::Read { .. } => {
                let value: i64 = self.p.values().sum::<i64>() - self.n.values().sum::<i64>();
                ctx.reply(
                    &msg,
                    Payload::ReadOk {
                        value: value.into(),
                    },
                );
            }
            Payload::Merge { p, n } => {
                Self::merge(&mut self.p, p);
                Self::merge(&mut self.n, n);
            }
            _ => {}
        }
        Ok(())
    }
}

fn pn_counter(seed: u64, flags: &[&str]) -> grader::sim::SimRun {
    let flags: Vec<String> = flags.iter().map(|flag| flag.to_string()).collect();
    let config = config(&format!(
        "-w pn-counter --node-count 3 --time-limit 10 --rate 20 --latency 10 --recovery 3 --nemesis partition --nemesis-interval 2 --seed {seed}"
    ));
    grader::sim::simulate::<PnCounter>(&config, &flags).unwrap()
}

#[test]
fn a_pn_counter_crdt_is_valid_under_partitions() {
    for seed in 1..=3 {
        let run = pn_counter(seed, &[]);
        assert_eq!(run.report.valid, Validity::Valid, "{}", run.summary);
    }
}

#[test]
fn a_pn_counter_that_merges_net_figures_by_maximum_loses_decrements() {
    let run = pn_counter(1, &["--net-max"]);
    assert_eq!(run.report.valid, Validity::Invalid, "{}", run.summary);
    let reason = run.report.reasons.join("\n");
    assert!(
        reason.contains("final read(s) show a total the adds cannot explain; the first: n"),
        "{reason}"
    );
}
