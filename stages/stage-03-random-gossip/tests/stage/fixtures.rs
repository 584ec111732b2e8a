//! The stage's protocol fixtures, run against the real binary over pipes and compared with the
//! insta snapshots in `fixtures/stage-03-random-gossip/snapshots/`.

#[test]
fn protocol_fixtures_match_their_snapshots() {
    grader::assert_fixture_snapshots!(
        "stage-03-random-gossip",
        env!("CARGO_BIN_EXE_stage-03-random-gossip")
    );
}
