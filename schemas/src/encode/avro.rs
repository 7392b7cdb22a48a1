//! Avro encoding with a schema derived from the table schema.
//!
//! The value schema is a record `Envelope` (namespace `rowlog.<ns>.<table>`)
//! with the Debezium fields `before`/`after` (a nullable record `Value` with
//! one field per column), `source`, `op`, `ts_ms`, `transaction`, plus
//! `schema_version` and `key` (the key column names). Each column field is a
//! union `["null", T, rowlog.Absent]`, where the `Absent` branch marks a
//! column the source did not send. `T` by kind: bool → boolean, int → long,
//! float32 → float, float64 → double, bytes → bytes, set → array of string,
//! `k[]` → array of `["null", T(k)]`, everything else (decimal, uint,
//! temporal kinds, uuid, json, enum, bits, text) → string in the text forms of
//! `encode::text`. Strings, not Avro logical types, because unconstrained
//! `numeric`, zero dates and ±infinity have no logical-type form; the column's
//! kind is kept in the field attribute `rowlog.kind`.
//!
//! Avro names allow only `[A-Za-z_][A-Za-z0-9_]*`: other column names are
//! sanitised (and de-duplicated with a suffix) and the original name is kept
//! in the field attribute `rowlog.column`, so decoding restores it. An
//! [`AvroCodec`] can be rebuilt from the schema text alone
//! ([`AvroCodec::from_schema_json`]), which is what a consumer holding only a
//! registry schema does.

use apache_avro::Schema;
use apache_avro::types::Value as A;
use serde_json::{Value as J, json};

use crate::error::CodecError;
use crate::event::{ChangeEvent, Op, Row, TxInfo};
use crate::position::{Position, SourceKind};
use crate::table::{TableId, TableSchema};
use crate::value::{Value, ValueKind};

use super::text;

/// One column as the Avro schema holds it.
#[derive(Debug, Clone)]
struct AvroColumn {
    field: String,
    name: String,
    kind: ValueKind,
}

/// Encoder/decoder for the records of one table schema.
#[derive(Debug, Clone)]
pub struct AvroCodec {
    kind: SourceKind,
    table: TableId,
    columns: Vec<AvroColumn>,
    key: Vec<String>,
    schema_version: u32,
    value_json: String,
    key_json: String,
    value_schema: Schema,
    key_schema: Schema,
}

