//! State shared between `append` and librdkafka's delivery reports.
//!
//! Invariants: a record's seq is assigned under the state lock in the same
//! critical section that hands it to librdkafka, and its delivery report takes
//! the same lock, so a report never arrives for a seq the tracker does not know.
//! Each record holds one permit of `records` and `cost(size)` permits of `bytes`
//! from the moment it is handed over until its delivery report: those two
//! semaphores are the in-flight bound. The first failure is kept, closes both
//! semaphores (waking every blocked `append` with that error) and is published
//! on the durability watch; the watermark never passes the failed seq.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use rdkafka::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::KafkaError;
use rdkafka::message::{DeliveryResult, Message};
use rdkafka::producer::ProducerContext;
use tokio::sync::{Semaphore, watch};

use super::classify;
use crate::log::counters::Counters;
use crate::log::error::LogError;
use crate::log::watermark::{Durability, Seq, Tracker};

/// What the lock protects.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) tracker: Tracker,
    pub(crate) failure: Option<LogError>,
    /// Per topic, per partition, the offset after the last acknowledged
    /// record (0 for a partition with none): updated before the watermark
    /// is published, so whoever sees a seq durable finds its record in it.
    pub(crate) ends: crate::log::Ends,
}

/// Shared by the appender and the delivery callback.
#[derive(Debug)]
pub(crate) struct Shared {
    state: Mutex<State>,
    durability: watch::Sender<Durability>,
    pub(crate) records: Semaphore,
    pub(crate) bytes: Semaphore,
    max_bytes: u32,
    pub(crate) counters: Counters,
    /// Whether any broker is reachable (for `/readyz`).
    pub(crate) brokers: crate::log::brokers::BrokerHealth,
}

impl Shared {
    /// Room for `max_records` records and `max_bytes` key+value bytes in flight.
    pub(crate) fn new(max_records: usize, max_bytes: u32) -> Shared {
        Shared {
            state: Mutex::new(State::default()),
            durability: watch::Sender::new(Durability::default()),
            records: Semaphore::new(max_records),
            bytes: Semaphore::new(max_bytes as usize),
            max_bytes,
            counters: Counters::default(),
            brokers: crate::log::brokers::BrokerHealth::default(),
        }
    }

    /// Byte permits a record of `size` bytes holds: its size, but at most the
    /// whole budget, so a record larger than the budget can still go (alone).
    pub(crate) fn cost(&self, size: usize) -> u32 {
        u32::try_from(size).unwrap_or(u32::MAX).min(self.max_bytes)
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the tracker half-updated
        // in a way that breaks its invariants, so keep going.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<Durability> {
        self.durability.subscribe()
    }

    pub(crate) fn failure(&self) -> Option<LogError> {
        self.lock().failure.clone()
    }

    /// `seq` will never be durable: freeze the watermark below it and, if this
    /// is the first failure, fail the writer with `error`.
    pub(crate) fn fail(&self, state: &mut State, seq: Seq, error: LogError) {
        state.tracker.fail(seq);
        if state.failure.is_none() {
            tracing::error!(%seq, error = %error, "row log writer failed");
            state.failure = Some(error);
            self.records.close();
            self.bytes.close();
        }
        self.publish(state);
    }

    fn publish(&self, state: &State) {
        self.durability.send_replace(Durability {
            watermark: state.tracker.watermark(),
            failed_at: state.tracker.failed_at(),
        });
    }

    /// A delivery report: `error` is `None` when the record is durable,
    /// `at` its topic, partition and offset then.
    pub(crate) fn settle(
        &self,
        seq: Seq,
        size: usize,
        error: Option<LogError>,
        at: Option<(&str, i32, i64)>,
    ) {
        {
            // Counters first: whoever wakes on the published watermark (a
            // flush) must find the record counted already.
            self.counters.settled(size as u64, error.is_none());
            let mut state = self.lock();
            match error {
                None => {
                    if let Some((topic, partition, offset)) = at {
                        record_end(&mut state.ends, topic, partition, offset);
                    }
                    if state.tracker.ack(seq) {
                        self.publish(&state);
                    }
                }
                Some(error) => self.fail(&mut state, seq, error),
            }
        }
        self.records.add_permits(1);
        self.bytes.add_permits(self.cost(size) as usize);
    }
}

/// The producer context: delivery reports and librdkafka's logs.
#[derive(Debug, Clone)]
pub(crate) struct DeliveryContext(pub(crate) Arc<Shared>);

impl ClientContext for DeliveryContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error => tracing::error!(target: "librdkafka", fac, "{message}"),
            RDKafkaLogLevel::Warning => tracing::warn!(target: "librdkafka", fac, "{message}"),
            RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
                tracing::info!(target: "librdkafka", fac, "{message}")
            }
            RDKafkaLogLevel::Debug => tracing::debug!(target: "librdkafka", fac, "{message}"),
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        // Client-wide errors (all brokers down, …) are retried by librdkafka;
        // records fail only through their delivery reports.
        self.0.brokers.on_error(&error);
        tracing::warn!(target: "librdkafka", error = %error, "{reason}");
    }

    fn stats(&self, statistics: rdkafka::Statistics) {
        self.0.brokers.on_stats(&statistics);
    }
}

impl ProducerContext for DeliveryContext {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, seq: usize) {
        let seq = Seq::new(seq as u64);
        match result {
            Ok(message) => {
                self.0.brokers.up();
                self.0.settle(
                    seq,
                    size_of(message),
                    None,
                    Some((message.topic(), message.partition(), message.offset())),
                );
            }
            Err((err, message)) => {
                let size = size_of(message);
                let error = classify::record_error(err, message.topic(), seq, size);
                self.0.settle(seq, size, Some(error), None);
            }
        }
    }
}

/// Raises `topic`/`partition`'s end past `offset` (no allocation once the
/// topic is known: this runs for every delivered record).
fn record_end(ends: &mut crate::log::Ends, topic: &str, partition: i32, offset: i64) {
    let Ok(p) = usize::try_from(partition) else {
        return;
    };
    let parts = match ends.get_mut(topic) {
        Some(parts) => parts,
        None => ends.entry(topic.to_string()).or_default(),
    };
    if parts.len() <= p {
        parts.resize(p + 1, 0);
    }
    parts[p] = parts[p].max(offset + 1);
}

fn size_of(message: &impl Message) -> usize {
    message.key().map_or(0, <[u8]>::len) + message.payload().map_or(0, <[u8]>::len)
}
