//! The kind of a column: which [`Value`](super::Value) variant its values take.
//!
//! Invariant: `Display` and `FromStr` round-trip; the names are part of the
//! row-log contract (they appear in every JSON message and in Avro schemas),
//! so they never change meaning.

use std::fmt;
use std::str::FromStr;

use crate::error::ValueError;

/// Kind of a column's values.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ValueKind {
    /// `bool`
    Bool,
    /// `int` (signed, up to 64 bits)
    Int,
    /// `uint` (unsigned, up to 64 bits)
    UInt,
    /// `float32`
    Float32,
    /// `float64`
    Float64,
    /// `decimal`
    Decimal,
    /// `text`
    Text,
    /// `bytes`
    Bytes,
    /// `date`
    Date,
    /// `time`
    Time,
    /// `timetz`
    TimeTz,
    /// `timestamp`
    Timestamp,
    /// `timestamptz`
    TimestampTz,
    /// `interval`
    Interval,
    /// `uuid`
    Uuid,
    /// `json`
    Json,
    /// `enum`
    Enum,
    /// `set`
    Set,
    /// `bits`
    Bits,
    /// `<element>[]`
    Array(Box<ValueKind>),
}

const NAMES: [(&str, ValueKind); 19] = [
    ("bool", ValueKind::Bool),
    ("int", ValueKind::Int),
    ("uint", ValueKind::UInt),
    ("float32", ValueKind::Float32),
    ("float64", ValueKind::Float64),
    ("decimal", ValueKind::Decimal),
    ("text", ValueKind::Text),
    ("bytes", ValueKind::Bytes),
    ("date", ValueKind::Date),
    ("time", ValueKind::Time),
    ("timetz", ValueKind::TimeTz),
    ("timestamp", ValueKind::Timestamp),
    ("timestamptz", ValueKind::TimestampTz),
    ("interval", ValueKind::Interval),
    ("uuid", ValueKind::Uuid),
    ("json", ValueKind::Json),
    ("enum", ValueKind::Enum),
    ("set", ValueKind::Set),
    ("bits", ValueKind::Bits),
];

impl ValueKind {
    /// Every kind except arrays.
    pub fn scalars() -> impl Iterator<Item = ValueKind> {
        NAMES.into_iter().map(|(_, k)| k)
    }
}

impl fmt::Display for ValueKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let ValueKind::Array(inner) = self {
            return write!(f, "{inner}[]");
        }
        let name = NAMES
            .iter()
            .find(|(_, k)| k == self)
            .map_or("?", |(n, _)| n);
        f.write_str(name)
    }
}

impl FromStr for ValueKind {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<ValueKind, ValueError> {
        if let Some(inner) = s.strip_suffix("[]") {
            return Ok(ValueKind::Array(Box::new(inner.parse()?)));
        }
        NAMES
            .iter()
            .find(|(n, _)| *n == s)
            .map(|(_, k)| k.clone())
            .ok_or_else(|| {
                ValueError::new(format!(
                    "unknown value kind `{s}`; expected one of {} (arrays as `int[]`)",
                    NAMES.map(|(n, _)| n).join(", ")
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for (name, kind) in NAMES {
            assert_eq!(kind.to_string(), name);
            assert_eq!(name.parse::<ValueKind>().unwrap(), kind);
        }
        let nested: ValueKind = "decimal[][]".parse().unwrap();
        assert_eq!(nested.to_string(), "decimal[][]");
        assert!("integer".parse::<ValueKind>().is_err());
    }
}
