//! Column types for auto-created tables, and values as MySQL parameters.
//!
//! Invariants:
//! - [`column_type`] is the one mapping from a [`ValueKind`] to the type of
//!   an auto-created (or auto-evolved) column; every kind maps, and every
//!   value of the kind fits the type losslessly except where noted:
//!
//! | kind | column type | key column type |
//! |---|---|---|
//! | bool | `TINYINT(1)` (0/1) | same |
//! | int | `BIGINT` | same |
//! | uint | `BIGINT UNSIGNED` | same |
//! | float32 / float64 | `FLOAT` / `DOUBLE` (NaN and ±Infinity are rejected) | same |
//! | decimal | `DECIMAL(65,30)` (35 integer digits; the scale is padded to 30; NaN/±Infinity rejected) | same |
//! | text | `LONGTEXT` | `VARCHAR(255)` |
//! | bytes | `LONGBLOB` | `VARBINARY(255)` |
//! | date | `DATE` (zero dates kept) | same |
//! | time | `TIME(6)` (signed, ±838:59:59.999999) | same |
//! | timetz | `VARCHAR(32)` (`HH:MM:SS[.ffffff]+hh:mm`) | same |
//! | timestamp | `DATETIME(6)` | same |
//! | timestamptz | `DATETIME(6)`, in UTC | same |
//! | interval | `VARCHAR(64)` (ISO 8601 duration) | same |
//! | uuid | `CHAR(36)` | same |
//! | json | `JSON` (MariaDB: `LONGTEXT` checked by `JSON_VALID`) | `VARCHAR(255)` |
//! | enum | `VARCHAR(255)` (the label) | same |
//! | set | `TEXT` (members joined by `,`) | `VARCHAR(255)` |
//! | bits | `TEXT` (`0`/`1` digits, so the length survives) | `VARCHAR(255)` |
//! | arrays | `JSON` (the row log's JSON form of the array) | `VARCHAR(255)` |
//!
//!   Auto-created tables use `utf8mb4` with the binary collation
//!   `utf8mb4_bin`, so text keys that differ only in case or accents stay
//!   distinct rows, as they are in the source.
//! - A change from a MySQL/MariaDB source keeps its column's declared type
//!   ([`ColumnSchema::source_type`]) when [`verbatim_type`] recognises it as
//!   plain SQL (the binlog-only forms such as `varchar(80 bytes)`, label-less
//!   `enum`, and geometry types fall back to the table above).
//! - [`to_mysql`] turns a value into a binary-protocol parameter for a target
//!   column of a given `DATA_TYPE`; it never passes a value through a lossy
//!   type, and what MySQL cannot hold at all (NaN, infinities, years outside
//!   0..=9999) is an `Err` with the reason, which the sink reports as a
//!   rejection of that row.

use mysql_async::Value as My;
use rowlog_schemas::encode::json::value_to_json;
use rowlog_schemas::value::{BitString, Date, DateTime, MICROS_PER_DAY};
use rowlog_schemas::{ColumnSchema, Value, ValueKind};

/// The type of an auto-created column of `kind` (see the module doc).
pub fn column_type(kind: &ValueKind, key: bool) -> &'static str {
    match kind {
        ValueKind::Bool => "TINYINT(1)",
        ValueKind::Int => "BIGINT",
        ValueKind::UInt => "BIGINT UNSIGNED",
        ValueKind::Float32 => "FLOAT",
        ValueKind::Float64 => "DOUBLE",
        ValueKind::Decimal => "DECIMAL(65,30)",
        ValueKind::Text if key => "VARCHAR(255)",
        ValueKind::Text => "LONGTEXT",
        ValueKind::Bytes if key => "VARBINARY(255)",
        ValueKind::Bytes => "LONGBLOB",
        ValueKind::Date => "DATE",
        ValueKind::Time => "TIME(6)",
        ValueKind::TimeTz => "VARCHAR(32)",
        ValueKind::Timestamp | ValueKind::TimestampTz => "DATETIME(6)",
        ValueKind::Interval => "VARCHAR(64)",
        ValueKind::Uuid => "CHAR(36)",
        ValueKind::Enum => "VARCHAR(255)",
        ValueKind::Json | ValueKind::Set | ValueKind::Bits | ValueKind::Array(_) if key => {
            "VARCHAR(255)"
        }
        ValueKind::Json | ValueKind::Array(_) => "JSON",
        ValueKind::Set | ValueKind::Bits => "TEXT",
    }
}

