//! What a list-append history tells: every element is appended once, and every read returns
//! a key's whole list, so each read is a prefix of the key's one version order, the longest
//! read gives that order, and the dependencies follow (Elle's list-append inference).
//!
//! Found without cycles:
//! - `duplicate-elements`: a read holds an element twice;
//! - `incompatible-order`: two reads of a key, neither a prefix of the other;
//! - `G1a` (aborted read): a committed read holds an element only a failed transaction appended;
//! - `G1b` (intermediate read): a committed read ends with an element that its transaction
//!   followed with another append to the same key;
//! - `internal`: a read disagrees with its own transaction's earlier reads and appends;
//! - `future-read`: a read holds an element its own transaction appends only later;
//! - `reordered-appends`: the key's list holds a transaction's own appends out of their order
//!   (Elle does not look for it; no model forbids it here, the workloads warn of it and fail it
//!   in strict mode);
//! - `lost-update`: two committed transactions read the same version of a key and both
//!   appended to it;
//! - `dirty-update`: a key's list holds a failed transaction's element and after it a committed
//!   one's (it implies G1a, which the read that shows the list already is).
//!
//! The graph: `ww` from an element's appender to the next element's, `wr` from the appender of
//! a read's last element to the reader, `rw` from a reader to the appender of the element after
//! what it read. An append no read holds still came after every element read of its key, so
//! it gets `ww` from the last element's appender and `rw` from every read of the whole list
//! (as Elle infers). Committed transactions and those of unknown outcome take part; failed ones
//! do not.

use std::collections::{HashMap, HashSet};

use super::graph::{Graph, Kinds, RW, WR, WW, Why};
use super::txn::{Mop, Outcome, Txn, name};
use super::{Anomaly, Found};

/// The inference's results: the anomalies found without cycles and the dependency graph.
pub struct Inferred {
    /// Per anomaly type, the cases.
    pub found: Found,
    /// The dependency graph over the transactions (indexes as in the input).
    pub graph: Graph,
    /// Each key's version order (its longest committed read).
    pub orders: HashMap<String, Vec<String>>,
}

/// What a transaction saw of others in a read: the list without its own appends at the end.
fn external<'a>(txn: &Txn, key: &str, elements: &'a [String]) -> &'a [String] {
    let own = |element: &String| {
        txn.mops
            .iter()
            .any(|mop| matches!(mop, Mop::Append(k, e) if k == key && e == element))
    };
    let mut seen = elements;
    while let Some(last) = seen.last()
        && own(last)
    {
        seen = &seen[..seen.len() - 1];
    }
    seen
}

impl Inferred {
    /// Why the edge `from → to` of `kind` is there, in words, worked out again from the
    /// transactions (only the edges of reported cycles are ever explained).
    pub fn why(&self, txns: &[Txn], from: usize, to: usize, kind: Kinds) -> Why {
        let appends = |t: usize| {
            txns[t].mops.iter().filter_map(|mop| match mop {
                Mop::Append(k, e) => Some((k.as_str(), e.as_str())),
                _ => None,
            })
        };
        let reads = |t: usize| {
            txns[t].mops.iter().filter_map(move |mop| match mop {
                Mop::Read(k, Some(elements)) => Some((k.as_str(), external(&txns[t], k, elements))),
                _ => None,
            })
        };
        // An append of `to` to `key` that no read holds.
        let unread = |key: &str| {
            let order = self.orders.get(key);
            appends(to).find(move |(k, e)| {
                *k == key && !order.is_some_and(|order| order.iter().any(|o| o == e))
            })
        };
        let found = match kind {
            WW => appends(from).find_map(|(key, element)| {
                let order = self.orders.get(key)?;
                let at = order.iter().position(|e| e == element)?;
                match order.get(at + 1) {
                    Some(next) => appends(to)
                        .any(|(k, e)| k == key && e == next)
                        .then(|| format!("appended {element} to key {key} right before {next}")),
                    None => unread(key).map(|(_, e)| {
                        format!("appended {element} to key {key}, the last element any read holds; {e} was appended after it and never read")
                    }),
                }
                .map(|words| Why {
                    key: Some(key.to_owned()),
                    words,
                })
            }),
            WR => reads(to).find_map(|(key, seen)| {
                let last = seen.last()?;
                appends(from)
                    .any(|(k, e)| k == key && e == last)
                    .then(|| Why {
                        key: Some(key.to_owned()),
                        words: format!(
                            "appended {last} to key {key}, which was read as {}",
                            list(seen)
                        ),
                    })
            }),
            RW => reads(from).find_map(|(key, seen)| {
                let order = self.orders.get(key).map_or(&[][..], Vec::as_slice);
                match order.get(seen.len()) {
                    Some(next) => appends(to)
                        .any(|(k, e)| k == key && e == next)
                        .then(|| format!("read key {key} as {}, before {next} was appended to it", list(seen))),
                    None => unread(key).map(|(_, e)| {
                        format!("read key {key} as {}, all any read holds; {e} was appended after and never read", list(seen))
                    }),
                }
                .map(|words| Why {
                    key: Some(key.to_owned()),
                    words,
                })
            }),
            _ => None,
        };
        found.unwrap_or_else(|| Why {
            key: None,
            words: "completed before the next was invoked".into(),
        })
    }
}

