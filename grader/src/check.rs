//! `grader check`: a workload's checker on a history file, running nothing. The history is a
//! run's store folder (its `history.jsonl`, or Maelstrom's `history.edn`), or either file
//! itself, or elle-cli's JSON lines for a transaction workload.

use std::path::Path;

use crate::checker::Validity;
use crate::workload::{self, CheckContext, Checked, Options, Survivors};

/// What `grader check` found: the workload's verdict, and how many entries it read.
#[derive(Debug)]
pub struct CheckedFile {
    /// The checker's verdict and words.
    pub checked: Checked,
    /// History entries read.
    pub entries: usize,
}

/// Reads the history at `path` and judges it with `workload`'s checker (`strict` for lin-kv's
/// strict mode). An error says what was wrong with the path, the file or the flags.
pub fn check_path(
    workload: &str,
    strict: bool,
    models: Option<&str>,
    path: &Path,
) -> Result<CheckedFile, String> {
    let file = if path.is_dir() {
        path.join("history.jsonl")
    } else {
        path.to_owned()
    };
    let file = if path.is_dir() && !file.exists() && path.join("history.edn").exists() {
        path.join("history.edn")
    } else {
        file
    };
    let text = std::fs::read_to_string(&file).map_err(|error| {
        if path.is_dir() {
            format!(
                "{} holds no history.jsonl or history.edn ({error}): pass a run's store folder, such as store/latest",
                path.display()
            )
        } else {
            format!("cannot read {}: {error}", file.display())
        }
    })?;
    let ops = if file.extension().is_some_and(|extension| extension == "edn") {
        crate::edn::read_history(&text)
    } else {
        crate::history::read_jsonl(&text)
    }
    .map_err(|error| format!("{}: {error}", file.display()))?;
    let mut options = Options::new();
    let takes = |option: &str| {
        workload::REGISTRY
            .iter()
            .find(|entry| entry.name == workload)
            .is_some_and(|entry| entry.options.iter().any(|(key, _)| *key == option))
    };
    if strict {
        if !takes("strict") {
            return Err(format!(
                "--strict applies to workloads with a strict mode (lin-kv, txn-list-append, txn-rw-register), not {workload}"
            ));
        }
        options.insert("strict".into(), "true".into());
    }
    if let Some(models) = models {
        if !takes("consistency_models") {
            return Err(format!(
                "--consistency-models applies to the transaction workloads (txn-list-append), not {workload}"
            ));
        }
        options.insert("consistency_models".into(), models.replace(',', " "));
    }
    let workload = workload::build(workload, &options)?;
    let survivors = Survivors::default();
    let checked = workload.check(&ops, &CheckContext::plain(&survivors));
    Ok(CheckedFile {
        checked,
        entries: ops.len(),
    })
}

