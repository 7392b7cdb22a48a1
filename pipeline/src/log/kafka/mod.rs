//! The row log on Kafka: [`KafkaAppender`], a [`LogWriter`] on rdkafka's
//! `ThreadedProducer` (bundled librdkafka).
//!
//! Invariants:
//! - ordering: records are handed to librdkafka in seq order; with the
//!   idempotent producer each partition keeps that order across librdkafka's
//!   retries, so records of one key (one partition, by murmur2 of the key) are
//!   in the log in the order they were appended;
//! - durability: a record counts once its delivery report says acked by all
//!   in-sync replicas (`acks=all`); the watermark follows the lowest unacked
//!   seq (see [`crate::log::watermark`]);
//! - bounded memory: at most `max_in_flight` records and `max_in_flight_bytes`
//!   key+value bytes are handed over and not yet reported; `append` waits for
//!   room, it never waits for its own record;
//! - failure: a record librdkafka gives up on (after its own retries, up to
//!   `message.timeout.ms`) or refuses at once fails the appender for good.
//!
//! After a crash, the records that were in flight may or may not be in Kafka;
//! the source restarts from its last confirmed position and appends them again
//! (duplicates only from that window). Dropping the appender purges what is
//! still queued (waiting up to about half a second): call `flush` first.

mod admin;
mod classify;
pub mod config;
mod delivery;

#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseRecord, ThreadedProducer};
use rdkafka::{ClientConfig, config::FromClientConfigAndContext};
use rowlog_config::model::log::Log;
use tokio::sync::watch;

use self::delivery::{DeliveryContext, Shared};
use super::counters::CounterSnapshot;
use super::error::LogError;
use super::topic::TopicName;
use super::watermark::{Durability, Seq};
use super::{EnsuredTopic, LogWriter};

/// Limits of one [`KafkaAppender`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppenderOptions {
    /// Records handed over and not yet acked before `append` waits.
    pub max_in_flight: usize,
    /// Key+value bytes handed over and not yet acked before `append` waits
    /// (at most `u32::MAX`). A single larger record still goes, alone.
    pub max_in_flight_bytes: usize,
}

impl Default for AppenderOptions {
    /// 100,000 records, 64 MiB.
    fn default() -> Self {
        AppenderOptions {
            max_in_flight: 100_000,
            max_in_flight_bytes: 64 << 20,
        }
    }
}

/// Appends records to Kafka and tracks when they are durable.
pub struct KafkaAppender {
    producer: ThreadedProducer<DeliveryContext>,
    shared: Arc<Shared>,
    admin_config: ClientConfig,
    brokers: String,
    partitions: u32,
    replication_factor: u16,
    options: AppenderOptions,
}

impl KafkaAppender {
    /// A producer for `log` ([`config`] lists the options it sets). Does
    /// not connect yet: librdkafka connects on first use and keeps retrying.
    pub fn new(log: &Log, options: AppenderOptions) -> Result<KafkaAppender, LogError> {
        if options.max_in_flight == 0 || options.max_in_flight > tokio::sync::Semaphore::MAX_PERMITS
        {
            return Err(LogError::Limit {
                name: "max_in_flight",
                reason: format!("{} is out of range (1 and up)", options.max_in_flight),
            });
        }
        let max_bytes = u32::try_from(options.max_in_flight_bytes)
            .ok()
            .filter(|b| *b > 0)
            .ok_or_else(|| LogError::Limit {
                name: "max_in_flight_bytes",
                reason: format!(
                    "{} is out of range (1 to {})",
                    options.max_in_flight_bytes,
                    u32::MAX
                ),
            })?;
        let producer_config = config::producer_config(log, &options)?;
        let admin_config = config::base_config(log)?;
        let shared = Arc::new(Shared::new(options.max_in_flight, max_bytes));
        let brokers = log.kafka.brokers.join(",");
        let producer = ThreadedProducer::from_config_and_context(
            &producer_config,
            DeliveryContext(shared.clone()),
        )
        .map_err(|e| match e {
            KafkaError::ClientConfig(_, description, key, _) => {
                config::option_error(&key, &description)
            }
            e => LogError::Client {
                brokers: brokers.clone(),
                message: e.to_string(),
            },
        })?;
        Ok(KafkaAppender {
            producer,
            shared,
            admin_config,
            brokers,
            partitions: log.partitions,
            replication_factor: log.replication_factor,
            options,
        })
    }

