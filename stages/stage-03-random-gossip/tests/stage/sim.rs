//! Stage 03 in the simulated cluster: random gossip survives partitions.

use grader::checker::Validity;
use grader::config::TestConfig;
use grader::sim::simulate;
use stage_03_random_gossip::RandomGossip;

fn partitioned(node_count: usize, seed: u64) -> TestConfig {
    config(node_count, seed, " --nemesis partition")
}

fn config(node_count: usize, seed: u64, more: &str) -> TestConfig {
    TestConfig::parse_command(&format!(
        "--node-count {node_count} --time-limit 20 --rate 10 --recovery 3 --seed {seed}{more}"
    ))
    .expect("valid flags")
}

#[test]
fn five_nodes_stay_valid_under_partitions_on_several_seeds() {
    for seed in 1..=5 {
        let run = simulate::<RandomGossip>(&partitioned(5, seed), &[]).unwrap();
        assert_eq!(
            run.report.valid,
            Validity::Valid,
            "seed {seed}: {}",
            run.summary
        );
        assert!(
            run.report
                .net
                .dropped
                .get("partition")
                .is_some_and(|n| *n > 0),
            "seed {seed}: the partitions cut something"
        );
        assert!(
            run.report.convergence.after_ms.is_some(),
            "seed {seed}: converged after the heal"
        );
    }
}

#[test]
fn twenty_five_nodes_on_a_grid_with_latency_stay_valid_under_partitions() {
    let config = partitioned(25, 9).with("--latency 50 --rate 50").unwrap();
    let run = simulate::<RandomGossip>(&config, &[]).unwrap();
    assert_eq!(run.report.valid, Validity::Valid, "{}", run.summary);
}

#[test]
fn a_fanout_flag_changes_the_traffic() {
    let config = config(10, 2, "");
    let fanout = |k: &str| {
        let run = simulate::<RandomGossip>(&config, &["--fanout".into(), k.into()]).unwrap();
        assert_eq!(run.report.valid, Validity::Valid, "{}", run.summary);
        run.report.net.servers.msg_count
    };
    assert!(fanout("1") < fanout("3"));
}
