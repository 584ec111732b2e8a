//! What the log replicates: the client's operations, the log's entries, and the key-value map
//! they are applied to, one committed entry at a time, in log order, on every node alike.

use std::collections::BTreeMap;

use common::{ErrorCode, NodeId};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A client operation, as the log carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Op {
    /// Read `key`: through the log like everything else, so it sees every write committed
    /// before it and none after.
    Read {
        /// The key.
        key: Value,
    },
    /// Set `key` to `value`.
    Write {
        /// The key.
        key: Value,
        /// The value.
        value: Value,
    },
    /// Set `key` to `to` if it holds `from`.
    Cas {
        /// The key.
        key: Value,
        /// The value it must hold.
        from: Value,
        /// Its new value.
        to: Value,
    },
}

/// One slot of the log: the term of the leader that appended it, the operation, and who
/// answers the client once it is applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The term in which a leader appended it.
    pub term: u64,
    /// The client's operation.
    pub op: Op,
    /// The node that appended it (the leader then), which answers the request when it applies
    /// the entry.
    pub origin: NodeId,
    /// That node's number for the waiting request.
    pub request: u64,
}

/// What applying an operation answers: the reply's body, or an error code and its text.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// `read_ok {value}`.
    Read(Value),
    /// `write_ok`.
    Written,
    /// `cas_ok`.
    Swapped,
    /// An error reply: 20 for a missing key, 22 for a cas whose `from` did not match.
    Error(ErrorCode, String),
}

/// The key-value map the committed log builds. Keys are compared by their JSON text, so `1`
/// and `"1"` are different keys, as in Maelstrom's lin-kv.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Store {
    values: BTreeMap<String, Value>,
}

impl Store {
    /// The value under `key`, if any.
    pub fn get(&self, key: &Value) -> Option<&Value> {
        self.values.get(&key.to_string())
    }

    /// Applies one operation and says what to answer.
    pub fn apply(&mut self, op: &Op) -> Outcome {
        match op {
            Op::Read { key } => match self.get(key) {
                Some(value) => Outcome::Read(value.clone()),
                None => missing(key),
            },
            Op::Write { key, value } => {
                self.values.insert(key.to_string(), value.clone());
                Outcome::Written
            }
            Op::Cas { key, from, to } => match self.values.get_mut(&key.to_string()) {
                None => missing(key),
                Some(value) if value != from => Outcome::Error(
                    ErrorCode::PreconditionFailed,
                    format!("key {key} holds {value}, not {from}"),
                ),
                Some(value) => {
                    *value = to.clone();
                    Outcome::Swapped
                }
            },
        }
    }
}

fn missing(key: &Value) -> Outcome {
    Outcome::Error(
        ErrorCode::KeyDoesNotExist,
        format!("key {key} does not exist"),
    )
}

/// The replicated log, indexed from 1 as in the Raft paper; index 0 is an empty start of term 0
/// that every log shares.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Log {
    entries: Vec<Entry>,
}

impl Log {
    /// The index of the last entry (0 when empty).
    pub fn last_index(&self) -> u64 {
        self.entries.len() as u64
    }

    /// The term of the entry at `index`: 0 at index 0 or past the end.
    pub fn term_at(&self, index: u64) -> u64 {
        self.get(index).map_or(0, |entry| entry.term)
    }

    /// The entry at `index`, if there is one.
    pub fn get(&self, index: u64) -> Option<&Entry> {
        let at = usize::try_from(index.checked_sub(1)?).ok()?;
        self.entries.get(at)
    }

    /// Appends an entry and returns its index.
    pub fn push(&mut self, entry: Entry) -> u64 {
        self.entries.push(entry);
        self.last_index()
    }

    /// Up to `limit` entries from `index` on.
    pub fn from(&self, index: u64, limit: usize) -> Vec<Entry> {
        let start = usize::try_from(index.saturating_sub(1)).unwrap_or(usize::MAX);
        self.entries
            .iter()
            .skip(start)
            .take(limit)
            .cloned()
            .collect()
    }

    /// Drops every entry from `index` on and returns them.
    pub fn truncate_from(&mut self, index: u64) -> Vec<Entry> {
        let keep = usize::try_from(index.saturating_sub(1)).unwrap_or(usize::MAX);
        if keep >= self.entries.len() {
            return Vec::new();
        }
        self.entries.split_off(keep)
    }

    /// The first index of the run of entries with `index`'s term that ends at `index`: where a
    /// leader should try next when its entry at `index` does not match ours.
    pub fn first_of_term_run(&self, index: u64) -> u64 {
        let term = self.term_at(index);
        let mut first = index;
        while first > 1 && self.term_at(first - 1) == term {
            first -= 1;
        }
        first
    }

    /// True when a candidate whose log ends at (`index`, `term`) is at least as up to date as
    /// this log: its last term is later, or the same and its log at least as long (Raft §5.4.1).
    pub fn candidate_up_to_date(&self, index: u64, term: u64) -> bool {
        let mine = self.term_at(self.last_index());
        term > mine || (term == mine && index >= self.last_index())
    }
}
