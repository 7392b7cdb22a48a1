//! The PostgreSQL source: pgoutput streaming and consistent snapshots.

pub mod catalog;
pub mod snapshot;
pub mod types;
