//! Column values, lossless for every PostgreSQL 15 and MariaDB/MySQL type.
//!
//! Invariants:
//! - [`Value::Absent`] (the source did not send the column: PostgreSQL's
//!   unchanged TOAST, a delete's non-key columns under REPLICA IDENTITY
//!   DEFAULT) is distinct from [`Value::Null`]. Sinks leave absent columns as
//!   they are. Absent never appears inside an array or a key.
//! - Nothing is converted through a lossy type: decimals stay digit strings,
//!   unsigned 64-bit integers stay `u64`, JSON stays the source's text (a
//!   `json` column may hold duplicate keys and whitespace that a parsed value
//!   would drop), timestamps keep microseconds, MySQL zero dates survive.
//! - Equality treats floats by bit pattern (so `-0.0 != 0.0`) except that all
//!   NaNs are equal: the question it answers is "is this the same value".
//!
//! How source types map onto variants (the connectors follow this table):
//!
//! | source type | variant |
//! |---|---|
//! | smallint/int/bigint, TINYINT..BIGINT, YEAR | `Int` |
//! | MySQL `... UNSIGNED` | `UInt` |
//! | real / FLOAT | `Float32`; double precision / DOUBLE: `Float64` |
//! | numeric, DECIMAL | `Decimal` (incl. NaN, ±Infinity) |
//! | text, varchar, char, CHAR/VARCHAR/TEXT, money, inet, cidr, macaddr, unknown/extension types | `Text` |
//! | bytea, BINARY/VARBINARY/BLOB, GEOMETRY (WKB) | `Bytes` |
//! | date, DATE | `Date`; time, TIME: `Time`; timetz: `TimeTz` |
//! | timestamp, DATETIME | `Timestamp`; timestamptz, TIMESTAMP: `TimestampTz` (UTC) |
//! | interval | `Interval`; uuid: `Uuid`; json, jsonb, JSON: `Json` |
//! | enum types, ENUM | `Enum`; SET: `Set`; bit, varbit, BIT(n): `Bits` |
//! | arrays (any dimension; nested `Array`s) | `Array` |

mod bits;
mod decimal;
mod kind;
mod temporal;

use std::fmt;

pub use bits::BitString;
pub use decimal::Decimal;
pub use kind::ValueKind;
pub use temporal::{Date, DateTime, Interval, MICROS_PER_DAY, Time, TimeTz};
pub use uuid::Uuid;

/// One column value.
#[derive(Debug, Clone)]
pub enum Value {
    /// The source did not send this column (distinct from NULL).
    Absent,
    /// SQL NULL.
    Null,
    /// Boolean.
    Bool(bool),
    /// Signed integer up to 64 bits.
    Int(i64),
    /// Unsigned integer up to 64 bits.
    UInt(u64),
    /// Single precision float (NaN and ±Infinity allowed).
    Float32(f32),
    /// Double precision float (NaN and ±Infinity allowed).
    Float64(f64),
    /// Exact decimal of any precision.
    Decimal(Decimal),
    /// Character data (UTF-8; connectors transcode latin1 etc.).
    Text(String),
    /// Binary data.
    Bytes(Vec<u8>),
    /// Calendar date.
    Date(Date),
    /// Time of day / MySQL signed TIME.
    Time(Time),
    /// Time of day with UTC offset.
    TimeTz(TimeTz),
    /// Date and time without zone.
    Timestamp(DateTime),
    /// Instant, in UTC.
    TimestampTz(DateTime),
    /// Months, days, microseconds.
    Interval(Interval),
    /// UUID.
    Uuid(Uuid),
    /// JSON document as the source's text.
    Json(String),
    /// Enum label.
    Enum(String),
    /// MySQL SET members, in the order the source listed them.
    Set(Vec<String>),
    /// Bit string.
    Bits(BitString),
    /// Array; multi-dimensional arrays are arrays of arrays.
    Array(Vec<Value>),
}

impl Value {
    /// The kind of a non-null value; `None` for `Null` and `Absent`, and for
    /// arrays whose elements are all null (their element kind is unknowable
    /// from the value alone).
    pub fn kind(&self) -> Option<ValueKind> {
        Some(match self {
            Value::Absent | Value::Null => return None,
            Value::Bool(_) => ValueKind::Bool,
            Value::Int(_) => ValueKind::Int,
            Value::UInt(_) => ValueKind::UInt,
            Value::Float32(_) => ValueKind::Float32,
            Value::Float64(_) => ValueKind::Float64,
            Value::Decimal(_) => ValueKind::Decimal,
            Value::Text(_) => ValueKind::Text,
            Value::Bytes(_) => ValueKind::Bytes,
            Value::Date(_) => ValueKind::Date,
            Value::Time(_) => ValueKind::Time,
            Value::TimeTz(_) => ValueKind::TimeTz,
            Value::Timestamp(_) => ValueKind::Timestamp,
            Value::TimestampTz(_) => ValueKind::TimestampTz,
            Value::Interval(_) => ValueKind::Interval,
            Value::Uuid(_) => ValueKind::Uuid,
            Value::Json(_) => ValueKind::Json,
            Value::Enum(_) => ValueKind::Enum,
            Value::Set(_) => ValueKind::Set,
            Value::Bits(_) => ValueKind::Bits,
            Value::Array(items) => ValueKind::Array(Box::new(items.iter().find_map(Value::kind)?)),
        })
    }

