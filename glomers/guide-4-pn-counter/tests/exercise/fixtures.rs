//! The exercise's protocol fixtures, run against the real binary over pipes and compared with
//! the insta snapshots in `fixtures/guide-4-pn-counter/snapshots/`.

#[test]
fn protocol_fixtures_match_their_snapshots() {
    grader::assert_fixture_snapshots!(
        "guide-4-pn-counter",
        env!("CARGO_BIN_EXE_guide-4-pn-counter")
    );
}
