//! The kv-bench workload (stage 19's benchmark): clients write fresh keys and read keys already
//! acknowledged; the harness times each write's replication from its own delivery record.
//!
//! - `bench_write {key, value}` → `bench_write_ok {write_id}`: every write a new key `kb<i>`
//!   with value `i` (0, 1, 2, …), so every write must reach every replica.
//! - `bench_read {key}` → `bench_read_ok {key, value}` (or error 20): a key picked at random
//!   among those already acknowledged, so a read that misses it is **stale**.
//! - Final operation of each worker: `bench_report` → `bench_report_ok {total_writes,
//!   total_gossip_msgs, msgs_per_write, keys_stored}`; the harness notes how many messages the
//!   node had sent to other nodes when it wrote the reply, and the checker holds the two
//!   counts against each other (workers are spread over the nodes, so with at least as many
//!   workers as nodes every node reports).
//! - A write is **handed** to a node when a message to it names the key (`"kb<i>"`, anywhere
//!   in the body, as a value or a field name: a replica cannot store a key it was never sent);
//!   from clients only `bench_write` counts. **Convergence time** of a write: from its
//!   acknowledgement until the last surviving node was handed it (0 when all had it first).
//! - Convergence probes send `bench_report`: a node has converged once it stores as many keys
//!   as writes were acknowledged.

use std::time::Duration;

use rand::RngExt;
use rand::rngs::ChaCha8Rng;
use serde::Serialize;
use serde_json::{Value as Json, json};

use super::{
    Arrivals, CheckContext, Checked, Declaration, ErrorRule, Figure, Operation, Probes, Survivors,
    TrackValues, Workload, closed_reply,
};
use crate::checker::{Validity, quantiles};
use crate::history::{Op, OpKind};
use crate::topology::NeighbourMap;

/// The workload's state.
#[derive(Debug, Default)]
pub struct KvBench {
    next_value: i64,
    /// Values whose writes were acknowledged, in order.
    acknowledged: Vec<i64>,
    /// Keys every node must store once converged.
    required: usize,
}

fn key_name(value: i64) -> String {
    format!("kb{value}")
}

/// The values of the keys a message body names: every `"kb<digits>"` in it.
pub fn named_values(body: &str, values: &mut Vec<i64>) {
    let mut rest = body;
    while let Some(at) = rest.find("\"kb") {
        rest = &rest[at + 3..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0
            && rest.as_bytes().get(digits) == Some(&b'"')
            && let Ok(value) = rest[..digits].parse()
        {
            values.push(value);
        }
    }
}

/// A node's own report beside the harness's count.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The node.
    pub node: String,
    /// Writes it says it took.
    pub total_writes: u64,
    /// Messages it says it sent to other nodes.
    pub total_gossip_msgs: u64,
    /// Messages the harness saw it send to other nodes before its reply.
    pub harness_server_sends: Option<u64>,
    /// Keys it says it stores.
    pub keys_stored: u64,
    /// Writes acknowledged through it (its `total_writes` must be at least this).
    pub acknowledged_here: usize,
    /// Its counts agree with the harness's.
    pub agrees: bool,
}

/// The `workload` section of a kv-bench run.
#[derive(Debug, Clone, Serialize)]
pub struct KvBenchResult {
    /// Invalid when an acknowledged write never reached a surviving node or a node's report
    /// disagrees with the harness; unknown without acknowledged writes.
    pub valid: Validity,
    /// Writes invoked.
    pub write_count: usize,
    /// Writes acknowledged.
    pub acknowledged_count: usize,
    /// Per acknowledged write, ms from the acknowledgement until every surviving node was
    /// handed it: quantiles.
    pub convergence_ms: std::collections::BTreeMap<String, u64>,
    /// Acknowledged writes some surviving node was never handed.
    pub unreplicated_count: usize,
    /// The first 20 of them: value → the nodes that never had it.
    pub unreplicated: Vec<(i64, Vec<String>)>,
    /// Reads that returned (ok, or error 20).
    pub read_count: usize,
    /// Of those, reads that did not return the acknowledged value.
    pub stale_read_count: usize,
    /// `stale_read_count / read_count` (0 without reads).
    pub stale_read_fraction: f64,
    /// Each node's final report.
    pub reports: Vec<Report>,
    /// Reports that disagree with the harness.
    pub disagreeing_reports: usize,
}

