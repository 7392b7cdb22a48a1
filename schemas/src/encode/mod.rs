//! Encodings of change events into Kafka records.
//!
//! - [`json`]: Debezium's envelope layout (`before`, `after`, `source`, `op`,
//!   `ts_ms`, `transaction`) plus a `rowlog` block with the schema version,
//!   the key column names and each column's [`ValueKind`](crate::ValueKind),
//!   which makes every message decodable without a registry.
//! - [`avro`]: Avro datums whose schema is derived from the table schema,
//!   framed in the Confluent wire format when a registry id is known.
//!
//! Where the two differ from Debezium on purpose: decimals are strings of
//! digits (never base64 bytes), unsigned 64-bit integers are exact, a column
//! the source did not send is *missing* from the JSON object (Avro: the
//! `Absent` union branch) instead of a placeholder, and temporal values are
//! ISO 8601 text, because zero dates and ±infinity have no numeric form.
//! The Kafka key of a row is its key columns, encoded the same way.

pub mod avro;
pub mod json;
pub(crate) mod text;
pub mod txmeta;
pub mod wire;

use crate::event::ChangeEvent;

/// `source.ts_ms` and `source.ts_us` of an envelope: the commit time when the
/// change has a transaction, otherwise the time rowlog read it.
pub(crate) fn source_times(event: &ChangeEvent) -> (i64, i64) {
    match &event.transaction {
        Some(tx) => (tx.commit_time_us.div_euclid(1000), tx.commit_time_us),
        None => (event.ts_ms, event.ts_ms.saturating_mul(1000)),
    }
}
