//! The README's learner walkthrough, run for real: every command in its console block runs in a
//! fresh folder, and every line it shows must be what the command printed (`...` stands for
//! lines left out, `…` for part of a line). A README that drifts from what a learner sees fails
//! here.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One `$ command` of the walkthrough and the output the README shows for it.
struct Step {
    command: String,
    shown: Vec<String>,
}

fn walkthrough() -> Vec<Step> {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .unwrap();
    let start = readme
        .find("<!-- walkthrough: start -->")
        .expect("README.md marks its walkthrough");
    let end = readme.find("<!-- walkthrough: end -->").unwrap();
    let block = &readme[start..end];
    let mut steps: Vec<Step> = Vec::new();
    for line in block
        .lines()
        .skip_while(|line| !line.starts_with("```console"))
        .skip(1)
    {
        if line.starts_with("```") {
            break;
        }
        if let Some(command) = line.strip_prefix("$ ") {
            // A comment after the command is the README's, not the shell's business.
            let command = command.split("  #").next().unwrap().trim().to_owned();
            steps.push(Step {
                command,
                shown: Vec::new(),
            });
        } else if let Some(step) = steps.last_mut() {
            step.shown.push(line.to_owned());
        }
    }
    for step in &mut steps {
        while step.shown.last().is_some_and(|line| line.trim().is_empty()) {
            step.shown.pop();
        }
    }
    steps
}

/// Whether `line` matches `pattern`, where `…` matches any text.
fn line_matches(pattern: &str, line: &str) -> bool {
    let parts: Vec<&str> = pattern.split('…').collect();
    if parts.len() == 1 {
        return pattern.trim_end() == line.trim_end();
    }
    let line = line.trim_end();
    let mut rest = line;
    for (index, part) in parts.iter().enumerate() {
        if index == 0 {
            let Some(after) = rest.strip_prefix(part) else {
                return false;
            };
            rest = after;
        } else if index == parts.len() - 1 {
            return rest.ends_with(part.trim_end());
        } else {
            let Some(at) = rest.find(part) else {
                return false;
            };
            rest = &rest[at + part.len()..];
        }
    }
    true
}

/// Checks that each run of shown lines between `...` markers appears, contiguous and in order,
/// in what was printed.
fn assert_shown(step: &Step, printed: &str) {
    let printed: Vec<&str> = printed.lines().collect();
    let shown: Vec<&String> = step
        .shown
        .iter()
        .filter(|line| line.as_str() != "^C")
        .collect();
    let chunks: Vec<Vec<&String>> = shown
        .split(|line| line.trim() == "...")
        .map(<[&String]>::to_vec)
        .filter(|chunk| !chunk.is_empty())
        .collect();
    let mut from = 0;
    for chunk in chunks {
        let found = (from..printed.len()).find(|&at| {
            at + chunk.len() <= printed.len()
                && chunk
                    .iter()
                    .zip(&printed[at..])
                    .all(|(pattern, line)| line_matches(pattern, line))
        });
        let Some(at) = found else {
            panic!(
                "README.md's walkthrough shows, for `{}`:\n{}\nbut the command printed:\n{}",
                step.command,
                chunk
                    .iter()
                    .map(|line| line.as_str())
                    .collect::<Vec<_>>()
                    .join("\n"),
                printed.join("\n")
            );
        };
        from = at + chunk.len();
    }
}

fn xtask(dir: &Path, words: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_xtask"));
    command.args(words).current_dir(dir);
    command
}

/// `watch` runs until Ctrl-C: wait for its verdict, then send one.
fn run_watch(dir: &Path, words: &[&str]) -> String {
    let mut child = xtask(dir, words)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut printed = String::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !printed.contains(" passed. ") && !printed.contains("not yet: ") {
        let mut line = String::new();
        if stdout.read_line(&mut line).unwrap() == 0 || Instant::now() > deadline {
            break;
        }
        printed.push_str(&line);
    }
    crate::nodes::interrupt(&child);
    let status = child.wait().unwrap();
    printed.push_str(&std::io::read_to_string(stdout).unwrap());
    assert_eq!(status.code(), Some(130), "{printed}");
    printed
}

#[test]
fn the_readmes_learner_walkthrough_is_what_a_learner_sees() {
    if !crate::nodes::have_python() {
        return;
    }
    let steps = walkthrough();
    assert!(steps.len() >= 6, "the walkthrough has its steps");
    let dir = tempfile::tempdir().unwrap();
    for step in &steps {
        let words: Vec<&str> = step.command.split_whitespace().collect();
        match words.as_slice() {
            ["$EDITOR", path] => {
                // The learner writes the handlers: the starter's own runtime and flags, its
                // handlers replaced by working ones.
                let path = dir.path().join(path);
                let starter = std::fs::read_to_string(&path).unwrap();
                let keep = starter
                    .find("# Your node's state goes here.")
                    .expect("the starter marks where the learner's code goes");
                let handlers = include_str!("walkthrough/stage-01-handlers.py");
                let handlers = &handlers[handlers.find("# Your node's state").unwrap()..];
                std::fs::write(&path, format!("{}{handlers}", &starter[..keep])).unwrap();
            }
            ["cargo", "xtask", "watch", rest @ ..] => {
                let mut args = vec!["watch"];
                args.extend(rest);
                assert_shown(step, &run_watch(dir.path(), &args));
            }
            ["cargo", "xtask", rest @ ..] => {
                let output = xtask(dir.path(), rest).output().unwrap();
                assert_shown(step, &String::from_utf8_lossy(&output.stdout));
            }
            _ => panic!(
                "the walkthrough runs `{}`, which this test cannot",
                step.command
            ),
        }
    }
}

#[test]
fn walkthrough_patterns_match_as_documented() {
    assert!(line_matches(
        "store: …/store/x/… (its)",
        "store: /a/b/store/x/20261204 (its)"
    ));
    assert!(!line_matches(
        "store: …/store/x/… (its)",
        "store: /a/b/store/y/1 (its)"
    ));
    assert!(line_matches("plain", "plain  "));
    assert!(!line_matches("plain", "plainer"));
    let step = Step {
        command: "demo".into(),
        shown: vec!["a".into(), "...".into(), "c".into(), "d".into()],
    };
    assert_shown(&step, "a\nb\nc\nd\n");
    let broken = std::panic::catch_unwind(|| assert_shown(&step, "a\nc\nb\nd\n"));
    assert!(broken.is_err(), "lines between `...` are contiguous");
}
