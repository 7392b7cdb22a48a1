//! Column types of auto-created tables, and values as PostgreSQL input text.
//!
//! Invariants:
//! - [`pg_type`] is a pure function of the kind, the source engine and the
//!   source type, so the same change always creates the same table.
//! - [`value_to_pg_text`] yields text that PostgreSQL's input function for
//!   the target type reads back as exactly the source value (no rounding,
//!   no time zone shift, no truncation), or an `Err` saying why the target
//!   column cannot hold it (a MySQL zero date, a NUL byte, a negative or
//!   over-24h MySQL TIME into `time`, a string longer than `varchar(n)`).
//!   Such an `Err` rejects that row only, never the batch.
//! - Every value travels as text and is cast to the target column's type in
//!   SQL, so one statement shape serves every type (no binary encoders per
//!   type to keep in sync with the server).

use rowlog_schemas::value::MICROS_PER_DAY;
use rowlog_schemas::{SourceKind, Value, ValueKind};

/// PostgreSQL built-in type names that may be copied verbatim from a
/// PostgreSQL source's `source_type` (anything else — enums, domains,
/// extension types — may not exist on the target).
const BUILTIN: &[&str] = &[
    "smallint",
    "integer",
    "bigint",
    "real",
    "double precision",
    "numeric",
    "text",
    "character varying",
    "character",
    "bytea",
    "date",
    "time without time zone",
    "time with time zone",
    "timestamp without time zone",
    "timestamp with time zone",
    "interval",
    "uuid",
    "json",
    "jsonb",
    "boolean",
    "bit",
    "bit varying",
    "inet",
    "cidr",
    "macaddr",
    "macaddr8",
    "money",
    "xml",
];

/// The column type to create for a column of `kind` (see the module doc of
/// [`crate::postgres`] for the table). A PostgreSQL source's own built-in
/// type (`source_type`) is used verbatim when present.
pub fn pg_type(kind: &ValueKind, source: SourceKind, source_type: &str) -> String {
    if source == SourceKind::Postgres && is_builtin(source_type) {
        return source_type.to_string();
    }
    kind_type(kind, source)
}

fn is_builtin(source_type: &str) -> bool {
    let base = source_type.trim_end_matches("[]");
    // `numeric(10,2)`, `character varying(20)`, `timestamp(3) with time zone`.
    let base: String = match (base.find('('), base.find(')')) {
        (Some(a), Some(b)) if a < b => format!("{}{}", &base[..a], &base[b + 1..]),
        _ => base.to_string(),
    };
    !source_type.is_empty() && BUILTIN.contains(&base.as_str())
}

/// The cross-engine mapping by kind alone.
pub fn kind_type(kind: &ValueKind, source: SourceKind) -> String {
    match kind {
        ValueKind::Bool => "boolean".into(),
        ValueKind::Int => "bigint".into(),
        ValueKind::UInt => "numeric(20,0)".into(),
        ValueKind::Float32 => "real".into(),
        ValueKind::Float64 => "double precision".into(),
        ValueKind::Decimal => "numeric".into(),
        ValueKind::Text | ValueKind::Enum => "text".into(),
        ValueKind::Bytes => "bytea".into(),
        ValueKind::Date => "date".into(),
        ValueKind::Time if source == SourceKind::Mysql => "interval".into(),
        ValueKind::Time => "time".into(),
        ValueKind::TimeTz => "timetz".into(),
        ValueKind::Timestamp => "timestamp".into(),
        ValueKind::TimestampTz => "timestamptz".into(),
        ValueKind::Interval => "interval".into(),
        ValueKind::Uuid => "uuid".into(),
        ValueKind::Json => "jsonb".into(),
        ValueKind::Set => "text[]".into(),
        ValueKind::Bits => "varbit".into(),
        ValueKind::Array(inner) => {
            let t = kind_type(inner, source);
            // PostgreSQL arrays do not fix their dimensions: one `[]` holds all.
            if t.ends_with("[]") {
                t
            } else {
                format!("{t}[]")
            }
        }
    }
}