    /// Whether this value may be stored in a column of `kind`: NULL and Absent
    /// fit anywhere; array elements must fit the element kind and may be NULL
    /// but never Absent. An array kind over a non-array element (`int[]`)
    /// also holds multi-dimensional arrays (arrays of `int[]`), because a
    /// PostgreSQL array type does not fix its number of dimensions: one
    /// `int[]` column may hold `{1,2}` in one row and `{{1,2},{3,4}}` in the
    /// next.
    pub fn fits(&self, kind: &ValueKind) -> bool {
        match (self, kind) {
            (Value::Absent | Value::Null, _) => true,
            (Value::Array(items), ValueKind::Array(inner)) => items.iter().all(|v| match v {
                Value::Absent => false,
                Value::Array(_) if !matches!(**inner, ValueKind::Array(_)) => v.fits(kind),
                v => v.fits(inner),
            }),
            (v, k) => v.kind().as_ref() == Some(k),
        }
    }

    /// `true` for [`Value::Absent`].
    pub fn is_absent(&self) -> bool {
        matches!(self, Value::Absent)
    }
    /// `true` for [`Value::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

fn same_f32(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}
fn same_f64(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        use Value::*;
        match (self, other) {
            (Absent, Absent) | (Null, Null) => true,
            (Bool(a), Bool(b)) => a == b,
            (Int(a), Int(b)) => a == b,
            (UInt(a), UInt(b)) => a == b,
            (Float32(a), Float32(b)) => same_f32(*a, *b),
            (Float64(a), Float64(b)) => same_f64(*a, *b),
            (Decimal(a), Decimal(b)) => a == b,
            (Text(a), Text(b)) | (Json(a), Json(b)) | (Enum(a), Enum(b)) => a == b,
            (Bytes(a), Bytes(b)) => a == b,
            (Date(a), Date(b)) => a == b,
            (Time(a), Time(b)) => a == b,
            (TimeTz(a), TimeTz(b)) => a == b,
            (Timestamp(a), Timestamp(b)) | (TimestampTz(a), TimestampTz(b)) => a == b,
            (Interval(a), Interval(b)) => a == b,
            (Uuid(a), Uuid(b)) => a == b,
            (Set(a), Set(b)) => a == b,
            (Bits(a), Bits(b)) => a == b,
            (Array(a), Array(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for Value {}

impl fmt::Display for Value {
    /// A human-readable form for logs and error messages (not an encoding).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Absent => f.write_str("<absent>"),
            Value::Null => f.write_str("NULL"),
            Value::Bool(v) => write!(f, "{v}"),
            Value::Int(v) => write!(f, "{v}"),
            Value::UInt(v) => write!(f, "{v}"),
            Value::Float32(v) => write!(f, "{v}"),
            Value::Float64(v) => write!(f, "{v}"),
            Value::Decimal(v) => write!(f, "{v}"),
            Value::Text(v) | Value::Json(v) | Value::Enum(v) => write!(f, "{v:?}"),
            Value::Bytes(v) => write!(f, "<{} bytes>", v.len()),
            Value::Date(v) => write!(f, "{v}"),
            Value::Time(v) => write!(f, "{v}"),
            Value::TimeTz(v) => write!(f, "{v}"),
            Value::Timestamp(v) => write!(f, "{v}"),
            Value::TimestampTz(v) => write!(f, "{v}Z"),
            Value::Interval(v) => write!(f, "{v}"),
            Value::Uuid(v) => write!(f, "{v}"),
            Value::Set(v) => write!(f, "{v:?}"),
            Value::Bits(v) => write!(f, "B'{v}'"),
            Value::Array(items) => {
                f.write_str("[")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_and_absent_differ_and_nan_equals_nan() {
        assert_ne!(Value::Null, Value::Absent);
        assert_eq!(Value::Float64(f64::NAN), Value::Float64(-f64::NAN));
        assert_ne!(Value::Float64(0.0), Value::Float64(-0.0));
        assert_ne!(Value::Int(1), Value::UInt(1));
    }

    #[test]
    fn fits_checks_arrays_deeply() {
        let k: ValueKind = "int[][]".parse().unwrap();
        let ok = Value::Array(vec![
            Value::Array(vec![Value::Int(1), Value::Null]),
            Value::Array(vec![]),
        ]);
        assert!(ok.fits(&k));
        assert!(!Value::Array(vec![Value::Array(vec![Value::Absent])]).fits(&k));
        assert!(!Value::Array(vec![Value::Text("x".into())]).fits(&k));
        assert!(Value::Null.fits(&k));
    }

    #[test]
    fn a_one_dimensional_array_kind_holds_any_dimensions() {
        let k: ValueKind = "int[]".parse().unwrap();
        let two = Value::Array(vec![
            Value::Array(vec![Value::Int(1), Value::Int(2)]),
            Value::Array(vec![Value::Int(3), Value::Null]),
        ]);
        assert!(two.fits(&k));
        let three = Value::Array(vec![Value::Array(vec![Value::Array(vec![Value::Int(1)])])]);
        assert!(three.fits(&k));
        assert!(!Value::Array(vec![Value::Array(vec![Value::Text("x".into())])]).fits(&k));
        assert!(!Value::Array(vec![Value::Array(vec![Value::Absent])]).fits(&k));
    }
}
