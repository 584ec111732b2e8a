//! A trivial node for benchmarking the harness: it keeps `--tokens` messages per node bouncing
//! between random peers, forever, answers the broadcast workload by storing values (without
//! spreading them) and answers unique-ids with its id and a counter. Its own work per message
//! is tiny, so a run measures the harness.

use std::collections::BTreeSet;
use std::process::ExitCode;

use common::{Context, Message, NoTimer, Node, RpcError, Value};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Payload {
    Chat { hops: u64 },
    Topology { topology: serde_json::Value },
    TopologyOk,
    Broadcast { message: Value },
    BroadcastOk,
    Read,
    ReadOk { messages: Vec<Value> },
    Generate,
    GenerateOk { id: String },
}

#[derive(Debug, Clone, clap::Args)]
struct Flags {
    /// Messages each node starts bouncing around at init.
    #[arg(long, default_value_t = 4)]
    tokens: u64,
}

struct Chatter {
    tokens: u64,
    values: BTreeSet<Value>,
    generated: u64,
}

impl Chatter {
    fn pass_on(ctx: &mut Context<Payload, NoTimer>, hops: u64) {
        if let Some(peer) = ctx.random_peer() {
            ctx.send(peer, Payload::Chat { hops });
        }
    }
}

impl Node for Chatter {
    type Payload = Payload;
    type Timer = NoTimer;
    type Flags = Flags;

    fn new(flags: Flags) -> Self {
        Self {
            tokens: flags.tokens,
            values: BTreeSet::new(),
            generated: 0,
        }
    }

    fn on_init(&mut self, ctx: &mut Context<Payload, NoTimer>) {
        for _ in 0..self.tokens {
            Self::pass_on(ctx, 0);
        }
    }

    fn on_message(
        &mut self,
        msg: Message<Payload>,
        ctx: &mut Context<Payload, NoTimer>,
    ) -> Result<(), RpcError> {
        match &msg.body.payload {
            Payload::Chat { hops } => Self::pass_on(ctx, hops + 1),
            Payload::Topology { .. } => {
                ctx.reply(&msg, Payload::TopologyOk);
            }
            Payload::Broadcast { message } => {
                self.values.insert(message.clone());
                ctx.reply(&msg, Payload::BroadcastOk);
            }
            Payload::Generate => {
                self.generated += 1;
                let id = format!("{}-{}", ctx.node_id(), self.generated);
                ctx.reply(&msg, Payload::GenerateOk { id });
            }
            Payload::Read => {
                let messages = self.values.iter().cloned().collect();
                ctx.reply(&msg, Payload::ReadOk { messages });
            }
            _ => {}
        }
        Ok(())
    }
}

fn main() -> ExitCode {
    common::main::<Chatter>(
        "chatter-node",
        "A benchmark node that keeps messages bouncing between random peers.",
    )
}
