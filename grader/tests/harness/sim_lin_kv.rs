//! The lin-kv workload in the simulated cluster: a node that passes every request on to the
//! lin-kv service and its answer back is linearizable, under partitions too (the service is not
//! partitioned); the same node on seq-kv is not, and the checker says which key and operation;
//! and one that answers every read `null` passes Knossos's mode with a warning and fails the
//! strict one.

use std::collections::HashMap;
use std::time::Duration;

use common::{Context, Message, NoTimer, Node, NodeId, RpcError};
use grader::checker::Validity;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Payload {
    Read { key: Json },
    ReadOk { value: Json },
    Write { key: Json, value: Json },
    WriteOk,
    Cas { key: Json, from: Json, to: Json },
    CasOk,
    Error { code: u64, text: String },
}

#[derive(Debug, Clone, clap::Args)]
struct Flags {
    #[arg(long, default_value = "lin-kv")]
    service: String,
    /// Answer every read `null` without asking.
    #[arg(long)]
    null_reads: bool,
}

/// Passes client requests to a service and its answers back.
struct Proxy {
    flags: Flags,
    waiting: HashMap<u64, Message<Payload>>,
}

impl Node for Proxy {
    type Payload = Payload;
    type Timer = NoTimer;
    type Flags = Flags;

    fn new(flags: Flags) -> Self {
        Proxy {
            flags,
            waiting: HashMap::new(),
        }
    }

    fn on_message(
        &mut self,
        msg: Message<Payload>,
        ctx: &mut Context<Payload, NoTimer>,
    ) -> Result<(), RpcError> {
        if let Some(answered) = msg.body.in_reply_to {
            if let Some(request) = self.waiting.remove(&answered) {
                ctx.reply(&request, msg.body.payload.clone());
            }
            return Ok(());
        }
        if self.flags.null_reads && matches!(msg.body.payload, Payload::Read { .. }) {
            ctx.reply(&msg, Payload::ReadOk { value: Json::Null });
            return Ok(());
        }
        let service = NodeId::new(&self.flags.service);
        let msg_id = ctx.rpc(service, msg.body.payload.clone(), Duration::from_secs(5));
        self.waiting.insert(msg_id, msg);
        Ok(())
    }
}

fn run_with(node_flags: &[&str], extra: &str, seed: u64) -> grader::sim::SimRun {
    let command = format!(
        "-w lin-kv --node-count 2 --concurrency 2n --time-limit 10 --rate 50 --latency 10 --nemesis partition --seed {seed} {extra}"
    );
    let config = grader::config::TestConfig::parse_command(&command).unwrap();
    let node_flags: Vec<String> = node_flags.iter().map(|flag| (*flag).to_owned()).collect();
    grader::sim::simulate::<Proxy>(&config, &node_flags).unwrap()
}

#[test]
fn a_proxy_to_lin_kv_is_linearizable_and_one_to_seq_kv_is_not() {
    for seed in [1, 2] {
        let run = run_with(&[], "", seed);
        assert_eq!(
            run.report.valid,
            Validity::Valid,
            "seed {seed}: {}",
            run.summary
        );
        assert!(run.report.net.service_requests["lin-kv"]["cas"] > 0);
    }
    let stale = run_with(&["--service", "seq-kv"], "", 1);
    assert_eq!(stale.report.valid, Validity::Invalid, "{}", stale.summary);
    assert!(
        stale.summary.contains("not linearizable: key"),
        "{}",
        stale.summary
    );
}

#[test]
fn null_reads_pass_knossos_with_a_warning_and_fail_strict_mode() {
    let lenient = run_with(&["--null-reads"], "", 1);
    assert_eq!(lenient.report.valid, Validity::Valid, "{}", lenient.summary);
    assert!(
        lenient.summary.contains("reads returned null"),
        "{}",
        lenient.summary
    );
    let strict = run_with(&["--null-reads"], "--workload-options strict=true", 1);
    assert_eq!(strict.report.valid, Validity::Invalid, "{}", strict.summary);
}
