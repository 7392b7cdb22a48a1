//! The row log: the one small interface between sources and sinks.
//!
//! DESIGN.md asks for three things behind it: append keyed records and learn when
//! they are durable; read a partition from an offset; store consumer positions.
//! This module holds the first ([`LogWriter`]) and its Kafka implementation
//! ([`kafka::KafkaAppender`]). The reading half (a `LogReader` reading a
//! partition from an offset, and a store of consumer positions) arrives with the
//! sinks and lives beside `LogWriter` here, so an embedded single-machine log can
//! implement both without the callers knowing which one they talk to.
//!
//! Invariants of every [`LogWriter`]:
//! - each appended record gets the next [`Seq`] (1, 2, 3, …), in the order the
//!   records were handed over; records with the same topic and key keep that
//!   order in the log (one appending task per source keeps it simple);
//! - the watermark ([`Durability::watermark`]) is the highest seq such that this
//!   record and every earlier one is durable; it only moves forward;
//! - a record that cannot be made durable fails the writer: every later call
//!   returns that error and the watermark stays below the failed seq forever.
//!   The caller restarts from its last confirmed source position, so nothing is
//!   lost and the only duplicates are the records that were appended but not
//!   yet durable;
//! - memory is bounded: `append` waits while too many records or bytes are not
//!   yet durable.
//!
//! Nothing here survives a crash: seqs belong to one writer instance. What the
//! log already holds stays; what was in flight may or may not be there.

pub mod brokers;
pub mod counters;
pub mod error;
pub mod kafka;
pub mod topic;
pub mod watermark;

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;

pub use self::counters::{CounterSnapshot, Counters};
pub use self::error::{ErrorKind, LogError};
pub use self::topic::{TopicName, TopicNameError, TopicRegistry};
pub use self::watermark::{Durability, Seq};

/// Per topic, per partition index, an end offset (see [`LogWriter::ends`]).
pub type Ends = std::collections::HashMap<String, Vec<i64>>;

/// A topic as created or found by [`LogWriter::ensure_topics`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnsuredTopic {
    /// The topic.
    pub name: TopicName,
    /// True when this call created it, false when it existed already.
    pub created: bool,
    /// Partitions it has now.
    pub partitions: usize,
}

/// Appending keyed records to the row log and learning when they are durable.
///
/// `append` does not wait for durability, only for room (backpressure). Map
/// "source position P was appended as seq S" to "confirm P once the watermark
/// reaches S" with [`LogWriter::durability`] or [`LogWriter::wait_durable`].
pub trait LogWriter: Send + Sync {
    /// Create the topics that are missing (with the configured partitions and
    /// replication factor), accept those that exist, and check that all of them
    /// are usable afterwards. One entry per distinct topic, in input order.
    fn ensure_topics(
        &self,
        topics: &[TopicName],
    ) -> impl Future<Output = Result<Vec<EnsuredTopic>, LogError>> + Send;

    /// Create (if missing) a compacted, single-partition topic for state
    /// records (source positions, snapshot progress): one partition so a
    /// reader can tell it has read everything written before a marker.
    fn ensure_state_topic(
        &self,
        topic: &TopicName,
    ) -> impl Future<Output = Result<EnsuredTopic, LogError>> + Send;

    /// Client settings (brokers, security) for readers of the same cluster.
    fn client_config(&self) -> rdkafka::ClientConfig;

    /// Hand one record to the log and return its seq. Waits while the writer is
    /// at its in-flight limit; fails at once if the writer has failed. A `None`
    /// value is a tombstone. Cancel-safe: a dropped call appends nothing.
    fn append(
        &self,
        topic: &TopicName,
        key: Option<Vec<u8>>,
        value: Option<Vec<u8>>,
    ) -> impl Future<Output = Result<Seq, LogError>> + Send;

    /// The seq of the last appended record ([`Seq::ZERO`] before the first).
    fn last_appended(&self) -> Seq;

    /// The durable watermark and whether the writer has failed, as a watch.
    fn durability(&self) -> watch::Receiver<Durability>;

    /// The error that failed the writer, if it has failed.
    fn failure(&self) -> Option<LogError>;

    /// Counters for metrics.
    fn counters(&self) -> CounterSnapshot;

    /// Whether the writer currently reaches no broker (see
    /// [`brokers::BrokerHealth`]).
    fn brokers_down(&self) -> bool;

    /// Per topic, per partition, the offset after the last record of this
    /// writer the broker acknowledged (0 where none was). A record whose seq
    /// the watermark has passed is always counted in it.
    fn ends(&self) -> Ends;

    /// Wait until the watermark reaches `seq`; the writer's error as soon as a
    /// record at or before `seq` fails (then `seq` will never become durable
    /// through this writer). Records before the failed one still become
    /// durable, so waiting for them after a failure is fine.
    fn wait_durable(&self, seq: Seq) -> impl Future<Output = Result<(), LogError>> + Send {
        let mut rx = self.durability();
        async move {
            loop {
                let now = *rx.borrow_and_update();
                if now.watermark >= seq {
                    return Ok(());
                }
                if now.failed_at.is_some_and(|f| f <= seq) {
                    return Err(self.failure().unwrap_or(LogError::Closed));
                }
                if rx.changed().await.is_err() {
                    return Err(self.failure().unwrap_or(LogError::Closed));
                }
            }
        }
    }

    /// Wait until every record appended so far is durable, at most `timeout`.
    fn flush(&self, timeout: Duration) -> impl Future<Output = Result<(), LogError>> + Send {
        let last = self.last_appended();
        async move {
            match tokio::time::timeout(timeout, self.wait_durable(last)).await {
                Ok(result) => result,
                Err(_) => Err(LogError::FlushTimeout {
                    waited: timeout,
                    watermark: self.durability().borrow().watermark,
                    last,
                }),
            }
        }
    }
}