impl Workload for KvBench {
    fn name(&self) -> &'static str {
        "kv-bench"
    }

    fn declaration(&self) -> Declaration {
        // Only a write may have happened after an error: reads and the final report always fail.
        Declaration {
            errors: ErrorRule::WithErrors {
                idempotent: &["read", "report"],
            },
            ..Declaration::MAELSTROM
        }
    }

    fn setup_request(&self, _: &NeighbourMap) -> Option<Json> {
        None
    }

    fn judge_setup_reply(&self, _: &Json) -> Result<(), String> {
        Ok(())
    }

    fn next_operation(&mut self, _: usize, rng: &mut ChaCha8Rng) -> Operation {
        if self.acknowledged.is_empty() || rng.random_bool(0.5) {
            let value = self.next_value;
            self.next_value += 1;
            let key = key_name(value);
            Operation {
                f: "write",
                value: json!({"key": key, "value": value}),
                body: json!({"type": "bench_write", "key": key, "value": value}),
            }
        } else {
            let value = self.acknowledged[rng.random_range(0..self.acknowledged.len())];
            let key = key_name(value);
            Operation {
                f: "read",
                value: json!({"key": key, "expected": value}),
                body: json!({"type": "bench_read", "key": key}),
            }
        }
    }

    fn completed(&mut self, _: usize, f: &str, kind: OpKind, value: &Json) {
        if f == "write"
            && kind == OpKind::Ok
            && let Some(written) = value["value"].as_i64()
        {
            self.acknowledged.push(written);
        }
    }

    fn final_operation(&mut self) -> Operation {
        Operation {
            f: "report",
            value: Json::Null,
            body: json!({"type": "bench_report"}),
        }
    }

    fn counts_sends(&self, f: &str) -> bool {
        f == "report"
    }

    fn judge_reply(&self, f: &str, value: &Json, body: &Json) -> Result<Json, String> {
        match f {
            "write" => {
                let fields = closed_reply(body, "bench_write_ok", &["write_id"])?;
                let id = fields
                    .get("write_id")
                    .and_then(Json::as_u64)
                    .ok_or("bench_write_ok needs a non-negative integer `write_id`")?;
                let mut done = value.clone();
                done["write_id"] = id.into();
                Ok(done)
            }
            "read" => {
                let fields = closed_reply(body, "bench_read_ok", &["key", "value"])?;
                if fields.get("key") != value.get("key") {
                    return Err(format!(
                        "bench_read_ok is for key {:?}, not the one asked",
                        fields.get("key")
                    ));
                }
                let mut done = value.clone();
                done["value"] = fields.get("value").cloned().unwrap_or(Json::Null);
                Ok(done)
            }
            _ => {
                let counts = [
                    "total_writes",
                    "total_gossip_msgs",
                    "msgs_per_write",
                    "keys_stored",
                ];
                let fields = closed_reply(body, "bench_report_ok", &counts)?;
                for count in counts {
                    if !fields.get(count).is_some_and(Json::is_number) {
                        return Err(format!("bench_report_ok needs a number `{count}`"));
                    }
                }
                Ok(Json::Object(fields.clone()))
            }
        }
    }

    fn check(&self, history: &[Op], context: &CheckContext) -> Checked {
        let result = check(history, context.survivors, context.arrivals);
        let quantile = |q: &str| {
            result
                .convergence_ms
                .get(q)
                .map_or("-".to_owned(), u64::to_string)
        };
        let summary = vec![
            format!(
                "writes     {} invoked, {} acknowledged; replicated everywhere {} ms median, {} ms p99, {} ms max after the ack",
                result.write_count,
                result.acknowledged_count,
                quantile("0.5"),
                quantile("0.99"),
                quantile("1")
            ),
            format!(
                "reads      {} answered, {} stale ({:.1} %)",
                result.read_count,
                result.stale_read_count,
                100.0 * result.stale_read_fraction
            ),
            format!(
                "reports    {} nodes reported; {} disagree with the harness's count of their messages",
                result.reports.len(),
                result.disagreeing_reports
            ),
        ];
        let mut reasons = Vec::new();
        if result.unreplicated_count > 0 {
            let (value, nodes) = &result.unreplicated[0];
            reasons.push(format!(
                "{} acknowledged writes never reached every surviving node (the first, key kb{value}, never reached {})",
                result.unreplicated_count,
                nodes.join(", ")
            ));
        }
        for report in result.reports.iter().filter(|report| !report.agrees) {
            reasons.push(format!(
                "{} reported {} gossip messages and {} writes taken, but the harness saw it send {} messages to other nodes before that reply, and acknowledge {} writes",
                report.node,
                report.total_gossip_msgs,
                report.total_writes,
                report
                    .harness_server_sends
                    .map_or("an unknown number of".to_owned(), |n| n.to_string()),
                report.acknowledged_here
            ));
        }
        if result.valid == Validity::Unknown {
            reasons.push("no write was acknowledged, so there was nothing to time".into());
        }
        Checked::with_workload_section(result.valid, &result, summary, Vec::new(), reasons)
    }

    fn headline_figures(&self) -> &'static [Figure] {
        &[
            Figure {
                pointer: "/workload/acknowledged_count",
                label: "writes acked",
            },
            Figure {
                pointer: "/workload/convergence_ms/0.5",
                label: "repl median ms",
            },
            Figure {
                pointer: "/workload/convergence_ms/0.99",
                label: "repl p99 ms",
            },
            Figure {
                pointer: "/workload/stale_read_fraction",
                label: "stale reads",
            },
        ]
    }

    fn probes(&mut self) -> Option<&mut dyn Probes> {
        Some(self)
    }

    fn tracks_values(&self) -> Option<&dyn TrackValues> {
        Some(self)
    }
}

