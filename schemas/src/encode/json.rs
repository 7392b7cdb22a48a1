//! JSON encoding, laid out like Debezium's envelope.
//!
//! ```json
//! {"before": null,
//!  "after": {"id": 1, "price": "12.50", "tags": ["a"]},
//!  "source": {"version": "0.1.0", "connector": "postgresql", "name": "app",
//!             "ts_ms": 1700000000000, "ts_us": 1700000000000123, "snapshot": "false",
//!             "schema": "public", "table": "items", "pos": "0/16B3748@0/16B3700",
//!             "lsn": 23803648},
//!  "op": "c", "ts_ms": 1700000000005,
//!  "transaction": {"id": "771", "total_order": 1},
//!  "rowlog": {"schema_version": 724420807, "key": ["id"],
//!             "types": {"id": "int", "price": "decimal", "tags": "text[]"}}}
//! ```
//!
//! Invariants: `decode(encode(e)) == e` for every valid event; a column the
//! source did not send is left out of `before`/`after` (never a placeholder);
//! `types` lists every column in schema order, so a decoder needs nothing but
//! the message. `source.ts_ms`/`ts_us` are the commit time when the change has
//! a transaction, otherwise the read time. Values by kind: bool, int, uint and
//! finite floats are JSON numbers/booleans; non-finite floats, decimals, text,
//! temporal kinds, uuid, json, enum and bits are strings (see
//! `encode::text`); bytes are base64; sets and arrays are arrays.

use serde_json::{Number, Value as J};

use crate::error::CodecError;
use crate::event::{ChangeEvent, Op, Row};
use crate::position::{Position, SourceKind};
use crate::table::TableSchema;
use crate::value::{Value, ValueKind};

use super::text;

mod decode;

pub use decode::Decoder;
use decode::decode_parts;

/// Encodes the record value of `event`, whose rows follow `schema`.
///
/// Written straight into the output buffer (no intermediate `serde_json`
/// tree: building and dropping one per event was most of the source's CPU),
/// in the envelope's field order; strings go through `serde_json`'s escaping.
pub fn encode(event: &ChangeEvent, schema: &TableSchema) -> Result<Vec<u8>, CodecError> {
    event.validate(schema)?;
    let place = |col: &str| format!("{}.{col} at {}", event.table, event.position);
    let mut out = Vec::with_capacity(256 + 64 * schema.columns.len());
    let w = &mut out;
    let row = |w: &mut Vec<u8>, row: &Option<Row>| -> Result<(), CodecError> {
        let Some(row) = row else {
            w.extend_from_slice(b"null");
            return Ok(());
        };
        w.push(b'{');
        let mut first = true;
        for (name, v) in row.iter() {
            if v.is_absent() {
                continue;
            }
            if !first {
                w.push(b',');
            }
            first = false;
            put(w, name)?;
            w.push(b':');
            put_value(w, v).map_err(|e| CodecError::new(place(name), e))?;
        }
        w.push(b'}');
        Ok(())
    };
    let kind = event.position.kind();
    let (src_ms, src_us) = super::source_times(event);
    w.extend_from_slice(b"{\"before\":");
    row(w, &event.before)?;
    w.extend_from_slice(b",\"after\":");
    row(w, &event.after)?;
    w.extend_from_slice(b",\"source\":{\"version\":");
    put(w, env!("CARGO_PKG_VERSION"))?;
    w.extend_from_slice(b",\"connector\":");
    put(w, kind.connector_name())?;
    w.extend_from_slice(b",\"name\":");
    put(w, &event.source)?;
    w.extend_from_slice(b",\"ts_ms\":");
    put(w, &src_ms)?;
    w.extend_from_slice(b",\"ts_us\":");
    put(w, &src_us)?;
    w.extend_from_slice(if event.op == Op::Read {
        b",\"snapshot\":\"true\""
    } else {
        b",\"snapshot\":\"false\""
    });
    w.extend_from_slice(match kind {
        SourceKind::Postgres => b",\"schema\":",
        SourceKind::Mysql => b",\"db\":",
    });
    put(w, &event.table.namespace)?;
    w.extend_from_slice(b",\"table\":");
    put(w, &event.table.name)?;
    w.extend_from_slice(b",\"pos\":");
    put(w, &Displayed(&event.position))?;
    match &event.position {
        Position::Postgres(p) => {
            w.extend_from_slice(b",\"lsn\":");
            put(w, &p.change_lsn.0)?;
        }
        Position::Mysql(p) => {
            w.extend_from_slice(b",\"file\":");
            put(w, &p.binlog.file)?;
            w.extend_from_slice(b",\"row\":");
            put(w, &p.row)?;
            w.extend_from_slice(b",\"gtid\":");
            match &p.gtid {
                Some(g) => put(w, &Displayed(g))?,
                None => w.extend_from_slice(b"null"),
            }
        }
    }
    w.extend_from_slice(b"},\"op\":");
    put(w, event.op.code())?;
    w.extend_from_slice(b",\"ts_ms\":");
    put(w, &event.ts_ms)?;
    w.extend_from_slice(b",\"transaction\":");
    match &event.transaction {
        Some(tx) => {
            w.extend_from_slice(b"{\"id\":");
            put(w, &tx.id)?;
            w.extend_from_slice(b",\"total_order\":");
            put(w, &tx.ordinal)?;
            w.push(b'}');
        }
        None => w.extend_from_slice(b"null"),
    }
    w.extend_from_slice(b",\"rowlog\":{\"schema_version\":");
    put(w, &event.schema_version)?;
    w.extend_from_slice(b",\"key\":");
    put(w, &event.key_columns)?;
    w.extend_from_slice(b",\"types\":{");
    for (i, c) in schema.columns.iter().enumerate() {
        if i > 0 {
            w.push(b',');
        }
        put(w, &c.name)?;
        w.push(b':');
        put(w, &Displayed(&c.kind))?;
    }
    w.extend_from_slice(b"}}}");
    Ok(out)
}