/// Joins elements for the words: `[1 2 3]`.
fn list(elements: &[String]) -> String {
    format!("[{}]", elements.join(" "))
}

/// Runs the inference over `txns`.
pub fn infer(txns: &[Txn]) -> Result<Inferred, String> {
    let mut found = Found::new();
    // Who appended each element of each key, and at which of their micro-ops.
    let mut appender: HashMap<(&str, &str), (usize, usize)> = HashMap::new();
    for (t, txn) in txns.iter().enumerate() {
        for (m, mop) in txn.mops.iter().enumerate() {
            if let Mop::Append(key, element) = mop
                && let Some((other, _)) = appender.insert((key, element), (t, m))
            {
                return Err(format!(
                    "{} and {} both append {element} to key {key}: list-append needs every appended element to be unique per key",
                    name(txns, other),
                    name(txns, t)
                ));
            }
        }
    }
    // Each key's version order: its longest committed read; every read must be a prefix of it.
    let mut longest: HashMap<&str, (&[String], usize)> = HashMap::new();
    let reads = || {
        txns.iter()
            .enumerate()
            .filter(|(_, txn)| txn.outcome == Outcome::Ok)
            .flat_map(|(t, txn)| {
                txn.mops.iter().filter_map(move |mop| match mop {
                    Mop::Read(key, Some(elements)) => Some((t, key.as_str(), elements.as_slice())),
                    _ => None,
                })
            })
    };
    for (t, key, elements) in reads() {
        let mut seen = HashSet::new();
        if let Some(twice) = elements.iter().find(|e| !seen.insert(*e)) {
            found.push(
                "duplicate-elements",
                Anomaly::about(
                    txns,
                    &[t],
                    format!(
                        "{} read key {key} as {}, which holds {twice} more than once",
                        name(txns, t),
                        list(elements)
                    ),
                ),
            );
        }
        let entry = longest.entry(key).or_insert((elements, t));
        if elements.len() > entry.0.len() {
            *entry = (elements, t);
        }
    }
    for (t, key, elements) in reads() {
        let (order, by) = longest[key];
        if !order.starts_with(elements) {
            found.push(
                "incompatible-order",
                Anomaly::about(
                    txns,
                    &[by, t],
                    format!(
                        "key {key} was read as {} by {} and as {} by {}: neither is a prefix of the other, so they cannot come from one list",
                        list(order),
                        name(txns, by),
                        list(elements),
                        name(txns, t)
                    ),
                ),
            );
        }
    }
    // Aborted and intermediate reads, and the elements' positions.
    for (t, key, elements) in reads() {
        for element in elements {
            if let Some(&(writer, _)) = appender.get(&(key, element.as_str()))
                && txns[writer].outcome == Outcome::Failed
            {
                found.push(
                    "G1a",
                    Anomaly::about(
                        txns,
                        &[writer, t],
                        format!(
                            "{} read key {key} as {}, with {element}, which only {} appended, and it failed (an aborted write was seen)",
                            name(txns, t),
                            list(elements),
                            name(txns, writer)
                        ),
                    ),
                );
            }
        }
        if let Some(last) = elements.last()
            && let Some(&(writer, at)) = appender.get(&(key, last.as_str()))
            && writer != t
            && let Some(Mop::Append(_, later)) = txns[writer].mops[at + 1..]
                .iter()
                .find(|mop| matches!(mop, Mop::Append(k, _) if k == key))
        {
            found.push(
                "G1b",
                Anomaly::about(
                    txns,
                    &[writer, t],
                    format!(
                        "{} read key {key} as {}, ending with {last}, but {} appended {later} to it after {last} in the same transaction (an intermediate state was seen)",
                        name(txns, t),
                        list(elements),
                        name(txns, writer)
                    ),
                ),
            );
        }
    }
    future_reads(txns, &appender, &mut found);
    own_order(txns, &longest, &mut found);
    internal(txns, &mut found);
    super::lost_update::find(txns, &mut found, list);
    let graph = dependencies(txns, &appender, &longest, &mut found);
    let orders = longest
        .iter()
        .map(|(key, (order, _))| ((*key).to_owned(), order.to_vec()))
        .collect();
    Ok(Inferred {
        found,
        graph,
        orders,
    })
}

