//! Mistakes the harness recognises in a run, each shown by a small mistaken node beside a
//! corrected one: the mistaken node's run is invalid and its reasons name the mistake; the
//! corrected node's run is valid and names none.

use std::collections::BTreeSet;
use std::time::Duration;

use common::{Context, Message, Node, RpcError};
use grader::checker::Validity;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::nodes::config;

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Payload {
    Broadcast { message: i64 },
    BroadcastOk,
    Read,
    ReadOk { messages: BTreeSet<i64> },
    Topology { topology: Json },
    TopologyOk,
    Gossip { message: i64 },
    Sync { messages: BTreeSet<i64> },
}

#[derive(Debug, Clone, clap::Args)]
struct Flags {
    /// Send every peer everything known every this many ms (0: never; the mistake).
    #[arg(long, default_value_t = 0)]
    resend_ms: u64,
}

#[derive(Debug, Clone)]
struct Resend;

/// Floods each new value to every peer once; with `--resend-ms`, also pushes its whole set.
struct Flood {
    flags: Flags,
    known: BTreeSet<i64>,
}

impl Flood {
    fn learn(&mut self, message: i64, ctx: &mut Context<Payload, Resend>) {
        if self.known.insert(message) {
            for peer in ctx.peers() {
                ctx.send(peer, Payload::Gossip { message });
            }
        }
    }
}

impl Node for Flood {
    type Payload = Payload;
    type Timer = Resend;
    type Flags = Flags;

    fn new(flags: Flags) -> Self {
        Flood {
            flags,
            known: BTreeSet::new(),
        }
    }

    fn on_init(&mut self, ctx: &mut Context<Payload, Resend>) {
        if self.flags.resend_ms > 0 {
            ctx.every(Duration::from_millis(self.flags.resend_ms), Resend);
        }
    }

    fn on_timer(&mut self, _: Resend, ctx: &mut Context<Payload, Resend>) {
        for peer in ctx.peers() {
            let messages = self.known.clone();
            ctx.send(peer, Payload::Sync { messages });
        }
    }

    fn on_message(
        &mut self,
        msg: Message<Payload>,
        ctx: &mut Context<Payload, Resend>,
    ) -> Result<(), RpcError> {
        match &msg.body.payload {
            Payload::Broadcast { message } => {
                self.learn(*message, ctx);
                ctx.reply(&msg, Payload::BroadcastOk);
            }
            Payload::Read => {
                let messages = self.known.clone();
                ctx.reply(&msg, Payload::ReadOk { messages });
            }
            Payload::Topology { .. } => {
                ctx.reply(&msg, Payload::TopologyOk);
            }
            Payload::Gossip { message } => self.learn(*message, ctx),
            Payload::Sync { messages } => {
                for message in messages {
                    self.learn(*message, ctx);
                }
            }
            _ => {}
        }
        Ok(())
    }
}

fn run(node_flags: &[&str]) -> grader::sim::SimRun {
    let flags = "-w broadcast --node-count 5 --time-limit 10 --rate 20 --recovery 3 --nemesis partition --nemesis-interval 2 --seed 1";
    let node_flags: Vec<String> = node_flags.iter().map(|flag| flag.to_string()).collect();
    grader::sim::simulate::<Flood>(&config(flags), &node_flags).unwrap()
}

#[test]
fn a_node_that_never_resends_is_told_so_under_partitions_and_one_that_does_is_not() {
    let silent = run(&[]);
    assert_eq!(silent.report.valid, Validity::Invalid, "{}", silent.summary);
    let keys: Vec<&str> = silent.report.mistakes.iter().map(|m| m.key).collect();
    assert_eq!(keys, ["never-resend"], "{}", silent.summary);
    assert!(
        silent
            .summary
            .contains("looks like the mistake of never re-sending what a partition dropped"),
        "{}",
        silent.summary
    );
    assert_eq!(silent.results["mistakes"][0]["key"], "never-resend");

    let resending = run(&["--resend-ms", "500"]);
    assert_eq!(
        resending.report.valid,
        Validity::Valid,
        "{}",
        resending.summary
    );
    assert!(resending.report.mistakes.is_empty());
    assert!(resending.report.net.servers_after_heal.unwrap_or(0) > 0);
}