/// Appends `v` as compact JSON.
fn put<T: serde::Serialize + ?Sized>(w: &mut Vec<u8>, v: &T) -> Result<(), CodecError> {
    serde_json::to_writer(w, v).map_err(|e| CodecError::new("message", e.to_string()))
}

/// Appends one value in the form [`value_to_json`] gives it, without building
/// that form first for the common kinds.
fn put_value(w: &mut Vec<u8>, v: &Value) -> Result<(), String> {
    fn put<T: serde::Serialize + ?Sized>(w: &mut Vec<u8>, v: &T) -> Result<(), String> {
        serde_json::to_writer(w, v).map_err(|e| e.to_string())
    }
    match v {
        Value::Null => {
            w.extend_from_slice(b"null");
            Ok(())
        }
        Value::Bool(b) => put(w, b),
        Value::Int(i) => put(w, i),
        Value::UInt(u) => put(w, u),
        Value::Text(s) | Value::Json(s) | Value::Enum(s) => put(w, s.as_str()),
        Value::Decimal(d) => put(w, &Displayed(d)),
        Value::Date(d) => put(w, &Displayed(d)),
        Value::Time(t) => put(w, &Displayed(t)),
        Value::TimeTz(t) => put(w, &Displayed(t)),
        Value::Timestamp(t) => put(w, &Displayed(t)),
        Value::TimestampTz(t) if t.is_infinite() => put(w, &Displayed(t)),
        Value::TimestampTz(t) => put(w, &Displayed(format_args!("{t}Z"))),
        Value::Interval(i) => put(w, &Displayed(i)),
        Value::Uuid(u) => put(w, &Displayed(u.hyphenated())),
        Value::Bits(b) => put(w, &Displayed(b)),
        other => put(w, &value_to_json(other)?),
    }
}

/// Serializes through `Display` as a JSON string (escaped, no allocation).
struct Displayed<T>(T);

impl<T: std::fmt::Display> serde::Serialize for Displayed<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

/// Decodes a record value written by [`encode`].
pub fn decode(bytes: &[u8]) -> Result<ChangeEvent, CodecError> {
    decode_parts(bytes).map(|(event, _)| event)
}

/// Decodes a record value and the table schema it declares: the columns in
/// order with their kinds, and the key. The record does not carry source
/// types or nullability: `source_type` is empty and only key columns are
/// NOT NULL, so this schema's [`TableSchema::version`] differs from the
/// source's `schema_version` (which the event keeps).
pub fn decode_with_schema(bytes: &[u8]) -> Result<(ChangeEvent, TableSchema), CodecError> {
    let (event, types) = decode_with_types(bytes)?;
    let schema = declared_schema(&event, types)?;
    Ok((event, schema))
}

/// Decodes a record value and the columns (name, kind) it declares, in
/// order; [`declared_schema`] turns them into a [`TableSchema`] (callers that
/// cache schemas build it only when they have not seen it).
pub fn decode_with_types(
    bytes: &[u8],
) -> Result<(ChangeEvent, Vec<(String, ValueKind)>), CodecError> {
    decode_parts(bytes)
}

/// The schema a record declares (see [`decode_with_schema`]).
pub fn declared_schema(
    event: &ChangeEvent,
    types: Vec<(String, ValueKind)>,
) -> Result<TableSchema, CodecError> {
    decode::schema_of(&event.table, types, &event.key_columns)
}

