//! Source connectors: PostgreSQL (pgoutput) and MySQL/MariaDB (row binlog).
//!
//! Each source becomes one module here that turns its database's change
//! stream (and a consistent initial snapshot) into
//! [`rowlog_schemas::ChangeEvent`]s in commit order, and that resumes from a
//! saved position. Sources write through [`emit::Emitter`], which the
//! pipeline implements over the row log; they know nothing about Kafka.
//! Errors are [`error::SourceError`]s, transient or permanent.

pub mod backoff;
pub mod emit;
pub mod error;
pub mod mysql;
pub mod pattern;
pub mod postgres;