/// The column's own declared type, when it came from MySQL/MariaDB and is
/// plain SQL that can be reused as is (and can be indexed, for key columns).
pub fn verbatim_type(col: &ColumnSchema, key: bool) -> Option<String> {
    let t = col.source_type.trim().to_ascii_lowercase();
    if t.is_empty() || t.contains(" bytes") || t.contains('`') || t.contains(';') {
        return None;
    }
    let name_end = t
        .find(|c: char| !c.is_ascii_alphabetic())
        .unwrap_or(t.len());
    let (name, rest) = t.split_at(name_end);
    match name {
        "enum" | "set" => {
            // enum('a','b'): labels are quoted by the connector.
            return (rest.starts_with("('") && rest.ends_with("')")).then(|| t.clone());
        }
        "tinytext" | "text" | "mediumtext" | "longtext" | "tinyblob" | "blob" | "mediumblob"
        | "longblob" | "json"
            if key =>
        {
            return None;
        }
        "tinyint" | "smallint" | "mediumint" | "int" | "bigint" | "decimal" | "float"
        | "double" | "bit" | "year" | "date" | "time" | "datetime" | "timestamp" | "char"
        | "varchar" | "binary" | "varbinary" | "tinytext" | "text" | "mediumtext" | "longtext"
        | "tinyblob" | "blob" | "mediumblob" | "longblob" | "json" => {}
        _ => return None,
    }
    let mut rest = rest;
    if let Some(r) = rest.strip_prefix('(') {
        let close = r.find(')')?;
        let args = &r[..close];
        if args.is_empty() || !args.chars().all(|c| c.is_ascii_digit() || c == ',') {
            return None;
        }
        rest = &r[close + 1..];
    } else if matches!(name, "varchar" | "varbinary") {
        return None;
    }
    let rest = rest.trim();
    let rest = rest.strip_prefix("unsigned").unwrap_or(rest).trim();
    let rest = rest.strip_prefix("zerofill").unwrap_or(rest).trim();
    rest.is_empty().then_some(t)
}

/// The type to give column `col` (key column or not) of a change whose
/// source is MySQL/MariaDB when `mysql_source`.
pub fn target_type(col: &ColumnSchema, key: bool, mysql_source: bool) -> String {
    if mysql_source && let Some(t) = verbatim_type(col, key) {
        return t;
    }
    column_type(&col.kind, key).to_owned()
}

fn is_binary(data_type: &str) -> bool {
    matches!(
        data_type,
        "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob"
    )
}

fn is_datetime(data_type: &str) -> bool {
    matches!(data_type, "date" | "datetime" | "timestamp")
}

fn text(s: impl Into<String>) -> My {
    My::Bytes(s.into().into_bytes())
}

fn year(y: i32, what: &dyn std::fmt::Display) -> Result<u16, String> {
    u16::try_from(y)
        .ok()
        .filter(|y| *y <= 9999)
        .ok_or_else(|| format!("{what} is outside MySQL's years 0000..=9999"))
}

fn date(d: Date) -> Result<My, String> {
    if d.is_infinite() {
        return Err(format!("date {d} has no MySQL form"));
    }
    Ok(My::Date(
        year(d.year(), &d)?,
        d.month(),
        d.day(),
        0,
        0,
        0,
        0,
    ))
}

fn datetime(dt: DateTime) -> Result<My, String> {
    if dt.is_infinite() {
        return Err(format!("timestamp {dt} has no MySQL form"));
    }
    let d = dt.date();
    let us = dt.micros_of_day();
    let secs = us / 1_000_000;
    Ok(My::Date(
        year(d.year(), &dt)?,
        d.month(),
        d.day(),
        (secs / 3600) as u8,
        (secs / 60 % 60) as u8,
        (secs % 60) as u8,
        (us % 1_000_000) as u32,
    ))
}