/// A transaction's appends to a key that the key's list holds in another order than the
/// transaction made them (`reordered-appends`: its own effects reordered). Elle does not look
/// for this, so no model here forbids it: the workloads warn of it, and their strict mode
/// fails it.
fn own_order(txns: &[Txn], longest: &HashMap<&str, (&[String], usize)>, found: &mut Found) {
    for (t, txn) in txns.iter().enumerate() {
        let mut last: HashMap<&str, (usize, &str)> = HashMap::new();
        for mop in &txn.mops {
            let Mop::Append(key, element) = mop else {
                continue;
            };
            let Some(at) = longest
                .get(key.as_str())
                .and_then(|(order, _)| order.iter().position(|e| e == element))
            else {
                continue;
            };
            if let Some(&(before, earlier)) = last.get(key.as_str())
                && before > at
            {
                found.push(
                    "reordered-appends",
                    Anomaly::about(
                        txns,
                        &[t],
                        format!(
                            "{} appended {earlier} and then {element} to key {key}, but the key's list holds {element} before {earlier}",
                            name(txns, t)
                        ),
                    ),
                );
            }
            last.insert(key, (at, element));
        }
    }
}

/// Reads that hold an element their own transaction appends only later.
fn future_reads(txns: &[Txn], appender: &HashMap<(&str, &str), (usize, usize)>, found: &mut Found) {
    for (t, txn) in txns.iter().enumerate() {
        if txn.outcome != Outcome::Ok {
            continue;
        }
        for (m, mop) in txn.mops.iter().enumerate() {
            let Mop::Read(key, Some(elements)) = mop else {
                continue;
            };
            let future = elements.iter().find(|element| {
                appender
                    .get(&(key.as_str(), element.as_str()))
                    .is_some_and(|&(w, at)| w == t && at > m)
            });
            if let Some(element) = future {
                found.push(
                    "future-read",
                    Anomaly::about(
                        txns,
                        &[t],
                        format!(
                            "{} read key {key} as {}, with {element}, which it appends only later",
                            name(txns, t),
                            list(elements)
                        ),
                    ),
                );
            }
        }
    }
}

/// Reads that disagree with their own transaction's earlier reads and appends.
fn internal(txns: &[Txn], found: &mut Found) {
    for (t, txn) in txns.iter().enumerate() {
        if txn.outcome != Outcome::Ok {
            continue;
        }
        // Per key: what the txn knows the list must be (a full list after a read; else only
        // the suffix it appended).
        let mut known: HashMap<&str, (bool, Vec<String>)> = HashMap::new();
        for mop in &txn.mops {
            match mop {
                Mop::Append(key, element) => {
                    known.entry(key).or_default().1.push(element.clone());
                }
                Mop::Read(key, Some(elements)) => {
                    if let Some((full, expected)) = known.get(key.as_str()) {
                        let agrees = if *full {
                            elements == expected
                        } else {
                            elements.ends_with(expected)
                        };
                        if !agrees {
                            let wanted = if *full {
                                list(expected)
                            } else {
                                format!("a list ending with {}", list(expected))
                            };
                            found.push(
                                "internal",
                                Anomaly::about(
                                    txns,
                                    &[t],
                                    format!(
                                        "{} read key {key} as {}, but its own earlier reads and appends say {wanted}",
                                        name(txns, t),
                                        list(elements)
                                    ),
                                ),
                            );
                        }
                    }
                    known.insert(key, (true, elements.clone()));
                }
                _ => {}
            }
        }
    }
}

/// Committed appends built on a failed one in a key's list (Elle's `dirty-update`): walking the
/// list, a failed transaction's element followed, past any of unknown outcome, by a committed
/// one's. `appenders` are the elements' appenders, in the list's order.
fn dirty_updates(
    txns: &[Txn],
    key: &str,
    order: &[String],
    appenders: &[Option<usize>],
    found: &mut Found,
) {
    // The last element whose appender's outcome is known, if it failed.
    let mut failed: Option<(usize, &str)> = None;
    for (element, appender) in order.iter().zip(appenders) {
        let Some(t) = *appender else { continue };
        match txns[t].outcome {
            Outcome::Ok => {
                if let Some((aborted, before)) = failed.take() {
                    found.push(
                        "dirty-update",
                        Anomaly::about(
                            txns,
                            &[aborted, t],
                            format!(
                                "key {key}'s list holds {before}, appended by {}, which failed, and after it {element}, appended by {}, which committed: a committed append was built on a state that never existed",
                                name(txns, aborted),
                                name(txns, t)
                            ),
                        ),
                    );
                }
            }
            Outcome::Failed if failed.is_none() => failed = Some((t, element)),
            Outcome::Failed | Outcome::Unknown => {}
        }
    }
}

