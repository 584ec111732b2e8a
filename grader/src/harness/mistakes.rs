//! Common mistakes the harness can see in a run. Each has a signature in what the harness
//! measured; when a run that is not valid shows one, the run's reasons say, in one sentence,
//! which mistake it looks like, what gave it away and how it is fixed, and `results.json` lists
//! it under `mistakes` by its key (the Gossiper repository's `cargo xtask mistakes KEY` tells
//! the whole story). A valid run never shows one: a signature only explains a failure.
//!
//! - `never-resend`: messages between nodes were lost to partitions, and once the partitions
//!   healed the nodes sent each other nothing at all, so whatever was lost stayed lost.

use serde::Serialize;

use crate::checker::Validity;
use crate::net::NetStats;

/// The keys of the mistakes this module recognises.
pub const KEYS: &[&str] = &["never-resend"];

/// A mistake the run shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recognised {
    /// The mistake's key, as `cargo xtask mistakes` names it.
    pub key: &'static str,
    /// One sentence for the summary: what it looks like, what gave it away, the fix.
    pub words: String,
}

/// The mistakes a run that ended `valid` with traffic `net` (finished) shows.
pub fn recognise(valid: Validity, net: &NetStats) -> Vec<Recognised> {
    if valid != Validity::Invalid {
        return Vec::new();
    }
    let mut found = Vec::new();
    let lost = net.dropped.get("partition").copied().unwrap_or(0);
    if lost > 0 && net.servers_after_heal == Some(0) {
        found.push(Recognised {
            key: "never-resend",
            words: format!(
                "this looks like the mistake of never re-sending what a partition dropped: {lost} message(s) between nodes were lost to partitions, and after the partitions healed the nodes sent each other nothing, so nothing lost was sent again. Re-send to a peer until it acknowledges, or exchange what you know with your peers every so often (`cargo xtask mistakes never-resend`)"
            ),
        });
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partitioned(after_heal: Option<u64>) -> NetStats {
        let mut net = NetStats::new(2);
        net.dropped.insert("partition".into(), 12);
        if after_heal.is_some() {
            net.mark_heal();
        }
        net.finish(10, &["n0".into(), "n1".into()]);
        net.servers_after_heal = after_heal;
        net
    }

    #[test]
    fn silence_after_a_heal_that_followed_losses_is_never_resend_only_in_a_failed_run() {
        let silent = partitioned(Some(0));
        let found = recognise(Validity::Invalid, &silent);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].key, "never-resend");
        assert!(found[0].words.contains("12 message(s)"), "{found:?}");
        assert!(recognise(Validity::Valid, &silent).is_empty());
        assert!(recognise(Validity::Unknown, &silent).is_empty());
        // Nodes that talked after the heal, or a run with nothing healed, or nothing lost.
        assert!(recognise(Validity::Invalid, &partitioned(Some(3))).is_empty());
        assert!(recognise(Validity::Invalid, &partitioned(None)).is_empty());
        let mut nothing_lost = partitioned(Some(0));
        nothing_lost.dropped.clear();
        assert!(recognise(Validity::Invalid, &nothing_lost).is_empty());
    }
}
