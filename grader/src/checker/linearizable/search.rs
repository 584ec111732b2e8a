//! The linearizability search for one register: Wing and Gong's algorithm with Lowe's
//! memoisation (as Porcupine runs it), over a list of call and return entries.
//!
//! The entries are in history order. The search walks the list: at an operation's call it tries
//! to linearize the operation now (the register's next state must accept it, and the pair of
//! (operations linearized, state) must not have been seen before); if it can, the operation's
//! entries leave the list and the walk starts again at the head. At a return it meets an
//! operation that had to be linearized before this point and was not: it backtracks, undoing
//! the last linearized operation and trying the next call after it. An operation whose outcome
//! is unknown has no return: it may be linearized anywhere after its call, or never. The
//! history is linearizable once every acknowledged operation is linearized. The memo keys the
//! set of linearized operations by a 128-bit hash ([`Zobrist`]).

use std::collections::HashSet;

/// A register's value: none (the key is absent) or a value's number.
pub type State = Option<u32>;

/// What an operation did, as the model sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// A read that saw this value (none: absent).
    Read(State),
    /// A read that accepts any value (Knossos's reading of `null`).
    ReadAny,
    /// A write of a value.
    Write(u32),
    /// A compare-and-set that succeeded.
    Cas(u32, u32),
    /// A compare-and-set that was refused because the value was not `from` (strict mode).
    CasRefused(u32),
    /// A read or cas that was told the key does not exist (strict mode).
    Absent,
}

impl Action {
    /// The state after this action from `state`, if the action is possible there.
    pub fn step(self, state: State) -> Option<State> {
        match self {
            Action::Read(seen) => (seen == state).then_some(state),
            Action::ReadAny => Some(state),
            Action::Write(value) => Some(Some(value)),
            Action::Cas(from, to) => (state == Some(from)).then_some(Some(to)),
            Action::CasRefused(from) => (state.is_some() && state != Some(from)).then_some(state),
            Action::Absent => state.is_none().then_some(state),
        }
    }
}

/// One operation on the register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterOp {
    /// Its invocation's position in the history.
    pub call: usize,
    /// Its completion's position, or none when its outcome is unknown (it never returns).
    pub ret: Option<usize>,
    /// What it did.
    pub action: Action,
}

/// How a search ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A linearization exists; the operations in its order (indexes into the ops).
    Linearizable(Vec<usize>),
    /// None exists. The longest run of operations the search linearized, and the operation
    /// that then had to come next and could not: the heart of the counterexample.
    NotLinearizable {
        /// The longest linearized prefix found.
        longest: Vec<usize>,
        /// The operation whose return the search could not get past after that prefix.
        stuck_at: usize,
    },
    /// The search gave up after this many steps.
    GaveUp(u64),
}

/// An entry of the list: an operation's call or return.
#[derive(Debug, Clone, Copy)]
struct Entry {
    op: usize,
    is_call: bool,
    prev: usize,
    next: usize,
}

/// The set of linearized operations, as a 128-bit Zobrist hash: each operation has two random
/// words, and the set's hash is the exclusive-or of its members', updated in O(1) as operations
/// are linearized and undone. Two different sets share a hash with a chance of about one in
/// 2^128 per pair, so the memo holds 16 bytes per explored set instead of a bit per operation
/// (which would be gigabytes for 100,000 operations).
struct Zobrist {
    words: Vec<(u64, u64)>,
}

impl Zobrist {
    fn new(count: usize) -> Self {
        // SplitMix64, seeded: the same words every run.
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        Zobrist {
            words: (0..count).map(|_| (next(), next())).collect(),
        }
    }

    fn flip(&self, hash: &mut (u64, u64), op: usize) {
        hash.0 ^= self.words[op].0;
        hash.1 ^= self.words[op].1;
    }
}

