//! Lost updates, in both workloads (Elle's `lost-update-cases`): two committed transactions
//! read the same version of a key and then both wrote the key, so one update was built on a
//! version the other replaced. No cycle is needed to see it, and a cycle may not be seen at
//! all when a write is never read (list-append) or versions cannot be ordered (rw-register).

use std::collections::HashMap;

use super::txn::{Mop, Outcome, Txn, name};
use super::{Anomaly, Found};

/// Finds them in `txns`. A transaction counts with the first version of a key it read, when it
/// wrote (or appended to) the key after that read; `show` puts a version in words.
pub fn find(txns: &[Txn], found: &mut Found, show: fn(&[String]) -> String) {
    // (key, version read) -> the transactions that read it and then wrote the key.
    let mut by_version: HashMap<(&str, &[String]), Vec<usize>> = HashMap::new();
    for (t, txn) in txns.iter().enumerate() {
        if txn.outcome != Outcome::Ok {
            continue;
        }
        // Transactions are short: a list searched in place beats a map made for each.
        let mut first_read: Vec<(&str, &[String])> = Vec::new();
        let mut counted: Vec<&str> = Vec::new();
        for mop in &txn.mops {
            match mop {
                Mop::Read(key, Some(version)) => {
                    if !first_read.iter().any(|(k, _)| k == key) {
                        first_read.push((key, version));
                    }
                }
                Mop::Append(key, _) | Mop::Write(key, _) => {
                    if let Some(&(_, version)) = first_read.iter().find(|(k, _)| k == key)
                        && !counted.contains(&key.as_str())
                    {
                        counted.push(key);
                        by_version.entry((key, version)).or_default().push(t);
                    }
                }
                Mop::Read(_, None) => {}
            }
        }
    }
    // In history order, so the findings are the same on every run.
    let mut by_version: Vec<_> = by_version.into_iter().collect();
    by_version.sort_by_key(|(_, readers)| readers[0]);
    for ((key, version), writers) in by_version {
        if writers.len() > 1 {
            let names: Vec<String> = writers.iter().map(|&t| name(txns, t)).collect();
            found.push(
                "lost-update",
                Anomaly::about(
                    txns,
                    &writers,
                    format!(
                        "{} {} read key {key} as {} and then wrote it: the updates were built on one version, so all but one of them were lost",
                        names.join(" and "),
                        if writers.len() == 2 { "both" } else { "all" },
                        show(version)
                    ),
                ),
            );
        }
    }
}