fn time(micros: i64) -> My {
    let neg = micros < 0;
    let m = micros.unsigned_abs();
    let day = MICROS_PER_DAY.unsigned_abs();
    let (days, rest) = (m / day, m % day);
    let secs = rest / 1_000_000;
    My::Time(
        neg,
        u32::try_from(days).unwrap_or(u32::MAX),
        (secs / 3600) as u8,
        (secs / 60 % 60) as u8,
        (secs % 60) as u8,
        (rest % 1_000_000) as u32,
    )
}

/// A bit string as the unsigned number MySQL's `BIT(n)` holds.
fn bits_number(b: &BitString) -> Result<u64, String> {
    if b.len() > 64 {
        return Err(format!(
            "a bit string of {} bits does not fit a MySQL BIT column (at most 64)",
            b.len()
        ));
    }
    Ok((0..b.len()).fold(0u64, |n, i| (n << 1) | u64::from(b.get(i) == Some(true))))
}

/// `v` as a parameter for a target column whose `information_schema`
/// `DATA_TYPE` is `data_type` (lowercase; empty when unknown). `Err` says
/// why MySQL cannot hold the value.
pub fn to_mysql(v: &Value, data_type: &str) -> Result<My, String> {
    Ok(match v {
        Value::Absent => return Err("an absent value has no MySQL form".into()),
        Value::Null => My::NULL,
        Value::Bool(b) => My::Int(i64::from(*b)),
        Value::Int(i) => My::Int(*i),
        Value::UInt(u) => My::UInt(*u),
        Value::Float32(f) if f.is_finite() => My::Float(*f),
        Value::Float64(f) if f.is_finite() => My::Double(*f),
        Value::Float32(_) | Value::Float64(_) => {
            return Err(format!(
                "{v} cannot be stored: MySQL floats have no NaN or infinity"
            ));
        }
        Value::Decimal(d) if d.is_finite() => text(d.as_str()),
        Value::Decimal(d) => {
            return Err(format!(
                "{d} cannot be stored: MySQL DECIMAL has no NaN or infinity"
            ));
        }
        Value::Text(s) | Value::Json(s) | Value::Enum(s) => text(s.as_str()),
        Value::Bytes(b) => My::Bytes(b.clone()),
        Value::Date(d) if is_datetime(data_type) => date(*d)?,
        Value::Timestamp(dt) | Value::TimestampTz(dt) if is_datetime(data_type) => datetime(*dt)?,
        Value::Time(t) if data_type == "time" => time(t.micros()),
        Value::Date(_)
        | Value::Time(_)
        | Value::TimeTz(_)
        | Value::Timestamp(_)
        | Value::TimestampTz(_)
        | Value::Interval(_) => text(v.to_string()),
        Value::Uuid(u) if is_binary(data_type) => My::Bytes(u.as_bytes().to_vec()),
        Value::Uuid(u) => text(u.hyphenated().to_string()),
        Value::Set(members) => {
            if let Some(m) = members.iter().find(|m| m.contains(',')) {
                return Err(format!("SET member {m:?} contains a comma"));
            }
            text(members.join(","))
        }
        Value::Bits(b) if data_type == "bit" => My::UInt(bits_number(b)?),
        Value::Bits(b) if is_binary(data_type) => My::Bytes(b.bytes().to_vec()),
        Value::Bits(b) => text(b.to_string()),
        Value::Array(_) => {
            let j = value_to_json(v)?;
            text(j.to_string())
        }
    })
}

/// A rough size of a parameter on the wire, for keeping statements under
/// `max_allowed_packet`.
pub fn wire_size(v: &My) -> usize {
    match v {
        My::Bytes(b) => b.len() + 9,
        _ => 13,
    }
}

#[cfg(test)]
mod tests {
    use rowlog_schemas::value::{Interval, Time};

    use super::*;

    fn col(kind: &str, source_type: &str) -> ColumnSchema {
        ColumnSchema {
            name: "c".into(),
            kind: kind.parse().unwrap(),
            source_type: source_type.into(),
            nullable: true,
        }
    }

    #[test]
    fn every_kind_has_a_type_and_keys_are_indexable() {
        for k in ValueKind::scalars().chain([ValueKind::Array(Box::new(ValueKind::Int))]) {
            let t = column_type(&k, false);
            assert!(!t.is_empty());
            let key = column_type(&k, true);
            assert!(
                !key.contains("TEXT") && !key.contains("BLOB") && key != "JSON",
                "{k} key → {key}"
            );
        }
        assert_eq!(column_type(&ValueKind::Text, false), "LONGTEXT");
        assert_eq!(column_type(&ValueKind::UInt, true), "BIGINT UNSIGNED");
    }

