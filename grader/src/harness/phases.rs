//! The run's phases: init and setup of every node, the main phase, the drain and recovery,
//! and an abort when setup fails.

use super::*;

impl Harness<'_> {
    /// Moves to `phase` and says so to the progress display.
    pub(super) fn enter(&mut self, phase: Phase) {
        self.phase = phase;
        progress::phase(phase.name());
    }

    /// Sends `init` to `node` from a fresh client.
    pub(super) fn send_init(&mut self, role: Role, node: usize) {
        let client = self.open_client(role, node);
        let nodes = &self.nodes;
        let template = Rc::clone(self.templates.init.get_or_insert_with(|| {
            let body = json!({"type": "init", "node_ids": nodes});
            Rc::new(BodyTemplate::new(object(body), &["msg_id", "node_id"]))
        }));
        let node_id = crate::net::json_string(&self.nodes[node]);
        let body = move |msg_id: u64| template.render(&[&msg_id.to_string(), &node_id]);
        self.client_request(client, body, self.config.init_timeout, None);
    }

    /// Sends the workload's setup request to `node` from a fresh client; false if it has none.
    pub(super) fn send_setup(&mut self, role: Role, node: usize) -> bool {
        let (config, nodes, workload) = (self.config, &self.nodes, &self.workload);
        let template = self.templates.setup.get_or_insert_with(|| {
            let body = workload.setup_request(&config.topology.build(nodes))?;
            Some(Rc::new(BodyTemplate::new(object(body), &["msg_id"])))
        });
        let Some(template) = template.clone() else {
            return false;
        };
        let client = self.open_client(role, node);
        let body = move |msg_id: u64| template.render(&[&msg_id.to_string()]);
        self.client_request(client, body, RPC_TIMEOUT, None);
        true
    }

    pub(super) fn start(&mut self) {
        self.note(format!("sending init to {} nodes", self.nodes.len()));
        for node in 0..self.nodes.len() {
            self.send_init(Role::Init, node);
            self.node_states.awaiting.insert(node);
        }
        self.schedule(self.now + self.config.init_timeout, Event::InitDeadline);
    }

    pub(super) fn abort(&mut self, reason: String) {
        self.note(format!("stopping the run: {reason}"));
        if self.run_log.failure.is_none() {
            self.run_log.failure = Some(reason);
        }
        self.enter(Phase::Done);
    }

    /// Moves to the next phase when the current one is finished.
    pub(super) fn advance(&mut self) {
        match self.phase {
            Phase::Init if self.node_states.awaiting.is_empty() => {
                self.enter(Phase::Setup);
                for node in 0..self.nodes.len() {
                    if self.send_setup(Role::Setup, node) {
                        self.node_states.awaiting.insert(node);
                    }
                }
            }
            Phase::Setup if self.node_states.awaiting.is_empty() => self.start_main_phase(),
            // Without a final phase (echo, unique-ids, lin-kv) the run ends with the main
            // phase's operations, faults still in force, as Maelstrom's does.
            Phase::Drain if !self.any_worker_busy() && !self.declaration.final_phase => {
                self.enter(Phase::Done);
            }
            Phase::Drain if !self.any_worker_busy() => {
                for action in self.nemesis.undo_all() {
                    self.apply(action);
                }
                // Crashed nodes are never restarted: a crash-only run has nothing to heal.
                let heals = self
                    .nemesis
                    .faults()
                    .any(|fault| fault.entry().undone_at_end)
                    || self
                        .config
                        .schedule
                        .as_ref()
                        .is_some_and(|schedule| schedule.heals_at_end());
                if heals {
                    self.net.stats.mark_heal();
                }
                let from = if heals { "heal" } else { "end of operations" };
                self.start_probing(from);
                self.enter(Phase::Recovery);
                self.note(format!(
                    "waiting {:.1} s for recovery",
                    self.config.recovery.as_secs_f64()
                ));
                self.schedule(self.now + self.config.recovery, Event::RecoveryEnd);
            }
            Phase::FinalReads if !self.any_worker_busy() && self.final_phase.scheduled == 0 => {
                self.enter(Phase::Done)
            }
            _ => {}
        }
    }

    pub(super) fn start_main_phase(&mut self) {
        self.enter(Phase::Main);
        self.note("main phase".into());
        for thread in 0..self.config.concurrency {
            let client = self.open_client(Role::Worker(thread), thread % self.nodes.len().max(1));
            self.clients.workers.push(Worker {
                process: thread as u64,
                client,
            });
        }
        self.schedule(self.now + self.config.time_limit, Event::MainEnd);
        if self.config.rate > 0.0 && !self.clients.workers.is_empty() {
            self.generator.next_tick_at = self.now;
            self.schedule(self.now, Event::GeneratorTick);
        }
        // Each fault flips on its own schedule, the first time at once (crash: one interval in).
        let faults: Vec<Fault> = self.nemesis.faults().collect();
        for fault in faults {
            let at = self.now + self.nemesis.first_delay(fault);
            self.schedule(at, Event::NemesisTick(fault));
        }
        // A scripted schedule's steps, each at its time.
        let steps: Vec<Duration> = self
            .config
            .schedule
            .iter()
            .flat_map(|schedule| schedule.0.iter().map(|step| step.at))
            .collect();
        for (step, at) in steps.into_iter().enumerate() {
            self.schedule(self.now + at, Event::ScriptedFault(step));
        }
    }
}