/// The exit code for a verdict: 0 valid, 1 invalid, 2 unknown.
pub fn exit_code(valid: Validity) -> u8 {
    match valid {
        Validity::Valid => 0,
        Validity::Invalid => 1,
        Validity::Unknown => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, lines: &[&str]) -> std::path::PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, lines.join("\n")).unwrap();
        path
    }

    #[test]
    fn elle_clis_json_lines_are_read_as_transactions_in_line_order() {
        let dir = tempfile::tempdir().unwrap();
        // elle-cli's (and adya's) format: no `f`, no times. A read that misses an append
        // completed before it began: serializable allows it; strict-serializable needs the
        // line order as real time to see it.
        let history = write(
            dir.path(),
            "elle.jsonl",
            &[
                r#"{"index":0,"type":"invoke","process":0,"value":[["append",1,1]]}"#,
                r#"{"index":1,"type":"ok","process":0,"value":[["append",1,1]]}"#,
                r#"{"index":2,"type":"invoke","process":1,"value":[["r",1,null]]}"#,
                r#"{"index":3,"type":"ok","process":1,"value":[["r",1,[]]]}"#,
                r#"{"index":4,"type":"invoke","process":2,"value":[["r",1,null]]}"#,
                r#"{"index":5,"type":"ok","process":2,"value":[["r",1,[1]]]}"#,
            ],
        );
        let check = |models| check_path("txn-list-append", false, models, &history).unwrap();
        assert_eq!(check(Some("serializable")).checked.valid, Validity::Valid);
        let strict = check(Some("strict-serializable"));
        assert_eq!(strict.checked.valid, Validity::Invalid);
        assert_eq!(strict.entries, 6);
    }

    #[test]
    fn a_transaction_history_is_held_to_the_models_named() {
        let dir = tempfile::tempdir().unwrap();
        // An append that failed, yet was read: G1a.
        let history = write(
            dir.path(),
            "history.jsonl",
            &[
                r#"{"process":0,"type":"invoke","f":"txn","value":[["append",1,1]]}"#,
                r#"{"process":0,"type":"fail","f":"txn","value":[["append",1,1]]}"#,
                r#"{"process":1,"type":"invoke","f":"txn","value":[["r",1,null]]}"#,
                r#"{"process":1,"type":"ok","f":"txn","value":[["r",1,[1]]]}"#,
            ],
        );
        let check = |models| check_path("txn-list-append", false, models, &history).unwrap();
        assert_eq!(
            check(Some("read-uncommitted")).checked.valid,
            Validity::Valid
        );
        let committed = check(Some("read-committed"));
        assert_eq!(committed.checked.valid, Validity::Invalid);
        assert!(
            committed.checked.reasons[0].starts_with("G1a"),
            "{:?}",
            committed.checked.reasons
        );
        // The default is strict serializability, which forbids it too.
        assert_eq!(check(None).checked.valid, Validity::Invalid);
        assert!(
            check_path("lin-kv", false, Some("serializable"), &history)
                .unwrap_err()
                .contains("--consistency-models applies")
        );
        assert!(
            check_path("txn-list-append", false, Some("eventual"), &history)
                .unwrap_err()
                .contains("unknown consistency model")
        );
    }

    #[test]
    fn a_lin_kv_history_is_judged_in_either_mode_and_bad_paths_say_what_to_pass() {
        let dir = tempfile::tempdir().unwrap();
        let history = write(
            dir.path(),
            "history.jsonl",
            &[
                r#"{"process":0,"type":"invoke","f":"write","value":[0,1]}"#,
                r#"{"process":0,"type":"ok","f":"write","value":[0,1]}"#,
                r#"{"process":1,"type":"invoke","f":"read","value":[0,null]}"#,
                r#"{"process":1,"type":"ok","f":"read","value":[0,null]}"#,
            ],
        );
        let lenient = check_path("lin-kv", false, None, dir.path()).unwrap();
        assert_eq!(lenient.checked.valid, Validity::Valid);
        assert_eq!(lenient.entries, 4);
        let strict = check_path("lin-kv", true, None, &history).unwrap();
        assert_eq!(strict.checked.valid, Validity::Invalid);
        assert_eq!(exit_code(strict.checked.valid), 1);
        assert!(
            check_path("kafka", true, None, &history)
                .unwrap_err()
                .contains("--strict applies")
        );
        assert!(
            check_path("nope", false, None, &history)
                .unwrap_err()
                .contains("unknown workload")
        );
        let empty = tempfile::tempdir().unwrap();
        assert!(
            check_path("lin-kv", false, None, empty.path())
                .unwrap_err()
                .contains("holds no history.jsonl")
        );
        let bad = write(dir.path(), "bad.jsonl", &["{\"process\":0}"]);
        assert!(
            check_path("lin-kv", false, None, &bad)
                .unwrap_err()
                .contains("line 1")
        );
        // Maelstrom's history.edn, the same history: a store folder of Maelstrom's is read too.
        let maelstrom = tempfile::tempdir().unwrap();
        write(
            maelstrom.path(),
            "history.edn",
            &[
                "{:type :invoke, :f :write, :value [0 1], :time 1, :process 0, :index 0}",
                "{:type :ok, :f :write, :value [0 1], :time 2, :process 0, :index 1}",
                "{:type :invoke, :f :read, :value [0 nil], :time 3, :process 1, :index 2}",
                "{:type :ok, :f :read, :value [0 nil], :time 4, :process 1, :index 3}",
            ],
        );
        let lenient = check_path("lin-kv", false, None, maelstrom.path()).unwrap();
        assert_eq!(
            (lenient.entries, lenient.checked.valid),
            (4, Validity::Valid)
        );
        let read = check_path("lin-kv", true, None, maelstrom.path()).unwrap();
        assert_eq!(read.checked.valid, Validity::Invalid);
    }
}