    #[test]
    fn verbatim_types_only_when_plain_sql() {
        assert_eq!(
            verbatim_type(&col("uint", "int(10) unsigned"), false).as_deref(),
            Some("int(10) unsigned")
        );
        assert_eq!(
            verbatim_type(&col("decimal", "decimal(10,2)"), true).as_deref(),
            Some("decimal(10,2)")
        );
        assert_eq!(
            verbatim_type(&col("enum", "enum('a','b')"), false).as_deref(),
            Some("enum('a','b')")
        );
        assert_eq!(
            verbatim_type(&col("text", "varchar(80 bytes)"), false),
            None
        );
        assert_eq!(verbatim_type(&col("enum", "enum"), false), None);
        assert_eq!(verbatim_type(&col("bytes", "point"), false), None);
        assert_eq!(verbatim_type(&col("text", "text"), true), None);
        assert_eq!(
            verbatim_type(&col("text", "text"), false).as_deref(),
            Some("text")
        );
        assert_eq!(
            target_type(&col("text", "varchar(20)"), false, false),
            "LONGTEXT"
        );
        assert_eq!(
            target_type(&col("text", "varchar(20)"), true, true),
            "varchar(20)"
        );
    }

    #[test]
    fn values_convert_without_loss() {
        assert_eq!(
            to_mysql(&Value::UInt(u64::MAX), "").unwrap(),
            My::UInt(u64::MAX)
        );
        assert_eq!(to_mysql(&Value::Bool(true), "tinyint").unwrap(), My::Int(1));
        assert_eq!(
            to_mysql(&Value::Decimal("-12.50".parse().unwrap()), "decimal").unwrap(),
            My::Bytes(b"-12.50".to_vec())
        );
        assert!(to_mysql(&Value::Decimal("NaN".parse().unwrap()), "decimal").is_err());
        assert!(to_mysql(&Value::Float64(f64::INFINITY), "double").is_err());
        assert_eq!(
            to_mysql(&Value::Date(Date::ZERO), "date").unwrap(),
            My::Date(0, 0, 0, 0, 0, 0, 0)
        );
        assert!(to_mysql(&Value::Date(Date::INFINITY), "date").is_err());
        let t = Time::from_micros(-(838 * 3600 + 59 * 60 + 59) * 1_000_000 - 5).unwrap();
        assert_eq!(
            to_mysql(&Value::Time(t), "time").unwrap(),
            My::Time(true, 34, 22, 59, 59, 5)
        );
        let dt: DateTime = "2024-02-29T23:59:58.123456".parse().unwrap();
        assert_eq!(
            to_mysql(&Value::TimestampTz(dt), "datetime").unwrap(),
            My::Date(2024, 2, 29, 23, 59, 58, 123_456)
        );
        assert_eq!(
            to_mysql(&Value::Set(vec!["a".into(), "b".into()]), "set").unwrap(),
            My::Bytes(b"a,b".to_vec())
        );
        let bits: BitString = "10110".parse().unwrap();
        assert_eq!(
            to_mysql(&Value::Bits(bits.clone()), "bit").unwrap(),
            My::UInt(22)
        );
        assert_eq!(
            to_mysql(&Value::Bits(bits.clone()), "text").unwrap(),
            My::Bytes(b"10110".to_vec())
        );
        assert_eq!(
            to_mysql(&Value::Bits(bits), "varbinary").unwrap(),
            My::Bytes(vec![0b1011_0000])
        );
        assert_eq!(
            to_mysql(
                &Value::Array(vec![Value::Int(1), Value::Null, Value::Text("x".into())]),
                "json"
            )
            .unwrap(),
            My::Bytes(br#"[1,null,"x"]"#.to_vec())
        );
        let iv = Interval {
            months: 14,
            days: -3,
            micros: 1_500_000,
        };
        assert_eq!(
            to_mysql(&Value::Interval(iv), "varchar").unwrap(),
            My::Bytes(b"P1Y2M-3DT1.5S".to_vec())
        );
        assert!(to_mysql(&Value::Absent, "int").is_err());
    }
}
