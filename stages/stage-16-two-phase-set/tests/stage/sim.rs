//! Stage 16 in the simulated cluster: the two-phase-set workload with partitions stays valid
//! with zero resurrections, and a mutant that removes by plain deletion (no tombstones) is
//! judged invalid.

use std::collections::BTreeSet;

use common::{Context, Message, Node, RpcError, Value};
use grader::checker::Validity;
use grader::config::TestConfig;
use grader::sim::simulate;
use stage_16_two_phase_set::{Flags, Payload, Round, TwoPhaseSet};

/// The stage's check: two-phase-set, 5 nodes, rate 20, latency 50, partitions every 2 s or so.
fn config(seed: u64) -> TestConfig {
    TestConfig::parse_command(&format!("-w two-phase-set --node-count 5 --time-limit 10 --rate 20 --latency 50 --latency-dist constant --nemesis partition --nemesis-interval 2 --recovery 3 --seed {seed}")).expect("valid flags")
}

#[test]
fn valid_with_no_resurrection_under_partitions() {
    for seed in 1..=3 {
        let run = simulate::<TwoPhaseSet>(&config(seed), &[]).unwrap();
        assert_eq!(
            run.report.valid,
            Validity::Valid,
            "seed {seed}: {}",
            run.summary
        );
        assert_eq!(
            run.report.figure_u64("/workload/resurrected_count"),
            Some(0)
        );
        assert!(
            run.report.figure_u64("/workload/removed_count").unwrap() > 5,
            "seed {seed}"
        );
        assert!(run.report.convergence.after_ms.is_some(), "seed {seed}");
    }
}

/// The mutant: a remove deletes the element outright and leaves no trace, so a peer's merge
/// brings it back.
struct PlainDelete {
    inner: TwoPhaseSet,
    elements: BTreeSet<Value>,
}

impl Node for PlainDelete {
    type Payload = Payload;
    type Timer = Round;
    type Flags = Flags;

    fn new(flags: Flags) -> Self {
        Self {
            inner: TwoPhaseSet::new(flags),
            elements: BTreeSet::new(),
        }
    }

    fn on_init(&mut self, ctx: &mut Context<Payload, Round>) {
        self.inner.on_init(ctx);
    }

    fn on_message(
        &mut self,
        msg: Message<Payload>,
        ctx: &mut Context<Payload, Round>,
    ) -> Result<(), RpcError> {
        match &msg.body.payload {
            Payload::Add { element } => {
                self.elements.insert(element.clone());
                ctx.reply(&msg, Payload::AddOk);
            }
            Payload::Remove { element } => {
                self.elements.remove(element);
                ctx.reply(&msg, Payload::RemoveOk);
            }
            Payload::Read => {
                let elements = self.elements.iter().cloned().collect();
                ctx.reply(&msg, Payload::ReadOk { elements });
            }
            Payload::Merge { add_set, .. } => {
                self.elements.extend(add_set.iter().cloned());
                ctx.reply(&msg, Payload::MergeOk);
            }
            _ => {}
        }
        Ok(())
    }

    fn on_timer(&mut self, _: Round, ctx: &mut Context<Payload, Round>) {
        for peer in ctx.random_peers(1, None) {
            let merge = Payload::Merge {
                add_set: self.elements.clone(),
                remove_set: BTreeSet::new(),
            };
            ctx.send(peer, merge);
        }
    }
}

#[test]
fn a_plain_delete_without_tombstones_is_judged_invalid() {
    let run = simulate::<PlainDelete>(&config(1), &[]).unwrap();
    assert_eq!(run.report.valid, Validity::Invalid, "{}", run.summary);
    let resurrected = run
        .report
        .figure_u64("/workload/resurrected_count")
        .unwrap();
    let not_removed = run
        .report
        .figure_u64("/workload/not_removed_count")
        .unwrap();
    assert!(resurrected > 0 && not_removed > 0, "{}", run.summary);
    assert!(
        run.report
            .reasons
            .iter()
            .any(|reason| reason.contains("came back")),
        "{:?}",
        run.report.reasons
    );
}
