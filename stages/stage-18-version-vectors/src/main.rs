//! The stage-18-version-vectors binary: the version-vector key-value node over stdin/stdout.

use std::process::ExitCode;

fn main() -> ExitCode {
    common::main::<stage_18_version_vectors::VersionVectors>(
        "stage-18-version-vectors",
        "Stage 18: a key-value store that keeps concurrent writes as siblings (version vectors), or last writer wins after set_mode lww.",
    )
}
