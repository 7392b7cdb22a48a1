//! Decoding the JSON envelope (layout in [`super`]).
//!
//! One serde pass over the message borrows what it can; row images are read
//! straight into [`Value`]s by column kind, without a `serde_json::Value`
//! tree (building and dropping those trees was most of a sink's CPU). The
//! `rowlog` block (schema version, key, column kinds) is the same text on
//! every record of one table version, so a [`Decoder`] parses each distinct
//! block once and finds it again by its text. No crate decodes this envelope,
//! hence the hand-written visitors; every error names the field, or the
//! table, column and position.
//!
//! Invariant: for every message, `Decoder::decode` and [`decode_with_types`]
//! give the same event (a unit test compares them on every kind).

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::Value as J;
use serde_json::value::RawValue;

use super::json_to_value;
use crate::encode::text;
use crate::error::CodecError;
use crate::event::{ChangeEvent, Op, Row, TxInfo};
use crate::position::{Position, SourceKind};
use crate::table::{ColumnSchema, TableId, TableSchema};
use crate::value::{Value, ValueKind};

/// Distinct `rowlog` blocks a [`Decoder`] keeps before it starts over (a
/// bound against a log of ever-changing schemas, not a working limit).
const MAX_BLOCKS: usize = 4096;

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    before: Option<&'a RawValue>,
    #[serde(borrow)]
    after: Option<&'a RawValue>,
    #[serde(borrow)]
    source: Source<'a>,
    #[serde(borrow)]
    op: Cow<'a, str>,
    ts_ms: i64,
    #[serde(borrow)]
    transaction: Option<Tx<'a>>,
    #[serde(borrow)]
    rowlog: &'a RawValue,
}

#[derive(Deserialize)]
struct Source<'a> {
    #[serde(borrow)]
    connector: Cow<'a, str>,
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(default)]
    schema: Option<String>,
    #[serde(default)]
    db: Option<String>,
    #[serde(borrow)]
    table: Cow<'a, str>,
    #[serde(borrow)]
    pos: Cow<'a, str>,
    #[serde(default)]
    ts_us: Option<i64>,
}

#[derive(Deserialize)]
struct Tx<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    total_order: u64,
}

#[derive(Deserialize)]
struct Block {
    schema_version: i64,
    key: Vec<String>,
    types: Kinds,
}

/// `rowlog.types` in document order.
struct Kinds(Vec<(String, String)>);

