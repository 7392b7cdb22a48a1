//! The contract between a source and the row log it writes to.
//!
//! Invariants every implementation keeps (and every source relies on):
//! - Events are appended in the order [`Emitter::emit`] is called; a source
//!   calls it in commit order, so the log holds each key's changes in order.
//! - A *mark* is the source position that may be confirmed to the database
//!   (PostgreSQL: the LSN for `confirmed_flush_lsn`; MySQL: the offset to
//!   resume from). [`Emitter::end_transaction`] attaches a mark to everything
//!   emitted so far; [`Emitter::durable`] returns the newest mark whose events
//!   — and all events before them — the log has acknowledged. A source never
//!   confirms anything newer, so a crash loses nothing: on restart the
//!   database resends from the last confirmed mark, and the only duplicates
//!   are events that were in flight.
//! - An error from any method is fatal for this run: the source stops and
//!   restarts from its last confirmed mark.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use rowlog_schemas::{ChangeEvent, TableSchema};

use crate::error::SourceError;

/// The wall clock in ms since 1970-01-01 UTC, for events' `ts_ms` (when
/// the source processed them).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The end of one source transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionEnd<M> {
    /// The position to confirm once this transaction is durable.
    pub mark: M,
    /// Source transaction id (as in the events' `TxInfo::id`).
    pub id: String,
    /// Commit time, µs since 1970-01-01 UTC.
    pub commit_time_us: i64,
    /// Events of the transaction per table (`namespace.table`).
    pub counts: Vec<(String, u64)>,
}

/// Where a source writes what it reads.
pub trait Emitter<M: Clone + Send + 'static>: Send {
    /// Queues `event`, whose rows follow `schema`. Waits while too much is
    /// in flight (backpressure), never buffers without bound.
    fn emit(
        &mut self,
        event: ChangeEvent,
        schema: &Arc<TableSchema>,
    ) -> impl Future<Output = Result<(), SourceError>> + Send;

    /// Ends a transaction: everything emitted so far belongs to `end.mark`.
    fn end_transaction(
        &mut self,
        end: TransactionEnd<M>,
    ) -> impl Future<Output = Result<(), SourceError>> + Send;

    /// Attaches `mark` to everything emitted so far without a transaction
    /// (a snapshot's end, or a keepalive position when nothing is pending).
    fn checkpoint(&mut self, mark: M);

    /// The source hit transient `error` and retries with backoff (for
    /// status reporting; the next event or position means it runs again).
    /// Returns whether this is the first failure since the source last ran,
    /// so the caller logs a streak of failures once, not every attempt.
    fn retrying(&mut self, _error: &SourceError) -> bool {
        true
    }

    /// The newest mark whose events, and all before them, are durable.
    fn durable(&mut self) -> Result<Option<M>, SourceError>;

    /// Whether every emitted event is durable.
    fn idle(&self) -> bool;

    /// Waits (up to `timeout`) until every emitted event is durable, then
    /// returns [`Emitter::durable`].
    fn flush(
        &mut self,
        timeout: Duration,
    ) -> impl Future<Output = Result<Option<M>, SourceError>> + Send;

    /// The source's saved state (key → value) as the log holds it now.
    fn load_state(
        &mut self,
    ) -> impl Future<Output = Result<BTreeMap<String, String>, SourceError>> + Send;

    /// Saves `value` under `key` (`None` deletes it), in order with the
    /// events: it becomes durable only once everything emitted before it is.
    fn save_state(
        &mut self,
        key: &str,
        value: Option<String>,
    ) -> impl Future<Output = Result<(), SourceError>> + Send;
}
