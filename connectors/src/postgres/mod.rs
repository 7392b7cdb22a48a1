//! The PostgreSQL source: pgoutput streaming and consistent snapshots.

pub mod catalog;
pub mod events;
pub mod pgoutput;
pub mod snapshot;
pub mod source;
pub mod types;
pub mod walsender;
