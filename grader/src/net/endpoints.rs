//! [`Endpoints`]: everyone a message can be from or to, numbered, so that a routed message
//! carries two small numbers rather than two names.
//!
//! The nodes come first (endpoint `i` is node `i`), then one endpoint standing for every
//! client id the harness never opened (a node may answer anyone), then Maelstrom's services
//! (`lin-kv`, `seq-kv`, `lww-kv`, `lin-tso`), then the harness's clients in the order they were
//! opened. Names are kept once, here; the journal and the wire take
//! them from each message's line.

use std::collections::HashMap;

use super::{PROBE_PREFIX, is_client};

/// Someone on the network: a node, a client the harness opened, or any other client id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Endpoint(u32);

/// Which of Maelstrom's traffic buckets a message falls in, by its two ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Between servers.
    Server,
    /// A client at either end.
    Client,
    /// One of the harness's convergence probes at either end: counted apart.
    Probe,
}

/// The numbered endpoints and their names.
#[derive(Debug)]
pub struct Endpoints {
    names: Vec<String>,
    by_name: HashMap<String, Endpoint>,
    /// Per endpoint: is it a client (Maelstrom's rule), and is it a probe.
    kinds: Vec<(bool, bool)>,
    nodes: usize,
}

impl Endpoints {
    /// The endpoints of a cluster of `nodes`, before any client is opened.
    pub fn new(nodes: &[String]) -> Self {
        let mut endpoints = Self {
            names: Vec::new(),
            by_name: HashMap::new(),
            kinds: Vec::new(),
            nodes: nodes.len(),
        };
        for node in nodes {
            endpoints.add(node);
        }
        // A name no client can have (ids never hold a space): the stand-in for clients the
        // harness did not open.
        endpoints.names.push("c (not a client of this run)".into());
        endpoints.kinds.push((true, false));
        for service in crate::service::NAMES {
            endpoints.add(service);
        }
        endpoints
    }

    /// The service an endpoint is (its place in [`crate::service::NAMES`]), if it is one.
    pub fn service_index(&self, endpoint: Endpoint) -> Option<usize> {
        let index = (endpoint.0 as usize).checked_sub(self.nodes + 1)?;
        (index < crate::service::NAMES.len()).then_some(index)
    }

    /// True for a node or a service: Maelstrom's servers.
    pub fn is_server(&self, endpoint: Endpoint) -> bool {
        !self.is_client(endpoint)
    }

    fn add(&mut self, name: &str) -> Endpoint {
        let endpoint = Endpoint(u32::try_from(self.names.len()).expect("fewer than 2^32 ids"));
        self.names.push(name.to_owned());
        self.by_name.insert(name.to_owned(), endpoint);
        self.kinds
            .push((is_client(name), name.starts_with(PROBE_PREFIX)));
        endpoint
    }

    /// Node `index`'s endpoint.
    pub fn node(&self, index: usize) -> Endpoint {
        debug_assert!(index < self.nodes);
        Endpoint(index as u32)
    }

    /// The node an endpoint is, if it is one.
    pub fn node_index(&self, endpoint: Endpoint) -> Option<usize> {
        let index = endpoint.0 as usize;
        (index < self.nodes).then_some(index)
    }

    /// The endpoint that stands for every client id the harness did not open.
    pub fn unknown_client(&self) -> Endpoint {
        Endpoint(self.nodes as u32)
    }

    /// Opens a client called `name` (the harness's own, so the name is new).
    pub fn open_client(&mut self, name: &str) -> Endpoint {
        debug_assert!(!self.by_name.contains_key(name), "{name} opened twice");
        self.add(name)
    }

    /// The place of a client the harness opened among its clients (0 for the first), if
    /// `endpoint` is one.
    pub fn client_index(&self, endpoint: Endpoint) -> Option<usize> {
        (endpoint.0 as usize).checked_sub(self.nodes + 1 + crate::service::NAMES.len())
    }

    /// Who `name` is: a node, a client the harness opened, any other client id, or nobody
    /// (an id that is neither a node nor a client).
    pub fn find(&self, name: &str) -> Option<Endpoint> {
        match self.by_name.get(name) {
            Some(endpoint) => Some(*endpoint),
            None if is_client(name) => Some(self.unknown_client()),
            None => None,
        }
    }

    /// An endpoint's name.
    pub fn name(&self, endpoint: Endpoint) -> &str {
        &self.names[endpoint.0 as usize]
    }

    /// True for clients, by Maelstrom's rule on their ids.
    pub fn is_client(&self, endpoint: Endpoint) -> bool {
        self.kinds[endpoint.0 as usize].0
    }

    /// True for the harness's convergence probes.
    pub fn is_probe(&self, endpoint: Endpoint) -> bool {
        self.kinds[endpoint.0 as usize].1
    }

    /// The bucket a message from `src` to `dest` counts in.
    pub fn class(&self, src: Endpoint, dest: Endpoint) -> Class {
        if self.is_probe(src) || self.is_probe(dest) {
            Class::Probe
        } else if self.is_client(src) || self.is_client(dest) {
            Class::Client
        } else {
            Class::Server
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n_of(endpoints: &Endpoints, index: usize) -> Endpoint {
        endpoints.node(index)
    }

    #[test]
    fn nodes_come_first_then_the_stand_in_then_services_then_clients_in_order() {
        let nodes = crate::topology::node_names(3);
        let mut endpoints = Endpoints::new(&nodes);
        let first = endpoints.open_client("c0");
        let probe = endpoints.open_client("c-probe-1");
        assert_eq!(endpoints.find("n2"), Some(endpoints.node(2)));
        assert_eq!(endpoints.node_index(endpoints.node(2)), Some(2));
        assert_eq!(endpoints.find("c0"), Some(first));
        assert_eq!(endpoints.client_index(first), Some(0));
        assert_eq!(endpoints.client_index(probe), Some(1));
        assert_eq!(endpoints.find("c99"), Some(endpoints.unknown_client()));
        assert_eq!(endpoints.client_index(endpoints.unknown_client()), None);
        assert_eq!(endpoints.node_index(endpoints.unknown_client()), None);
        let lin_kv = endpoints.find("lin-kv").expect("services are endpoints");
        assert_eq!(endpoints.service_index(lin_kv), Some(0));
        assert_eq!(endpoints.client_index(lin_kv), None);
        assert_eq!(endpoints.node_index(lin_kv), None);
        assert_eq!(endpoints.service_index(first), None);
        assert_eq!(endpoints.class(n_of(&endpoints, 0), lin_kv), Class::Server);
        assert_eq!(endpoints.find("n9"), None);
        assert_eq!(endpoints.name(first), "c0");
        let (n0, n1) = (endpoints.node(0), endpoints.node(1));
        assert_eq!(endpoints.class(n0, n1), Class::Server);
        assert_eq!(endpoints.class(first, n1), Class::Client);
        assert_eq!(
            endpoints.class(n1, endpoints.unknown_client()),
            Class::Client
        );
        assert_eq!(endpoints.class(n1, probe), Class::Probe);
    }
}
