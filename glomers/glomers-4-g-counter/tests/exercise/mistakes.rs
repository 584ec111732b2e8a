//! A mistaken counter beside the reference: it reads the total and writes total + delta without
//! compare-and-set, so two adds that read the same total both write, and one is lost. The
//! grader must judge it invalid and say why.

use std::collections::HashMap;
use std::time::Duration;

use common::{Context, Message, NoFlags, NoTimer, Node, NodeId, RpcError};
use glomers_4_g_counter::{Payload, TOTAL};
use grader::checker::Validity;

/// Reads, then writes blindly; reads answer straight from seq-kv.
#[derive(Default)]
struct BlindWrite {
    /// Per seq-kv request in flight: the client's request, and the delta when it is an add.
    waiting: HashMap<u64, (Message<Payload>, Option<i64>)>,
}

impl BlindWrite {
    fn ask(
        &mut self,
        ctx: &mut Context<Payload, NoTimer>,
        body: Payload,
        then: (Message<Payload>, Option<i64>),
    ) {
        let msg_id = ctx.rpc(NodeId::new("seq-kv"), body, Duration::from_secs(1));
        self.waiting.insert(msg_id, then);
    }
}

impl Node for BlindWrite {
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
        let read_total = || Payload::Read {
            key: Some(TOTAL.to_owned()),
        };
        if let Some(answered) = msg.body.in_reply_to {
            let Some((request, delta)) = self.waiting.remove(&answered) else {
                return Ok(());
            };
            let value = match msg.body.payload {
                Payload::ReadOk { value } => value,
                _ => 0,
            };
            match delta {
                // The add's read came back: write total + delta, whatever happened meanwhile.
                Some(delta) => {
                    let write = Payload::Write {
                        key: TOTAL.to_owned(),
                        value: (value + delta).into(),
                    };
                    self.ask(ctx, write, (request, None));
                }
                // A write_ok (add) or a read_ok (read): answer the client.
                None => match request.body.payload {
                    Payload::Add { .. } => {
                        ctx.reply(&request, Payload::AddOk);
                    }
                    _ => {
                        ctx.reply(&request, Payload::ReadOk { value });
                    }
                },
            }
            return Ok(());
        }
        match &msg.body.payload {
            Payload::Add { delta } => {
                let delta = *delta;
                self.ask(ctx, read_total(), (msg, Some(delta)));
            }
            Payload::Read { key: None } => self.ask(ctx, read_total(), (msg, None)),
            _ => {}
        }
        Ok(())
    }
}

#[test]
fn a_counter_that_writes_without_compare_and_set_loses_adds_and_is_told_so() {
    let mut invalid = 0;
    for seed in 1..=3 {
        let run = grader::sim::simulate_command::<BlindWrite>(&format!(
            "-w g-counter --node-count 3 --time-limit 10 --rate 20 --latency 10 --recovery 3 --seed {seed}"
        ));
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
