//! `--conventions maelstrom`: a node that numbers its messages the way Maelstrom's libraries
//! may (no `msg_id` on `init_ok`, its own counter after) fails the track's fixtures on its
//! first line and passes them under Maelstrom's conventions; reusing a `msg_id` fails both.

use std::path::Path;
use std::time::Duration;

use crate::nodes::{have_python, python_node, write_executable};
use grader::fixtures::{Conventions, grade_fixtures};

fn grade(node: &Path, conventions: Conventions) -> Vec<(String, bool, String)> {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/stage-01-flooding");
    grade_fixtures(node, &fixtures, Duration::from_secs(5), conventions)
        .unwrap()
        .into_iter()
        .map(|outcome| (outcome.name, outcome.passed, outcome.detail))
        .collect()
}

#[test]
fn a_node_numbering_like_maelstrom_passes_only_under_its_conventions() {
    if !have_python() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let flag = |flag: &str| {
        write_executable(
            dir.path(),
            &format!("node{flag}.sh"),
            &format!(
                "#!/bin/sh\nexec python3 {} {flag}\n",
                python_node().display()
            ),
        )
    };
    let maelstrom_style = flag("--maelstrom-ids");
    let track = grade(&maelstrom_style, Conventions::Track);
    assert!(track.iter().all(|(_, passed, _)| !passed), "{track:?}");
    assert!(
        track[0].2.contains("output message 1 differs"),
        "fails on its first line: {}",
        track[0].2
    );
    let maelstrom = grade(&maelstrom_style, Conventions::Maelstrom);
    assert!(
        maelstrom.iter().all(|(_, passed, _)| *passed),
        "{maelstrom:?}"
    );

    let reused = grade(&flag("--reuse-ids"), Conventions::Maelstrom);
    assert!(!reused[0].1);
    assert!(
        reused[0].2.contains("both carry msg_id 1"),
        "{}",
        reused[0].2
    );
}
