//! Sequence numbers and the durable watermark.
//!
//! Invariants: records get seqs 1, 2, 3, … in the order they are handed to the
//! log ([`Seq::ZERO`] means "none"). The watermark is the highest seq `W` such
//! that every record `1..=W` was acked; acks may arrive in any order (records on
//! different partitions are acked independently) and the watermark only moves
//! forward. A failed record freezes it below the failed seq for good, even if
//! later records are acked: a caller that confirms source positions only up to
//! the watermark can never confirm past a record that is not in the log.
//! Nothing here outlives the writer: after a crash or a failure the caller
//! resumes from its last confirmed source position with fresh seqs.

use std::collections::VecDeque;
use std::fmt;

/// The position of a record in the order it was appended (per writer instance).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Seq(u64);

impl Seq {
    /// "No record": the watermark before anything is durable.
    pub const ZERO: Seq = Seq(0);

    /// The seq with this number.
    pub const fn new(n: u64) -> Seq {
        Seq(n)
    }

    /// Its number.
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Seq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// What a writer publishes on its watch channel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Durability {
    /// Every record with a seq ≤ this one is durable.
    pub watermark: Seq,
    /// The lowest seq that failed: the watermark stays below it for good
    /// (records before it may still become durable).
    pub failed_at: Option<Seq>,
}

impl Durability {
    /// The writer has failed.
    pub fn is_failed(&self) -> bool {
        self.failed_at.is_some()
    }
}

/// The state of one seq past the watermark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    InFlight,
    Acked,
    Failed,
}

/// The bookkeeping behind the watermark: which seqs past it are acked.
#[derive(Debug, Default)]
pub(crate) struct Tracker {
    watermark: u64,
    /// Seqs `watermark + 1 ..= watermark + len`.
    pending: VecDeque<Slot>,
    /// `InFlight` slots in `pending`.
    in_flight: usize,
    /// The lowest failed seq.
    failed_at: Option<u64>,
}

impl Tracker {
    /// The seq the next [`Tracker::push`] returns.
    pub(crate) fn next_seq(&self) -> Seq {
        Seq(self.watermark + self.pending.len() as u64 + 1)
    }

    /// The last assigned seq.
    pub(crate) fn last(&self) -> Seq {
        Seq(self.watermark + self.pending.len() as u64)
    }

    /// Assign the next seq to a record now in flight.
    pub(crate) fn push(&mut self) -> Seq {
        self.pending.push_back(Slot::InFlight);
        self.in_flight += 1;
        self.last()
    }

    /// Record that `seq` is durable. Returns true if the watermark moved.
    /// Seqs that are unknown or no longer in flight are ignored.
    pub(crate) fn ack(&mut self, seq: Seq) -> bool {
        if !self.settle(seq, Slot::Acked) {
            return false;
        }
        let before = self.watermark;
        while self.pending.front() == Some(&Slot::Acked)
            && self.failed_at.is_none_or(|f| self.watermark + 1 < f)
        {
            self.pending.pop_front();
            self.watermark += 1;
        }
        self.watermark != before
    }

    /// Record that `seq` will never be durable: the watermark stays below it
    /// for good. Seqs that are unknown or no longer in flight are ignored.
    pub(crate) fn fail(&mut self, seq: Seq) {
        if self.settle(seq, Slot::Failed) {
            self.failed_at = Some(self.failed_at.map_or(seq.0, |f| f.min(seq.0)));
        }
    }

    /// The watermark.
    pub(crate) fn watermark(&self) -> Seq {
        Seq(self.watermark)
    }

    /// The lowest failed seq, if any.
    pub(crate) fn failed_at(&self) -> Option<Seq> {
        self.failed_at.map(Seq)
    }