/// Encodes the record key: `{"col": value, …}` over the key columns.
pub fn encode_key(key: &Row) -> Result<Vec<u8>, CodecError> {
    let mut w = Vec::with_capacity(32);
    w.push(b'{');
    for (i, (name, v)) in key.iter().enumerate() {
        if v.is_absent() {
            return Err(CodecError::new(name, "a key column cannot be absent"));
        }
        if i > 0 {
            w.push(b',');
        }
        put(&mut w, name)?;
        w.push(b':');
        put_value(&mut w, v).map_err(|e| CodecError::new(name, e))?;
    }
    w.push(b'}');
    Ok(w)
}

/// Decodes a record key written by [`encode_key`] for a table of `schema`.
pub fn decode_key(bytes: &[u8], schema: &TableSchema) -> Result<Row, CodecError> {
    let doc: J = serde_json::from_slice(bytes).map_err(|e| {
        CodecError::new(
            format!("{} key", schema.table),
            format!("not valid JSON: {e}"),
        )
    })?;
    let obj = doc.as_object().ok_or_else(|| {
        CodecError::new(format!("{} key", schema.table), "expected a JSON object")
    })?;
    if obj.len() != schema.key.len() {
        return Err(CodecError::new(
            format!("{} key", schema.table),
            format!(
                "has {} columns, the table's key has {}",
                obj.len(),
                schema.key.len()
            ),
        ));
    }
    schema
        .key
        .iter()
        .map(|k| {
            let place = || format!("{}.{k} (key)", schema.table);
            let kind = &schema
                .column(k)
                .ok_or_else(|| CodecError::new(place(), "not a column"))?
                .kind;
            let j = obj
                .get(k)
                .ok_or_else(|| CodecError::new(place(), "missing"))?;
            Ok((
                k.clone(),
                json_to_value(kind, j).map_err(|e| CodecError::new(place(), e))?,
            ))
        })
        .collect()
}

/// One value as JSON (see the module doc for the forms).
pub fn value_to_json(v: &Value) -> Result<J, String> {
    Ok(match v {
        Value::Absent => {
            return Err("an absent value has no JSON form; leave the column out".into());
        }
        Value::Null => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Int(i) => J::from(*i),
        Value::UInt(u) => J::from(*u),
        Value::Float32(f) => match text::float_special_text(f64::from(*f)) {
            Some(s) => J::from(s),
            // The f32's shortest decimal form, carried by the f64 that parses from it.
            None => J::Number(
                f.to_string()
                    .parse::<f64>()
                    .ok()
                    .and_then(Number::from_f64)
                    .ok_or("float32 has no JSON number form")?,
            ),
        },
        Value::Float64(f) => match text::float_special_text(*f) {
            Some(s) => J::from(s),
            None => J::Number(Number::from_f64(*f).ok_or("float64 has no JSON number form")?),
        },
        Value::Bytes(b) => J::from(text::bytes_to_base64(b)),
        Value::Set(items) => J::Array(items.iter().map(|s| J::from(s.as_str())).collect()),
        Value::Array(items) => J::Array(
            items
                .iter()
                .map(|v| match v {
                    Value::Absent => Err("an array element cannot be absent".to_string()),
                    v => value_to_json(v),
                })
                .collect::<Result<_, _>>()?,
        ),
        other => J::from(text::to_text(other).ok_or("value has no JSON form")?),
    })
}

