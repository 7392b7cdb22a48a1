//! Counters a writer keeps for metrics: plain relaxed atomics, cheap to bump on
//! every record and to read from a metrics endpoint at any time.
//!
//! Invariant: `appended = acked + failed + in_flight` once every update for a
//! record has landed; a reader may see one record counted in two places for a
//! moment. Counters start at zero with each writer; they are not persisted.

use std::sync::atomic::{AtomicU64, Ordering};

/// Live counters of one writer.
#[derive(Debug, Default)]
pub struct Counters {
    appended: AtomicU64,
    acked: AtomicU64,
    failed: AtomicU64,
    bytes: AtomicU64,
    in_flight: AtomicU64,
    in_flight_bytes: AtomicU64,
}

/// A copy of [`Counters`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CounterSnapshot {
    /// Records handed to the log (including records it refused at once).
    pub appended: u64,
    /// Records the log made durable.
    pub acked: u64,
    /// Records the log refused or gave up on (including records refused at once).
    pub failed: u64,
    /// Key and value bytes handed to the log.
    pub bytes: u64,
    /// Records handed over and not yet acked or failed.
    pub in_flight: u64,
    /// Key and value bytes of those.
    pub in_flight_bytes: u64,
}

impl Counters {
    /// A record of `bytes` key and value bytes was handed to the log.
    pub(crate) fn appended(&self, bytes: u64) {
        self.appended.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.in_flight_bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// A record handed over earlier was acked (`ok`) or failed.
    pub(crate) fn settled(&self, bytes: u64, ok: bool) {
        let n = if ok { &self.acked } else { &self.failed };
        n.fetch_add(1, Ordering::Relaxed);
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.in_flight_bytes.fetch_sub(bytes, Ordering::Relaxed);
    }

    /// Read all counters.
    pub fn snapshot(&self) -> CounterSnapshot {
        CounterSnapshot {
            appended: self.appended.load(Ordering::Relaxed),
            acked: self.acked.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            in_flight: self.in_flight.load(Ordering::Relaxed),
            in_flight_bytes: self.in_flight_bytes.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appended_equals_acked_plus_failed_plus_in_flight() {
        let c = Counters::default();
        c.appended(10);
        c.appended(20);
        c.appended(5);
        c.settled(10, true);
        c.settled(5, false);
        assert_eq!(
            c.snapshot(),
            CounterSnapshot {
                appended: 3,
                acked: 1,
                failed: 1,
                bytes: 35,
                in_flight: 1,
                in_flight_bytes: 20,
            }
        );
    }
}
