//! Stage 18 in the simulated cluster: the concurrent-writers workload on 5 nodes with
//! partitions, in both modes. In `vv` mode no acknowledged write is lost and concurrent writes
//! show up as conflicts; in `lww` mode the same workload loses acknowledged writes.

use grader::checker::Validity;
use grader::config::TestConfig;
use grader::sim::simulate;
use stage_18_version_vectors::VersionVectors;

/// The stage's check: 2 keys, 5 nodes, 10 workers (every node reads every key at the end),
/// rate 20, latency 50, partitions every 2 s or so, in `mode`.
fn config(mode: &str, seed: u64) -> TestConfig {
    TestConfig::parse_command(&format!("-w concurrent-writers --workload-options mode={mode} --node-count 5 --concurrency 10 --time-limit 10 --rate 20 --latency 50 --latency-dist constant --nemesis partition --nemesis-interval 2 --recovery 3 --seed {seed}")).expect("valid flags")
}

#[test]
fn version_vectors_lose_nothing_where_last_writer_wins_loses_writes() {
    for seed in 1..=3 {
        let figure = |run: &grader::sim::SimRun, pointer| run.report.figure_u64(pointer).unwrap();
        let vv = simulate::<VersionVectors>(&config("vv", seed), &[]).unwrap();
        assert_eq!(
            vv.report.valid,
            Validity::Valid,
            "seed {seed}: {}",
            vv.summary
        );
        assert_eq!(figure(&vv, "/workload/lost_write_count"), 0, "seed {seed}");
        assert!(
            figure(&vv, "/workload/conflict_count") > 0,
            "seed {seed}: {}",
            vv.summary
        );
        assert_eq!(vv.results["workload"]["keys"].as_array().unwrap().len(), 2);
        let lww = simulate::<VersionVectors>(&config("lww", seed), &[]).unwrap();
        assert_eq!(
            lww.report.valid,
            Validity::Valid,
            "seed {seed}: {}",
            lww.summary
        );
        assert!(
            figure(&lww, "/workload/lost_write_count") > 0,
            "seed {seed}: {}",
            lww.summary
        );
        assert_eq!(figure(&lww, "/workload/conflict_count"), 0, "seed {seed}");
        for (mode, run) in [("vv", &vv), ("lww", &lww)] {
            println!(
                "seed {seed} {mode:>3}: {} writes acknowledged, {} superseded, {} lost, {} conflicts (at most {} siblings), converged {:?} ms after the heal",
                figure(run, "/workload/acknowledged_count"),
                figure(run, "/workload/superseded_count"),
                figure(run, "/workload/lost_write_count"),
                figure(run, "/workload/conflict_count"),
                figure(run, "/workload/max_siblings"),
                run.report.convergence.after_ms
            );
        }
    }
}

/// A node that answers `set_mode vv` but keeps last-writer-wins: the vv checker must catch it.
#[derive(Debug)]
struct AlwaysLww(VersionVectors);

impl common::Node for AlwaysLww {
    type Payload = stage_18_version_vectors::Payload;
    type Timer = stage_18_version_vectors::Round;
    type Flags = stage_18_version_vectors::Flags;

    fn new(flags: Self::Flags) -> Self {
        Self(VersionVectors::new(flags))
    }

    fn on_init(&mut self, ctx: &mut common::Context<Self::Payload, Self::Timer>) {
        self.0.on_init(ctx);
    }

    fn on_message(
        &mut self,
        mut msg: common::Message<Self::Payload>,
        ctx: &mut common::Context<Self::Payload, Self::Timer>,
    ) -> Result<(), common::RpcError> {
        if let stage_18_version_vectors::Payload::SetMode { mode } = &mut msg.body.payload {
            *mode = stage_18_version_vectors::Mode::Lww;
        }
        self.0.on_message(msg, ctx)
    }

    fn on_timer(
        &mut self,
        timer: Self::Timer,
        ctx: &mut common::Context<Self::Payload, Self::Timer>,
    ) {
        self.0.on_timer(timer, ctx);
    }
}

#[test]
fn a_node_that_keeps_one_value_in_vv_mode_is_judged_invalid_for_the_writes_it_lost() {
    let run = simulate::<AlwaysLww>(&config("vv", 1), &[]).unwrap();
    assert_eq!(run.report.valid, Validity::Invalid, "{}", run.summary);
    assert!(
        run.summary
            .contains("no later write's context included them"),
        "{}",
        run.summary
    );
}