    /// Hand one record to librdkafka, holding the permits it was given.
    /// `Ok(None)` when librdkafka's own queue is full (try again shortly).
    fn try_send(
        &self,
        topic: &TopicName,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        size: usize,
    ) -> Result<Option<Seq>, LogError> {
        let mut state = self.shared.lock();
        if let Some(error) = &state.failure {
            return Err(error.clone());
        }
        let seq = state.tracker.next_seq();
        let opaque = usize::try_from(seq.get()).map_err(|_| LogError::Delivery {
            topic: topic.to_string(),
            seq,
            size,
            kind: super::ErrorKind::Transient,
            message: "sequence numbers exhausted; restart the writer".to_owned(),
        })?;
        let mut record: BaseRecord<'_, [u8], [u8], usize> =
            BaseRecord::with_opaque_to(topic.as_str(), opaque);
        record.key = key;
        record.payload = value;
        match self.producer.send(record) {
            Ok(()) => {
                state.tracker.push();
                self.shared.counters.appended(size as u64);
                Ok(Some(seq))
            }
            Err((e, _)) if e.rdkafka_error_code() == Some(RDKafkaErrorCode::QueueFull) => Ok(None),
            Err((e, _)) => {
                let seq = state.tracker.push();
                self.shared.counters.appended(size as u64);
                self.shared.counters.settled(size as u64, false);
                let error = classify::record_error(&e, topic.as_str(), seq, size);
                self.shared.fail(&mut state, seq, error.clone());
                Err(error)
            }
        }
    }
}

impl LogWriter for KafkaAppender {
    async fn ensure_topics(&self, topics: &[TopicName]) -> Result<Vec<EnsuredTopic>, LogError> {
        admin::ensure_topics(
            &self.admin_config,
            &self.producer,
            topics,
            self.partitions,
            self.replication_factor,
            &[],
        )
        .await
    }

    async fn ensure_state_topic(&self, topic: &TopicName) -> Result<EnsuredTopic, LogError> {
        let mut ensured = admin::ensure_topics(
            &self.admin_config,
            &self.producer,
            std::slice::from_ref(topic),
            1,
            self.replication_factor,
            &[("cleanup.policy", "compact")],
        )
        .await?;
        ensured.pop().ok_or(LogError::Closed)
    }

    fn client_config(&self) -> rdkafka::ClientConfig {
        self.admin_config.clone()
    }

    async fn append(
        &self,
        topic: &TopicName,
        key: Option<Vec<u8>>,
        value: Option<Vec<u8>>,
    ) -> Result<Seq, LogError> {
        let failed = || self.shared.failure().unwrap_or(LogError::Closed);
        if let Some(error) = self.shared.failure() {
            return Err(error);
        }
        let size = key.as_ref().map_or(0, Vec::len) + value.as_ref().map_or(0, Vec::len);
        let records = self.shared.records.acquire().await.map_err(|_| failed())?;
        let bytes = self
            .shared
            .bytes
            .acquire_many(self.shared.cost(size))
            .await
            .map_err(|_| failed())?;
        loop {
            if let Some(seq) = self.try_send(topic, key.as_deref(), value.as_deref(), size)? {
                // The delivery report gives them back.
                records.forget();
                bytes.forget();
                return Ok(seq);
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    fn last_appended(&self) -> Seq {
        self.shared.lock().tracker.last()
    }

    fn durability(&self) -> watch::Receiver<Durability> {
        self.shared.subscribe()
    }

    fn failure(&self) -> Option<LogError> {
        self.shared.failure()
    }

    fn counters(&self) -> CounterSnapshot {
        self.shared.counters.snapshot()
    }

    fn brokers_down(&self) -> bool {
        self.shared.brokers.down()
    }

    fn ends(&self) -> crate::log::Ends {
        self.shared.lock().ends.clone()
    }
}

impl fmt::Debug for KafkaAppender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not the client configs: they may hold secrets.
        f.debug_struct("KafkaAppender")
            .field("brokers", &self.brokers)
            .field("options", &self.options)
            .field("durability", &*self.shared.subscribe().borrow())
            .field("counters", &self.shared.counters.snapshot())
            .finish_non_exhaustive()
    }
}