impl<'de> Deserialize<'de> for Kinds {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Kinds, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Kinds;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of column kinds")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Kinds, A::Error> {
                let mut out: Vec<(String, String)> = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, String>()? {
                    match out.iter_mut().find(|(n, _)| *n == k) {
                        Some(slot) => slot.1 = v,
                        None => out.push((k, v)),
                    }
                }
                Ok(Kinds(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// The parsed `rowlog` block.
struct Declared {
    version: u32,
    key: Vec<String>,
    kinds: Vec<(String, ValueKind)>,
}

fn declared(raw: &RawValue) -> Result<Declared, CodecError> {
    let block: Block = serde_json::from_str(raw.get()).map_err(|e| {
        CodecError::new(
            "rowlog",
            format!("expected schema_version, key and types: {e}"),
        )
    })?;
    let version = u32::try_from(block.schema_version).map_err(|_| {
        CodecError::new("rowlog.schema_version", "out of range for a 32-bit version")
    })?;
    let kinds = block
        .types
        .0
        .into_iter()
        .map(|(name, k)| {
            let kind = k
                .parse::<ValueKind>()
                .map_err(|e| CodecError::new(format!("rowlog.types.{name}"), e.to_string()))?;
            Ok((name, kind))
        })
        .collect::<Result<Vec<_>, CodecError>>()?;
    Ok(Declared {
        version,
        key: block.key,
        kinds,
    })
}

/// The schema a record declares: only key columns are NOT NULL, no source
/// types (see [`super::decode_with_schema`]).
pub(super) fn schema_of(
    table: &TableId,
    kinds: Vec<(String, ValueKind)>,
    key: &[String],
) -> Result<TableSchema, CodecError> {
    let columns = kinds
        .into_iter()
        .map(|(name, kind)| ColumnSchema {
            nullable: !key.contains(&name),
            name,
            kind,
            source_type: String::new(),
        })
        .collect();
    TableSchema::new(table.clone(), columns, key.to_vec())
        .map_err(|e| CodecError::new(format!("{table} rowlog.types"), e.to_string()))
}

/// The envelope's fields, checked, before the rows are read.
struct Head<'a> {
    env: Envelope<'a>,
    table: TableId,
    position: Position,
    op: Op,
}

fn head(bytes: &[u8]) -> Result<Head<'_>, CodecError> {
    let env: Envelope<'_> = serde_json::from_slice(bytes).map_err(|e| {
        CodecError::new(
            "message",
            format!("not a rowlog JSON message (is this a rowlog topic?): {e}"),
        )
    })?;
    let kind: SourceKind = env
        .source
        .connector
        .parse()
        .map_err(|e| CodecError::new("source.connector", format!("{e}")))?;
    let namespace = match kind {
        SourceKind::Postgres => env.source.schema.clone().ok_or_else(|| {
            CodecError::new("source.schema", "missing; is this a rowlog JSON message?")
        })?,
        SourceKind::Mysql => env.source.db.clone().ok_or_else(|| {
            CodecError::new("source.db", "missing; is this a rowlog JSON message?")
        })?,
    };
    let table = TableId::new(namespace, env.source.table.as_ref());
    let position = Position::parse(kind, &env.source.pos)
        .map_err(|e| CodecError::new(format!("{table} source.pos"), e.to_string()))?;
    let op = Op::from_code(&env.op).ok_or_else(|| {
        CodecError::new("op", format!("`{}` is not one of c, u, d, t, r", env.op))
    })?;
    Ok(Head {
        env,
        table,
        position,
        op,
    })
}

/// A column's name and kind, from either a schema or a declared list.
trait Col {
    fn name(&self) -> &str;
    fn kind(&self) -> &ValueKind;
}

impl Col for ColumnSchema {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> &ValueKind {
        &self.kind
    }
}

impl Col for (String, ValueKind) {
    fn name(&self) -> &str {
        &self.0
    }
    fn kind(&self) -> &ValueKind {
        &self.1
    }
}

/// Builds the event from its head, its declared block and its columns.
fn finish<C: Col>(
    h: Head<'_>,
    version: u32,
    key: &[String],
    cols: &[C],
) -> Result<ChangeEvent, CodecError> {
    let row = |label: &str, raw: Option<&RawValue>| -> Result<Option<Row>, CodecError> {
        raw.map(|raw| read_row(raw, cols, &h.table, &h.position, label))
            .transpose()
    };
    let before = row("before", h.env.before)?;
    let after = row("after", h.env.after)?;
    let transaction = match &h.env.transaction {
        None => None,
        Some(tx) => Some(TxInfo {
            id: tx.id.to_string(),
            commit_time_us: h
                .env
                .source
                .ts_us
                .ok_or_else(|| CodecError::new("source.ts_us", "missing for a transaction"))?,
            ordinal: tx.total_order,
        }),
    };
    Ok(ChangeEvent {
        source: h.env.source.name.to_string(),
        table: h.table,
        op: h.op,
        key_columns: key.to_vec(),
        before,
        after,
        position: h.position,
        transaction,
        schema_version: version,
        ts_ms: h.env.ts_ms,
    })
}

/// Decodes a record value and the columns it declares (no cache).
pub(super) fn decode_parts(
    bytes: &[u8],
) -> Result<(ChangeEvent, Vec<(String, ValueKind)>), CodecError> {
    let h = head(bytes)?;
    let d = declared(h.env.rowlog)?;
    let event = finish(h, d.version, &d.key, &d.kinds)?;
    Ok((event, d.kinds))
}

