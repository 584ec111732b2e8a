//! Maelstrom's guide, chapter 6: a linearizable key-value store (the lin-kv workload: `read`,
//! `write` and `cas` on keys) replicated over the cluster with Raft.
//!
//! Every operation, reads included, becomes an entry in one replicated log. An entry is
//! **committed** once a majority of nodes store it, and every node applies committed entries to
//! its own copy of the map in log order, so all copies go through the same states. The node
//! that appended the entry answers the client when it applies it. Three parts, as in the Raft
//! paper (Ongaro and Ousterhout, 2014):
//!
//! - **Election.** A node is a follower, a candidate or a leader, in a numbered **term**. A
//!   follower that hears nothing from a leader for its election timeout (random, between
//!   `--election-ms` and twice that, so candidates rarely tie) starts a new term as a candidate
//!   and asks every peer for its vote (`request_vote`). A node gives one vote per term, and only
//!   to a candidate whose log is at least as up to date as its own (a later last term, or the
//!   same and as long): so a leader always has every committed entry. A majority of votes makes
//!   a leader. Any message with a higher term turns its receiver into a follower of that term.
//! - **Replication.** The leader appends each client operation to its log and sends its peers
//!   what they miss (`append_entries`, every `--batch-ms` while there is something to send,
//!   every `--heartbeat-ms` anyway, which keeps followers from starting elections). Each
//!   message names the entry just before the ones it carries; a follower whose log does not
//!   hold that entry refuses, with a hint where its log may match, and the leader backs up and
//!   tries again. A follower that accepts drops any entries of its own that conflict with the
//!   leader's and appends.
//! - **Commit.** The leader commits an entry of its own term once a majority store it (and with
//!   it everything before it); an older term's entry is committed only that way, indirectly,
//!   which is what keeps a committed entry from ever being overwritten (the paper's figure 8).
//!   `leader_commit` tells followers how far to apply.
//!
//! **Reads go through the log.** A node, even the leader, that answered reads from its own map
//! could be a leader deposed in a partition it cannot see, or a follower that has not heard the
//! latest commit: its read would be stale, and the history not linearizable (the exercise's
//! tests run such a node; the checker catches it). A read entry is answered when applied, after
//! every write committed before it. (A leader can avoid logging reads with a read index: note
//! its commit index, confirm it is still leader with a round of heartbeats, then answer once
//! that index is applied. Not done here.)
//!
//! **Requests at a follower** are passed to the leader it knows and the leader's answer passed
//! back (a proxy, as the guide does). With no leader known, or for a request that another node
//! already passed on, the answer is error 11 (temporarily unavailable): certain that nothing
//! happened, so the client can retry. A request whose answer never comes (the leader was
//! deposed, or the network dropped it) is not answered: it may yet commit, so only a timeout,
//! which the checker treats as "may have happened", is honest.
//!
//! Not durable: the state lives in memory, so a node killed and restarted has forgotten its
//! vote and its log, which Raft forbids. Graded runs use partitions, not kills.

mod store;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use common::{Context, ErrorCode, Message, Node, NodeId, RpcError, RpcTimeout};
use rand::RngExt as _;

pub use store::{Entry, Log, Op, Outcome, Store};

/// At most this many entries in one `append_entries`.
const MAX_BATCH: usize = 128;

common::kv_payload! {
    /// The lin-kv workload's messages and Raft's own.
    pub enum Payload {
        /// A candidate asks for a vote.
        RequestVote {
            /// The candidate's term.
            term: u64,
            /// The candidate.
            candidate_id: NodeId,
            /// The index of its last log entry.
            last_log_index: u64,
            /// The term of its last log entry.
            last_log_term: u64,
        },
        /// The answer to `request_vote`.
        RequestVoteRes {
            /// The voter's term, for the candidate to catch up.
            term: u64,
            /// Whether the vote is the candidate's.
            vote_granted: bool,
        },
        /// The leader's entries for a follower (none: a heartbeat).
        AppendEntries {
            /// The leader's term.
            term: u64,
            /// The leader, for followers to pass requests to.
            leader_id: NodeId,
            /// The index of the entry just before `entries`.
            prev_log_index: u64,
            /// Its term: the follower must hold that entry to accept.
            prev_log_term: u64,
            /// The entries from `prev_log_index + 1` on.
            entries: Vec<Entry>,
            /// How far the leader has committed.
            leader_commit: u64,
        },
        /// The answer to `append_entries`.
        AppendEntriesRes {
            /// The follower's term.
            term: u64,
            /// Whether the follower's log now matches the leader's up to the entries sent.
            success: bool,
            /// On success, how far it matches; on refusal, where it may match (the leader tries
            /// the entry after it next).
            match_index: u64,
        },
    }
}

