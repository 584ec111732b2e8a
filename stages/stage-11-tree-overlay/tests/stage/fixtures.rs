//! The stage's protocol fixtures, run against the real binary over pipes and compared with the
//! insta snapshots in `fixtures/stage-11-tree-overlay/snapshots/`.

#[test]
fn protocol_fixtures_match_their_snapshots() {
    grader::assert_fixture_snapshots!(
        "stage-11-tree-overlay",
        env!("CARGO_BIN_EXE_stage-11-tree-overlay")
    );
}
