//! The workloads without a final phase (echo, unique-ids) in the simulated cluster, with small
//! nodes of our own, right and wrong: the run stops with the main phase's operations, and each
//! mistaken node is judged invalid with a reason a learner can act on.

use common::{Context, Message, NoTimer, Node, RpcError};
use grader::checker::Validity;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::nodes::config;

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Payload {
    Echo { echo: Json },
    EchoOk { echo: Json },
    Generate,
    GenerateOk { id: Json },
}

#[derive(Debug, Clone, clap::Args)]
struct Flags {
    /// Echo back something else.
    #[arg(long)]
    alter_echo: bool,
    /// How ids are made: `node-counter` (right without restarts), `counter` (the same on every
    /// node: wrong).
    #[arg(long, default_value = "node-counter")]
    ids: String,
    /// Leave every Nth generate unanswered (0: answer all).
    #[arg(long, default_value_t = 0)]
    ignore_every: u64,
}

struct Glomer {
    flags: Flags,
    next: u64,
}

impl Node for Glomer {
    type Payload = Payload;
    type Timer = NoTimer;
    type Flags = Flags;

    fn new(flags: Flags) -> Self {
        Glomer { flags, next: 0 }
    }

    fn on_message(
        &mut self,
        msg: Message<Payload>,
        ctx: &mut Context<Payload, NoTimer>,
    ) -> Result<(), RpcError> {
        match &msg.body.payload {
            Payload::Echo { echo } => {
                let echo = if self.flags.alter_echo {
                    Json::from(echo.to_string().to_uppercase())
                } else {
                    echo.clone()
                };
                ctx.reply(&msg, Payload::EchoOk { echo });
            }
            Payload::Generate => {
                self.next += 1;
                if self.flags.ignore_every > 0 && self.next.is_multiple_of(self.flags.ignore_every)
                {
                    return Ok(());
                }
                let id = match self.flags.ids.as_str() {
                    "counter" => Json::from(self.next),
                    _ => Json::from(format!("{}-{}", ctx.node_id(), self.next)),
                };
                ctx.reply(&msg, Payload::GenerateOk { id });
            }
            _ => {}
        }
        Ok(())
    }
}

fn run(flags: &str, node_flags: &[&str]) -> grader::sim::SimRun {
    let node_flags: Vec<String> = node_flags.iter().map(|flag| flag.to_string()).collect();
    grader::sim::simulate::<Glomer>(&config(flags), &node_flags).unwrap()
}

#[test]
fn echo_is_valid_and_the_run_ends_with_its_operations_without_a_final_phase() {
    let run = run(
        "-w echo --node-count 3 --time-limit 5 --rate 50 --recovery 10 --seed 1",
        &[],
    );
    assert_eq!(run.report.valid, Validity::Valid, "{}", run.summary);
    let ops = run.report.history.ops();
    assert!(ops.len() > 300, "{} ops", ops.len());
    assert!(ops.iter().all(|op| !op.final_read));
    // No recovery: the 10 s asked for are not waited, since echo has no final phase.
    assert!(
        run.report.duration.as_secs_f64() < 5.5,
        "{:?}",
        run.report.duration
    );
    assert_eq!(run.report.convergence.from, "", "nothing to converge");
    assert!(run.summary.contains("echoes     "), "{}", run.summary);
}

#[test]
fn an_echo_that_alters_the_payload_is_invalid_and_says_how() {
    let run = run(
        "-w echo --node-count 2 --time-limit 2 --rate 10 --seed 2",
        &["--alter-echo"],
    );
    assert_eq!(run.report.valid, Validity::Invalid, "{}", run.summary);
    let reason = run.report.reasons.join("\n");
    assert!(
        reason.contains("came back altered") && reason.contains("exactly as it came"),
        "{reason}"
    );
}

#[test]
fn node_ids_with_a_counter_are_unique_under_partitions_with_faults_left_in_force() {
    let run = run(
        "-w unique-ids --node-count 3 --time-limit 10 --rate 200 --nemesis partition --nemesis-interval 2 --seed 3",
        &[],
    );
    assert_eq!(run.report.valid, Validity::Valid, "{}", run.summary);
    assert_eq!(
        run.report.figure_u64("/workload/acknowledged_count"),
        run.report.figure_u64("/workload/attempted_count")
    );
    // The run stops at the time limit: the last partition is never healed.
    let ops = run.report.history.ops();
    let last_nemesis = ops.iter().rev().find(|op| !op.is_client()).unwrap();
    assert_eq!(last_nemesis.f, "start_partition", "{last_nemesis:?}");
}

#[test]
fn a_counter_without_the_node_id_hands_out_the_same_ids_on_every_node() {
    let run = run(
        "-w unique-ids --node-count 3 --time-limit 2 --rate 50 --seed 4",
        &["--ids", "counter"],
    );
    assert_eq!(run.report.valid, Validity::Invalid, "{}", run.summary);
    let reason = run.report.reasons.join("\n");
    assert!(
        reason.contains("handed out more than once; the first, 1, by n"),
        "{reason}"
    );
}

#[test]
fn a_counter_kept_only_in_memory_repeats_its_ids_after_a_kill() {
    let run = run(
        "-w unique-ids --node-count 3 --time-limit 10 --rate 50 --nemesis kill --nemesis-interval 1 --seed 5",
        &[],
    );
    assert!(run.report.history.ops().iter().any(|op| op.f == "kill"));
    assert_eq!(run.report.valid, Validity::Invalid, "{}", run.summary);
    assert!(
        run.report.reasons.join("\n").contains("across restarts"),
        "{:?}",
        run.report.reasons
    );
}

#[test]
fn availability_total_fails_a_run_with_one_unanswered_operation_and_says_which() {
    let flags = "-w unique-ids --node-count 3 --time-limit 3 --rate 50 --seed 6";
    let lenient = run(flags, &["--ignore-every", "40"]);
    assert_eq!(lenient.report.valid, Validity::Valid, "{}", lenient.summary);
    assert!(lenient.report.availability.is_none());
    let strict = run(
        &format!("{flags} --availability total"),
        &["--ignore-every", "40"],
    );
    assert_eq!(strict.report.valid, Validity::Invalid, "{}", strict.summary);
    let reason = strict.report.reasons.join("\n");
    assert!(
        reason.contains(
            "but --availability total asks for every one; the first that did not: `generate` on n"
        ) && reason.contains("net-timeout"),
        "{reason}"
    );
    assert!(strict.summary.contains("available  "), "{}", strict.summary);
    assert_eq!(strict.results["availability"]["required"], 1.0);
    let most = run(
        &format!("{flags} --availability 0.9"),
        &["--ignore-every", "40"],
    );
    assert_eq!(most.report.valid, Validity::Valid, "{}", most.summary);
}