/// Searches for a linearization of `ops` from `initial`, giving up after `budget` steps.
pub fn search(ops: &[RegisterOp], initial: State, budget: u64) -> Outcome {
    // The entries in history order; a head sentinel at 0 (index `HEAD`).
    let mut events: Vec<(usize, usize, bool)> = Vec::new();
    for (index, op) in ops.iter().enumerate() {
        events.push((op.call, index, true));
        if let Some(ret) = op.ret {
            events.push((ret, index, false));
        }
    }
    events.sort_unstable();
    const HEAD: usize = 0;
    let mut list: Vec<Entry> = Vec::with_capacity(events.len() + 1);
    list.push(Entry {
        op: usize::MAX,
        is_call: false,
        prev: HEAD,
        next: usize::MAX,
    });
    let mut call_entry = vec![0; ops.len()];
    let mut return_entry = vec![None; ops.len()];
    for (_, op, is_call) in events {
        let at = list.len();
        let previous = at - 1;
        list[previous].next = at;
        list.push(Entry {
            op,
            is_call,
            prev: previous,
            next: usize::MAX,
        });
        if is_call {
            call_entry[op] = at;
        } else {
            return_entry[op] = Some(at);
        }
    }
    let mut remaining = ops.iter().filter(|op| op.ret.is_some()).count();
    let lift = |list: &mut Vec<Entry>, at: usize| {
        let Entry { prev, next, .. } = list[at];
        list[prev].next = next;
        if next != usize::MAX {
            list[next].prev = prev;
        }
    };
    let unlift = |list: &mut Vec<Entry>, at: usize| {
        let Entry { prev, next, .. } = list[at];
        list[prev].next = at;
        if next != usize::MAX {
            list[next].prev = at;
        }
    };
    let zobrist = Zobrist::new(ops.len());
    let mut linearized = (0u64, 0u64);
    let mut seen: HashSet<(u64, u64, State)> = HashSet::new();
    // (the op linearized, the state before it)
    let mut stack: Vec<(usize, State)> = Vec::new();
    let mut state = initial;
    let mut longest: Vec<usize> = Vec::new();
    let mut stuck_at = None;
    let mut steps = 0u64;
    let mut at = list[HEAD].next;
    loop {
        if remaining == 0 {
            return Outcome::Linearizable(stack.iter().map(|(op, _)| *op).collect());
        }
        steps += 1;
        if steps > budget {
            return Outcome::GaveUp(steps);
        }
        if at == usize::MAX {
            // Only unknown operations' calls are left, yet some acknowledged one is not
            // linearized: impossible, as its return would still be in the list.
            unreachable!("the list ended with acknowledged operations left");
        }
        let entry = list[at];
        if entry.is_call {
            let op = entry.op;
            let next_state = ops[op].action.step(state);
            let mut tried = false;
            if let Some(next_state) = next_state {
                zobrist.flip(&mut linearized, op);
                if seen.insert((linearized.0, linearized.1, next_state)) {
                    stack.push((op, state));
                    state = next_state;
                    lift(&mut list, call_entry[op]);
                    if let Some(ret) = return_entry[op] {
                        lift(&mut list, ret);
                        remaining -= 1;
                    }
                    if stack.len() > longest.len() {
                        longest = stack.iter().map(|(op, _)| *op).collect();
                        stuck_at = None;
                    }
                    at = list[HEAD].next;
                    tried = true;
                } else {
                    zobrist.flip(&mut linearized, op);
                }
            }
            if !tried {
                at = entry.next;
            }
        } else {
            // An operation that must already be linearized is not: backtrack.
            if stack.len() == longest.len() && stuck_at.is_none() {
                stuck_at = Some(entry.op);
            }
            let Some((op, before)) = stack.pop() else {
                return Outcome::NotLinearizable {
                    longest,
                    stuck_at: stuck_at.unwrap_or(entry.op),
                };
            };
            state = before;
            zobrist.flip(&mut linearized, op);
            if let Some(ret) = return_entry[op] {
                unlift(&mut list, ret);
                remaining += 1;
            }
            unlift(&mut list, call_entry[op]);
            at = list[call_entry[op]].next;
        }
    }
}