/// The type to cast text to before storing it in a column whose
/// `format_type(atttypid, NULL)` is `unmodified`: the column's own type
/// without length, except where a cast without length would truncate
/// silently (`character` is `character(1)` and `bit` is `bit(1)` in a
/// cast); the assignment to the column then checks the length and fails
/// loudly instead.
pub fn cast_type(unmodified: &str) -> String {
    let (base, dims) = match unmodified.find("[]") {
        Some(i) => unmodified.split_at(i),
        None => (unmodified, ""),
    };
    let base = match base {
        "character" => "bpchar",
        "bit" => "varbit",
        other => other,
    };
    format!("{base}{dims}")
}

/// `value` as PostgreSQL input text for a column of type `target` (as
/// `format_type` prints it, with modifiers: `character varying(3)`,
/// `integer[]`). `Ok(None)` is SQL NULL. `Err` says why the column cannot
/// hold the value (the caller adds table, column and key).
pub fn value_to_pg_text(value: &Value, target: &str) -> Result<Option<String>, String> {
    let target = target.trim();
    if let Some(element) = target.strip_suffix("[]") {
        return match value {
            Value::Null | Value::Absent => Ok(None),
            Value::Array(items) => {
                let element = element.trim_end_matches("[]");
                let mut out = String::new();
                array_literal(items, element, &mut out)?;
                Ok(Some(out))
            }
            Value::Set(members) => {
                let items: Vec<Value> = members.iter().cloned().map(Value::Text).collect();
                let mut out = String::new();
                array_literal(&items, element.trim_end_matches("[]"), &mut out)?;
                Ok(Some(out))
            }
            other => Err(format!(
                "a {} value cannot be stored in the array column of type {target}",
                kind_name(other)
            )),
        };
    }
    scalar(value, target).map(|s| s.map(|s| s.to_string()))
}

fn kind_name(v: &Value) -> String {
    v.kind()
        .map_or_else(|| "null".to_string(), |k| k.to_string())
}

fn array_literal(items: &[Value], element: &str, out: &mut String) -> Result<(), String> {
    out.push('{');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match item {
            Value::Array(inner) => array_literal(inner, element, out)?,
            Value::Null => out.push_str("NULL"),
            Value::Absent => return Err("an array element is absent".to_string()),
            v => match scalar(v, element)? {
                None => out.push_str("NULL"),
                Some(text) => {
                    out.push('"');
                    for c in text.chars() {
                        if c == '"' || c == '\\' {
                            out.push('\\');
                        }
                        out.push(c);
                    }
                    out.push('"');
                }
            },
        }
    }
    out.push('}');
    Ok(())
}

/// The `n` of `character varying(n)` / `character(n)`.
fn char_limit(target: &str) -> Option<usize> {
    let rest = target
        .strip_prefix("character varying(")
        .or_else(|| target.strip_prefix("character("))?;
    rest.strip_suffix(')')?.parse().ok()
}

fn check_text(s: &str, target: &str) -> Result<(), String> {
    if s.contains('\0') {
        return Err(format!(
            "the text contains a NUL byte (\\0), which a PostgreSQL {target} cannot hold; strip it at the source or map the column to bytea"
        ));
    }
    if let Some(limit) = char_limit(target) {
        let n = s.chars().count();
        // PostgreSQL drops excess trailing spaces silently; only other
        // characters past the limit are an error.
        if n > limit && s.chars().skip(limit).any(|c| c != ' ') {
            return Err(format!(
                "the value has {n} characters but the column is {target} (at most {limit}); widen the column (ALTER TABLE … ALTER COLUMN … TYPE text) or shorten the value at the source"
            ));
        }
    }
    Ok(())
}

fn float_text(v: f64, finite: String) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "Infinity".into()
    } else if v == f64::NEG_INFINITY {
        "-Infinity".into()
    } else {
        finite
    }
}

fn date_text(d: rowlog_schemas::value::Date) -> Result<String, String> {
    if d.is_infinite() {
        return Ok(d.to_string());
    }
    if d.to_epoch_days().is_none() {
        return Err(format!(
            "{d} is not a calendar date (a MySQL zero or partial date), which PostgreSQL cannot hold; fix the row at the source or make the source column NULL-able and store NULL there"
        ));
    }
    let y = d.year();
    Ok(if y <= 0 {
        // ISO year 0 is 1 BC.
        format!("{:04}-{:02}-{:02} BC", 1 - i64::from(y), d.month(), d.day())
    } else {
        format!("{y:04}-{:02}-{:02}", d.month(), d.day())
    })
}

