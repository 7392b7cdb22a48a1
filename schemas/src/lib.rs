//! The row-log contract shared by every part of rowlog.
//!
//! Sources produce [`ChangeEvent`]s, the pipeline encodes them
//! ([`encode::json`] by default, [`encode::avro`] with a schema registry) into
//! Kafka records keyed by the table's key, and sinks decode them back. What
//! this crate promises:
//!
//! - **Lossless values** ([`value`]): every PostgreSQL 15 and MySQL/MariaDB
//!   column type has a [`Value`] that holds it exactly, and "not sent by the
//!   source" ([`Value::Absent`]) is not NULL.
//! - **Ordered positions** ([`position`]): one type per source kind, totally
//!   ordered within a source, printable and parseable, with an `i64` row
//!   version that sinks use so replays never move a row backwards.
//! - **Round trips**: for both encodings, decode(encode(event)) == event; the
//!   property tests in `tests/` check it for every value kind and its edges.
//!
//! Nothing here does I/O.

pub mod encode;
pub mod error;
pub mod event;
pub mod position;
pub mod table;
pub mod value;

pub use error::{CodecError, ValueError};
pub use event::{ChangeEvent, Op, Row, TxInfo};
pub use position::{Position, SourceKind};
pub use table::{ColumnSchema, TableId, TableSchema};
pub use value::{Value, ValueKind};
