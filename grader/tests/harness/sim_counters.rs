//! The pn-counter workload in the simulated cluster, with a mistaken CRDT of our own: one net
//! figure per node merged by maximum, which loses decrements. The right PN-counter is the Glomers
//! track's reference node (`glomers/guide-4-pn-counter`), and the g-counter's mistaken node (a
//! blind write on seq-kv) sits beside its reference node (`glomers/glomers-4-g-counter`).

use std::collections::BTreeMap;
use std::time::Duration;

use common::{Context, Message, NoFlags, Node, RpcError};
use grader::checker::Validity;
use serde::{Deserialize, Serialize};

use crate::nodes::config;

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Payload {
    Add {
        delta: i64,
    },
    AddOk,
    Read,
    ReadOk {
        value: i64,
    },
    /// Each node's net figure.
    Merge {
        net: BTreeMap<String, i64>,
    },
}

/// A counter that keeps one net figure per node and merges by maximum: after +5 then −3 its own
/// figure falls to 2, and a peer that saw 5 keeps 5.
struct NetMax {
    net: BTreeMap<String, i64>,
}

impl Node for NetMax {
    type Payload = Payload;
    type Timer = ();
    type Flags = NoFlags;

    fn new(_: NoFlags) -> Self {
        NetMax {
            net: BTreeMap::new(),
        }
    }

    fn on_init(&mut self, ctx: &mut Context<Payload, ()>) {
        ctx.every(Duration::from_millis(200), ());
    }

    fn on_timer(&mut self, _: (), ctx: &mut Context<Payload, ()>) {
        for peer in ctx.peers() {
            let net = self.net.clone();
            ctx.send(peer, Payload::Merge { net });
        }
    }

    fn on_message(
        &mut self,
        msg: Message<Payload>,
        ctx: &mut Context<Payload, ()>,
    ) -> Result<(), RpcError> {
        match &msg.body.payload {
            Payload::Add { delta } => {
                *self.net.entry(ctx.node_id().to_string()).or_default() += delta;
                ctx.reply(&msg, Payload::AddOk);
            }
            Payload::Read => {
                let value = self.net.values().sum();
                ctx.reply(&msg, Payload::ReadOk { value });
            }
            Payload::Merge { net } => {
                for (node, &figure) in net {
                    let kept = self.net.entry(node.clone()).or_insert(figure);
                    *kept = (*kept).max(figure);
                }
            }
            Payload::AddOk | Payload::ReadOk { .. } => {}
        }
        Ok(())
    }
}

#[test]
fn a_pn_counter_that_merges_net_figures_by_maximum_loses_decrements() {
    let config = config(
        "-w pn-counter --node-count 3 --time-limit 10 --rate 20 --latency 10 --recovery 3 --nemesis partition --nemesis-interval 2 --seed 1",
    );
    let run = grader::sim::simulate::<NetMax>(&config, &[]).unwrap();
    assert_eq!(run.report.valid, Validity::Invalid, "{}", run.summary);
    let reason = run.report.reasons.join("\n");
    assert!(
        reason.contains("final read(s) show a total the adds cannot explain; the first: n"),
        "{reason}"
    );
    assert!(
        run.summary.contains("final      expected "),
        "the summary shows the expected bounds: {}",
        run.summary
    );
}
