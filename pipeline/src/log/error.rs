//! Errors of the row log, each naming its place (option, topic, seq, size) and
//! classified as transient or permanent.
//!
//! Transient: the log is unreachable or slow (broker down, timeouts); retrying
//! later from the last confirmed source position will succeed once it is back.
//! Permanent: retrying cannot help until a person changes something (options,
//! ACLs, topic settings, record size). Either way a failed writer stays failed:
//! "retry" means a new writer from the last confirmed position.
//!
//! Errors are `Clone` because a failed writer hands its first error to every
//! later caller.

use std::time::Duration;

use super::topic::TopicNameError;
use super::watermark::Seq;

/// Whether retrying may help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Retry with backoff: connection loss, broker unavailable, timeouts.
    Transient,
    /// Needs a change by a person: configuration, authorization, topic, size.
    Permanent,
}

/// An error of the row log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogError {
    /// A client option rowlog cannot work with.
    #[error("log.kafka.options.{option}: {reason}")]
    Option {
        /// The option name.
        option: String,
        /// What is wrong and what to do.
        reason: String,
    },

    /// An appender limit out of range.
    #[error("appender limit {name}: {reason}")]
    Limit {
        /// The limit.
        name: &'static str,
        /// What is wrong.
        reason: String,
    },

    /// The client could not be created.
    #[error("creating the Kafka client for {brokers}: {message}")]
    Client {
        /// `bootstrap.servers`.
        brokers: String,
        /// The client library's message.
        message: String,
    },

    /// A record is larger than the log accepts.
    #[error(
        "record {seq} for topic {topic} is too large ({size} bytes of key and value): {message}; \
         raise message.max.bytes in log.kafka.options and the topic's max.message.bytes, \
         or make the row smaller"
    )]
    TooLarge {
        /// Its topic.
        topic: String,
        /// Its seq (never durable).
        seq: Seq,
        /// Key plus value bytes.
        size: usize,
        /// The client library's message.
        message: String,
    },

    /// A record could not be made durable.
    #[error("record {seq} for topic {topic} ({size} bytes) was not delivered: {message}")]
    Delivery {
        /// Its topic.
        topic: String,
        /// Its seq (never durable).
        seq: Seq,
        /// Key plus value bytes.
        size: usize,
        /// Transient or permanent.
        kind: ErrorKind,
        /// The client library's message, with a hint where there is one.
        message: String,
    },

    /// A topic could not be created or checked.
    #[error("topic {topic}: {message}")]
    Topic {
        /// The topic.
        topic: String,
        /// Transient or permanent.
        kind: ErrorKind,
        /// What went wrong.
        message: String,
    },

    /// A topic name could not be formed.
    #[error(transparent)]
    TopicName(#[from] TopicNameError),

    /// `flush` ran out of time.
    #[error(
        "the row log did not make every record durable within {waited:?}: \
         durable up to {watermark}, last appended {last}"
    )]
    FlushTimeout {
        /// How long it waited.
        waited: Duration,
        /// The watermark when it gave up.
        watermark: Seq,
        /// The seq it waited for.
        last: Seq,
    },

    /// The writer is gone (dropped) without having failed.
    #[error("the row log writer was closed")]
    Closed,
}

impl LogError {
    /// Whether retrying (with a new writer, from the last confirmed position)
    /// may help.
    pub fn kind(&self) -> ErrorKind {
        match self {
            LogError::Delivery { kind, .. } | LogError::Topic { kind, .. } => *kind,
            LogError::FlushTimeout { .. } | LogError::Closed => ErrorKind::Transient,
            LogError::Option { .. }
            | LogError::Limit { .. }
            | LogError::Client { .. }
            | LogError::TooLarge { .. }
            | LogError::TopicName(_) => ErrorKind::Permanent,
        }
    }

    /// `kind() == Transient`.
    pub fn is_transient(&self) -> bool {
        self.kind() == ErrorKind::Transient
    }
}
