//! The change event: one row change (or a truncate) as it travels the log.
//!
//! Invariants (checked by [`ChangeEvent::validate`], which encoders call):
//! - insert and snapshot-read carry `after` only; update carries `after` and,
//!   when the source sent the old row or key, `before`; delete carries
//!   `before` only; truncate carries neither.
//! - every row image holds exactly the table's columns in schema order;
//!   columns the source did not send are [`Value::Absent`].
//! - the key is derived, never stored twice: the key columns' values from
//!   `after` (or `before` for a delete), and none of them may be absent.

use crate::error::CodecError;
use crate::position::Position;
use crate::table::{TableId, TableSchema};
use crate::value::Value;

/// What happened to the row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// A new row (`c`).
    Insert,
    /// A changed row (`u`).
    Update,
    /// A removed row (`d`).
    Delete,
    /// The table was emptied (`t`).
    Truncate,
    /// A row read by a snapshot (`r`).
    Read,
}

impl Op {
    /// Debezium's one-letter code.
    pub fn code(self) -> &'static str {
        match self {
            Op::Insert => "c",
            Op::Update => "u",
            Op::Delete => "d",
            Op::Truncate => "t",
            Op::Read => "r",
        }
    }
    /// Inverse of [`Op::code`].
    pub fn from_code(code: &str) -> Option<Op> {
        Some(match code {
            "c" => Op::Insert,
            "u" => Op::Update,
            "d" => Op::Delete,
            "t" => Op::Truncate,
            "r" => Op::Read,
            _ => return None,
        })
    }
}

/// A row image: column names and values, in schema order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Row {
    columns: Vec<(String, Value)>,
}

impl Row {
    /// An empty row.
    pub fn new() -> Row {
        Row::default()
    }
    /// Appends a column.
    pub fn push(&mut self, name: impl Into<String>, value: Value) {
        self.columns.push((name.into(), value));
    }
    /// Builder form of [`Row::push`].
    pub fn with(mut self, name: impl Into<String>, value: Value) -> Row {
        self.push(name, value);
        self
    }
    /// The value of `name`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.columns.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }
    /// Columns in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.columns.iter().map(|(n, v)| (n.as_str(), v))
    }
    /// Number of columns.
    pub fn len(&self) -> usize {
        self.columns.len()
    }
    /// Whether there are no columns.
    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }
}

impl FromIterator<(String, Value)> for Row {
    fn from_iter<I: IntoIterator<Item = (String, Value)>>(iter: I) -> Row {
        Row {
            columns: iter.into_iter().collect(),
        }
    }
}

/// The transaction a change belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TxInfo {
    /// Source transaction id (PostgreSQL xid, MySQL GTID or XID).
    pub id: String,
    /// Commit time, microseconds since 1970-01-01 UTC.
    pub commit_time_us: i64,
    /// 1-based ordinal of this change in its transaction.
    pub ordinal: u64,
}

/// One change of one row (or a truncate), the unit of the row log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeEvent {
    /// Configured name of the source.
    pub source: String,
    /// The table changed.
    pub table: TableId,
    /// What happened.
    pub op: Op,
    /// Key column names (in key order); see [`ChangeEvent::key`].
    pub key_columns: Vec<String>,
    /// Row before the change, as far as the source sent it.
    pub before: Option<Row>,
    /// Row after the change.
    pub after: Option<Row>,
    /// Where the change sits in its source.
    pub position: Position,
    /// Its transaction (`None` for snapshot reads).
    pub transaction: Option<TxInfo>,
    /// [`TableSchema::version`] of the schema the rows were written with.
    pub schema_version: u32,
    /// When rowlog read the change, milliseconds since 1970-01-01 UTC.
    pub ts_ms: i64,
}

impl ChangeEvent {
    /// The key: the key columns' values, from `after` (or from `before` for a
    /// delete). `None` for a truncate or a table without key.
    pub fn key(&self) -> Option<Row> {
        if self.key_columns.is_empty() {
            return None;
        }
        let image = match self.op {
            Op::Delete => self.before.as_ref()?,
            _ => self.after.as_ref()?,
        };
        self.key_columns
            .iter()
            .map(|k| image.get(k).map(|v| (k.clone(), v.clone())))
            .collect::<Option<Row>>()
    }

    /// Checks the invariants in the module doc against `schema`.
    pub fn validate(&self, schema: &TableSchema) -> Result<(), CodecError> {
        let place = |what: &str| format!("{}{what} at {}", self.table, self.position);
        if schema.table != self.table {
            return Err(CodecError::new(
                place(""),
                format!(
                    "event is for {} but the schema is for {}",
                    self.table, schema.table
                ),
            ));
        }
        if self.key_columns != schema.key {
            return Err(CodecError::new(
                place(""),
                format!(
                    "event key {:?} differs from schema key {:?}",
                    self.key_columns, schema.key
                ),
            ));
        }
        let (before, after) = (self.before.is_some(), self.after.is_some());
        let shape_ok = match self.op {
            Op::Insert | Op::Read => !before && after,
            Op::Update => after,
            Op::Delete => before && !after,
            Op::Truncate => !before && !after,
        };
        if !shape_ok {
            return Err(CodecError::new(
                place(""),
                format!(
                    "op `{}` with before={before} after={after}: insert/read need only after, update needs after, delete needs only before, truncate neither",
                    self.op.code()
                ),
            ));
        }
        for (label, row) in [("before", &self.before), ("after", &self.after)] {
            let Some(row) = row else { continue };
            if row.len() != schema.columns.len() {
                return Err(CodecError::new(
                    place(&format!(" {label}")),
                    format!(
                        "row has {} columns but schema version {} has {}",
                        row.len(),
                        schema.version(),
                        schema.columns.len()
                    ),
                ));
            }
            for ((name, value), col) in row.iter().zip(&schema.columns) {
                if name != col.name {
                    return Err(CodecError::new(
                        place(&format!(" {label}")),
                        format!("column `{name}` where the schema has `{}`", col.name),
                    ));
                }
                if !value.fits(&col.kind) {
                    return Err(CodecError::new(
                        format!("{}.{} ({label}) at {}", self.table, col.name, self.position),
                        format!("value {value} does not fit column kind {}", col.kind),
                    ));
                }
            }
        }
        if self.op != Op::Truncate
            && let Some(key) = self.key()
            && let Some((k, _)) = key.iter().find(|(_, v)| v.is_absent())
        {
            return Err(CodecError::new(
                format!("{}.{k} at {}", self.table, self.position),
                "key column is absent; the source must send every key column",
            ));
        }
        Ok(())
    }
}
