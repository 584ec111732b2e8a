//! Routing for the harness: what nodes write (messages, exits), each message put on the
//! network and journaled, and its delivery to a node, a service or a client.

use super::*;

impl Harness<'_> {
    /// Lets node `node`'s writer work until it waits (Maelstrom's delivery): each message it
    /// takes is dropped if cut, written if due, or slept on until it is.
    pub(super) fn pump(&mut self, node: usize) {
        loop {
            match self.net.writer_step(node, self.now) {
                Step::Idle => return,
                Step::Cut(packet) => {
                    self.journal
                        .drop(self.now, packet.id, DropReason::Partition);
                    self.net.stats.on_drop(DropReason::Partition);
                }
                Step::Write(packet) => self.hand_to_node(node, packet),
                Step::SleepUntil(at) => {
                    self.schedule(at, Event::WriterWake(node));
                    return;
                }
            }
        }
    }

    pub(super) fn on_node_event(&mut self, event: NodeEvent) {
        match event {
            NodeEvent::Output { node, line } => self.on_output(node, &line),
            NodeEvent::LineTooLong { node } => {
                self.net.stats.invalid_lines += 1;
                let id = self.nodes[node].clone();
                self.note(format!(
                    "{id}: dropped a stdout line longer than {} bytes",
                    crate::cluster::MAX_LINE_BYTES
                ));
            }
            NodeEvent::Exited {
                node,
                exit,
                stderr_tail,
            } => {
                // A node the nemesis killed is expected to be gone.
                if self.node_states.down[node] || self.nemesis.is_killed(node) {
                    return;
                }
                self.node_states.down[node] = true;
                let id = self.nodes[node].clone();
                self.note(format!("{id} {exit}"));
                self.node_states.crashed.push(CrashReport {
                    node: id.clone(),
                    at_ms: self.now.as_millis() as u64,
                    exit_code: match exit {
                        NodeExit::Code(code) => Some(code),
                        _ => None,
                    },
                    signal: match exit {
                        NodeExit::Signal(signal) => Some(signal),
                        _ => None,
                    },
                    closed_stdout: exit == NodeExit::ClosedStdout,
                    how: exit.to_string(),
                    stderr_tail: stderr_tail.clone(),
                });
                if matches!(self.phase, Phase::Init | Phase::Setup) {
                    let last = stderr_tail.last().map_or(String::new(), |line| {
                        format!("; its last stderr line: {line}")
                    });
                    self.abort(format!("{id} {exit} during setup{last}"));
                } else if self.phase != Phase::Done {
                    // A node that dies on its own fails the run whatever happens next
                    // (Maelstrom throws at teardown): stop here rather than wait out the time
                    // limit and the timeouts of every request it will never answer.
                    self.note(format!("stopping the run: {id} {exit}"));
                    self.enter(Phase::Done);
                }
            }
        }
    }

    pub(super) fn on_output(&mut self, node: usize, line: &str) {
        if line.trim().is_empty() {
            return;
        }
        let envelope = match Envelope::parse(line) {
            Ok(envelope) => envelope,
            Err(error) => {
                self.net.stats.invalid_lines += 1;
                let id = self.nodes[node].clone();
                let shown: String = line.chars().take(200).collect();
                self.note(format!(
                    "{id}: ignored a stdout line that is not a message ({error}): {shown}"
                ));
                return;
            }
        };
        if envelope.src != self.nodes[node].as_str() {
            let id = self.nodes[node].clone();
            let count = self.net.stats.spoofed_src.entry(id.clone()).or_default();
            *count += 1;
            if *count == 1 {
                self.note(format!(
                    "{id}: dropped a message written with src `{}`: a node may only send as itself ({id})",
                    envelope.src
                ));
            }
            return;
        }
        let Some(dest) = self.net.endpoints.find(&envelope.dest) else {
            self.net.stats.unknown_destinations += 1;
            let id = self.nodes[node].clone();
            self.note(format!(
                "{id}: dropped a message to unknown destination `{}`",
                envelope.dest
            ));
            return;
        };
        let src = self.net.endpoints.node(node);
        if self.net.endpoints.service_index(dest).is_some() {
            self.net.note_service_caller(node);
        }
        self.route(src, dest, Some(&envelope.dest), envelope.body.get());
    }

    /// Puts a message on the network: a fresh id, a journal entry, and a delivery in the future.
    /// `dest_name` is the name the sender wrote, for a client the harness did not open.
    pub(super) fn route(
        &mut self,
        src: Endpoint,
        dest: Endpoint,
        dest_name: Option<&str>,
        body: &str,
    ) {
        let (packet, delay) = self.net.send(src, dest, dest_name, body, &mut self.rng);
        self.journal.send(self.now, &packet);
        let from_node = self.net.endpoints.node_index(src);
        let bytes = packet.wire_line().len();
        self.net.stats.on_send(&packet, from_node, bytes);
        self.note_server_sends(&packet);
        if self.net.uses_writer(&packet) {
            let node = self.net.endpoints.node_index(dest).expect("a node");
            self.net.enqueue(node, self.now + delay, packet);
            self.pump(node);
        } else {
            self.schedule(self.now + delay, Event::Deliver(packet));
        }
    }

    /// A node's reply to an operation the workload counts sends for
    /// ([`Workload::counts_sends`]): remembers how many messages that node had sent to other
    /// nodes when it wrote the reply, which the completion then carries.
    pub(super) fn note_server_sends(&mut self, packet: &Packet) {
        // Most messages go between servers: they skip the client lookup.
        if packet.class == Class::Server {
            return;
        }
        let Some(sender) = self.net.endpoints.node_index(packet.src) else {
            return;
        };
        let sent = self.net.stats.sent_by(sender);
        let counts_sends = |f| self.workload.counts_sends(f);
        let Some(pending) = self
            .client(packet.dest)
            .and_then(|client| client.pending.as_ref())
        else {
            return;
        };
        if !counts_sends(pending.f) {
            return;
        }
        let in_reply_to = serde_json::from_str::<Json>(packet.body())
            .ok()
            .and_then(|body| body.get("in_reply_to").and_then(Json::as_u64));
        if in_reply_to == Some(pending.msg_id)
            && let Some(pending) = self
                .client_mut(packet.dest)
                .and_then(|client| client.pending.as_mut())
        {
            pending.server_sends = Some(sent);
        }
    }

    /// A message is due (ideal delivery, and every message to a client).
    pub(super) fn deliver(&mut self, packet: Packet) {
        match self.net.arrive(&packet) {
            Arrival::Client => self.deliver_to_client(packet),
            Arrival::Service(service) => self.hand_to_service(service, packet),
            Arrival::Held(node) => self.net.hold(node, packet),
            Arrival::Drop(reason) => {
                self.journal.drop(self.now, packet.id, reason);
                self.net.stats.on_drop(reason);
            }
            Arrival::Node(dest) => self.hand_to_node(dest, packet),
        }
    }

    /// Writes a message to node `dest`'s stdin now.
    pub(super) fn hand_to_node(&mut self, dest: usize, packet: Packet) {
        let (id, src, class) = (packet.id, packet.src, packet.class);
        // What the message hands the node, read before its line goes to the node.
        let from_server = self.net.endpoints.node_index(src).is_some();
        let mut values = std::mem::take(&mut self.delivered);
        values.clear();
        if let Some(tracking) = self.workload.tracks_values() {
            tracking.delivered_values(!from_server, packet.body(), &mut values);
        }
        let outcome = self
            .cluster
            .deliver(dest, packet.into_wire_line())
            .map_err(|error| match error {
                DeliveryError::Down => DropReason::NodeDown,
                DeliveryError::NotReading => DropReason::NotReading,
            });
        match outcome {
            Ok(()) => {
                self.journal.recv(self.now, id);
                self.net.stats.on_recv(class);
                self.track_values(dest, from_server, &values);
                let now = self.now;
                if self.net.endpoints.is_probe(src)
                    && let Some(pending) = self
                        .client_mut(src)
                        .and_then(|client| client.pending.as_mut())
                {
                    pending.delivered_at = Some(now);
                }
            }
            Err(reason) => {
                if reason == DropReason::NotReading {
                    self.note(format!(
                        "{}: stdin queue full (the node is not reading); message dropped",
                        self.nodes[dest]
                    ));
                }
                self.journal.drop(self.now, id, reason);
                self.net.stats.on_drop(reason);
            }
        }
        self.delivered = values;
    }

    /// A request reaches a service: the harness answers it as the service would, and sends
    /// the reply back over the network (with latency, as server traffic). A request a service
    /// does not answer (an unknown type, a body that is not JSON) is received and left
    /// unanswered, so the caller times out, as under Maelstrom.
    pub(super) fn hand_to_service(&mut self, service: usize, packet: Packet) {
        self.journal.recv(self.now, packet.id);
        self.net.stats.on_recv(packet.class);
        let name = crate::service::NAMES[service];
        let Ok(body) = serde_json::from_str::<Json>(packet.body()) else {
            return;
        };
        let kind = body
            .get("type")
            .and_then(Json::as_str)
            .unwrap_or("(no type)")
            .to_owned();
        *self
            .net
            .stats
            .service_requests
            .entry(name.to_owned())
            .or_default()
            .entry(kind)
            .or_default() += 1;
        let caller = self.net.endpoints.name(packet.src).to_owned();
        let Some(reply) = self
            .net
            .services
            .handle(name, &caller, &body, &mut self.rng)
        else {
            return;
        };
        let reply = reply.to_string();
        self.route(packet.dest, packet.src, None, &reply);
    }

    pub(super) fn deliver_to_client(&mut self, packet: Packet) {
        let open = self.client(packet.dest).is_some_and(|client| client.open);
        if !open {
            self.journal
                .drop(self.now, packet.id, DropReason::ClientClosed);
            self.net.stats.on_drop(DropReason::ClientClosed);
            return;
        }
        self.journal.recv(self.now, packet.id);
        self.net.stats.on_recv(packet.class);
        self.on_reply(packet.dest, packet.src, &Reply::new(packet.body()));
    }

    /// Records what a node was handed, and counts duplicate deliveries: values a node receives
    /// from another server that it had.
    pub(super) fn track_values(&mut self, dest: usize, from_server: bool, values: &[i64]) {
        for &value in values {
            let fresh = self.arrivals.record(dest, value, self.now);
            if from_server && !fresh {
                self.net.stats.duplicate_deliveries += 1;
            }
        }
    }
}
