//! Stage 05 in the simulated cluster: valid under partitions, and how fast it heals.

use grader::checker::Validity;
use grader::config::TestConfig;
use grader::sim::simulate;
use stage_05_partition_healing::PartitionHealing;

fn three_c(seed: u64) -> TestConfig {
    TestConfig::parse_command(&format!(
        "--node-count 5 --time-limit 20 --rate 10 --nemesis partition --recovery 3 --seed {seed}"
    ))
    .expect("valid flags")
}

#[test]
fn valid_under_partitions_and_converged_soon_after_the_heal() {
    for seed in 1..=5 {
        let run = simulate::<PartitionHealing>(&three_c(seed), &[]).unwrap();
        assert_eq!(
            run.report.valid,
            Validity::Valid,
            "seed {seed}: {}",
            run.summary
        );
        let after = run
            .report
            .convergence
            .after_ms
            .unwrap_or_else(|| panic!("seed {seed} never converged: {}", run.summary));
        // Each node reconciles every 200 ms with a random one of four peers.
        assert!(after <= 2000, "seed {seed}: {after} ms");
    }
}

#[test]
fn valid_when_nodes_are_killed_too_because_reconciliation_refills_them() {
    let config = three_c(7).with("--nemesis partition,kill").unwrap();
    let run = simulate::<PartitionHealing>(&config, &[]).unwrap();
    assert_eq!(run.report.valid, Validity::Valid, "{}", run.summary);
}

#[test]
fn slower_reconciliation_heals_more_slowly() {
    // Partitions every 2 s on average, so that one is usually in force when operations end;
    // some runs still converge the moment the network heals, whatever the interval, so over
    // five seeds the slower reconciliation must take longer in total.
    let heal = |sync_ms: &str| -> u64 {
        (1..=5)
            .map(|seed| {
                let flags = ["--sync-ms".to_owned(), sync_ms.to_owned()];
                let config = three_c(seed).with("--nemesis-interval 2").unwrap();
                let run = simulate::<PartitionHealing>(&config, &flags).unwrap();
                run.report.convergence.after_ms.expect("converged")
            })
            .sum()
    };
    assert!(heal("50") < heal("1000"));
}