/// `[A-Za-z_][A-Za-z0-9_]*` from any name.
fn sanitize(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

fn avro_type(kind: &ValueKind) -> J {
    match kind {
        ValueKind::Bool => json!("boolean"),
        ValueKind::Int => json!("long"),
        ValueKind::Float32 => json!("float"),
        ValueKind::Float64 => json!("double"),
        ValueKind::Bytes => json!("bytes"),
        ValueKind::Set => json!({"type": "array", "items": "string"}),
        ValueKind::Array(inner) => json!({"type": "array", "items": ["null", avro_type(inner)]}),
        _ => json!("string"),
    }
}

fn schema_err(table: &TableId, e: impl std::fmt::Display) -> CodecError {
    CodecError::new(format!("{table} avro schema"), e.to_string())
}

impl AvroCodec {
    /// Derives the schemas for `schema`, a table of a `kind` source.
    pub fn new(kind: SourceKind, schema: &TableSchema) -> Result<AvroCodec, CodecError> {
        schema
            .validate()
            .map_err(|e| schema_err(&schema.table, e))?;
        let mut columns: Vec<AvroColumn> = Vec::with_capacity(schema.columns.len());
        for c in &schema.columns {
            let base = sanitize(&c.name);
            let mut field = base.clone();
            let mut n = 2;
            while columns.iter().any(|x| x.field == field) || ["_rowlog"].contains(&field.as_str())
            {
                field = format!("{base}_{n}");
                n += 1;
            }
            columns.push(AvroColumn {
                field,
                name: c.name.clone(),
                kind: c.kind.clone(),
            });
        }
        let namespace = format!(
            "rowlog.{}.{}",
            sanitize(&schema.table.namespace),
            sanitize(&schema.table.name)
        );
        let mut absent_defined = false;
        let mut absent = || {
            if std::mem::replace(&mut absent_defined, true) {
                json!("rowlog.Absent")
            } else {
                json!({"type": "enum", "name": "Absent", "namespace": "rowlog", "symbols": ["ABSENT"]})
            }
        };
        let fields: Vec<J> = columns
            .iter()
            .map(|c| {
                json!({
                    "name": c.field,
                    "type": ["null", avro_type(&c.kind), absent()],
                    "rowlog.column": c.name,
                    "rowlog.kind": c.kind.to_string(),
                })
            })
            .collect();
        let ns_field = ns_field(kind);
        let value_json = json!({
            "type": "record",
            "name": "Envelope",
            "namespace": namespace,
            "rowlog.connector": kind.connector_name(),
            "rowlog.namespace": schema.table.namespace,
            "rowlog.table": schema.table.name,
            "rowlog.schema_version": schema.version(),
            "rowlog.key": schema.key,
            "fields": [
                {"name": "before", "type": ["null", {"type": "record", "name": "Value", "fields": fields}], "default": null},
                {"name": "after", "type": ["null", "Value"], "default": null},
                {"name": "source", "type": {"type": "record", "name": "Source", "namespace": "rowlog", "fields": [
                    {"name": "version", "type": "string"},
                    {"name": "connector", "type": "string"},
                    {"name": "name", "type": "string"},
                    {"name": "ts_ms", "type": "long"},
                    {"name": "ts_us", "type": "long"},
                    {"name": "snapshot", "type": "string"},
                    {"name": ns_field, "type": "string"},
                    {"name": "table", "type": "string"},
                    {"name": "pos", "type": "string"},
                ]}},
                {"name": "op", "type": "string"},
                {"name": "ts_ms", "type": "long"},
                {"name": "transaction", "type": ["null", {"type": "record", "name": "Transaction", "namespace": "rowlog", "fields": [
                    {"name": "id", "type": "string"},
                    {"name": "total_order", "type": "long"},
                ]}], "default": null},
                {"name": "schema_version", "type": "long"},
                {"name": "key", "type": {"type": "array", "items": "string"}},
            ],
        })
        .to_string();
        let key_fields: Vec<J> = schema
            .key
            .iter()
            .filter_map(|k| columns.iter().find(|c| &c.name == k))
            .map(|c| {
                json!({
                    "name": c.field,
                    "type": avro_type(&c.kind),
                    "rowlog.column": c.name,
                    "rowlog.kind": c.kind.to_string(),
                })
            })
            .collect();
        let key_json =
            json!({"type": "record", "name": "Key", "namespace": namespace, "fields": key_fields})
                .to_string();
        let value_schema =
            Schema::parse_str(&value_json).map_err(|e| schema_err(&schema.table, e))?;
        let key_schema = Schema::parse_str(&key_json).map_err(|e| schema_err(&schema.table, e))?;
        Ok(AvroCodec {
            kind,
            table: schema.table.clone(),
            columns,
            key: schema.key.clone(),
            schema_version: schema.version(),
            value_json,
            key_json,
            value_schema,
            key_schema,
        })
    }

    /// Rebuilds a codec from the value schema text (e.g. fetched from a
    /// registry) that [`AvroCodec::value_schema_json`] produced.
    pub fn from_schema_json(text: &str) -> Result<AvroCodec, CodecError> {
        let err =
            |m: &str| CodecError::new("avro schema", format!("{m}; was it written by rowlog?"));
        let doc: J = serde_json::from_str(text)
            .map_err(|e| CodecError::new("avro schema", e.to_string()))?;
        let s = |k: &str| {
            doc.get(k)
                .and_then(J::as_str)
                .ok_or_else(|| err(&format!("no `{k}` attribute")))
        };
        let kind: SourceKind = s("rowlog.connector")?
            .parse()
            .map_err(|e| err(&format!("{e}")))?;
        let table = TableId::new(s("rowlog.namespace")?, s("rowlog.table")?);
        let fields = doc
            .pointer("/fields/0/type/1/fields")
            .and_then(J::as_array)
            .ok_or_else(|| err("no `before` record"))?;
        let mut columns = Vec::new();
        for f in fields {
            let g = |k: &str| {
                f.get(k)
                    .and_then(J::as_str)
                    .ok_or_else(|| err(&format!("a column without `{k}`")))
            };
            columns.push(crate::table::ColumnSchema {
                name: g("rowlog.column")?.to_string(),
                kind: g("rowlog.kind")?
                    .parse()
                    .map_err(|e| err(&format!("{e}")))?,
                source_type: String::new(),
                nullable: true,
            });
        }
        let key = doc
            .get("rowlog.key")
            .and_then(J::as_array)
            .and_then(|a| {
                a.iter()
                    .map(|k| k.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>()
            })
            .ok_or_else(|| err("no `rowlog.key` attribute"))?;
        let schema = TableSchema {
            table,
            columns,
            key,
        };
        let mut codec = AvroCodec::new(kind, &schema)?;
        codec.schema_version = doc
            .get("rowlog.schema_version")
            .and_then(J::as_u64)
            .and_then(|v| u32::try_from(v).ok())
            .ok_or_else(|| err("no `rowlog.schema_version`"))?;
        codec.value_json = text.to_string();
        codec.value_schema =
            Schema::parse_str(text).map_err(|e| CodecError::new("avro schema", e.to_string()))?;
        Ok(codec)
    }

    /// The value schema as JSON text (what goes to a schema registry).
    pub fn value_schema_json(&self) -> &str {
        &self.value_json
    }
    /// The key schema as JSON text.
    pub fn key_schema_json(&self) -> &str {
        &self.key_json
    }
    /// The table schema version this codec was derived from.
    pub fn schema_version(&self) -> u32 {
        self.schema_version
    }

    fn place(&self, col: &str, event: &ChangeEvent) -> String {
        format!("{}.{col} at {}", self.table, event.position)
    }

    /// Encodes the record value of `event` as a bare Avro datum.
    pub fn encode(&self, event: &ChangeEvent) -> Result<Vec<u8>, CodecError> {
        if event.table != self.table || event.position.kind() != self.kind {
            return Err(CodecError::new(
                format!("{} at {}", event.table, event.position),
                format!("this codec encodes {} ({})", self.table, self.kind),
            ));
        }
        if event.schema_version != self.schema_version {
            return Err(CodecError::new(
                format!("{} at {}", event.table, event.position),
                format!(
                    "event has schema version {} but the codec was derived from version {}; derive a codec for the event's schema",
                    event.schema_version, self.schema_version
                ),
            ));
        }
        let row = |r: &Option<Row>| -> Result<A, CodecError> {
            let Some(r) = r else {
                return Ok(A::Union(0, Box::new(A::Null)));
            };
            if r.len() != self.columns.len() {
                return Err(CodecError::new(
                    self.place("*", event),
                    "row does not have the schema's columns",
                ));
            }
            let mut fields = Vec::with_capacity(self.columns.len());
            for ((name, v), c) in r.iter().zip(&self.columns) {
                if name != c.name {
                    return Err(CodecError::new(
                        self.place(name, event),
                        format!("expected column `{}`", c.name),
                    ));
                }
                let av = match v {
                    Value::Null => A::Union(0, Box::new(A::Null)),
                    Value::Absent => A::Union(2, Box::new(A::Enum(0, "ABSENT".into()))),
                    v if v.fits(&c.kind) => A::Union(
                        1,
                        Box::new(
                            to_avro(v).map_err(|e| CodecError::new(self.place(name, event), e))?,
                        ),
                    ),
                    v => {
                        return Err(CodecError::new(
                            self.place(name, event),
                            format!("value {v} does not fit column kind {}", c.kind),
                        ));
                    }
                };
                fields.push((c.field.clone(), av));
            }
            Ok(A::Union(1, Box::new(A::Record(fields))))
        };
        let (src_ms, src_us) = super::source_times(event);
        let source = A::Record(vec![
            (
                "version".into(),
                A::String(env!("CARGO_PKG_VERSION").into()),
            ),
            (
                "connector".into(),
                A::String(self.kind.connector_name().into()),
            ),
            ("name".into(), A::String(event.source.clone())),
            ("ts_ms".into(), A::Long(src_ms)),
            ("ts_us".into(), A::Long(src_us)),
            (
                "snapshot".into(),
                A::String(
                    if event.op == Op::Read {
                        "true"
                    } else {
                        "false"
                    }
                    .into(),
                ),
            ),
            (
                ns_field(self.kind).into(),
                A::String(event.table.namespace.clone()),
            ),
            ("table".into(), A::String(event.table.name.clone())),
            ("pos".into(), A::String(event.position.to_string())),
        ]);
        let transaction = match &event.transaction {
            None => A::Union(0, Box::new(A::Null)),
            Some(tx) => A::Union(
                1,
                Box::new(A::Record(vec![
                    ("id".into(), A::String(tx.id.clone())),
                    (
                        "total_order".into(),
                        A::Long(i64::try_from(tx.ordinal).map_err(|_| {
                            CodecError::new(
                                self.place("*", event),
                                "transaction ordinal beyond i64",
                            )
                        })?),
                    ),
                ])),
            ),
        };
        let record = A::Record(vec![
            ("before".into(), row(&event.before)?),
            ("after".into(), row(&event.after)?),
            ("source".into(), source),
            ("op".into(), A::String(event.op.code().into())),
            ("ts_ms".into(), A::Long(event.ts_ms)),
            ("transaction".into(), transaction),
            (
                "schema_version".into(),
                A::Long(i64::from(event.schema_version)),
            ),
            (
                "key".into(),
                A::Array(
                    event
                        .key_columns
                        .iter()
                        .map(|k| A::String(k.clone()))
                        .collect(),
                ),
            ),
        ]);
        apache_avro::to_avro_datum(&self.value_schema, record).map_err(|e| {
            CodecError::new(
                format!("{} at {}", event.table, event.position),
                format!("avro: {e}"),
            )
        })
    }

    /// Decodes a bare Avro datum written by [`AvroCodec::encode`].
    pub fn decode(&self, mut datum: &[u8]) -> Result<ChangeEvent, CodecError> {
        let v =
            apache_avro::from_avro_datum(&self.value_schema, &mut datum, None).map_err(|e| {
                CodecError::new(
                    format!("{} record", self.table),
                    format!("not a valid datum for this schema: {e}"),
                )
            })?;
        let fields = record_fields(&v, "envelope")?;
        let get = |name: &str| -> Result<&A, CodecError> {
            fields
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v)
                .ok_or_else(|| CodecError::new(name, "missing from record"))
        };
        let source = record_fields(get("source")?, "source")?;
        let src = |name: &str| -> Result<&A, CodecError> {
            source
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v)
                .ok_or_else(|| CodecError::new(format!("source.{name}"), "missing"))
        };
        let table = TableId::new(
            string(src(ns_field(self.kind))?, "source namespace")?,
            string(src("table")?, "source.table")?,
        );
        let position = Position::parse(self.kind, &string(src("pos")?, "source.pos")?)
            .map_err(|e| CodecError::new(format!("{table} source.pos"), e.to_string()))?;
        let op_code = string(get("op")?, "op")?;
        let op = Op::from_code(&op_code).ok_or_else(|| {
            CodecError::new("op", format!("`{op_code}` is not one of c, u, d, t, r"))
        })?;
        let row = |label: &str| -> Result<Option<Row>, CodecError> {
            match unwrap_union(get(label)?) {
                A::Null => Ok(None),
                rec => {
                    let cols = record_fields(rec, label)?;
                    self.columns
                        .iter()
                        .map(|c| {
                            let place = || format!("{table}.{} ({label}) at {position}", c.name);
                            let av = cols
                                .iter()
                                .find(|(n, _)| *n == c.field)
                                .map(|(_, v)| v)
                                .ok_or_else(|| CodecError::new(place(), "missing from record"))?;
                            let v = match av {
                                A::Union(0, _) => Value::Null,
                                A::Union(2, _) => Value::Absent,
                                A::Union(_, inner) => from_avro(&c.kind, inner)
                                    .map_err(|e| CodecError::new(place(), e))?,
                                _ => return Err(CodecError::new(place(), "expected a union")),
                            };
                            Ok((c.name.clone(), v))
                        })
                        .collect::<Result<Row, CodecError>>()
                        .map(Some)
                }
            }
        };
        let transaction = match unwrap_union(get("transaction")?) {
            A::Null => None,
            rec => {
                let tx = record_fields(rec, "transaction")?;
                let f = |n: &str| {
                    tx.iter()
                        .find(|(k, _)| k == n)
                        .map(|(_, v)| v)
                        .ok_or_else(|| CodecError::new(format!("transaction.{n}"), "missing"))
                };
                Some(TxInfo {
                    id: string(f("id")?, "transaction.id")?,
                    commit_time_us: long(src("ts_us")?, "source.ts_us")?,
                    ordinal: u64::try_from(long(f("total_order")?, "transaction.total_order")?)
                        .map_err(|_| CodecError::new("transaction.total_order", "negative"))?,
                })
            }
        };
        let key_columns = match get("key")? {
            A::Array(items) => items
                .iter()
                .map(|k| string(k, "key"))
                .collect::<Result<Vec<_>, _>>()?,
            _ => return Err(CodecError::new("key", "expected an array")),
        };
        Ok(ChangeEvent {
            source: string(src("name")?, "source.name")?,
            table: table.clone(),
            op,
            key_columns,
            before: row("before")?,
            after: row("after")?,
            position: position.clone(),
            transaction,
            schema_version: u32::try_from(long(get("schema_version")?, "schema_version")?)
                .map_err(|_| CodecError::new("schema_version", "out of range"))?,
            ts_ms: long(get("ts_ms")?, "ts_ms")?,
        })
    }

    /// Encodes a record key (the key columns' values) as a bare datum.
    pub fn encode_key(&self, key: &Row) -> Result<Vec<u8>, CodecError> {
        let mut fields = Vec::new();
        for (name, v) in key.iter() {
            let c = self
                .columns
                .iter()
                .find(|c| c.name == name)
                .ok_or_else(|| {
                    CodecError::new(format!("{}.{name} (key)", self.table), "not a column")
                })?;
            if v.is_absent() || v.is_null() || !v.fits(&c.kind) {
                return Err(CodecError::new(
                    format!("{}.{name} (key)", self.table),
                    format!("{v} is not a valid `{}` key value", c.kind),
                ));
            }
            fields.push((
                c.field.clone(),
                to_avro(v).map_err(|e| CodecError::new(name, e))?,
            ));
        }
        apache_avro::to_avro_datum(&self.key_schema, A::Record(fields))
            .map_err(|e| CodecError::new(format!("{} key", self.table), format!("avro: {e}")))
    }

    /// Decodes a key datum written by [`AvroCodec::encode_key`].
    pub fn decode_key(&self, mut datum: &[u8]) -> Result<Row, CodecError> {
        let v = apache_avro::from_avro_datum(&self.key_schema, &mut datum, None).map_err(|e| {
            CodecError::new(
                format!("{} key", self.table),
                format!("not a valid key datum: {e}"),
            )
        })?;
        record_fields(&v, "key")?
            .iter()
            .map(|(field, av)| {
                let c = self
                    .columns
                    .iter()
                    .find(|c| &c.field == field)
                    .ok_or_else(|| {
                        CodecError::new(
                            format!("{} key", self.table),
                            format!("unknown field `{field}`"),
                        )
                    })?;
                Ok((
                    c.name.clone(),
                    from_avro(&c.kind, av).map_err(|e| {
                        CodecError::new(format!("{}.{} (key)", self.table, c.name), e)
                    })?,
                ))
            })
            .collect()
    }

    /// Key column names this codec's key schema holds.
    pub fn key_columns(&self) -> &[String] {
        &self.key
    }
}

