//! Mistaken logs beside the reference, each judged invalid with its anomaly named: one that
//! acknowledges some sends it never stores, one that gives two sends the same offset, and one
//! whose polls start a message early, so a client's next poll goes back over what it saw.

use common::{Context, Message, NoFlags, NoTimer, Node, RpcError};
use glomers_5a_kafka::{Commits, Logs, Offsets, Payload};
use grader::checker::Validity;
use grader::sim::simulate_command;

/// What a mistaken log does wrong.
trait Mistake: Default + 'static {
    /// The answer to a send, given the logs.
    fn send(logs: &mut Logs, key: &str, msg: serde_json::Value) -> u64;
    /// The offsets a poll really reads from.
    fn poll_from(offsets: &Offsets) -> Offsets {
        offsets.clone()
    }
}

/// A single-node log with one mistake.
#[derive(Default)]
struct Mistaken<M: Mistake> {
    logs: Logs,
    commits: Commits,
    _mistake: M,
}

impl<M: Mistake> Node for Mistaken<M> {
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
        if let Some(answer) = msg.body.payload.answer_commits(&mut self.commits) {
            ctx.reply(&msg, answer);
            return Ok(());
        }
        let answer = match &msg.body.payload {
            Payload::Send { key, msg: message } => Payload::SendOk {
                offset: M::send(&mut self.logs, key, message.clone()),
            },
            Payload::Poll { offsets } => Payload::PollOk {
                msgs: self.logs.poll(&M::poll_from(offsets)),
            },
            _ => return Ok(()),
        };
        ctx.reply(&msg, answer);
        Ok(())
    }
}

/// Acknowledges every fifth message (by value) without storing it, at an offset past the end.
#[derive(Default)]
struct ForgetsSome;

impl Mistake for ForgetsSome {
    fn send(logs: &mut Logs, key: &str, msg: serde_json::Value) -> u64 {
        if msg.as_i64().is_some_and(|msg| msg % 5 == 3) {
            logs.len(key) + 1_000
        } else {
            logs.append(key, msg)
        }
    }
}

/// Stores every message but answers the offset before it (two sends share offsets).
#[derive(Default)]
struct OffByOne;

impl Mistake for OffByOne {
    fn send(logs: &mut Logs, key: &str, msg: serde_json::Value) -> u64 {
        logs.append(key, msg).saturating_sub(1)
    }
}

/// Polls from one offset before the one asked.
#[derive(Default)]
struct PollsBack;

impl Mistake for PollsBack {
    fn send(logs: &mut Logs, key: &str, msg: serde_json::Value) -> u64 {
        logs.append(key, msg)
    }

    fn poll_from(offsets: &Offsets) -> Offsets {
        offsets
            .iter()
            .map(|(key, offset)| (key.clone(), offset.saturating_sub(1)))
            .collect()
    }
}

/// Runs Fly.io's 5a command (shorter) on `N`: invalid, and every expected class is in the
/// summary's reasons.
fn judged_invalid_for<N: Node>(classes: &[&str]) {
    let run = simulate_command::<N>(
        "-w kafka --node-count 1 --concurrency 2n --time-limit 5 --rate 200 --seed 1",
    );
    assert_eq!(run.report.valid, Validity::Invalid, "{}", run.summary);
    for class in classes {
        assert!(
            run.report
                .reasons
                .iter()
                .any(|reason| reason.starts_with(class)),
            "{class} not among the reasons: {:?}",
            run.report.reasons
        );
        assert!(run.summary.contains(class), "{}", run.summary);
    }
}

#[test]
fn a_log_that_acknowledges_sends_it_never_stores_has_unseen_messages() {
    judged_invalid_for::<Mistaken<ForgetsSome>>(&["unseen", "nonmonotonic-send"]);
}

#[test]
fn a_log_that_gives_two_sends_one_offset_has_inconsistent_offsets() {
    judged_invalid_for::<Mistaken<OffByOne>>(&["inconsistent-offsets", "duplicate"]);
}

#[test]
fn a_log_whose_polls_go_back_is_nonmonotonic() {
    judged_invalid_for::<Mistaken<PollsBack>>(&["nonmonotonic-poll"]);
}
