//! The exercise's protocol fixtures, run against the real binary over pipes and compared with
//! the insta snapshots in `fixtures/guide-5-datomic/snapshots/`.

#[test]
fn protocol_fixtures_match_their_snapshots() {
    grader::assert_fixture_snapshots!("guide-5-datomic", env!("CARGO_BIN_EXE_guide-5-datomic"));
}
