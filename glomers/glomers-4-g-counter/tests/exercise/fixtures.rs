//! The exercise's protocol fixtures, run against the real binary over pipes and compared with
//! the insta snapshots in `fixtures/glomers-4-g-counter/snapshots/`.

#[test]
fn protocol_fixtures_match_their_snapshots() {
    grader::assert_fixture_snapshots!(
        "glomers-4-g-counter",
        env!("CARGO_BIN_EXE_glomers-4-g-counter")
    );
}