/// The node's flags.
#[derive(Debug, Clone, clap::Args)]
pub struct Flags {
    /// Shortest election timeout: a follower that hears no leader for between this and twice
    /// this starts an election.
    #[arg(long, default_value_t = 1000, value_name = "MS")]
    pub election_ms: u64,
    /// Longest time a leader leaves a follower without an `append_entries`.
    #[arg(long, default_value_t = 100, value_name = "MS")]
    pub heartbeat_ms: u64,
    /// How often a leader sends new entries (and checks its timers).
    #[arg(long, default_value_t = 10, value_name = "MS")]
    pub batch_ms: u64,
}

/// The node's one timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
    /// Every `--batch-ms`: a leader replicates, anyone else checks its election timeout.
    Tick,
}

/// What the leader knows of one follower.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// The next index to send it.
    pub next: u64,
    /// The highest index known to match the leader's log.
    pub matched: u64,
    /// The `append_entries` awaiting an answer, if any.
    in_flight: Option<u64>,
    /// When it was last sent one.
    last_sent: Option<Duration>,
}

/// A node's role in its current term.
#[derive(Debug, Clone, PartialEq)]
pub enum Role {
    /// Follows the leader, votes.
    Follower,
    /// Asks for votes; the set holds those it has.
    Candidate(BTreeSet<NodeId>),
    /// Replicates its log; per follower, how far.
    Leader(BTreeMap<NodeId, Progress>),
}

/// A Raft node serving lin-kv.
#[derive(Debug)]
pub struct Raft {
    flags: Flags,
    me: NodeId,
    cluster: usize,
    term: u64,
    voted_for: Option<NodeId>,
    role: Role,
    leader: Option<NodeId>,
    log: Log,
    commit: u64,
    applied: u64,
    store: Store,
    election_deadline: Duration,
    /// Requests this node appended, by its number for them, awaiting their entry's commit.
    waiting: HashMap<u64, Message<Payload>>,
    next_request: u64,
    /// Requests passed to the leader, by the `msg_id` they went with.
    proxied: HashMap<u64, Message<Payload>>,
}

impl Raft {
    /// The node's current term.
    pub fn term(&self) -> u64 {
        self.term
    }

    /// The node's role.
    pub fn role(&self) -> &Role {
        &self.role
    }

    /// The node's log.
    pub fn log(&self) -> &Log {
        &self.log
    }

    /// How far the node knows the log is committed.
    pub fn commit_index(&self) -> u64 {
        self.commit
    }

    /// The map as this node has applied it so far: the committed state, perhaps behind.
    pub fn store(&self) -> &Store {
        &self.store
    }

    fn majority(&self) -> usize {
        self.cluster / 2 + 1
    }

    fn reset_election(&mut self, ctx: &mut Context<Payload, Timer>) {
        let base = self.flags.election_ms.max(1);
        let wait = base + ctx.rng().random_range(0..base);
        self.election_deadline = ctx.now() + Duration::from_millis(wait);
    }

    /// A higher term seen anywhere: follow in it, with no vote given yet.
    fn observe_term(&mut self, term: u64, ctx: &mut Context<Payload, Timer>) {
        if term > self.term {
            if matches!(self.role, Role::Leader(_)) {
                ctx.log(format!("term {term} seen: no longer leader"));
            }
            self.term = term;
            self.voted_for = None;
            self.role = Role::Follower;
            self.leader = None;
        }
    }