/// Decodes record values, sharing one [`TableSchema`] among the records of
/// a table version. Meant for a consumer that reads many records.
#[derive(Debug, Default)]
pub struct Decoder {
    blocks: HashMap<Box<str>, Cached>,
}

#[derive(Debug)]
struct Cached {
    version: u32,
    /// One schema per table that declared this block (usually one).
    schemas: Vec<Arc<TableSchema>>,
}

impl Decoder {
    /// An empty decoder.
    pub fn new() -> Decoder {
        Decoder::default()
    }

    /// Decodes a record value and the schema it declares (the same `Arc`
    /// for every record of one table version; see
    /// [`super::decode_with_schema`] for what it holds).
    pub fn decode(&mut self, bytes: &[u8]) -> Result<(ChangeEvent, Arc<TableSchema>), CodecError> {
        let h = head(bytes)?;
        let raw = h.env.rowlog.get();
        let known = self.blocks.get(raw).and_then(|c| {
            c.schemas
                .iter()
                .find(|s| s.table == h.table)
                .map(|s| (c.version, s.clone()))
        });
        let (version, schema) = match known {
            Some(hit) => hit,
            None => {
                let d = declared(h.env.rowlog)?;
                let schema = Arc::new(schema_of(&h.table, d.kinds, &d.key)?);
                if self.blocks.len() >= MAX_BLOCKS {
                    self.blocks.clear();
                }
                self.blocks
                    .entry(raw.into())
                    .or_insert_with(|| Cached {
                        version: d.version,
                        schemas: Vec::new(),
                    })
                    .schemas
                    .push(schema.clone());
                (d.version, schema)
            }
        };
        let event = finish(h, version, &schema.key, &schema.columns)?;
        Ok((event, schema))
    }
}

/// What went wrong inside a row, kept beside serde's error (whose text
/// carries a line/column of the image rather than the table and column).
enum Failure {
    Unknown(String),
    Value(usize, String),
}

fn read_row<C: Col>(
    raw: &RawValue,
    cols: &[C],
    table: &TableId,
    position: &Position,
    label: &str,
) -> Result<Row, CodecError> {
    let failed = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_str(raw.get());
    let result = RowSeed {
        cols,
        failed: &failed,
    }
    .deserialize(&mut de)
    .and_then(|vals| de.end().map(|()| vals));
    match result {
        Ok(vals) => Ok(cols
            .iter()
            .zip(vals)
            .map(|(c, v)| (c.name().to_string(), v))
            .collect()),
        Err(e) => Err(match failed.into_inner() {
            Some(Failure::Unknown(name)) => CodecError::new(
                format!("{table}.{name} ({label})"),
                "column is not listed in rowlog.types",
            ),
            Some(Failure::Value(i, why)) => CodecError::new(
                format!(
                    "{table}.{} ({label}) at {position}",
                    cols.get(i).map_or("?", |c| c.name())
                ),
                why,
            ),
            None => CodecError::new(label, format!("expected an object or null: {e}")),
        }),
    }
}

struct RowSeed<'s, C> {
    cols: &'s [C],
    failed: &'s RefCell<Option<Failure>>,
}

impl<'de, C: Col> DeserializeSeed<'de> for RowSeed<'_, C> {
    type Value = Vec<Value>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Vec<Value>, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, C: Col> Visitor<'de> for RowSeed<'_, C> {
    type Value = Vec<Value>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a row object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<Value>, A::Error> {
        let mut vals = vec![Value::Absent; self.cols.len()];
        // Columns come in schema order: try the one after the last first.
        let mut next = 0;
        while let Some(i) = map.next_key_seed(KeySeed {
            cols: self.cols,
            hint: next,
            failed: self.failed,
        })? {
            let slot = ValueSeed {
                kind: self.cols[i].kind(),
                col: i,
                failed: self.failed,
            };
            vals[i] = map.next_value_seed(slot)?;
            next = i + 1;
        }
        Ok(vals)
    }
}