impl Probes for KvBench {
    fn start_convergence(&mut self, _: &[Op], _: &Survivors) -> usize {
        self.required = self.acknowledged.len();
        self.required
    }

    fn probe_request(&self, _: usize) -> Json {
        json!({"type": "bench_report"})
    }

    fn probe_converged(&self, _: usize, reply: &Json) -> bool {
        reply.get("type").and_then(Json::as_str) == Some("bench_report_ok")
            && reply
                .get("keys_stored")
                .and_then(Json::as_u64)
                .is_some_and(|stored| stored >= self.required as u64)
    }
}

impl TrackValues for KvBench {
    fn delivered_values(&self, from_client: bool, body: &str, values: &mut Vec<i64>) {
        if from_client && !body.contains("\"bench_write\"") {
            return;
        }
        named_values(body, values);
    }
}

/// Judges a kv-bench history against the harness's delivery record.
pub fn check(history: &[Op], survivors: &Survivors, arrivals: &Arrivals) -> KvBenchResult {
    let mut write_count = 0;
    let mut acked: Vec<(i64, u64, String)> = Vec::new();
    let mut read_count = 0;
    let mut stale_read_count = 0;
    let mut reports = Vec::new();
    for (invocation, completion) in crate::history::paired(history) {
        let Some(op) = completion else {
            write_count += usize::from(invocation.f == "write");
            continue;
        };
        let node = op.node.clone().unwrap_or_default();
        match invocation.f {
            "write" => {
                write_count += 1;
                if op.kind == OpKind::Ok
                    && let Some(value) = op.value["value"].as_i64()
                {
                    acked.push((value, op.time_ns, node));
                }
            }
            "read" if op.kind == OpKind::Ok => {
                read_count += 1;
                stale_read_count += usize::from(op.value["value"] != op.value["expected"]);
            }
            "read"
                if op
                    .error
                    .as_deref()
                    .is_some_and(|error| error.starts_with("error 20:")) =>
            {
                read_count += 1;
                stale_read_count += 1;
            }
            "report" if op.kind == OpKind::Ok => {
                let count = |field: &str| op.value[field].as_u64().unwrap_or(0);
                reports.push(Report {
                    node,
                    total_writes: count("total_writes"),
                    total_gossip_msgs: count("total_gossip_msgs"),
                    harness_server_sends: op.value["harness_server_sends"].as_u64(),
                    keys_stored: count("keys_stored"),
                    acknowledged_here: 0,
                    agrees: false,
                });
            }
            _ => {}
        }
    }
    // One report a node is enough; keep the last (the latest counts).
    reports.reverse();
    let mut seen_nodes = std::collections::BTreeSet::new();
    reports.retain(|report| seen_nodes.insert(report.node.clone()));
    reports.sort_by(|a, b| a.node.cmp(&b.node));
    for report in &mut reports {
        report.acknowledged_here = acked.iter().filter(|(_, _, n)| *n == report.node).count();
        report.agrees = report.harness_server_sends == Some(report.total_gossip_msgs)
            && report.total_writes >= report.acknowledged_here as u64;
    }
    let nodes = arrivals.nodes();
    let surviving: Vec<usize> = (0..nodes.len())
        .filter(|index| !survivors.crashed.contains(&nodes[*index]))
        .collect();
    let mut times = Vec::new();
    let mut unreplicated = Vec::new();
    for (value, acked_ns, _) in &acked {
        let mut last = Duration::ZERO;
        let mut missing = Vec::new();
        for node in &surviving {
            match arrivals.first(*node, *value) {
                Some(at) => last = last.max(at),
                None => missing.push(nodes[*node].clone()),
            }
        }
        if missing.is_empty() {
            let after = (last.as_nanos() as u64).saturating_sub(*acked_ns);
            times.push(after / 1_000_000);
        } else {
            unreplicated.push((*value, missing));
        }
    }
    let disagreeing_reports = reports.iter().filter(|report| !report.agrees).count();
    let valid = if !unreplicated.is_empty() || disagreeing_reports > 0 {
        Validity::Invalid
    } else if acked.is_empty() {
        Validity::Unknown
    } else {
        Validity::Valid
    };
    KvBenchResult {
        valid,
        write_count,
        acknowledged_count: acked.len(),
        convergence_ms: quantiles(&times),
        unreplicated_count: unreplicated.len(),
        unreplicated: unreplicated.into_iter().take(20).collect(),
        read_count,
        stale_read_count,
        stale_read_fraction: if read_count == 0 {
            0.0
        } else {
            stale_read_count as f64 / read_count as f64
        },
        reports,
        disagreeing_reports,
    }
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::checker::testing::Builder;

    #[test]
    fn keys_are_found_wherever_a_body_names_them() {
        let body = r#"{"type":"g","entries":{"kb12":{"v":1}},"list":["kb3","kbx","kb4x",7],"kb"}"#;
        let mut values = Vec::new();
        named_values(body, &mut values);
        assert_eq!(values, [12, 3]);
        let workload = KvBench::default();
        let delivered = |body| super::super::delivered(&workload, true, body);
        assert!(delivered(r#"{"type":"bench_read","key":"kb1"}"#).is_empty());
        assert_eq!(
            delivered(r#"{"type":"bench_write","key":"kb1","value":1}"#),
            [1]
        );
    }

    #[test]
    fn replication_times_stale_reads_and_reports_are_judged() {
        let mut b = Builder::new();
        for (process, value) in [(0, 0), (1, 1)] {
            let write = json!({"key": key_name(value), "value": value});
            b.op_on(
                process,
                "n0",
                OpKind::Invoke,
                "write",
                write.clone(),
                0,
                false,
            );
            b.op_on(process, "n0", OpKind::Ok, "write", write, 100, false);
        }
        let read = json!({"key": "kb0", "expected": 0});
        b.op_on(2, "n1", OpKind::Invoke, "read", read.clone(), 150, false);
        let mut missed = read.clone();
        missed["value"] = Json::Null;
        b.op_on(2, "n1", OpKind::Ok, "read", missed, 160, false);
        let report = |sends: u64| json!({"total_writes": 2, "total_gossip_msgs": 4, "msgs_per_write": 2.0, "keys_stored": 2, "harness_server_sends": sends});
        b.op_on(3, "n0", OpKind::Invoke, "report", Json::Null, 900, true);
        b.op_on(3, "n0", OpKind::Ok, "report", report(4), 901, true);
        let ms = Duration::from_millis;
        let arrivals = |n1_has_kb1: bool| {
            let mut arrivals = Arrivals::new(vec!["n0".into(), "n1".into()]);
            arrivals.record(0, 0, ms(1));
            arrivals.record(0, 1, ms(1));
            arrivals.record(1, 0, ms(300));
            if n1_has_kb1 {
                arrivals.record(1, 1, ms(50));
            }
            arrivals
        };
        let survivors = Survivors::default();
        let good = check(b.history.ops(), &survivors, &arrivals(true));
        assert_eq!(good.valid, Validity::Valid, "{good:?}");
        // kb0 reached n1 200 ms after its ack; kb1 before it.
        assert_eq!(good.convergence_ms["1"], 200);
        assert_eq!(good.convergence_ms["0"], 0);
        assert_eq!((good.read_count, good.stale_read_count), (1, 1));
        assert!(good.reports[0].agrees);
        let missing = check(b.history.ops(), &survivors, &arrivals(false));
        assert_eq!(missing.valid, Validity::Invalid);
        assert_eq!(missing.unreplicated, [(1, vec!["n1".to_owned()])]);
        // A crashed node is not waited for.
        let crashed = Survivors {
            crashed: ["n1".to_owned()].into(),
            ..Survivors::default()
        };
        assert_eq!(
            check(b.history.ops(), &crashed, &arrivals(false)).valid,
            Validity::Valid
        );
        b.op_on(3, "n0", OpKind::Invoke, "report", Json::Null, 950, true);
        b.op_on(3, "n0", OpKind::Ok, "report", report(6), 951, true);
        let under = check(b.history.ops(), &survivors, &arrivals(true));
        assert_eq!(
            (under.valid, under.disagreeing_reports),
            (Validity::Invalid, 1)
        );
    }
}