    fn start_election(&mut self, ctx: &mut Context<Payload, Timer>) {
        self.term += 1;
        self.voted_for = Some(self.me.clone());
        self.role = Role::Candidate(BTreeSet::from([self.me.clone()]));
        self.leader = None;
        self.reset_election(ctx);
        ctx.log(format!("term {}: asking for votes", self.term));
        let last_log_index = self.log.last_index();
        for peer in ctx.peers() {
            let ask = Payload::RequestVote {
                term: self.term,
                candidate_id: self.me.clone(),
                last_log_index,
                last_log_term: self.log.term_at(last_log_index),
            };
            ctx.send(peer, ask);
        }
        self.count_votes(ctx);
    }

    fn count_votes(&mut self, ctx: &mut Context<Payload, Timer>) {
        let won = matches!(&self.role, Role::Candidate(votes) if votes.len() >= self.majority());
        if !won {
            return;
        }
        ctx.log(format!("term {}: leader", self.term));
        let next = self.log.last_index() + 1;
        let progress = ctx
            .peers()
            .into_iter()
            .map(|peer| {
                let start = Progress {
                    next,
                    matched: 0,
                    in_flight: None,
                    last_sent: None,
                };
                (peer, start)
            })
            .collect();
        self.role = Role::Leader(progress);
        self.leader = Some(self.me.clone());
        self.replicate(ctx);
        self.advance_commit(ctx);
    }

    /// Sends each follower what it misses, at most one batch in flight each; a heartbeat to
    /// one that has heard nothing for `--heartbeat-ms`.
    fn replicate(&mut self, ctx: &mut Context<Payload, Timer>) {
        let now = ctx.now();
        let heartbeat = Duration::from_millis(self.flags.heartbeat_ms.max(1));
        let last = self.log.last_index();
        let Role::Leader(followers) = &mut self.role else {
            return;
        };
        for (peer, progress) in followers.iter_mut() {
            let quiet = progress
                .last_sent
                .is_none_or(|sent| now.saturating_sub(sent) >= heartbeat);
            let behind = progress.next <= last && progress.in_flight.is_none();
            if !(quiet || behind) {
                continue;
            }
            let prev_log_index = progress.next - 1;
            let append = Payload::AppendEntries {
                term: self.term,
                leader_id: self.me.clone(),
                prev_log_index,
                prev_log_term: self.log.term_at(prev_log_index),
                entries: self.log.from(progress.next, MAX_BATCH),
                leader_commit: self.commit,
            };
            progress.in_flight = Some(ctx.send(peer.clone(), append));
            progress.last_sent = Some(now);
        }
    }

    /// Commits the highest entry of this term that a majority stores.
    fn advance_commit(&mut self, ctx: &mut Context<Payload, Timer>) {
        let Role::Leader(followers) = &self.role else {
            return;
        };
        let majority = self.majority();
        let stored_by = |index: u64| 1 + followers.values().filter(|p| p.matched >= index).count();
        let newest = (self.commit + 1..=self.log.last_index())
            .rev()
            .find(|&index| self.log.term_at(index) == self.term && stored_by(index) >= majority);
        if let Some(index) = newest {
            self.commit = index;
            self.apply(ctx);
        }
    }

    /// Applies what is committed and not yet applied; answers the requests this node appended.
    fn apply(&mut self, ctx: &mut Context<Payload, Timer>) {
        while self.applied < self.commit {
            self.applied += 1;
            let Some(entry) = self.log.get(self.applied) else {
                break;
            };
            let outcome = self.store.apply(&entry.op);
            if entry.origin != self.me {
                continue;
            }
            if let Some(request) = self.waiting.remove(&entry.request) {
                ctx.reply(&request, answer(outcome));
            }
        }
    }

