//! Stage 01 in the simulated cluster: the same harness in virtual time, nodes in memory.

use std::path::Path;

use grader::checker::Validity;
use grader::config::TestConfig;
use grader::run::run_process_test;
use grader::sim::simulate;
use stage_01_flooding::Flooding;

fn config(node_count: usize, seconds: u64, rate: f64, seed: u64) -> TestConfig {
    TestConfig::parse_command(&format!(
        "--node-count {node_count} --time-limit {seconds} --rate {rate} --recovery 2 --seed {seed}"
    ))
    .expect("valid flags")
}

#[test]
fn five_nodes_on_a_grid_are_valid() {
    let run = simulate::<Flooding>(&config(5, 10, 10.0, 1), &[]).unwrap();
    assert_eq!(run.report.valid, Validity::Valid, "{}", run.summary);
    let broadcasts = run.report.figure_u64("/workload/attempt_count").unwrap();
    assert!(broadcasts > 20);
    assert_eq!(
        run.report.net.servers.msg_count,
        6 * broadcasts,
        "2E - (n - 1) sends per broadcast"
    );
}

#[test]
fn flooding_loses_values_sent_across_a_partition() {
    // Flooding never re-sends, so what a partition drops is gone: the check must fail.
    let config = config(5, 20, 10.0, 3).with("--nemesis partition").unwrap();
    let run = simulate::<Flooding>(&config, &[]).unwrap();
    assert_eq!(run.report.valid, Validity::Invalid, "{}", run.summary);
    assert!(run.report.figure_u64("/workload/lost_count").unwrap() > 0);
    assert!(run.report.net.dropped["partition"] > 0);
    let missing = run
        .report
        .figure("/workload/lost_details/0/missing_from_final_reads_of")
        .and_then(|nodes| nodes.as_array())
        .expect("the first lost value names the final reads that missed it");
    assert!(!missing.is_empty());
}

#[test]
fn a_killed_flooding_node_comes_back_empty_and_its_reads_miss_values() {
    let config = config(5, 20, 10.0, 4)
        .with("--nemesis kill --nemesis-interval 3")
        .unwrap();
    let run = simulate::<Flooding>(&config, &[]).unwrap();
    let kills = run
        .report
        .history
        .ops()
        .iter()
        .filter(|op| op.f == "kill")
        .count();
    assert!(kills > 0);
    assert!(
        run.report
            .net
            .dropped
            .get("node_down")
            .is_some_and(|count| *count > 0)
    );
    assert_eq!(run.report.valid, Validity::Invalid, "{}", run.summary);
}

#[test]
fn the_same_seed_replays_byte_for_byte_and_another_seed_does_not() {
    let first = config(5, 10, 20.0, 42)
        .with("--nemesis partition --latency 30 --latency-dist exponential")
        .unwrap();
    let a = simulate::<Flooding>(&first, &[]).unwrap();
    let b = simulate::<Flooding>(&first, &[]).unwrap();
    assert!(!a.journal.is_empty());
    assert!(a.journal == b.journal, "same seed, different journal");
    assert_eq!(a.results, b.results);
    let other = first.with("--seed 43").unwrap();
    let c = simulate::<Flooding>(&other, &[]).unwrap();
    assert!(
        a.journal != c.journal,
        "a different seed should give a different run"
    );
}

#[test]
fn the_simulated_and_the_process_cluster_agree() {
    let config = config(5, 3, 30.0, 9);
    let simulated = simulate::<Flooding>(&config, &[]).unwrap();
    let store = tempfile::tempdir().unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_stage-01-flooding"));
    let real = run_process_test(&config, bin, &[], store.path(), None).unwrap();
    assert_eq!(
        simulated.report.valid,
        Validity::Valid,
        "{}",
        simulated.summary
    );
    assert_eq!(real.report.valid, Validity::Valid, "{}", real.summary);
    let per_op = |report: &grader::harness::RunReport| report.net.servers.msgs_per_op.unwrap();
    let (simulated, real) = (per_op(&simulated.report), per_op(&real.report));
    assert!(
        (simulated - real).abs() <= 0.1 * real,
        "msgs-per-op: simulated {simulated}, processes {real}"
    );
}
