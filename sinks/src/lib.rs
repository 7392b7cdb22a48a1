//! Sinks: PostgreSQL and MySQL/MariaDB followers, Redis, OpenSearch.
//!
//! Each sink is one module (config beside it, apply logic, tests) that
//! implements [`contract::Sink`]: it applies batches of decoded
//! [`rowlog_schemas::ChangeEvent`]s and stores the consumed log offsets
//! atomically with them, so a replay never applies a change twice and never
//! moves a row backwards. [`collapse`] turns a batch into one final action
//! per key for set-based apply.

pub mod collapse;
pub mod contract;
pub mod fence;
pub mod mysql;
pub mod postgres;

pub use contract::{Applied, Change, LogOffset, Rejected, Sink, SinkError};
