//! [`RunArgs`]: Maelstrom's `test` flags as clap parses them, each with its default and what
//! it means; [`super::TestConfig::from_args`] checks them.

use clap::Args;

/// Maelstrom's `test` flags, less `--bin` (Maelstrom's defaults throughout): the one place
/// where a setting's default is written.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// The workload to run (see the grader README for the list).
    #[arg(short = 'w', long, default_value = "broadcast")]
    pub workload: String,
    /// The workload's options, as key=value pairs separated by commas (the grader README lists
    /// each workload's).
    #[arg(long, value_name = "KEY=VALUE,…")]
    pub workload_options: Option<String>,
    /// The transaction workloads' consistency models to check, separated by commas or spaces
    /// (Maelstrom's flag; the workload option consistency_models).
    #[arg(long, value_name = "MODELS")]
    pub consistency_models: Option<String>,
    /// The transaction workloads' keys in play at once (Maelstrom's flag; key_count).
    #[arg(long, value_name = "N")]
    pub key_count: Option<u64>,
    /// The transaction workloads' longest transaction (Maelstrom's flag; max_txn_length).
    #[arg(long, value_name = "N")]
    pub max_txn_length: Option<u64>,
    /// The transaction workloads' appends or writes per key before a key is retired
    /// (Maelstrom's flag; max_writes_per_key).
    #[arg(long, value_name = "N")]
    pub max_writes_per_key: Option<u64>,
    /// How many nodes, named n0, n1, ….
    #[arg(
        long,
        default_value_t = 5,
        value_name = "N",
        allow_hyphen_values = true
    )]
    pub node_count: usize,
    /// Seconds of client operations (the main phase).
    #[arg(
        long,
        default_value_t = 60.0,
        value_name = "SECONDS",
        allow_hyphen_values = true
    )]
    pub time_limit: f64,
    /// Client operations per second across all clients; 0 for none.
    #[arg(
        long,
        default_value_t = 5.0,
        value_name = "OPS",
        allow_hyphen_values = true
    )]
    pub rate: f64,
    /// Worker clients: a number, or `Kn` for K per node (worker t talks to node t mod N).
    #[arg(long, default_value = "1n", value_name = "N|Kn")]
    pub concurrency: String,
    /// Mean one-way latency between servers, in ms (clients get none).
    #[arg(
        long,
        default_value_t = 0.0,
        value_name = "MS",
        allow_hyphen_values = true
    )]
    pub latency: f64,
    /// How latencies are drawn: constant, uniform or exponential.
    #[arg(long, default_value = "constant")]
    pub latency_dist: String,
    /// How messages reach nodes: `maelstrom` (one writer per node, each message waits for the
    /// one before it; partitions checked when a message is taken; workers chosen round-robin)
    /// or `ideal` (every message at its own deadline; a random free worker).
    #[arg(long, default_value = "maelstrom", value_name = "RULE")]
    pub delivery: String,
    /// Faults to inject, comma-separated: partition, kill (crash, then restart empty), pause
    /// (stop, then continue), crash (kill for good: crash-stop; the checks judge the survivors).
    #[arg(long, value_name = "FAULTS")]
    pub nemesis: Option<String>,
    /// Mean seconds between nemesis actions.
    #[arg(
        long,
        default_value_t = 10.0,
        value_name = "SECONDS",
        allow_hyphen_values = true
    )]
    pub nemesis_interval: f64,
    /// Which nodes kill, pause and crash choose from: random, interior (nodes with children
    /// in the topology), or node ids (`n0`, `n0,n3`).
    #[arg(long, default_value = "random", value_name = "RULE")]
    pub nemesis_targets: String,
    /// Faults at given times instead of at random: `T=ACTION[:NODES]` steps joined by `;`, T in
    /// seconds from the start of the main phase, such as
    /// `1=partition:n0|n1,n2;3=heal;4=kill:n1;6=restart:n1` (actions: partition, heal, kill,
    /// restart, pause, resume, crash). Not with --nemesis.
    #[arg(long, value_name = "STEPS")]
    pub nemesis_schedule: Option<String>,
    /// The topology sent to nodes: grid, line, total, tree (tree2), tree3, tree4.
    #[arg(long, default_value = "grid")]
    pub topology: String,
    /// Seed for the harness's randomness (latency, operations, nemesis); random if absent.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Seconds of quiet after the heal, before the final reads.
    #[arg(
        long,
        default_value_t = 10.0,
        value_name = "SECONDS",
        allow_hyphen_values = true
    )]
    pub recovery: f64,
    /// What fraction of operations must succeed: `total` (every one, as Fly.io's unique-ids
    /// and transaction challenges ask) or a number from 0 to 1. Without it none is required.
    #[arg(long, value_name = "total|FRACTION")]
    pub availability: Option<String>,
    /// The nodes' ids, comma-separated (`n1,n2,n3`), instead of `--node-count`'s n0, n1, ….
    #[arg(long, value_name = "ID,ID,…")]
    pub nodes: Option<String>,
    /// Echo every node's stderr to the console as it is written (it is always kept in the
    /// store's node-logs/).
    #[arg(long)]
    pub log_stderr: bool,
    /// Print every message as it is sent (the store's journal.jsonl always has them).
    #[arg(long)]
    pub log_net_send: bool,
    /// Print every message as it is delivered.
    #[arg(long)]
    pub log_net_recv: bool,
}
