//! The PostgreSQL source: pgoutput streaming and consistent snapshots.

pub mod types;