fn ns_field(kind: SourceKind) -> &'static str {
    match kind {
        SourceKind::Postgres => "schema",
        SourceKind::Mysql => "db",
    }
}

fn unwrap_union(v: &A) -> &A {
    match v {
        A::Union(_, inner) => inner,
        other => other,
    }
}

fn record_fields<'a>(v: &'a A, what: &str) -> Result<&'a [(String, A)], CodecError> {
    match unwrap_union(v) {
        A::Record(f) => Ok(f),
        _ => Err(CodecError::new(what, "expected a record")),
    }
}

fn string(v: &A, what: &str) -> Result<String, CodecError> {
    match v {
        A::String(s) => Ok(s.clone()),
        _ => Err(CodecError::new(what, "expected a string")),
    }
}

fn long(v: &A, what: &str) -> Result<i64, CodecError> {
    match v {
        A::Long(l) => Ok(*l),
        _ => Err(CodecError::new(what, "expected a long")),
    }
}

fn to_avro(v: &Value) -> Result<A, String> {
    Ok(match v {
        Value::Absent | Value::Null => return Err("NULL/absent has no plain Avro form".into()),
        Value::Bool(b) => A::Boolean(*b),
        Value::Int(i) => A::Long(*i),
        Value::Float32(f) => A::Float(*f),
        Value::Float64(f) => A::Double(*f),
        Value::Bytes(b) => A::Bytes(b.clone()),
        Value::Set(items) => A::Array(items.iter().map(|s| A::String(s.clone())).collect()),
        Value::Array(items) => A::Array(
            items
                .iter()
                .map(|i| match i {
                    Value::Null => Ok(A::Union(0, Box::new(A::Null))),
                    i => Ok(A::Union(1, Box::new(to_avro(i)?))),
                })
                .collect::<Result<_, String>>()?,
        ),
        other => A::String(text::to_text(other).ok_or("value has no Avro form")?),
    })
}

