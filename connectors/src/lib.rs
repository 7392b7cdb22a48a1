//! Source connectors: PostgreSQL (pgoutput) and MySQL/MariaDB (row binlog).
//!
//! Each source becomes one module here that turns its database's change
//! stream (and a consistent initial snapshot) into
//! [`rowlog_schemas::ChangeEvent`]s in commit order, and that resumes from a
//! saved [`rowlog_schemas::Position`]. The source trait is defined together
//! with the first source (issue #4), so that its shape is proven by a real
//! implementation rather than guessed; nothing is implemented here yet.

pub mod error;
pub mod pattern;
pub mod postgres;
