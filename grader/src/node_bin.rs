//! Checking a node executable before a run starts: it exists, it is a file, it may be run,
//! and its format can run (a binary, or a script whose `#!` interpreter exists), with an error
//! that says what to do otherwise.

use std::path::{Path, PathBuf};

/// Checks that `bin` is an executable file and makes its path absolute.
pub fn check_bin(bin: &Path) -> Result<PathBuf, String> {
    let metadata = std::fs::metadata(bin).map_err(|_| {
        format!(
            "--bin {} does not exist; build your node first and pass the path to its executable",
            bin.display()
        )
    })?;
    if !metadata.is_file() {
        return Err(format!(
            "--bin {} is not a file; pass the path to your node's executable",
            bin.display()
        ));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if metadata.permissions().mode() & 0o111 == 0 {
            return Err(format!(
                "--bin {} is not executable; run `chmod +x {}` (scripts also need a #! line)",
                bin.display(),
                bin.display()
            ));
        }
    }
    check_format(bin).map_err(|why| format!("--bin {}: {why}", bin.display()))?;
    std::path::absolute(bin).map_err(|error| format!("--bin {}: {error}", bin.display()))
}

/// Checks that an executable file can run: a binary (ELF), or a script whose `#!` line names
/// an interpreter that exists (and, for `env`, a program on PATH).
fn check_format(bin: &Path) -> Result<(), String> {
    use std::io::Read as _;
    let mut head = Vec::new();
    std::fs::File::open(bin)
        .and_then(|file| file.take(512).read_to_end(&mut head))
        .map_err(|error| format!("cannot be read ({error})"))?;
    if head.is_empty() {
        return Err(
            "is empty: build your node, or write a script that starts with a #! line".into(),
        );
    }
    if head.starts_with(b"\x7fELF") {
        return Ok(());
    }
    let Some(shebang) = head.strip_prefix(b"#!") else {
        return Err(
            "is neither a binary nor a script with a #! line, so it cannot be run; start the script with its interpreter (for example `#!/usr/bin/env python3`) or pass your compiled node".into(),
        );
    };
    let line = String::from_utf8_lossy(shebang.split(|byte| *byte == b'\n').next().unwrap_or(&[]))
        .trim()
        .to_owned();
    let mut words = line.split_whitespace();
    let Some(interpreter) = words.next() else {
        return Err(
            "its #! line names no interpreter; write one, such as `#!/usr/bin/env python3`".into(),
        );
    };
    if !is_executable(Path::new(interpreter)) {
        return Err(format!(
            "its first line names the interpreter `{interpreter}`, which does not exist or is not executable; fix the #! line (for example `#!/usr/bin/env python3`)"
        ));
    }
    if Path::new(interpreter)
        .file_name()
        .is_some_and(|name| name == "env")
        && let Some(program) = words.find(|word| !word.starts_with('-'))
        && !program.contains('=')
        && !on_path(program)
    {
        return Err(format!(
            "its #! line runs `{program}` through env, but no `{program}` is on PATH; install it or fix the #! line"
        ));
    }
    Ok(())
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .is_ok_and(|metadata| metadata.is_file() && metadata.permissions().mode() & 0o111 != 0)
}

fn on_path(program: &str) -> bool {
    if program.contains('/') {
        return is_executable(Path::new(program));
    }
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| is_executable(&dir.join(program)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn executables_that_cannot_run_are_refused_with_what_to_do() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, body: &[u8]| {
            let path = dir.path().join(name);
            std::fs::write(&path, body).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
            path
        };
        let error = |name: &str, body: &[u8]| check_bin(&write(name, body)).unwrap_err();
        assert!(
            error("typo", b"#!/usr/bin/pyhton3\nprint()\n")
                .contains("names the interpreter `/usr/bin/pyhton3`, which does not exist")
        );
        assert!(error("env-typo", b"#!/usr/bin/env pyhton3\n").contains("no `pyhton3` is on PATH"));
        assert!(error("empty", b"").contains("is empty"));
        assert!(error("text", b"print('hi')\n").contains("neither a binary nor a script"));
        assert!(error("bare", b"#!\n").contains("names no interpreter"));
        assert!(check_bin(&write("ok", b"#!/bin/sh\nexit 0\n")).is_ok());
        assert!(check_bin(&write("env-ok", b"#!/usr/bin/env sh\n")).is_ok());
        assert!(
            check_bin(Path::new("/no/such/node"))
                .unwrap_err()
                .contains("does not exist")
        );
    }
}