fn from_avro(kind: &ValueKind, v: &A) -> Result<Value, String> {
    let wrong = || format!("Avro value {v:?} is not a valid `{kind}`");
    Ok(match (kind, v) {
        (_, A::Null) => Value::Null,
        (k, A::Union(_, inner)) => from_avro(k, inner)?,
        (ValueKind::Bool, A::Boolean(b)) => Value::Bool(*b),
        (ValueKind::Int, A::Long(i)) => Value::Int(*i),
        (ValueKind::Float32, A::Float(f)) => Value::Float32(*f),
        (ValueKind::Float64, A::Double(f)) => Value::Float64(*f),
        (ValueKind::Bytes, A::Bytes(b)) => Value::Bytes(b.clone()),
        (ValueKind::Set, A::Array(items)) => Value::Set(
            items
                .iter()
                .map(|i| match i {
                    A::String(s) => Ok(s.clone()),
                    _ => Err(wrong()),
                })
                .collect::<Result<_, _>>()?,
        ),
        (ValueKind::Array(inner), A::Array(items)) => Value::Array(
            items
                .iter()
                .map(|i| from_avro(inner, i))
                .collect::<Result<_, _>>()?,
        ),
        (k, A::String(s)) => text::from_text(k, s).map_err(|e| e.to_string())?,
        _ => return Err(wrong()),
    })
}
