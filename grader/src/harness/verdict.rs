//! The end of a run: nodes stopped, the workload's checker and Maelstrom's stats judged, the
//! report put together.

use super::*;

impl Harness<'_> {
    pub(super) fn finish(mut self, interrupted: bool) -> RunReport {
        self.cluster.shutdown();
        let end = self.cluster.now();
        self.now = end;
        while let Some(Due { item: event, .. }) = self.events.heap.pop() {
            if let Event::Deliver(packet) = event {
                self.journal.drop(end, packet.id, DropReason::InFlightAtEnd);
                self.net.stats.on_drop(DropReason::InFlightAtEnd);
            }
        }
        for packet in self.net.take_all_held() {
            self.journal.drop(end, packet.id, DropReason::InFlightAtEnd);
            self.net.stats.on_drop(DropReason::InFlightAtEnd);
        }
        if self.run_log.overflow > 0 {
            let overflow = self.run_log.overflow;
            self.run_log
                .lines
                .push(format!("... and {overflow} more notes not kept"));
        }
        let convergence = self
            .probing
            .as_ref()
            .map(|probing| probing.convergence(&self.nodes))
            .unwrap_or_default();
        let survivors = self.survivors();
        let ops = self.history.ops();
        let context = CheckContext {
            survivors: &survivors,
            arrivals: &self.arrivals,
        };
        let workload = self.workload.check(ops, &context);
        let stats = checker::stats(ops);
        let availability = self
            .config
            .availability
            .map(|asked| (asked, checker::availability::check(ops, asked)));
        let mut net = self.net.stats;
        net.finish(self.history.client_invocations(), &self.nodes);
        let mut valid = workload.valid.and(stats.valid);
        if let Some((_, result)) = &availability {
            valid = valid.and(result.valid);
        }
        let mut error = self.run_log.failure.take();
        if !self.node_states.crashed.is_empty() {
            valid = Validity::Invalid;
            let names: Vec<&str> = self
                .node_states
                .crashed
                .iter()
                .map(|crash| crash.node.as_str())
                .collect();
            error.get_or_insert_with(|| {
                format!(
                    "node(s) exited during the run: {}; the run stopped at the first exit (a node must keep running until its stdin closes)",
                    names.join(", ")
                )
            });
        }
        if error.is_some() {
            valid = Validity::Invalid;
        }
        if interrupted {
            valid = Validity::Unknown;
            error = Some("the run was interrupted before it finished".into());
        }
        let mistakes = mistakes::recognise(valid, &net);
        let reasons = if valid == Validity::Valid {
            Vec::new()
        } else {
            let mut reasons: Vec<String> = error.iter().cloned().collect();
            reasons.extend(self.node_states.crashed.iter().map(|crash| {
                format!(
                    "{} {} at {:.3} s",
                    crash.node,
                    crash.how,
                    crash.at_ms as f64 / 1000.0
                )
            }));
            reasons.extend(workload.reasons.iter().cloned());
            reasons.extend(never_succeeded(ops, &stats));
            if let Some((asked, result)) = &availability
                && result.valid == Validity::Invalid
            {
                reasons.push(checker::availability::reason(result, *asked));
            }
            reasons.extend(mistakes.iter().map(|mistake| mistake.words.clone()));
            reasons
        };
        let mut warnings: Vec<String> = net
            .spoofed_src
            .iter()
            .map(|(node, count)| {
                format!("{node} wrote {count} message(s) with a src other than its own id; they were dropped (a node may only send as itself)")
            })
            .collect();
        if net.unmatched_replies > 0 {
            warnings.push(format!(
                "{} repl(ies) matched no request their client had in hand (wrong or late in_reply_to) and were discarded; harness.log quotes the first",
                net.unmatched_replies
            ));
        }
        RunReport {
            valid,
            error,
            interrupted,
            workload,
            stats,
            availability: availability.map(|(_, result)| result),
            net,
            convergence,
            crashed: self.node_states.crashed,
            history: self.history,
            log: self.run_log.lines,
            reasons,
            warnings,
            mistakes,
            duration: end,
        }
    }
}

/// Why the stats checker failed: each operation that never succeeded, with its counts and the
/// first failure's error (which quotes the offending reply).
fn never_succeeded(ops: &[crate::history::Op], stats: &StatsResult) -> Vec<String> {
    stats
        .by_f
        .iter()
        .filter(|(f, counts)| checker::never_succeeded(f, counts))
        .map(|(f, counts)| {
            let first = ops
                .iter()
                .find(|op| op.is_client() && op.f == f && op.error.is_some())
                .and_then(|op| op.error.clone())
                .unwrap_or_else(|| "no reply at all".into());
            format!(
                "no `{f}` ever succeeded ({} failed, {} indefinite); the first: {first}",
                counts.fail_count, counts.info_count
            )
        })
        .collect()
}