/// Which appends some committed read holds: a bit per micro-op of each transaction (micro-ops
/// past the 64th in a set), so marking and asking cost no hashing.
struct Read {
    bits: Vec<u64>,
    beyond: HashSet<(usize, usize)>,
}

impl Read {
    fn new(txns: usize) -> Self {
        Read {
            bits: vec![0; txns],
            beyond: HashSet::new(),
        }
    }

    fn mark(&mut self, (t, m): (usize, usize)) {
        if m < 64 {
            self.bits[t] |= 1 << m;
        } else {
            self.beyond.insert((t, m));
        }
    }

    fn has(&self, t: usize, m: usize) -> bool {
        if m < 64 {
            self.bits[t] & (1 << m) != 0
        } else {
            self.beyond.contains(&(t, m))
        }
    }
}

/// Per key, the transactions (committed or of unknown outcome) that appended to it an element
/// no committed read holds.
fn unread_appends<'a>(txns: &'a [Txn], read: &Read) -> HashMap<&'a str, Vec<usize>> {
    let mut unread: HashMap<&str, Vec<usize>> = HashMap::new();
    for (t, txn) in txns.iter().enumerate() {
        if txn.outcome == Outcome::Failed {
            continue;
        }
        for (m, mop) in txn.mops.iter().enumerate() {
            if let Mop::Append(key, _) = mop
                && !read.has(t, m)
            {
                let appenders = unread.entry(key.as_str()).or_default();
                if appenders.last() != Some(&t) {
                    appenders.push(t);
                }
            }
        }
    }
    unread
}

/// The ww, wr and rw edges, from each key's version order.
fn dependencies(
    txns: &[Txn],
    appender: &HashMap<(&str, &str), (usize, usize)>,
    longest: &HashMap<&str, (&[String], usize)>,
    found: &mut Found,
) -> Graph {
    let mut graph = Graph::new(txns.len());
    // Failed transactions take no part: reading their elements is G1a, found above.
    let writer = |key: &str, element: &String| {
        appender
            .get(&(key, element.as_str()))
            .map(|w| w.0)
            .filter(|&w| txns[w].outcome != Outcome::Failed)
    };
    // Keys in a fixed order, so the graph (and the cycles found in it) is the same every run.
    let mut keys: Vec<&&str> = longest.keys().collect();
    keys.sort_unstable();
    let mut read = Read::new(txns.len());
    for key in keys {
        let (order, _) = longest[*key];
        let key = *key;
        let appenders: Vec<Option<usize>> = order
            .iter()
            .map(|e| {
                let (w, m) = *appender.get(&(key, e.as_str()))?;
                read.mark((w, m));
                Some(w)
            })
            .collect();
        dirty_updates(txns, key, order, &appenders, found);
        let writers: Vec<Option<usize>> = appenders
            .iter()
            .map(|w| w.filter(|&w| txns[w].outcome != Outcome::Failed))
            .collect();
        for pair in writers.windows(2) {
            if let (Some(a), Some(b)) = (pair[0], pair[1]) {
                graph.add(a, b, WW);
            }
        }
    }
    // Appends no read holds still came after every element read of their key (Elle's
    // inference): each follows the last element read (ww), and every read that saw the whole
    // list came before it (rw, below).
    let unread = unread_appends(txns, &read);
    for (key, appenders) in &unread {
        let last = longest.get(key).and_then(|(order, _)| order.last());
        if let Some(a) = last.and_then(|last| writer(key, last)) {
            for &b in appenders {
                graph.add(a, b, WW);
            }
        }
    }
    for (t, txn) in txns.iter().enumerate() {
        if txn.outcome != Outcome::Ok {
            continue;
        }
        for mop in &txn.mops {
            let Mop::Read(key, Some(elements)) = mop else {
                continue;
            };
            // What the read saw of other transactions: the list without the transaction's own
            // appends at its end.
            let mut elements = elements.as_slice();
            while let Some(last) = elements.last()
                && appender.get(&(key.as_str(), last.as_str())).map(|w| w.0) == Some(t)
            {
                elements = &elements[..elements.len() - 1];
            }
            if let Some(last) = elements.last()
                && let Some(w) = writer(key, last)
            {
                graph.add(w, t, WR);
            }
            let order = longest.get(key.as_str()).map_or(&[][..], |entry| entry.0);
            if !order.starts_with(elements) {
                continue;
            }
            if let Some(next) = order.get(elements.len())
                && let Some(w) = writer(key, next)
            {
                graph.add(t, w, RW);
            }
            if elements.len() == order.len() {
                for &w in unread.get(key.as_str()).into_iter().flatten() {
                    graph.add(t, w, RW);
                }
            }
        }
    }
    graph
}
