//! The mistake the guide warns of: reads answered from a node's own copy of the map, without
//! the leader's confirmation. A follower that has not heard the latest commit, or a leader
//! deposed in a partition it cannot see, answers a value already overwritten: the checker finds
//! the stale read and `report.html` draws the window no order explains.

use common::{Context, Message, Node, RpcError, RpcTimeout};
use grader::checker::Validity;
use grader::sim::simulate_command;
use guide_6_raft::{Payload, Raft, Timer};

/// The reference node, except that every node answers reads itself from what it has applied.
struct LocalReads(Raft);

impl Node for LocalReads {
    type Payload = Payload;
    type Timer = Timer;
    type Flags = <Raft as Node>::Flags;

    fn new(flags: Self::Flags) -> Self {
        LocalReads(Raft::new(flags))
    }

    fn on_init(&mut self, ctx: &mut Context<Payload, Timer>) {
        self.0.on_init(ctx);
    }

    fn on_timer(&mut self, timer: Timer, ctx: &mut Context<Payload, Timer>) {
        self.0.on_timer(timer, ctx);
    }

    fn on_rpc_timeout(&mut self, timeout: RpcTimeout, ctx: &mut Context<Payload, Timer>) {
        self.0.on_rpc_timeout(timeout, ctx);
    }

    fn on_message(
        &mut self,
        msg: Message<Payload>,
        ctx: &mut Context<Payload, Timer>,
    ) -> Result<(), RpcError> {
        if let Payload::Read { key } = &msg.body.payload {
            let answer = match self.0.store().get(key) {
                Some(value) => Payload::ReadOk {
                    value: value.clone(),
                },
                None => Payload::Error {
                    code: 20,
                    text: "key does not exist".into(),
                },
            };
            ctx.reply(&msg, answer);
            return Ok(());
        }
        self.0.on_message(msg, ctx)
    }
}

#[test]
fn reads_from_a_nodes_own_copy_are_stale_and_the_report_draws_why() {
    let run = simulate_command::<LocalReads>(
        "-w lin-kv --node-count 3 --concurrency 2n --rate 100 --time-limit 10 --nemesis partition --nemesis-interval 3 --latency 5 --seed 1",
    );
    assert_eq!(run.report.valid, Validity::Invalid, "{}", run.summary);
    assert!(
        run.summary.contains("not linearizable: key"),
        "{}",
        run.summary
    );

    // The report page, written from the run's store as `grader test` writes it.
    let store = tempfile::tempdir().unwrap();
    grader::results::store::write_store(store.path(), &run.report, &run.results).unwrap();
    std::fs::write(store.path().join("journal.jsonl"), &run.journal).unwrap();
    let page = grader::results::report::write_report(store.path(), None).unwrap();
    let html = std::fs::read_to_string(page).unwrap();
    let section = html
        .split("<h2>Why it is not linearizable</h2>")
        .nth(1)
        .unwrap_or_else(|| panic!("no timeline section in the report"));
    assert!(
        section.contains("<svg") && section.contains("read"),
        "the timeline is not drawn: {}",
        &section[..section.len().min(2000)]
    );
}
