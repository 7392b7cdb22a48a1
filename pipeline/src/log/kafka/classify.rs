//! librdkafka error codes → [`LogError`]s that name the record and say what to do.
//!
//! librdkafka retries retriable errors itself until `message.timeout.ms`; an
//! error that reaches a delivery report is final for that record. Transient
//! here means "a new writer from the last confirmed position will likely get
//! through once the cluster is healthy again" (timeouts, unreachable brokers,
//! leader moves, a fenced idempotent producer). Every other code is permanent:
//! an unknown code stops the pipeline with its message rather than looping on it.

use rdkafka::error::{KafkaError, RDKafkaErrorCode};

use crate::log::error::{ErrorKind, LogError};
use crate::log::watermark::Seq;

/// Transient or permanent.
pub(crate) fn kind_of(code: RDKafkaErrorCode) -> ErrorKind {
    use RDKafkaErrorCode as C;
    match code {
        C::MessageTimedOut
        | C::RequestTimedOut
        | C::OperationTimedOut
        | C::TimedOutQueue
        | C::BrokerTransportFailure
        | C::AllBrokersDown
        | C::Resolve
        | C::NetworkException
        | C::LeaderNotAvailable
        | C::NotLeaderForPartition
        | C::BrokerNotAvailable
        | C::ReplicaNotAvailable
        | C::NotEnoughReplicas
        | C::NotEnoughReplicasAfterAppend
        | C::CoordinatorLoadInProgress
        | C::CoordinatorNotAvailable
        | C::NotCoordinator
        | C::NotController
        | C::KafkaStorageError
        | C::FencedLeaderEpoch
        | C::UnknownLeaderEpoch
        | C::ThrottlingQuotaExceeded
        | C::RebootstrapRequired
        | C::QueueFull
        | C::PurgeQueue
        | C::PurgeInflight
        | C::OutOfOrderSequenceNumber
        | C::UnknownProducerId
        | C::InvalidProducerEpoch
        | C::Fatal => ErrorKind::Transient,
        _ => ErrorKind::Permanent,
    }
}

/// What to do about a code, where there is something to say.
fn hint(code: RDKafkaErrorCode) -> Option<&'static str> {
    use RDKafkaErrorCode as C;
    Some(match code {
        C::MessageTimedOut => {
            "no broker acked it within message.timeout.ms; check that the brokers are reachable"
        }
        C::TopicAuthorizationFailed => {
            "grant rowlog's principal WRITE and DESCRIBE on the topic (and CREATE for missing topics)"
        }
        C::ClusterAuthorizationFailed => {
            "the idempotent producer needs IDEMPOTENT_WRITE on the cluster (brokers before Kafka 2.8)"
        }
        C::UnknownTopicOrPartition | C::UnknownTopic | C::UnknownPartition => {
            "the topic does not exist (rowlog creates its topics at start; was it deleted?)"
        }
        C::InvalidTopic => "the broker refuses this topic name",
        C::SaslAuthenticationFailed | C::Authentication => {
            "check the sasl.* options in log.kafka.options"
        }
        _ => return None,
    })
}

fn describe(err: &KafkaError) -> String {
    match err.rdkafka_error_code().and_then(hint) {
        Some(h) => format!("{err}; {h}"),
        None => err.to_string(),
    }
}

/// The error for one record that `send` refused or a delivery report failed.
pub(crate) fn record_error(err: &KafkaError, topic: &str, seq: Seq, size: usize) -> LogError {
    let code = err.rdkafka_error_code();
    match code {
        Some(
            RDKafkaErrorCode::MessageSizeTooLarge
            | RDKafkaErrorCode::InvalidMessageSize
            | RDKafkaErrorCode::MessageBatchTooLarge,
        ) => LogError::TooLarge {
            topic: topic.to_owned(),
            seq,
            size,
            message: err.to_string(),
        },
        _ => LogError::Delivery {
            topic: topic.to_owned(),
            seq,
            size,
            kind: code.map_or(ErrorKind::Permanent, kind_of),
            message: describe(err),
        },
    }
}

/// The error for a topic that could not be created or checked.
pub(crate) fn topic_error(topic: &str, code: RDKafkaErrorCode, doing: &str) -> LogError {
    let message = match hint(code) {
        Some(h) => format!("{doing}: {code}; {h}"),
        None => format!("{doing}: {code}"),
    };
    LogError::Topic {
        topic: topic.to_owned(),
        kind: kind_of(code),
        message,
    }
}

/// The error for a request about several topics that failed as a whole.
pub(crate) fn request_error(topics: &str, err: &KafkaError, doing: &str) -> LogError {
    LogError::Topic {
        topic: topics.to_owned(),
        kind: err
            .rdkafka_error_code()
            .map_or(ErrorKind::Transient, kind_of),
        message: format!("{doing}: {}", describe(err)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreachable_brokers_and_timeouts_are_transient() {
        for code in [
            RDKafkaErrorCode::MessageTimedOut,
            RDKafkaErrorCode::AllBrokersDown,
            RDKafkaErrorCode::BrokerTransportFailure,
            RDKafkaErrorCode::RequestTimedOut,
            RDKafkaErrorCode::NotLeaderForPartition,
        ] {
            assert_eq!(kind_of(code), ErrorKind::Transient, "{code:?}");
        }
    }

    #[test]
    fn authorization_topic_and_size_errors_are_permanent() {
        for code in [
            RDKafkaErrorCode::TopicAuthorizationFailed,
            RDKafkaErrorCode::ClusterAuthorizationFailed,
            RDKafkaErrorCode::InvalidTopic,
            RDKafkaErrorCode::MessageSizeTooLarge,
            RDKafkaErrorCode::PolicyViolation,
        ] {
            assert_eq!(kind_of(code), ErrorKind::Permanent, "{code:?}");
        }
    }

    #[test]
    fn too_large_names_topic_and_size() {
        let err = KafkaError::MessageProduction(RDKafkaErrorCode::MessageSizeTooLarge);
        let e = record_error(&err, "rowlog.pg.public.big", Seq::new(7), 2_000_000);
        assert_eq!(e.kind(), ErrorKind::Permanent);
        let text = e.to_string();
        assert!(text.contains("rowlog.pg.public.big"), "{text}");
        assert!(text.contains("2000000 bytes"), "{text}");
        assert!(text.contains("record 7"), "{text}");
    }

    #[test]
    fn delivery_errors_carry_kind_and_hint() {
        let err = KafkaError::MessageProduction(RDKafkaErrorCode::TopicAuthorizationFailed);
        let e = record_error(&err, "t", Seq::new(1), 10);
        assert_eq!(e.kind(), ErrorKind::Permanent);
        assert!(e.to_string().contains("WRITE"), "{e}");
        let err = KafkaError::MessageProduction(RDKafkaErrorCode::MessageTimedOut);
        let e = record_error(&err, "t", Seq::new(2), 10);
        assert!(e.is_transient(), "{e}");
    }
}
