//! The exercise's protocol fixtures, run against the real binary over pipes and compared with
//! the insta snapshots in `fixtures/glomers-6b-txn/snapshots/`.

#[test]
fn protocol_fixtures_match_their_snapshots() {
    grader::assert_fixture_snapshots!("glomers-6b-txn", env!("CARGO_BIN_EXE_glomers-6b-txn"));
}
