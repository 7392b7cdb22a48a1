//! The contract between the sink worker (which reads the row log) and a
//! sink (which applies it to a target).
//!
//! Invariants every sink keeps, and the worker relies on:
//! - [`Sink::apply`] applies a batch and stores the batch's [`LogOffset`]s
//!   **in the same target transaction** (SQL followers), or in a way that
//!   makes a replay of the batch a no-op (caches, indexes: compare-and-set on
//!   the row version). Either the whole batch and its offsets are there after
//!   a crash, or neither is: the worker restarts from [`Sink::open`]'s
//!   offsets, so each change takes effect exactly once.
//! - Changes arrive in log order per partition (and so per key). A sink may
//!   reorder changes of *different* keys (set-based apply) but never two
//!   changes of one key.
//! - A change the target rejects for good (a value it cannot hold, a
//!   constraint) is reported in [`Applied::rejected`] and left out; every
//!   other change of the batch is applied and the offsets still advance. The
//!   worker sends rejected changes to the dead-letter topic. With
//!   [`Sink::allow_rejects`]`(false)` (`on_error: stop`) a rejection fails
//!   the batch instead and nothing of it is applied. A sink never drops a
//!   change silently.
//! - Errors are [`SinkError`]s: transient (connection lost, deadlock,
//!   serialization failure) → the worker retries the same batch; permanent →
//!   the sink stops. A transient error leaves nothing applied (the
//!   transaction rolled back).
//!
//! - **Fencing.** A sink remembers the offsets it read in its last
//!   [`Sink::open`] and those it committed since ([`crate::fence`]). In the
//!   batch's transaction it first compares-and-sets each partition's stored
//!   offset against what it remembers; if another worker moved one (two
//!   workers both believe they own a partition: a member that stalled past
//!   the group's session timeout, an in-doubt commit being retried), the
//!   batch fails with [`SinkError::fenced`], nothing of it applied. The
//!   worker then opens again and reads on from the stored offsets. So a
//!   change takes effect once even when ownership overlaps.
//!
//! Offsets are opaque to sinks: `(topic, partition, next offset)` triples
//! stored under the sink's name and handed back on open. Sinks know nothing
//! about Kafka.
//!
//! A later `transactional` apply mode (whole source transactions in commit
//! order, from the transaction metadata topic) fits this contract: the worker
//! assembles batches along transaction boundaries across partitions and the
//! sink applies them unchanged; only batch formation moves.

use std::future::Future;
use std::sync::Arc;

use rowlog_schemas::{ChangeEvent, TableSchema};

/// The next offset to consume in one partition of one topic.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LogOffset {
    /// Topic name.
    pub topic: String,
    /// Partition number.
    pub partition: i32,
    /// The offset after the last change applied.
    pub next: i64,
}

/// One change to apply and the schema of its rows (as the record declared
/// it: column kinds and key; source types when known).
#[derive(Debug, Clone)]
pub struct Change {
    /// The change.
    pub event: ChangeEvent,
    /// Its table's schema at the change.
    pub schema: Arc<TableSchema>,
}

/// A change the target rejected for good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// Index of the change in the batch.
    pub index: usize,
    /// Why, as the target said it (with table and column when known).
    pub reason: String,
}

/// What [`Sink::apply`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// Changes applied (after collapsing, rows written may be fewer).
    pub changes: usize,
    /// Changes left out because the target rejected them.
    pub rejected: Vec<Rejected>,
}

/// A sink failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SinkError {
    /// Whether retrying the same batch may succeed.
    pub transient: bool,
    /// The target's offsets were moved by someone else (see the module
    /// doc): nothing was applied; re-[`Sink::open`] and read again from the
    /// stored offsets. Never transient.
    pub fenced: bool,
    /// What happened, where, and how to fix it.
    pub message: String,
}

impl SinkError {
    /// An error a retry cannot fix.
    pub fn permanent(message: impl Into<String>) -> SinkError {
        SinkError {
            transient: false,
            fenced: false,
            message: message.into(),
        }
    }

    /// An error a retry may get past.
    pub fn transient(message: impl Into<String>) -> SinkError {
        SinkError {
            transient: true,
            fenced: false,
            message: message.into(),
        }
    }

    /// The batch was refused because the stored offsets moved (see
    /// [`SinkError::fenced`](SinkError#structfield.fenced)).
    pub fn fenced(message: impl Into<String>) -> SinkError {
        SinkError {
            transient: false,
            fenced: true,
            message: message.into(),
        }
    }

    /// Prefixes the message with where it happened.
    pub fn context(mut self, place: impl std::fmt::Display) -> SinkError {
        self.message = format!("{place}: {}", self.message);
        self
    }
}

/// A target the row log is applied to.
pub trait Sink: Send {
    /// Connects, prepares what the sink needs (the offsets table), and
    /// returns the offsets stored for this sink (empty on first start).
    fn open(&mut self) -> impl Future<Output = Result<Vec<LogOffset>, SinkError>> + Send;

    /// Whether a change the target rejects may be left out of its batch
    /// (`true`, the default: the worker dead-letters it) or must fail the
    /// whole batch with a permanent error naming it, nothing applied and no
    /// offset moved (`false`: `on_error: stop`).
    fn allow_rejects(&mut self, allowed: bool);

    /// Applies `changes` and stores `offsets` atomically with them (see the
    /// module doc).
    fn apply(
        &mut self,
        changes: &[Change],
        offsets: &[LogOffset],
    ) -> impl Future<Output = Result<Applied, SinkError>> + Send;
}
