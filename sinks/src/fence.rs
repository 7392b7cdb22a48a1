//! What a sink believes its stored offsets are, for the compare-and-set that
//! fences off a second worker (see the contract's module doc).
//!
//! Invariant: [`OffsetFence::expected`] is the value this sink last read
//! from the target ([`OffsetFence::load`], on open) or wrote there
//! ([`OffsetFence::committed`], after a commit), `None` when it saw no row.
//! A commit whose outcome is unknown (the connection broke during COMMIT)
//! is not recorded: if it did commit, the retried batch finds the offsets
//! moved and is fenced, and the worker reads on from the stored offsets;
//! if it did not, the retry applies it.

use std::collections::HashMap;

use crate::contract::LogOffset;

/// The stored offsets as this sink last saw them.
#[derive(Debug, Default, Clone)]
pub struct OffsetFence {
    known: HashMap<(String, i32), i64>,
}

impl OffsetFence {
    /// Replaces what is known with the offsets just read from the target.
    pub fn load(&mut self, stored: &[LogOffset]) {
        self.known = stored
            .iter()
            .map(|o| ((o.topic.clone(), o.partition), o.next))
            .collect();
    }

    /// The offset the target must hold for `o`'s partition before a batch
    /// that moves it to `o.next` (`None`: no row).
    pub fn expected(&self, o: &LogOffset) -> Option<i64> {
        self.known.get(&(o.topic.clone(), o.partition)).copied()
    }

    /// Records a committed batch's offsets.
    pub fn committed(&mut self, offsets: &[LogOffset]) {
        for o in offsets {
            self.known.insert((o.topic.clone(), o.partition), o.next);
        }
    }
}

/// `topic/partition` list for a fenced error.
pub fn describe(offsets: &[&LogOffset]) -> String {
    offsets
        .iter()
        .map(|o| format!("{}/{}", o.topic, o.partition))
        .collect::<Vec<_>>()
        .join(", ")
}
