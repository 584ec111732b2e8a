//! The workload's operations: free workers get the generator's next operation, replies and
//! timeouts complete them into the history.

use super::*;

impl Harness<'_> {
    /// Schedules the generator's next tick one random gap after `from`: after the tick just
    /// handled's own time when it found a free worker, so that a loop that wakes a little late
    /// does not slow the rate down (Jepsen's `stagger` counts from the scheduled time too), or
    /// after now when the generator had to wait for a worker.
    pub(super) fn schedule_tick(&mut self, from: Duration) {
        let gap = self.rng.random_range(0.0..2.0 / self.config.rate);
        let at = from + Duration::from_secs_f64(gap);
        self.generator.next_tick_at = at;
        self.schedule(at, Event::GeneratorTick);
    }

    /// A free worker: under Maelstrom's rule the first at or after Jepsen's next thread index
    /// (wrapping round), otherwise a random one.
    pub(super) fn free_worker(&mut self) -> Option<usize> {
        let free: Vec<usize> = (0..self.clients.workers.len())
            .filter(|index| {
                self.worker_client(&self.clients.workers[*index])
                    .pending
                    .is_none()
            })
            .collect();
        if free.is_empty() {
            return None;
        }
        match self.config.delivery {
            Delivery::Maelstrom => Some(
                free.iter()
                    .copied()
                    .find(|worker| *worker >= self.clients.next_thread)
                    .unwrap_or(free[0]),
            ),
            Delivery::Ideal => Some(free[self.rng.random_range(0..free.len())]),
        }
    }

    /// Issues the generator's next operation on a worker.
    pub(super) fn issue(&mut self, worker: usize) {
        let operation = self.workload.next_operation(worker, &mut self.rng);
        self.invoke(worker, operation, false);
    }

    pub(super) fn invoke(&mut self, worker: usize, operation: Operation, final_read: bool) {
        self.bump_thread();
        let process = self.clients.workers[worker].process;
        let client_id = self.clients.workers[worker].client;
        let node = self.nodes[self.worker_client(&self.clients.workers[worker]).node].clone();
        self.history.push(
            self.now,
            Entry {
                process: Process::Worker(process),
                kind: OpKind::Invoke,
                f: operation.f,
                value: operation.value.clone(),
                error: None,
                node: Some(node),
                final_read,
            },
        );
        if let Some(kind) = self.workload.done_by_client(&operation) {
            // Nothing is sent: the client completes it at once.
            let pending = Pending {
                sent_at: self.now,
                delivered_at: None,
                server_sends: None,
                msg_id: 0,
                f: operation.f,
                value: operation.value.clone(),
                so_far: None,
                final_read,
            };
            let completion = Completion {
                kind,
                value: operation.value,
                error: None,
            };
            self.complete(worker, &pending, completion);
            return;
        }
        self.client_request(
            client_id,
            with_msg_id(operation.body),
            self.rpc_timeout,
            Some((operation.f, operation.value, final_read)),
        );
    }

    /// A worker's request was answered with `reply`, judged as `completion`: the operation
    /// completes, or, when the workload's client has another request to make for it, goes on
    /// with that.
    fn answered(&mut self, worker: usize, pending: Pending, completion: Completion, reply: &Json) {
        if completion.kind == OpKind::Ok
            && let Some(body) =
                self.workload
                    .after_reply(worker, pending.f, &completion.value, reply)
        {
            let client_id = self.clients.workers[worker].client;
            self.client_request(
                client_id,
                with_msg_id(body),
                self.rpc_timeout,
                Some((pending.f, pending.value, pending.final_read)),
            );
            let client = self.client_mut(client_id).expect("the worker's client");
            let next = client.pending.as_mut().expect("just sent");
            next.sent_at = pending.sent_at;
            next.so_far = Some(completion.value);
            return;
        }
        self.complete(worker, &pending, completion);
    }

    /// Invokes worker `worker`'s next final operation (now, or after its pause), if the
    /// workload has one and the final phase's time limit has not passed.
    pub(super) fn next_final(&mut self, worker: usize) {
        if let Some(limit) = self.declaration.final_phase_limit
            && self.now >= self.final_phase.started + limit
        {
            return;
        }
        let done = self.final_phase.done[worker];
        let Some(step) = self.workload.final_step(worker, done) else {
            return;
        };
        if step.after.is_zero() {
            self.invoke(worker, step.operation, true);
        } else {
            self.final_phase.scheduled += 1;
            let at = self.now + step.after;
            self.schedule(at, Event::FinalOperation(worker, step.operation));
        }
    }

    /// Records a worker's completion; an `info` retires its client and process, as Jepsen does
    /// (unless the workload declares otherwise).
    pub(super) fn complete(
        &mut self,
        worker: usize,
        pending: &Pending,
        mut completion: Completion,
    ) {
        progress::count_op();
        if let (Some(sends), OpKind::Ok) = (pending.server_sends, completion.kind)
            && let Some(value) = completion.value.as_object_mut()
        {
            value.insert("harness_server_sends".into(), sends.into());
        }
        let process = self.clients.workers[worker].process;
        let client_id = self.clients.workers[worker].client;
        let node_index = self.worker_client(&self.clients.workers[worker]).node;
        let kind = completion.kind;
        self.workload
            .completed(worker, pending.f, kind, &completion.value);
        self.history.push(
            self.now,
            Entry {
                process: Process::Worker(process),
                kind,
                f: pending.f,
                value: completion.value,
                error: completion.error,
                node: Some(self.nodes[node_index].clone()),
                final_read: pending.final_read,
            },
        );
        if kind == OpKind::Info && self.declaration.fresh_process_after_info {
            if let Some(client) = self.client_mut(client_id) {
                client.open = false;
            }
            let fresh = self.open_client(Role::Worker(worker), node_index);
            self.clients.workers[worker].process += self.config.concurrency as u64;
            self.clients.workers[worker].client = fresh;
        }
        if self.phase == Phase::FinalReads && pending.final_read {
            self.final_phase.done[worker] += 1;
            self.next_final(worker);
        }
        if self.phase == Phase::Main && self.generator.waiting {
            self.generator.waiting = false;
            if let Some(free) = self.free_worker() {
                self.issue(free);
                self.schedule_tick(self.now);
            }
        }
    }

    pub(super) fn on_timeout(&mut self, client_id: Endpoint, msg_id: u64) {
        let Some(client) = self.client_mut(client_id) else {
            return;
        };
        if client
            .pending
            .as_ref()
            .is_none_or(|pending| pending.msg_id != msg_id)
        {
            return;
        }
        let pending = client.pending.take().expect("checked");
        let (role, node) = (client.role, client.node);
        let node = self.nodes[node].clone();
        match role {
            Role::Init => {} // The init deadline reports every silent node at once.
            Role::Setup => self.abort(format!(
                "{node} did not answer its setup request within {} s",
                RPC_TIMEOUT.as_secs()
            )),
            Role::RestartInit | Role::RestartSetup => {
                self.note(format!("{node} did not answer after its restart"));
            }
            Role::Probe => {}
            Role::Worker(worker) => {
                let completion = timed_out(self.workload.as_ref(), &pending);
                self.complete(worker, &pending, completion);
            }
        }
    }

    /// A reply reached a client: match it to the outstanding request and judge it.
    pub(super) fn on_reply(&mut self, client_id: Endpoint, from: Endpoint, reply: &Reply) {
        let from = self.net.endpoints.name(from).to_owned();
        let client_name = self.net.endpoints.name(client_id).to_owned();
        let client = self.client_mut(client_id).expect("checked open");
        let matches = client
            .pending
            .as_ref()
            .is_some_and(|pending| reply.in_reply_to() == Some(pending.msg_id));
        if !matches {
            let body = reply.json();
            // Maelstrom's clients discard replies to anything but the request in hand.
            self.net.stats.unmatched_replies += 1;
            if self.net.stats.unmatched_replies == 1 {
                self.note(format!(
                    "{from}: discarded a reply to {client_name} whose in_reply_to matches no request in hand: {body}"
                ));
            }
            return;
        }
        let pending = client.pending.take().expect("checked");
        let role = client.role;
        let node = client.node;
        if role == Role::Probe {
            self.probe_replied(node, &pending, reply.text);
            return;
        }
        let body = reply.json();
        let kind = body.get("type").and_then(Json::as_str).unwrap_or("");
        match role {
            Role::Init => {
                if kind == "init_ok" {
                    self.node_states.awaiting.remove(&node);
                } else {
                    self.abort(format!(
                        "{from} answered init with `{kind}`, not init_ok: {body}"
                    ));
                }
            }
            Role::Setup => match self.workload.judge_setup_reply(body) {
                Ok(()) => {
                    self.node_states.awaiting.remove(&node);
                }
                Err(why) => self.abort(format!(
                    "{from} answered its setup request wrongly ({why}): {body}"
                )),
            },
            Role::Worker(worker) => {
                let completion = judge_reply(self.workload.as_ref(), &pending, body);
                self.answered(worker, pending, completion, body);
            }
            Role::RestartInit if kind == "init_ok" => {
                if !self.send_setup(Role::RestartSetup, node) {
                    self.note(format!("{from} is back after its restart"));
                }
            }
            Role::RestartSetup if self.workload.judge_setup_reply(body).is_ok() => {
                self.note(format!("{from} is back after its restart"));
            }
            Role::RestartInit | Role::RestartSetup => {
                self.note(format!(
                    "{from} answered `{kind}` after its restart: {body}"
                ));
            }
            Role::Probe => unreachable!("probe replies are handled above"),
        }
    }
}