    /// Records neither acked nor failed.
    #[cfg(test)]
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Move an in-flight seq to `to`; false if it was not in flight.
    fn settle(&mut self, seq: Seq, to: Slot) -> bool {
        let Some(index) = seq
            .0
            .checked_sub(self.watermark + 1)
            .and_then(|i| usize::try_from(i).ok())
        else {
            return false;
        };
        match self.pending.get_mut(index) {
            Some(slot) if *slot == Slot::InFlight => {
                *slot = to;
                self.in_flight -= 1;
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pushed(n: u64) -> Tracker {
        let mut t = Tracker::default();
        for i in 1..=n {
            assert_eq!(t.next_seq(), Seq(i));
            assert_eq!(t.push(), Seq(i));
        }
        t
    }

    #[test]
    fn starts_at_zero_and_assigns_from_one() {
        let mut t = Tracker::default();
        assert_eq!(t.watermark(), Seq::ZERO);
        assert_eq!(t.last(), Seq::ZERO);
        assert_eq!(t.push(), Seq(1));
        assert_eq!(t.push(), Seq(2));
        assert_eq!(t.last(), Seq(2));
        assert_eq!(t.in_flight(), 2);
    }

    #[test]
    fn in_order_acks_move_the_watermark_each_time() {
        let mut t = pushed(3);
        for i in 1..=3 {
            assert!(t.ack(Seq(i)));
            assert_eq!(t.watermark(), Seq(i));
        }
        assert_eq!(t.in_flight(), 0);
        assert_eq!(t.next_seq(), Seq(4));
    }

    #[test]
    fn out_of_order_acks_wait_for_the_gap() {
        let mut t = pushed(5);
        assert!(!t.ack(Seq(3)));
        assert!(!t.ack(Seq(2)));
        assert!(!t.ack(Seq(5)));
        assert_eq!(t.watermark(), Seq::ZERO);
        assert_eq!(t.in_flight(), 2);
        assert!(t.ack(Seq(1)));
        assert_eq!(t.watermark(), Seq(3));
        assert!(t.ack(Seq(4)));
        assert_eq!(t.watermark(), Seq(5));
        assert_eq!(t.in_flight(), 0);
        // Pushing after a full drain continues the numbering.
        assert_eq!(t.push(), Seq(6));
    }

    #[test]
    fn repeated_and_unknown_acks_are_ignored() {
        let mut t = pushed(2);
        assert!(t.ack(Seq(1)));
        assert!(!t.ack(Seq(1)));
        assert!(!t.ack(Seq(0)));
        assert!(!t.ack(Seq(7)));
        assert_eq!(t.watermark(), Seq(1));
        assert_eq!(t.in_flight(), 1);
    }

    #[test]
    fn a_failure_freezes_the_watermark_below_it() {
        let mut t = pushed(6);
        t.fail(Seq(3));
        assert_eq!(t.failed_at(), Some(Seq(3)));
        for s in [6, 5, 4, 2] {
            assert!(!t.ack(Seq(s)));
        }
        assert_eq!(t.watermark(), Seq::ZERO);
        // Records before the failed one still become durable …
        assert!(t.ack(Seq(1)));
        assert_eq!(t.watermark(), Seq(2));
        // … but nothing at or after it, even a late ack of the failed seq.
        assert!(!t.ack(Seq(3)));
        assert_eq!(t.watermark(), Seq(2));
        assert_eq!(t.in_flight(), 0);
    }

    #[test]
    fn the_lowest_failure_wins() {
        let mut t = pushed(5);
        t.fail(Seq(4));
        t.fail(Seq(2));
        t.fail(Seq(5));
        assert_eq!(t.failed_at(), Some(Seq(2)));
        assert!(t.ack(Seq(1)));
        assert!(!t.ack(Seq(3)));
        assert_eq!(t.watermark(), Seq(1));
    }

    #[test]
    fn settled_and_unknown_seqs_cannot_be_failed_or_acked_again() {
        let mut t = pushed(3);
        assert!(!t.ack(Seq(2)));
        t.fail(Seq(2));
        t.fail(Seq(9));
        assert_eq!(t.failed_at(), None);
        assert_eq!(t.in_flight(), 2);
        t.fail(Seq(3));
        assert!(!t.ack(Seq(3)));
        assert_eq!(t.in_flight(), 1);
        assert!(t.ack(Seq(1)));
        assert_eq!(t.watermark(), Seq(2));
        assert_eq!(t.failed_at(), Some(Seq(3)));
    }
}
