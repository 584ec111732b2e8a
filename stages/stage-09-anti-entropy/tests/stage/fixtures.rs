//! The stage's protocol fixtures, run against the real binary over pipes and compared with the
//! insta snapshots in `fixtures/stage-09-anti-entropy/snapshots/`.

#[test]
fn protocol_fixtures_match_their_snapshots() {
    grader::assert_fixture_snapshots!(
        "stage-09-anti-entropy",
        env!("CARGO_BIN_EXE_stage-09-anti-entropy")
    );
}