    fn on_request(
        &mut self,
        msg: Message<Payload>,
        op: Op,
        ctx: &mut Context<Payload, Timer>,
    ) -> Result<(), RpcError> {
        if matches!(self.role, Role::Leader(_)) {
            self.next_request += 1;
            let entry = Entry {
                term: self.term,
                op,
                origin: self.me.clone(),
                request: self.next_request,
            };
            self.log.push(entry);
            self.waiting.insert(self.next_request, msg);
            // Alone, a leader is its own majority.
            self.advance_commit(ctx);
            return Ok(());
        }
        let leader = self
            .leader
            .clone()
            .filter(|_| !ctx.is_cluster_node(&msg.src));
        let Some(leader) = leader else {
            return Err(RpcError::new(
                ErrorCode::TemporarilyUnavailable,
                format!(
                    "{} is not the leader and knows none it could pass this to; try again",
                    self.me
                ),
            ));
        };
        let timeout = Duration::from_millis(self.flags.election_ms.max(1));
        let msg_id = ctx.rpc(leader, msg.body.payload.clone(), timeout);
        self.proxied.insert(msg_id, msg);
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn on_append(
        &mut self,
        msg: &Message<Payload>,
        term: u64,
        leader_id: &NodeId,
        prev_log_index: u64,
        prev_log_term: u64,
        entries: &[Entry],
        leader_commit: u64,
        ctx: &mut Context<Payload, Timer>,
    ) {
        let refuse = |raft: &Self, match_index| Payload::AppendEntriesRes {
            term: raft.term,
            success: false,
            match_index,
        };
        if term < self.term {
            ctx.reply(msg, refuse(self, 0));
            return;
        }
        self.role = Role::Follower;
        self.leader = Some(leader_id.clone());
        self.reset_election(ctx);
        if prev_log_index > self.log.last_index() {
            ctx.reply(msg, refuse(self, self.log.last_index()));
            return;
        }
        if self.log.term_at(prev_log_index) != prev_log_term {
            let hint = self.log.first_of_term_run(prev_log_index) - 1;
            ctx.reply(msg, refuse(self, hint));
            return;
        }
        for (index, entry) in (prev_log_index + 1..).zip(entries) {
            if self
                .log
                .get(index)
                .is_some_and(|mine| mine.term == entry.term)
            {
                continue;
            }
            // A conflicting suffix was never committed: drop it, and forget the requests it
            // held (they may yet commit elsewhere, so they are not answered).
            for dropped in self.log.truncate_from(index) {
                if dropped.origin == self.me {
                    self.waiting.remove(&dropped.request);
                }
            }
            self.log.push(entry.clone());
        }
        let matched = prev_log_index + entries.len() as u64;
        if leader_commit > self.commit {
            self.commit = leader_commit.min(matched).max(self.commit);
            self.apply(ctx);
        }
        let accept = Payload::AppendEntriesRes {
            term: self.term,
            success: true,
            match_index: matched,
        };
        ctx.reply(msg, accept);
    }

    fn on_append_res(
        &mut self,
        msg: &Message<Payload>,
        success: bool,
        match_index: u64,
        ctx: &mut Context<Payload, Timer>,
    ) {
        let Role::Leader(followers) = &mut self.role else {
            return;
        };
        let Some(progress) = followers.get_mut(&msg.src) else {
            return;
        };
        if progress.in_flight.is_some() && progress.in_flight == msg.body.in_reply_to {
            progress.in_flight = None;
        }
        if success {
            progress.matched = progress.matched.max(match_index);
            progress.next = progress.next.max(progress.matched + 1);
            self.advance_commit(ctx);
        } else {
            let next = progress.next.saturating_sub(1).min(match_index + 1);
            progress.next = next.max(progress.matched + 1).max(1);
        }
        // Refused or behind: the next batch goes out at once rather than at the next tick.
        self.replicate(ctx);
    }
}

/// The reply for an applied operation.
fn answer(outcome: Outcome) -> Payload {
    match outcome {
        Outcome::Read(value) => Payload::ReadOk { value },
        Outcome::Written => Payload::WriteOk,
        Outcome::Swapped => Payload::CasOk,
        Outcome::Error(code, text) => Payload::Error {
            code: code.code(),
            text,
        },
    }
}

impl Node for Raft {
    type Payload = Payload;
    type Timer = Timer;
    type Flags = Flags;

    fn new(flags: Flags) -> Self {
        Raft {
            flags,
            me: NodeId::new(""),
            cluster: 1,
            term: 0,
            voted_for: None,
            role: Role::Follower,
            leader: None,
            log: Log::default(),
            commit: 0,
            applied: 0,
            store: Store::default(),
            election_deadline: Duration::ZERO,
            waiting: HashMap::new(),
            next_request: 0,
            proxied: HashMap::new(),
        }
    }

