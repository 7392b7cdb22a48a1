//! Text forms of values that travel as strings, shared by the JSON and Avro
//! encodings so both agree byte for byte on them.
//!
//! Invariant: for every kind listed here, `from_text(kind, to_text(v)) == v`.
//! Floats' non-finite values use `NaN`, `Infinity`, `-Infinity` (JSON has no
//! literal for them); `timestamptz` ends in `Z` (always UTC).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::error::ValueError;
use crate::value::{Value, ValueKind};

/// Text of a value whose kind travels as a string in every encoding, or
/// `None` for kinds with a native form (bool, int, float, bytes, set, array).
pub(crate) fn to_text(v: &Value) -> Option<String> {
    Some(match v {
        Value::Decimal(d) => d.to_string(),
        Value::Text(s) | Value::Json(s) | Value::Enum(s) => s.clone(),
        Value::Date(d) => d.to_string(),
        Value::Time(t) => t.to_string(),
        Value::TimeTz(t) => t.to_string(),
        Value::Timestamp(t) => t.to_string(),
        Value::TimestampTz(t) if t.is_infinite() => t.to_string(),
        Value::TimestampTz(t) => format!("{t}Z"),
        Value::Interval(i) => i.to_string(),
        Value::Uuid(u) => u.hyphenated().to_string(),
        Value::Bits(b) => b.to_string(),
        Value::UInt(u) => u.to_string(),
        _ => return None,
    })
}

/// Inverse of [`to_text`] for `kind`.
pub(crate) fn from_text(kind: &ValueKind, s: &str) -> Result<Value, ValueError> {
    Ok(match kind {
        ValueKind::Decimal => Value::Decimal(s.parse()?),
        ValueKind::Text => Value::Text(s.to_string()),
        ValueKind::Json => Value::Json(s.to_string()),
        ValueKind::Enum => Value::Enum(s.to_string()),
        ValueKind::Date => Value::Date(s.parse()?),
        ValueKind::Time => Value::Time(s.parse()?),
        ValueKind::TimeTz => Value::TimeTz(s.parse()?),
        ValueKind::Timestamp => Value::Timestamp(s.parse()?),
        ValueKind::TimestampTz => Value::TimestampTz(match s {
            "infinity" | "-infinity" => s.parse()?,
            _ => s
                .strip_suffix('Z')
                .ok_or_else(|| ValueError::new(format!("timestamptz `{s}` must end in Z (UTC)")))?
                .parse()?,
        }),
        ValueKind::Interval => Value::Interval(s.parse()?),
        ValueKind::Uuid => {
            let u = uuid::Uuid::parse_str(s)
                .map_err(|e| ValueError::new(format!("`{s}` is not a UUID: {e}")))?;
            Value::Uuid(u)
        }
        ValueKind::Bits => Value::Bits(s.parse()?),
        ValueKind::UInt => Value::UInt(
            s.parse()
                .map_err(|_| ValueError::new(format!("`{s}` is not an unsigned 64-bit integer")))?,
        ),
        ValueKind::Float32 => Value::Float32(special_float(s)? as f32),
        ValueKind::Float64 => Value::Float64(special_float(s)?),
        ValueKind::Bytes => Value::Bytes(
            B64.decode(s)
                .map_err(|e| ValueError::new(format!("bytes are not valid base64: {e}")))?,
        ),
        other => {
            return Err(ValueError::new(format!(
                "a `{other}` value cannot be read from the string `{s}`"
            )));
        }
    })
}

/// `NaN`, `Infinity`, `-Infinity` for non-finite floats.
pub(crate) fn float_special_text(v: f64) -> Option<&'static str> {
    if v.is_nan() {
        Some("NaN")
    } else if v == f64::INFINITY {
        Some("Infinity")
    } else if v == f64::NEG_INFINITY {
        Some("-Infinity")
    } else {
        None
    }
}

fn special_float(s: &str) -> Result<f64, ValueError> {
    match s {
        "NaN" => Ok(f64::NAN),
        "Infinity" => Ok(f64::INFINITY),
        "-Infinity" => Ok(f64::NEG_INFINITY),
        _ => Err(ValueError::new(format!(
            "`{s}` is not a float; a float is a JSON number or one of NaN, Infinity, -Infinity"
        ))),
    }
}

/// Base64 (standard alphabet, padded), Debezium's form for bytes in JSON.
pub(crate) fn bytes_to_base64(b: &[u8]) -> String {
    B64.encode(b)
}