fn datetime_text(t: rowlog_schemas::value::DateTime, zone: &str) -> Result<String, String> {
    if t.is_infinite() {
        return Ok(t.date().to_string());
    }
    let date = date_text(t.date())?;
    let time = rowlog_schemas::value::Time::from_micros(t.micros_of_day())
        .map_err(|e| e.to_string())?
        .to_string();
    Ok(match date.strip_suffix(" BC") {
        Some(d) => format!("{d}T{time}{zone} BC"),
        None => format!("{date}T{time}{zone}"),
    })
}

fn scalar(value: &Value, target: &str) -> Result<Option<String>, String> {
    Ok(Some(match value {
        Value::Absent | Value::Null => return Ok(None),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::UInt(u) => u.to_string(),
        Value::Float32(f) => float_text(f64::from(*f), f.to_string()),
        Value::Float64(f) => float_text(*f, f.to_string()),
        Value::Decimal(d) => d.as_str().to_string(),
        Value::Text(s) | Value::Enum(s) => {
            check_text(s, target)?;
            s.clone()
        }
        Value::Json(s) => {
            check_text(s, target)?;
            s.clone()
        }
        Value::Bytes(b) => {
            if target == "bytea" {
                let mut out = String::with_capacity(2 + b.len() * 2);
                out.push_str("\\x");
                for byte in b {
                    out.push_str(&format!("{byte:02x}"));
                }
                out
            } else {
                let s = String::from_utf8(b.clone()).map_err(|_| {
                    format!(
                        "binary data that is not UTF-8 cannot be stored in a {target} column; make it bytea"
                    )
                })?;
                check_text(&s, target)?;
                s
            }
        }
        Value::Date(d) => date_text(*d)?,
        Value::Time(t) => {
            if target.starts_with("interval") || (0..=MICROS_PER_DAY).contains(&t.micros()) {
                t.to_string()
            } else {
                return Err(format!(
                    "the TIME {t} is outside 00:00:00..24:00:00, which a PostgreSQL {target} cannot hold (MySQL TIME is a signed duration); make the column interval"
                ));
            }
        }
        Value::TimeTz(t) => t.to_string(),
        Value::Timestamp(t) => datetime_text(*t, "")?,
        Value::TimestampTz(t) => datetime_text(*t, "+00:00")?,
        Value::Interval(i) => i.to_string(),
        Value::Uuid(u) => u.hyphenated().to_string(),
        Value::Set(members) => {
            // Into a non-array column: MySQL's own comma-separated form.
            let s = members.join(",");
            check_text(&s, target)?;
            s
        }
        Value::Bits(b) => b.to_string(),
        Value::Array(_) => {
            return Err(format!(
                "an array cannot be stored in a column of type {target}; make it an array column"
            ));
        }
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use rowlog_schemas::value::{BitString, Date, DateTime, Interval, Time, TimeTz};

    use super::*;

    fn t(v: Value, target: &str) -> Option<String> {
        value_to_pg_text(&v, target).unwrap()
    }

    #[test]
    fn scalars() {
        assert_eq!(t(Value::Null, "integer"), None);
        assert_eq!(t(Value::Bool(true), "boolean").unwrap(), "true");
        assert_eq!(
            t(Value::UInt(u64::MAX), "numeric(20,0)").unwrap(),
            "18446744073709551615"
        );
        assert_eq!(
            t(Value::Float64(f64::NAN), "double precision").unwrap(),
            "NaN"
        );
        assert_eq!(
            t(Value::Float32(f32::NEG_INFINITY), "real").unwrap(),
            "-Infinity"
        );
        assert_eq!(t(Value::Float64(0.1), "double precision").unwrap(), "0.1");
        assert_eq!(
            t(Value::Decimal("-Infinity".parse().unwrap()), "numeric").unwrap(),
            "-Infinity"
        );
        assert_eq!(t(Value::Bytes(vec![0, 255]), "bytea").unwrap(), "\\x00ff");
        assert_eq!(
            t(Value::Bits("0101".parse().unwrap()), "bit varying").unwrap(),
            "0101"
        );
        let _ = BitString::from_bytes(0, &[]).unwrap();
    }

    #[test]
    fn temporal() {
        let d = Date::new(2024, 2, 29).unwrap();
        assert_eq!(t(Value::Date(d), "date").unwrap(), "2024-02-29");
        assert_eq!(
            t(Value::Date(Date::new(0, 1, 1).unwrap()), "date").unwrap(),
            "0001-01-01 BC"
        );
        assert_eq!(t(Value::Date(Date::INFINITY), "date").unwrap(), "infinity");
        assert!(value_to_pg_text(&Value::Date(Date::ZERO), "date").is_err());
        let ts = DateTime::new(d, 3_723_000_001).unwrap();
        assert_eq!(
            t(Value::TimestampTz(ts), "timestamp with time zone").unwrap(),
            "2024-02-29T01:02:03.000001+00:00"
        );
        let bc = DateTime::new(Date::new(-1, 1, 1).unwrap(), 0).unwrap();
        assert_eq!(
            t(Value::Timestamp(bc), "timestamp without time zone").unwrap(),
            "0002-01-01T00:00:00 BC"
        );
        let neg = Time::from_micros(-(838 * 3600 + 59 * 60 + 59) * 1_000_000).unwrap();
        assert_eq!(t(Value::Time(neg), "interval").unwrap(), "-838:59:59");
        let err = value_to_pg_text(&Value::Time(neg), "time without time zone").unwrap_err();
        assert!(err.contains("interval"), "{err}");
        assert_eq!(
            t(
                Value::TimeTz(TimeTz::new(0, -3600).unwrap()),
                "time with time zone"
            )
            .unwrap(),
            "00:00:00-01:00"
        );
        let iv = Interval {
            months: 14,
            days: -3,
            micros: -1,
        };
        assert_eq!(
            t(Value::Interval(iv), "interval").unwrap(),
            "P1Y2M-3DT-0.000001S"
        );
    }

    #[test]
    fn text_limits_and_nul() {
        assert!(value_to_pg_text(&Value::Text("a\0b".into()), "text").is_err());
        let e = value_to_pg_text(&Value::Text("abcd".into()), "character varying(3)").unwrap_err();
        assert!(
            e.contains("character varying(3)") && e.contains("4 characters"),
            "{e}"
        );
        assert_eq!(
            t(Value::Text("ab  ".into()), "character varying(3)").unwrap(),
            "ab  "
        );
        assert_eq!(t(Value::Text("été".into()), "character(3)").unwrap(), "été");
    }

    #[test]
    fn arrays_and_sets() {
        let a = Value::Array(vec![
            Value::Array(vec![Value::Text("a\"b".into()), Value::Null]),
            Value::Array(vec![Value::Text("c\\d".into()), Value::Text("NULL".into())]),
        ]);
        assert_eq!(
            t(a, "text[]").unwrap(),
            r#"{{"a\"b",NULL},{"c\\d","NULL"}}"#
        );
        assert_eq!(
            t(Value::Array(vec![Value::Bytes(vec![1])]), "bytea[]").unwrap(),
            r#"{"\\x01"}"#
        );
        assert_eq!(t(Value::Array(vec![]), "integer[]").unwrap(), "{}");
        assert_eq!(
            t(Value::Set(vec!["a".into(), "b,c".into()]), "text[]").unwrap(),
            r#"{"a","b,c"}"#
        );
        assert_eq!(
            t(Value::Set(vec!["a".into(), "b".into()]), "text").unwrap(),
            "a,b"
        );
    }

    #[test]
    fn kinds_map_across_engines() {
        let k = |s: &str| s.parse::<ValueKind>().unwrap();
        assert_eq!(pg_type(&k("time"), SourceKind::Mysql, "time"), "interval");
        assert_eq!(pg_type(&k("time"), SourceKind::Postgres, ""), "time");
        assert_eq!(
            pg_type(&k("uint"), SourceKind::Mysql, "bigint unsigned"),
            "numeric(20,0)"
        );
        assert_eq!(pg_type(&k("int[][]"), SourceKind::Mysql, ""), "bigint[]");
        assert_eq!(pg_type(&k("set"), SourceKind::Mysql, "set('a')"), "text[]");
        assert_eq!(
            pg_type(&k("decimal"), SourceKind::Postgres, "numeric(10,2)"),
            "numeric(10,2)"
        );
        assert_eq!(pg_type(&k("enum"), SourceKind::Postgres, "mood"), "text");
        assert_eq!(cast_type("character"), "bpchar");
        assert_eq!(cast_type("bit[]"), "varbit[]");
        assert_eq!(cast_type("integer"), "integer");
    }
}