    fn on_init(&mut self, ctx: &mut Context<Payload, Timer>) {
        self.me = ctx.node_id().clone();
        self.cluster = ctx.node_ids().len();
        self.reset_election(ctx);
        ctx.every(
            Duration::from_millis(self.flags.batch_ms.max(1)),
            Timer::Tick,
        );
    }

    fn on_timer(&mut self, _timer: Timer, ctx: &mut Context<Payload, Timer>) {
        if matches!(self.role, Role::Leader(_)) {
            self.replicate(ctx);
        } else if ctx.now() >= self.election_deadline {
            self.start_election(ctx);
        }
    }

    fn on_message(
        &mut self,
        msg: Message<Payload>,
        ctx: &mut Context<Payload, Timer>,
    ) -> Result<(), RpcError> {
        if let Some(request) = msg.body.in_reply_to.and_then(|id| self.proxied.remove(&id)) {
            ctx.reply(&request, msg.body.payload.clone());
            return Ok(());
        }
        let payload = msg.body.payload.clone();
        match payload {
            Payload::Read { key } => self.on_request(msg, Op::Read { key }, ctx)?,
            Payload::Write { key, value } => self.on_request(msg, Op::Write { key, value }, ctx)?,
            Payload::Cas { key, from, to, .. } => {
                self.on_request(msg, Op::Cas { key, from, to }, ctx)?;
            }
            Payload::RequestVote {
                term,
                candidate_id,
                last_log_index,
                last_log_term,
            } => {
                self.observe_term(term, ctx);
                let free = self
                    .voted_for
                    .as_ref()
                    .is_none_or(|vote| *vote == candidate_id);
                let vote_granted = term == self.term
                    && free
                    && self.log.candidate_up_to_date(last_log_index, last_log_term);
                if vote_granted {
                    self.voted_for = Some(candidate_id);
                    self.reset_election(ctx);
                }
                let term = self.term;
                ctx.reply(&msg, Payload::RequestVoteRes { term, vote_granted });
            }
            Payload::RequestVoteRes { term, vote_granted } => {
                self.observe_term(term, ctx);
                if let Role::Candidate(votes) = &mut self.role
                    && vote_granted
                    && term == self.term
                {
                    votes.insert(msg.src.clone());
                    self.count_votes(ctx);
                }
            }
            Payload::AppendEntries {
                term,
                leader_id,
                prev_log_index,
                prev_log_term,
                entries,
                leader_commit,
            } => {
                self.observe_term(term, ctx);
                self.on_append(
                    &msg,
                    term,
                    &leader_id,
                    prev_log_index,
                    prev_log_term,
                    &entries,
                    leader_commit,
                    ctx,
                );
            }
            Payload::AppendEntriesRes {
                term,
                success,
                match_index,
            } => {
                self.observe_term(term, ctx);
                if term == self.term {
                    self.on_append_res(&msg, success, match_index, ctx);
                }
            }
            // Answers to requests no longer waited for.
            Payload::ReadOk { .. } | Payload::WriteOk | Payload::CasOk | Payload::Error { .. } => {}
        }
        Ok(())
    }

    fn on_rpc_timeout(&mut self, timeout: RpcTimeout, _ctx: &mut Context<Payload, Timer>) {
        // The leader did not answer in time: the request may still commit, so the client is
        // left to time out (its write stays "may have happened").
        self.proxied.remove(&timeout.msg_id);
    }
}

#[cfg(test)]
mod tests {
    use common::testing::{TestNode, dests};
    use serde_json::{Value, json};

    use super::*;

    fn node() -> TestNode<Raft> {
        let flags = Flags {
            election_ms: 100,
            heartbeat_ms: 50,
            batch_ms: 10,
        };
        TestNode::new(Raft::new(flags), "n0", &["n0", "n1", "n2"], 1)
    }

    fn entry(term: u64, value: u64) -> Value {
        json!({"term": term, "op": {"type": "write", "key": 1, "value": value}, "origin": "n1", "request": value})
    }

