//! Whether a Kafka client can reach any broker, for `/readyz`: librdkafka
//! reports "all brokers down" through its error callback and retries by
//! itself, so without this a broker outage would leave every component
//! "running" while nothing moves.
//!
//! Invariant: down from an all-brokers-down error until a statistics report
//! (clients set `statistics.interval.ms`) or a delivery shows a broker up
//! again; a client that never saw the error is up.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rdkafka::Statistics;
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;

/// Shared between a client's context and whoever reports its health.
#[derive(Debug, Clone, Default)]
pub struct BrokerHealth(Arc<AtomicBool>);

impl BrokerHealth {
    /// From the client's error callback.
    pub fn on_error(&self, error: &KafkaError) {
        if error.rdkafka_error_code() == Some(RDKafkaErrorCode::AllBrokersDown) {
            self.0.store(true, Ordering::Relaxed);
        }
    }

    /// From the client's statistics callback.
    pub fn on_stats(&self, statistics: &Statistics) {
        if statistics.brokers.values().any(|b| b.state == "UP") {
            self.up();
        }
    }

    /// A broker answered (a delivery report, say).
    pub fn up(&self) {
        self.0.store(false, Ordering::Relaxed);
    }

    /// Whether every broker is down.
    pub fn down(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}
