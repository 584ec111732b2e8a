//! The stage's protocol fixtures, run against the real binary over pipes and compared with the
//! insta snapshots in `fixtures/stage-08-gossip-timer/snapshots/`.

#[test]
fn protocol_fixtures_match_their_snapshots() {
    grader::assert_fixture_snapshots!(
        "stage-08-gossip-timer",
        env!("CARGO_BIN_EXE_stage-08-gossip-timer")
    );
}
