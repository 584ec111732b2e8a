//! The exercise's protocol fixtures, run against the real binary over pipes and compared with
//! the insta snapshots in `fixtures/glomers-6c-txn/snapshots/`.

#[test]
fn protocol_fixtures_match_their_snapshots() {
    grader::assert_fixture_snapshots!("glomers-6c-txn", env!("CARGO_BIN_EXE_glomers-6c-txn"));
}
