//! What a workload declares before it runs: its services, RPC timeout, final phase, concurrency
//! rule, error rule and process rule ([`Declaration`]), and the types they are made of.

use std::time::Duration;

/// How long a client waits for a reply before the operation times out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RpcTimeout {
    /// Always this long (Maelstrom's 5 s for most workloads).
    Fixed(Duration),
    /// `factor` times the mean server latency, and at least `floor` (lin-kv's
    /// `max(10 × latency, 1 s)`).
    LatencyTimes {
        /// The multiple of the mean latency.
        factor: u32,
        /// The shortest timeout.
        floor: Duration,
    },
}

impl RpcTimeout {
    /// The timeout for a run whose mean server latency is `mean_latency_ms`.
    pub fn for_latency(self, mean_latency_ms: f64) -> Duration {
        match self {
            RpcTimeout::Fixed(timeout) => timeout,
            RpcTimeout::LatencyTimes { factor, floor } => {
                Duration::from_secs_f64(mean_latency_ms * f64::from(factor) / 1000.0).max(floor)
            }
        }
    }
}

/// How many worker clients a workload can run with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConcurrencyRule {
    /// Any number, one at least.
    Any,
    /// A multiple of twice the node count (lin-kv drives each key with n readers and n
    /// writers).
    MultipleOfTwiceNodes,
}

impl ConcurrencyRule {
    /// Checks `concurrency` workers on `nodes` nodes for workload `name`: `Err` says what to
    /// pass instead.
    pub fn check(self, name: &str, concurrency: usize, nodes: usize) -> Result<(), String> {
        match self {
            ConcurrencyRule::Any => Ok(()),
            ConcurrencyRule::MultipleOfTwiceNodes => {
                let unit = 2 * nodes;
                if concurrency.is_multiple_of(unit) {
                    Ok(())
                } else {
                    Err(format!(
                        "the {name} workload needs --concurrency to be a multiple of twice the node count ({unit} for {nodes} node(s)), not {concurrency}: pass --concurrency 2n"
                    ))
                }
            }
        }
    }
}

/// How an error reply or a timeout completes an operation (Jepsen's `with-errors`, or its
/// absence).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorRule {
    /// `with-errors` with these idempotent operations: a definite error fails the operation;
    /// an indefinite one or a timeout leaves it `info` (it may have happened), except that an
    /// idempotent operation (a read) always fails.
    WithErrors {
        /// The operations (`f`) that always fail on an error or a timeout.
        idempotent: &'static [&'static str],
    },
    /// No `with-errors`: every error reply and every timeout leaves the operation `info`.
    AllIndefinite,
}

impl ErrorRule {
    /// True when operation `f` certainly did not happen after an error with this
    /// definiteness (a timeout is indefinite).
    pub fn fails(self, f: &str, definite: bool) -> bool {
        match self {
            ErrorRule::WithErrors { idempotent } => definite || idempotent.contains(&f),
            ErrorRule::AllIndefinite => false,
        }
    }
}

/// What the harness must know about a workload before it runs it: everything that is not an
/// operation. [`Declaration::MAELSTROM`] is Maelstrom's usual choice for each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Declaration {
    /// The services (`lin-kv`, `seq-kv`, `lww-kv`, `lin-tso`) its nodes are meant to use. Any
    /// node may call any service in any workload; this says which ones the exercise is about.
    pub services: &'static [&'static str],
    /// How long a client waits for a reply.
    pub rpc_timeout: RpcTimeout,
    /// True when the run ends with a final phase: every fault undone, `--recovery` seconds of
    /// quiet (convergence timed, for workloads with [`Probes`](super::Probes)), then one
    /// [`Workload::final_operation`](super::Workload::final_operation) per worker. False: the run stops when the main phase's
    /// operations are done, with faults still in force (echo, unique-ids, lin-kv).
    pub final_phase: bool,
    /// How many workers it can run with.
    pub concurrency: ConcurrencyRule,
    /// How error replies and timeouts complete operations.
    pub errors: ErrorRule,
    /// True when a worker whose operation ended `info` (it may or may not have happened)
    /// carries on as a fresh process with a new client id, as Jepsen's workers do; its old
    /// process never invokes again, so checkers can treat that operation as concurrent with
    /// everything after it.
    pub fresh_process_after_info: bool,
    /// How long the final phase may issue operations (kafka's 10 s), counted from its start;
    /// operations in flight then still complete. None: no limit.
    pub final_phase_limit: Option<Duration>,
}

impl Declaration {
    /// Maelstrom's usual choice: no services, a 5 s timeout, a final phase, any concurrency,
    /// errors as `with-errors` with reads idempotent, and a fresh process after each `info`.
    pub const MAELSTROM: Declaration = Declaration {
        services: &[],
        rpc_timeout: RpcTimeout::Fixed(DEFAULT_RPC_TIMEOUT),
        final_phase: true,
        concurrency: ConcurrencyRule::Any,
        errors: ErrorRule::WithErrors {
            idempotent: &["read"],
        },
        fresh_process_after_info: true,
        final_phase_limit: None,
    };

    /// Maelstrom's choice for workloads whose operations are judged one by one (echo,
    /// unique-ids): no final phase, and `with-errors` with no operation idempotent, so a
    /// timeout leaves an operation `info`.
    pub const ONE_BY_ONE: Declaration = Declaration {
        final_phase: false,
        errors: ErrorRule::WithErrors { idempotent: &[] },
        ..Declaration::MAELSTROM
    };
}

/// Maelstrom's RPC timeout for most workloads.
pub const DEFAULT_RPC_TIMEOUT: Duration = Duration::from_secs(5);