    /// Makes `n0` leader of term 3, its log holding an entry of term 1 and one of term 2 that
    /// no majority stores yet (the paper's figure 8).
    fn leader_with_an_old_entry() -> TestNode<Raft> {
        let mut raft = node();
        let append = json!({"type": "append_entries", "msg_id": 1, "term": 2, "leader_id": "n1",
            "prev_log_index": 0, "prev_log_term": 0, "entries": [entry(1, 1), entry(2, 2)], "leader_commit": 1});
        raft.deliver("n1", append, 0);
        // No leader heard for the election timeout: a candidate of term 3.
        let asks = raft.tick(1_000);
        assert_eq!(dests(&asks), ["n1", "n2"], "{asks:?}");
        assert_eq!(raft.node().term(), 3);
        let vote =
            json!({"type": "request_vote_res", "in_reply_to": 1, "term": 3, "vote_granted": true});
        let appends = raft.deliver("n2", vote, 1_001);
        assert!(matches!(raft.node().role(), Role::Leader(_)));
        assert_eq!(appends.len(), 2, "{appends:?}");
        raft
    }

    #[test]
    fn an_old_terms_entry_is_not_committed_by_counting_copies() {
        let mut raft = leader_with_an_old_entry();
        // n2 now stores both entries: a majority, but the entry at 2 is of term 2, not 3.
        let stored = json!({"type": "append_entries_res", "in_reply_to": 99, "term": 3, "success": true, "match_index": 2});
        raft.deliver("n2", stored.clone(), 1_002);
        assert_eq!(raft.node().commit_index(), 1);
        // A client's write at 3, stored by n2 too: committed, and with it the entry at 2.
        let write = json!({"type": "write", "msg_id": 7, "key": 1, "value": 9});
        raft.deliver("c1", write, 1_003);
        let stored = json!({"type": "append_entries_res", "in_reply_to": 100, "term": 3, "success": true, "match_index": 3});
        let out = raft.deliver("n2", stored, 1_004);
        assert_eq!(raft.node().commit_index(), 3);
        let answer = out.iter().find(|message| message["dest"] == "c1");
        assert_eq!(
            answer.map(|message| message["body"]["type"].clone()),
            Some(json!("write_ok")),
            "{out:?}"
        );
        assert_eq!(raft.node().store().get(&json!(1)), Some(&json!(9)));
    }

    #[test]
    fn a_higher_term_deposes_the_leader_and_its_uncommitted_request_is_not_answered() {
        let mut raft = leader_with_an_old_entry();
        let write = json!({"type": "write", "msg_id": 7, "key": 1, "value": 9});
        raft.deliver("c1", write, 1_002);
        // A leader of term 4 whose log replaces everything after index 1.
        let append = json!({"type": "append_entries", "msg_id": 5, "term": 4, "leader_id": "n1",
            "prev_log_index": 1, "prev_log_term": 1, "entries": [entry(4, 4)], "leader_commit": 2});
        let out = raft.deliver("n1", append, 1_003);
        assert_eq!(raft.node().role(), &Role::Follower);
        assert_eq!(raft.node().log().last_index(), 2);
        assert_eq!(raft.node().store().get(&json!(1)), Some(&json!(4)));
        assert!(
            out.iter().all(|message| message["dest"] != "c1"),
            "the dropped write was answered: {out:?}"
        );
        assert!(raft.node().waiting.is_empty());
    }

    #[test]
    fn a_request_another_node_passed_on_is_not_passed_on_again() {
        let mut raft = node();
        let heartbeat = json!({"type": "append_entries", "msg_id": 1, "term": 1, "leader_id": "n1",
            "prev_log_index": 0, "prev_log_term": 0, "entries": [], "leader_commit": 0});
        raft.deliver("n1", heartbeat, 0);
        let passed = raft.deliver("n2", json!({"type": "read", "msg_id": 3, "key": 1}), 1);
        assert_eq!(passed[0]["body"]["code"], 11, "{passed:?}");
        let from_client = raft.deliver("c1", json!({"type": "read", "msg_id": 3, "key": 1}), 2);
        assert_eq!(dests(&from_client), ["n1"]);
    }
}
