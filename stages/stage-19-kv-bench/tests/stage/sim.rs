//! Stage 19 in the simulated cluster: the kv-bench workload with and without partitions. Every
//! acknowledged write reaches every node, and each node's own count of the messages it sent
//! equals the harness's count (the checker fails the run otherwise).

use grader::checker::Validity;
use grader::config::TestConfig;
use grader::sim::simulate;
use stage_19_kv_bench::KvBench;

/// `nodes` nodes, one client each, rate 50, latency 50, 10 s, partitions when `partitioned`.
fn config(nodes: usize, partitioned: bool, seed: u64) -> TestConfig {
    let nemesis = if partitioned {
        " --nemesis partition"
    } else {
        ""
    };
    TestConfig::parse_command(&format!(
        "-w kv-bench --node-count {nodes} --time-limit 10 --rate 50 --latency 50 --nemesis-interval 2 --recovery 3 --seed {seed}{nemesis}"
    ))
    .expect("valid flags")
}

#[test]
fn every_write_reaches_every_node_and_the_nodes_count_their_messages_as_the_harness_does() {
    for (nodes, partitioned) in [(5, false), (5, true), (25, false)] {
        let run = simulate::<KvBench>(&config(nodes, partitioned, 1), &[]).unwrap();
        assert_eq!(run.report.valid, Validity::Valid, "{}", run.summary);
        let workload = &run.results["workload"];
        let reports = workload["reports"].as_array().unwrap();
        assert_eq!(reports.len(), nodes, "every node reported");
        let reported: u64 = reports
            .iter()
            .map(|report| report["total_gossip_msgs"].as_u64().unwrap())
            .sum();
        assert!(reported > 0);
        println!(
            "{nodes} nodes{}: {} writes, replicated in {} ms median, {} p99; stale reads {:.3}; {} gossip messages reported",
            if partitioned { ", partitions" } else { "" },
            workload["acknowledged_count"],
            workload["convergence_ms"]["0.5"],
            workload["convergence_ms"]["0.99"],
            workload["stale_read_fraction"].as_f64().unwrap(),
            reported
        );
    }
}

/// A node that sends one message per round it does not count: its reports must disagree.
#[derive(Debug)]
struct Undercounts(KvBench);

impl common::Node for Undercounts {
    type Payload = stage_19_kv_bench::Payload;
    type Timer = stage_19_kv_bench::Round;
    type Flags = stage_19_kv_bench::Flags;

    fn new(flags: Self::Flags) -> Self {
        Self(KvBench::new(flags))
    }

    fn on_init(&mut self, ctx: &mut common::Context<Self::Payload, Self::Timer>) {
        self.0.on_init(ctx);
    }

    fn on_message(
        &mut self,
        msg: common::Message<Self::Payload>,
        ctx: &mut common::Context<Self::Payload, Self::Timer>,
    ) -> Result<(), common::RpcError> {
        self.0.on_message(msg, ctx)
    }

    fn on_timer(
        &mut self,
        timer: Self::Timer,
        ctx: &mut common::Context<Self::Payload, Self::Timer>,
    ) {
        self.0.on_timer(timer, ctx);
        if let Some(peer) = ctx.random_peers(1, None).pop() {
            let entries = Vec::new();
            ctx.send(peer, stage_19_kv_bench::Payload::BenchGossip { entries });
        }
    }
}

#[test]
fn a_node_whose_report_leaves_out_messages_it_sent_is_judged_invalid() {
    let run = simulate::<Undercounts>(&config(5, false, 1), &[]).unwrap();
    assert_eq!(run.report.valid, Validity::Invalid, "{}", run.summary);
    assert!(
        run.summary.contains("but the harness saw it send"),
        "{}",
        run.summary
    );
}