/// One value of `kind` from JSON.
pub fn json_to_value(kind: &ValueKind, j: &J) -> Result<Value, String> {
    let wrong = || format!("`{j}` is not a valid `{kind}` value");
    Ok(match (kind, j) {
        (_, J::Null) => Value::Null,
        (ValueKind::Bool, J::Bool(b)) => Value::Bool(*b),
        (ValueKind::Int, J::Number(n)) => Value::Int(n.as_i64().ok_or_else(wrong)?),
        (ValueKind::UInt, J::Number(n)) => Value::UInt(n.as_u64().ok_or_else(wrong)?),
        (ValueKind::Float64, J::Number(n)) => Value::Float64(n.as_f64().ok_or_else(wrong)?),
        (ValueKind::Float32, J::Number(n)) => {
            // Re-read the shortest decimal text as f32: exact, no double rounding.
            let f = n.as_f64().ok_or_else(wrong)?;
            Value::Float32(f.to_string().parse::<f32>().map_err(|_| wrong())?)
        }
        (ValueKind::Set, J::Array(items)) => Value::Set(
            items
                .iter()
                .map(|i| i.as_str().map(str::to_string).ok_or_else(wrong))
                .collect::<Result<_, _>>()?,
        ),
        // A nested array under `T[]` is a multi-dimensional array (see
        // `Value::fits`); no scalar kind's JSON form is an array, sets aside.
        (ValueKind::Array(inner), J::Array(items)) => Value::Array(
            items
                .iter()
                .map(|i| match i {
                    J::Array(_) if !matches!(**inner, ValueKind::Array(_) | ValueKind::Set) => {
                        json_to_value(kind, i)
                    }
                    i => json_to_value(inner, i),
                })
                .collect::<Result<_, _>>()?,
        ),
        (k, J::String(s)) => text::from_text(k, s).map_err(|e| e.to_string())?,
        _ => return Err(wrong()),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::event::TxInfo;
    use crate::position::{Lsn, PgPosition};
    use crate::table::ColumnSchema;
    use crate::table::TableId;
    use crate::value::{Date, DateTime};

    /// A record declares its table's columns, kinds and key: enough for a
    /// sink to create the table.
    #[test]
    fn decode_with_schema_gives_kinds_and_key() {
        let col = |name: &str, kind: ValueKind| ColumnSchema {
            name: name.into(),
            kind,
            source_type: "t".into(),
            nullable: true,
        };
        let schema = TableSchema::new(
            TableId::new("shop", "items"),
            vec![col("id", ValueKind::UInt), col("price", ValueKind::Decimal)],
            vec!["id".into()],
        )
        .unwrap();
        let event = ChangeEvent {
            source: "app".into(),
            table: schema.table.clone(),
            op: Op::Insert,
            key_columns: schema.key.clone(),
            before: None,
            after: Some(
                Row::new()
                    .with("id", Value::UInt(u64::MAX))
                    .with("price", Value::Absent),
            ),
            position: Position::Postgres(PgPosition::new(Lsn(1), Lsn(1))),
            transaction: None,
            schema_version: schema.version(),
            ts_ms: 1,
        };
        let (back, declared) = decode_with_schema(&encode(&event, &schema).unwrap()).unwrap();
        assert_eq!(back, event);
        assert_eq!(declared.key, vec!["id".to_string()]);
        let cols: Vec<(&str, &ValueKind, bool)> = declared
            .columns
            .iter()
            .map(|c| (c.name.as_str(), &c.kind, c.nullable))
            .collect();
        assert_eq!(
            cols,
            vec![
                ("id", &ValueKind::UInt, false),
                ("price", &ValueKind::Decimal, true)
            ]
        );
    }

    /// The exact bytes, so the field order (which a decode round trip does
    /// not see) stays Debezium's.
    #[test]
    fn envelope_bytes_are_pinned() {
        let col = |name: &str, kind: ValueKind| ColumnSchema {
            name: name.into(),
            kind,
            source_type: "t".into(),
            nullable: true,
        };
        let schema = TableSchema::new(
            TableId::new("public", "items"),
            vec![
                col("id", ValueKind::Int),
                col("price", ValueKind::Decimal),
                col("note", ValueKind::Text),
                col("at", ValueKind::TimestampTz),
                col("big", ValueKind::Text),
            ],
            vec!["id".into()],
        )
        .unwrap();
        let at = DateTime::new(Date::new(2024, 2, 29).unwrap(), 3_600_000_001).unwrap();
        let event = ChangeEvent {
            source: "app".into(),
            table: schema.table.clone(),
            op: Op::Update,
            key_columns: schema.key.clone(),
            before: None,
            after: Some(
                Row::new()
                    .with("id", Value::Int(-7))
                    .with("price", Value::Decimal("12.50".parse().unwrap()))
                    .with("note", Value::Text("a \"q\"\n\u{e9}".into()))
                    .with("at", Value::TimestampTz(at))
                    .with("big", Value::Absent),
            ),
            position: Position::Postgres(PgPosition::new(Lsn(0x16B_3748), Lsn(0x16B_3700))),
            transaction: Some(TxInfo {
                id: "771".into(),
                commit_time_us: 1_700_000_000_000_123,
                ordinal: 2,
            }),
            schema_version: schema.version(),
            ts_ms: 1_700_000_000_005,
        };
        let got = String::from_utf8(encode(&event, &schema).unwrap()).unwrap();
        let want = format!(
            concat!(
                r#"{{"before":null,"after":{{"id":-7,"price":"12.50","note":"a \"q\"\né","#,
                r#""at":"2024-02-29T01:00:00.000001Z"}},"source":{{"version":"{}","#,
                r#""connector":"postgresql","name":"app","ts_ms":1700000000000,"#,
                r#""ts_us":1700000000000123,"snapshot":"false","schema":"public","#,
                r#""table":"items","pos":"0/16B3748@0/16B3700","lsn":23803648}},"#,
                r#""op":"u","ts_ms":1700000000005,"transaction":{{"id":"771","total_order":2}},"#,
                r#""rowlog":{{"schema_version":{},"key":["id"],"types":{{"id":"int","#,
                r#""price":"decimal","note":"text","at":"timestamptz","big":"text"}}}}}}"#
            ),
            env!("CARGO_PKG_VERSION"),
            schema.version()
        );
        assert_eq!(got, want);
    }
}