/// A row's key, resolved to its column's index.
struct KeySeed<'s, C> {
    cols: &'s [C],
    hint: usize,
    failed: &'s RefCell<Option<Failure>>,
}

impl<'de, C: Col> DeserializeSeed<'de> for KeySeed<'_, C> {
    type Value = usize;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<usize, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de, C: Col> Visitor<'de> for KeySeed<'_, C> {
    type Value = usize;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a column name")
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<usize, E> {
        if self.cols.get(self.hint).is_some_and(|c| c.name() == s) {
            return Ok(self.hint);
        }
        match self.cols.iter().position(|c| c.name() == s) {
            Some(i) => Ok(i),
            None => {
                *self.failed.borrow_mut() = Some(Failure::Unknown(s.to_string()));
                Err(E::custom("column is not listed in rowlog.types"))
            }
        }
    }
}

/// One value of a known kind, in its JSON form (see [`json_to_value`], which
/// this agrees with).
struct ValueSeed<'s> {
    kind: &'s ValueKind,
    col: usize,
    failed: &'s RefCell<Option<Failure>>,
}

impl ValueSeed<'_> {
    fn fail<E: de::Error>(&self, why: String) -> E {
        *self.failed.borrow_mut() = Some(Failure::Value(self.col, why.clone()));
        E::custom(why)
    }
    fn wrong<E: de::Error>(&self, j: impl fmt::Display) -> E {
        self.fail(format!("`{j}` is not a valid `{}` value", self.kind))
    }
    fn float32<E: de::Error>(&self, f: f64) -> Result<Value, E> {
        // The shortest decimal text of the f64, read as f32: exact.
        f.to_string()
            .parse::<f32>()
            .map(Value::Float32)
            .map_err(|_| self.wrong(f))
    }
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a `{}` value", self.kind)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Value, E> {
        match self.kind {
            ValueKind::Bool => Ok(Value::Bool(b)),
            _ => Err(self.wrong(b)),
        }
    }
    fn visit_i64<E: de::Error>(self, i: i64) -> Result<Value, E> {
        match self.kind {
            ValueKind::Int => Ok(Value::Int(i)),
            ValueKind::UInt => u64::try_from(i).map(Value::UInt).map_err(|_| self.wrong(i)),
            #[allow(clippy::cast_precision_loss)] // as serde_json's as_f64
            ValueKind::Float64 => Ok(Value::Float64(i as f64)),
            #[allow(clippy::cast_precision_loss)]
            ValueKind::Float32 => self.float32(i as f64),
            _ => Err(self.wrong(i)),
        }
    }
    fn visit_u64<E: de::Error>(self, u: u64) -> Result<Value, E> {
        match self.kind {
            ValueKind::Int => i64::try_from(u).map(Value::Int).map_err(|_| self.wrong(u)),
            ValueKind::UInt => Ok(Value::UInt(u)),
            #[allow(clippy::cast_precision_loss)]
            ValueKind::Float64 => Ok(Value::Float64(u as f64)),
            #[allow(clippy::cast_precision_loss)]
            ValueKind::Float32 => self.float32(u as f64),
            _ => Err(self.wrong(u)),
        }
    }
    fn visit_f64<E: de::Error>(self, f: f64) -> Result<Value, E> {
        match self.kind {
            ValueKind::Float64 => Ok(Value::Float64(f)),
            ValueKind::Float32 => self.float32(f),
            _ => Err(self.wrong(f)),
        }
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Value, E> {
        text::from_text(self.kind, s).map_err(|e| self.fail(e.to_string()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(j) = seq.next_element::<J>()? {
            items.push(j);
        }
        json_to_value(self.kind, &J::Array(items)).map_err(|e| self.fail(e))
    }
    fn visit_map<A: MapAccess<'de>>(self, _map: A) -> Result<Value, A::Error> {
        Err(self.wrong("{…}"))
    }
}
