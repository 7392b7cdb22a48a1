//! Reading existing MySQL/MariaDB rows for a snapshot, in key-ordered chunks
//! (the reading half; locking, binlog positions and saved progress are the
//! orchestration's).
//!
//! Invariants:
//! - A session reads only after [`prepare_session`]: results in utf8mb4 (the
//!   server transcodes latin1 and other character columns, so text arrives
//!   as UTF-8; binary columns are never transcoded), `time_zone = '+00:00'`
//!   (TIMESTAMP values come out as UTC) and an empty `sql_mode` (zero dates
//!   compare and bind; CHAR is not padded).
//! - Chunks are `SELECT cols FROM t WHERE key > last ORDER BY key LIMIT n`
//!   over the binary protocol (a prepared statement): FLOAT and DOUBLE
//!   arrive as their exact bits, dates and times as numbers, never as text
//!   to re-parse. The WHERE compares the way ORDER BY sorts: DECIMAL bounds
//!   are cast to the column's DECIMAL, binary bounds to BINARY, ENUM and SET
//!   bounds are their index / bitmask (which is how both sort).
//! - Each value is converted per [`MyColumn`] into exactly the [`Value`] the
//!   binlog decoder produces for the same data (see [`decode_value`]), so a
//!   snapshot row and a streamed row are equal.
//! - The last key of a chunk round-trips through [`key_to_state`] /
//!   [`key_from_state`] for every key type (u64 max, decimals, zero dates,
//!   binary keys, float bits), so a snapshot can resume after it.
//! - A NULL in a key column is an error (the chunk order cannot pass it).

use mysql_async::Conn;
use mysql_async::prelude::Queryable;
use rowlog_schemas::value::{BitString, Date, DateTime, Decimal, MICROS_PER_DAY, Time};
use rowlog_schemas::{Value, ValueKind};

use super::columns::{Charset, MyColumn, MyTable, MyType};
use crate::error::SourceError;

/// Session settings the reading functions rely on; run once per connection.
pub async fn prepare_session(conn: &mut Conn) -> Result<(), SourceError> {
    for sql in [
        // mysql_async asks for utf8mb4 in the handshake; say it again so a
        // server default cannot change what text columns arrive as.
        "SET NAMES utf8mb4",
        "SET time_zone = '+00:00'",
        // No NO_ZERO_DATE/NO_ZERO_IN_DATE/STRICT (zero-date bounds), no
        // PAD_CHAR_TO_FULL_LENGTH, no ANSI_QUOTES/NO_BACKSLASH_ESCAPES.
        "SET SESSION sql_mode = ''",
    ] {
        conn.query_drop(sql).await.map_err(|e| {
            SourceError::from(e).context(format!("preparing the snapshot session ({sql})"))
        })?;
    }
    Ok(())
}

/// `` `name` ``, quoted for SQL.
pub fn quote_ident(s: &str) -> String {
    format!("`{}`", s.replace('`', "``"))
}

/// `` `db`.`table` ``, quoted for SQL.
pub fn quote_table(table: &MyTable) -> String {
    format!(
        "{}.{}",
        quote_ident(&table.id.namespace),
        quote_ident(&table.id.name)
    )
}

/// The server's row estimate (`information_schema.TABLES.TABLE_ROWS`; for
/// InnoDB a guess, 0 when unknown), for progress reports.
pub async fn estimate_rows(conn: &mut Conn, table: &MyTable) -> Result<u64, SourceError> {
    let n: Option<Option<u64>> = conn
        .exec_first(
            "SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
            (table.id.namespace.as_str(), table.id.name.as_str()),
        )
        .await
        .map_err(|e| SourceError::from(e).context(format!("estimating the rows of {}", table.id)))?;
    Ok(n.flatten().unwrap_or(0))
}

/// Positions of the key columns in `table.columns`.
fn key_positions(table: &MyTable) -> Result<Vec<usize>, SourceError> {
    table
        .key
        .iter()
        .map(|k| {
            table.columns.iter().position(|c| &c.name == k).ok_or_else(|| {
                SourceError::permanent(format!(
                    "table {}: key column `{k}` is not a column of the table; fix the table's key or the `keys:` override",
                    table.id
                ))
            })
        })
        .collect()
}

/// Reads up to `limit` rows of `table` whose key is greater than `after`
/// (the key of the last row of the previous chunk, see [`key_of`]), in key
/// order, values in `table.columns` order.
pub async fn read_chunk(
    conn: &mut Conn,
    table: &MyTable,
    after: Option<&[Value]>,
    limit: usize,
) -> Result<Vec<Vec<Value>>, SourceError> {
    if table.key.is_empty() {
        return Err(SourceError::permanent(format!(
            "table {} has no key to read it in chunks; set `keys: {{{}: [col, ...]}}` in the source config",
            table.id, table.id
        )));
    }
    let keys = key_positions(table)?;
    let key_cols: Vec<&MyColumn> = keys.iter().map(|&i| &table.columns[i]).collect();
    let key_names: Vec<String> = key_cols.iter().map(|c| quote_ident(&c.name)).collect();
    let mut sql = format!(
        "SELECT {} FROM {}",
        table
            .columns
            .iter()
            .map(|c| quote_ident(&c.name))
            .collect::<Vec<_>>()
            .join(", "),
        quote_table(table)
    );
    let mut params: Vec<mysql_async::Value> = Vec::new();
    if let Some(last) = after {
        if last.len() != key_cols.len() {
            return Err(SourceError::permanent(format!(
                "{}: the saved snapshot position has {} key values but the key ({}) has {} columns; restart the table's snapshot",
                table.id,
                last.len(),
                table.key.join(", "),
                key_cols.len()
            )));
        }
        let mut marks = Vec::with_capacity(last.len());
        for (c, v) in key_cols.iter().zip(last) {
            if v.is_null() || v.is_absent() {
                return Err(SourceError::permanent(format!(
                    "{}: the saved snapshot position has NULL for key column `{}`; restart the table's snapshot",
                    table.id, c.name
                )));
            }
            marks.push(key_placeholder(c));
            params.push(key_param(c, v));
        }
        if key_cols.len() == 1 {
            sql.push_str(&format!(" WHERE {} > {}", key_names[0], marks[0]));
        } else {
            // The first column's bound gives the optimizer an index range
            // (MariaDB does not range-scan on a row comparison alone).
            sql.push_str(&format!(
                " WHERE {} >= {} AND ({}) > ({})",
                key_names[0],
                marks[0],
                key_names.join(", "),
                marks.join(", ")
            ));
            params.insert(0, params[0].clone());
        }
    }
    sql.push_str(&format!(" ORDER BY {} LIMIT {limit}", key_names.join(", ")));
    let params = if params.is_empty() {
        mysql_async::Params::Empty
    } else {
        mysql_async::Params::Positional(params)
    };
    let rows: Vec<mysql_async::Row> = conn
        .exec(sql, params)
        .await
        .map_err(|e| SourceError::from(e).context(format!("snapshot of {}", table.id)))?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let raw = row.unwrap();
        if raw.len() != table.columns.len() {
            return Err(SourceError::permanent(format!(
                "snapshot of {}: the server sent {} columns, expected {}",
                table.id,
                raw.len(),
                table.columns.len()
            )));
        }
        let mut values = Vec::with_capacity(raw.len());
        for (c, v) in table.columns.iter().zip(raw) {
            values.push(decode_value(c, v).map_err(|e| {
                SourceError::permanent(format!("{}.{} (snapshot): {e}", table.id, c.name))
            })?);
        }
        if let Some(&i) = keys.iter().find(|&&i| values[i].is_null()) {
            return Err(SourceError::permanent(format!(
                "{}: a row has NULL in key column `{}`, so the table cannot be read in key order; choose non-null key columns under `keys:` in the source config",
                table.id, table.columns[i].name
            )));
        }
        out.push(values);
    }
    Ok(out)
}

/// The SQL placeholder for a bound on key column `c`, so that the bound
/// compares the way ORDER BY sorts the column.
fn key_placeholder(c: &MyColumn) -> String {
    match (&c.ty, c.charset) {
        (MyType::Decimal { precision, scale }, _) => {
            format!("CAST(? AS DECIMAL({precision},{scale}))")
        }
        (MyType::Char { .. } | MyType::VarChar { .. } | MyType::Blob { .. }, Charset::Binary)
            if !c.json_text =>
        {
            "CAST(? AS BINARY)".into()
        }
        _ => "?".into(),
    }
}

/// The parameter for a bound on key column `c`: ENUM and SET by index and
/// bitmask (they sort by those, and compare by them with a number), the
/// rest by [`value_to_param`].
fn key_param(c: &MyColumn, v: &Value) -> mysql_async::Value {
    match (&c.ty, v) {
        (MyType::Enum { labels, .. }, Value::Enum(label)) => {
            match labels.iter().position(|l| l == label) {
                Some(i) => mysql_async::Value::UInt(i as u64 + 1),
                None => mysql_async::Value::UInt(0),
            }
        }
        (MyType::Set { members, .. }, Value::Set(items)) => {
            let mut mask = 0u64;
            for item in items {
                if let Some(i) = members.iter().position(|m| m == item) {
                    mask |= 1u64 << (i % 64);
                }
            }
            mysql_async::Value::UInt(mask)
        }
        _ => value_to_param(v),
    }
}

/// A row-log value as a mysql_async parameter (for key bounds).
pub fn value_to_param(v: &Value) -> mysql_async::Value {
    use mysql_async::Value as M;
    match v {
        Value::Absent | Value::Null => M::NULL,
        Value::Bool(b) => M::Int(i64::from(*b)),
        Value::Int(n) => M::Int(*n),
        Value::UInt(n) => M::UInt(*n),
        Value::Float32(f) => M::Float(*f),
        Value::Float64(f) => M::Double(*f),
        Value::Decimal(d) => M::Bytes(d.as_str().as_bytes().to_vec()),
        Value::Text(s) | Value::Json(s) | Value::Enum(s) => M::Bytes(s.as_bytes().to_vec()),
        Value::Bytes(b) => M::Bytes(b.clone()),
        Value::Date(d) => match u16::try_from(d.year()).ok().filter(|y| *y <= 9999) {
            Some(y) => M::Date(y, d.month(), d.day(), 0, 0, 0, 0),
            None => M::Bytes(d.to_string().into_bytes()),
        },
        Value::Timestamp(dt) | Value::TimestampTz(dt) => {
            let d = dt.date();
            match u16::try_from(d.year()).ok().filter(|y| *y <= 9999) {
                Some(y) => {
                    let us = dt.micros_of_day();
                    M::Date(
                        y,
                        d.month(),
                        d.day(),
                        (us / 3_600_000_000) as u8,
                        (us / 60_000_000 % 60) as u8,
                        (us / 1_000_000 % 60) as u8,
                        (us % 1_000_000) as u32,
                    )
                }
                None => M::Bytes(dt.to_string().into_bytes()),
            }
        }
        Value::Time(t) => {
            let us = t.micros().unsigned_abs();
            let days = us / MICROS_PER_DAY as u64;
            let rest = us % MICROS_PER_DAY as u64;
            M::Time(
                t.micros() < 0,
                u32::try_from(days).unwrap_or(u32::MAX),
                (rest / 3_600_000_000) as u8,
                (rest / 60_000_000 % 60) as u8,
                (rest / 1_000_000 % 60) as u8,
                (rest % 1_000_000) as u32,
            )
        }
        Value::Set(items) => M::Bytes(items.join(",").into_bytes()),
        Value::Bits(b) => match bits_to_u64(b) {
            Some(n) => M::UInt(n),
            None => M::Bytes(b.bytes().to_vec()),
        },
        other => M::Bytes(other.to_string().into_bytes()),
    }
}

/// A BIT value as the number MySQL holds (`None` beyond 64 bits).
fn bits_to_u64(b: &BitString) -> Option<u64> {
    if b.len() > 64 {
        return None;
    }
    let mut n = 0u64;
    for i in 0..b.len() {
        n = (n << 1) | u64::from(b.get(i) == Some(true));
    }
    Some(n)
}

/// The key values of a row read by [`read_chunk`], in key order (`Null`
/// for a key column the table does not have, which [`read_chunk`] refuses).
pub fn key_of(table: &MyTable, row: &[Value]) -> Vec<Value> {
    table
        .key
        .iter()
        .map(|k| {
            table
                .columns
                .iter()
                .position(|c| &c.name == k)
                .and_then(|i| row.get(i))
                .cloned()
                .unwrap_or(Value::Null)
        })
        .collect()
}

/// A key as text, to save snapshot progress: a JSON array with one element
/// per key column (numbers for integers, float bit patterns, strings for the
/// rest, hex for bytes). Read back with [`key_from_state`].
pub fn key_to_state(key: &[Value]) -> String {
    use serde_json::Value as J;
    let items: Vec<J> = key
        .iter()
        .map(|v| match v {
            Value::Int(n) => J::from(*n),
            Value::UInt(n) => J::from(*n),
            Value::Bool(b) => J::from(*b),
            Value::Float32(f) => J::from(f.to_bits()),
            Value::Float64(f) => J::from(f.to_bits()),
            Value::Bytes(b) => J::from(hex(b)),
            Value::Set(items) => J::from(items.clone()),
            Value::Text(s) | Value::Json(s) | Value::Enum(s) => J::from(s.clone()),
            Value::Null | Value::Absent => J::Null,
            other => J::from(other_text(other)),
        })
        .collect();
    J::Array(items).to_string()
}

/// Text of the values [`key_to_state`] writes as strings via their
/// `FromStr`-compatible `Display`.
fn other_text(v: &Value) -> String {
    match v {
        Value::Decimal(d) => d.to_string(),
        Value::Date(d) => d.to_string(),
        Value::Time(t) => t.to_string(),
        Value::Timestamp(dt) | Value::TimestampTz(dt) => dt.to_string(),
        Value::Bits(b) => b.to_string(),
        other => other.to_string(),
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The key [`key_to_state`] wrote, typed by `table`'s key columns.
pub fn key_from_state(table: &MyTable, s: &str) -> Result<Vec<Value>, SourceError> {
    let bad = |why: String| {
        SourceError::permanent(format!(
            "{}: cannot read the saved snapshot position `{s}`: {why}; restart the table's snapshot",
            table.id
        ))
    };
    let items: Vec<serde_json::Value> =
        serde_json::from_str(s).map_err(|e| bad(format!("not a JSON array ({e})")))?;
    let keys = key_positions(table)?;
    if items.len() != keys.len() {
        return Err(bad(format!(
            "{} values for a key of {} columns ({})",
            items.len(),
            keys.len(),
            table.key.join(", ")
        )));
    }
    keys.iter()
        .zip(items)
        .map(|(&i, j)| {
            let c = &table.columns[i];
            state_value(c, &j).map_err(|e| bad(format!("key column `{}`: {e}", c.name)))
        })
        .collect()
}

fn state_value(c: &MyColumn, j: &serde_json::Value) -> Result<Value, String> {
    let text = || {
        j.as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("expected a string, got {j}"))
    };
    if j.is_null() {
        return Ok(Value::Null);
    }
    Ok(match c.kind() {
        ValueKind::Int => Value::Int(j.as_i64().ok_or_else(|| format!("not an i64: {j}"))?),
        ValueKind::UInt => Value::UInt(j.as_u64().ok_or_else(|| format!("not a u64: {j}"))?),
        ValueKind::Float32 => {
            let bits = j.as_u64().and_then(|b| u32::try_from(b).ok());
            Value::Float32(f32::from_bits(
                bits.ok_or_else(|| format!("not f32 bits: {j}"))?,
            ))
        }
        ValueKind::Float64 => Value::Float64(f64::from_bits(
            j.as_u64().ok_or_else(|| format!("not f64 bits: {j}"))?,
        )),
        ValueKind::Decimal => Value::Decimal(text()?.parse().map_err(|e| format!("{e}"))?),
        ValueKind::Text => Value::Text(text()?),
        ValueKind::Json => Value::Json(text()?),
        ValueKind::Enum => Value::Enum(text()?),
        ValueKind::Bytes => Value::Bytes(unhex(&text()?).ok_or("not hex bytes")?),
        ValueKind::Date => Value::Date(text()?.parse().map_err(|e| format!("{e}"))?),
        ValueKind::Time => Value::Time(text()?.parse().map_err(|e| format!("{e}"))?),
        ValueKind::Timestamp => Value::Timestamp(text()?.parse().map_err(|e| format!("{e}"))?),
        ValueKind::TimestampTz => Value::TimestampTz(text()?.parse().map_err(|e| format!("{e}"))?),
        ValueKind::Bits => Value::Bits(text()?.parse().map_err(|e| format!("{e}"))?),
        ValueKind::Set => Value::Set(
            j.as_array()
                .ok_or_else(|| format!("expected an array, got {j}"))?
                .iter()
                .map(|m| {
                    m.as_str()
                        .map(str::to_string)
                        .ok_or("a member is not a string")
                })
                .collect::<Result<_, _>>()?,
        ),
        other => return Err(format!("a key of kind {other:?} cannot be saved")),
    })
}

/// Converts one value as mysql_async's binary protocol returns it into the
/// row-log value of column `c` (the same value the binlog decoder produces
/// from the stored bytes). Text-protocol values (bytes) are accepted for
/// numbers too. The error says what was wrong, without the column's name.
pub fn decode_value(c: &MyColumn, v: mysql_async::Value) -> Result<Value, String> {
    use mysql_async::Value as M;
    if let M::NULL = v {
        return Ok(Value::Null);
    }
    let unexpected = |v: &M| format!("unexpected value {v:?} for `{}`", c.source_type);
    Ok(match &c.ty {
        MyType::TinyInt | MyType::SmallInt | MyType::MediumInt | MyType::Int | MyType::BigInt => {
            let n = int_value(&v).ok_or_else(|| unexpected(&v))?;
            if c.unsigned {
                Value::UInt(u64::try_from(n).map_err(|_| format!("{n} is not unsigned"))?)
            } else {
                Value::Int(i64::try_from(n).map_err(|_| format!("{n} does not fit in i64"))?)
            }
        }
        MyType::Year => {
            let n = int_value(&v).ok_or_else(|| unexpected(&v))?;
            Value::Int(i64::try_from(n).map_err(|_| format!("year {n} is out of range"))?)
        }
        MyType::Decimal { scale, .. } => match &v {
            M::Bytes(b) => Value::Decimal(decimal_from_text(&utf8(b)?, *scale)?),
            M::Int(n) => Value::Decimal(decimal_from_text(&n.to_string(), *scale)?),
            M::UInt(n) => Value::Decimal(decimal_from_text(&n.to_string(), *scale)?),
            _ => return Err(unexpected(&v)),
        },
        MyType::Float => match &v {
            M::Float(f) => Value::Float32(*f),
            M::Bytes(b) => Value::Float32(utf8(b)?.parse().map_err(|e| format!("{e}"))?),
            _ => return Err(unexpected(&v)),
        },
        MyType::Double => match &v {
            M::Double(f) => Value::Float64(*f),
            M::Float(f) => Value::Float64(f64::from(*f)),
            M::Bytes(b) => Value::Float64(utf8(b)?.parse().map_err(|e| format!("{e}"))?),
            _ => return Err(unexpected(&v)),
        },
        MyType::Bit { bits } => match &v {
            M::Bytes(b) => Value::Bits(bits_from_mysql(*bits, b)?),
            _ => return Err(unexpected(&v)),
        },
        MyType::Date => match v {
            M::Date(y, m, d, ..) => Value::Date(date(y, m, d)?),
            other => return Err(unexpected(&other)),
        },
        MyType::DateTime { .. } | MyType::LegacyDateTime => match v {
            M::Date(y, m, d, h, mi, s, us) => Value::Timestamp(
                DateTime::new(date(y, m, d)?, day_micros(h, mi, s, us)?)
                    .map_err(|e| e.to_string())?,
            ),
            other => return Err(unexpected(&other)),
        },
        MyType::Timestamp { .. } | MyType::LegacyTimestamp => match v {
            M::Date(0, 0, 0, 0, 0, 0, 0) => {
                Value::TimestampTz(DateTime::new(Date::ZERO, 0).map_err(|e| e.to_string())?)
            }
            M::Date(y, m, d, h, mi, s, us) => {
                let days = date(y, m, d)?.to_epoch_days().ok_or_else(|| {
                    format!("timestamp {y:04}-{m:02}-{d:02} is not a calendar date")
                })?;
                let micros = days * MICROS_PER_DAY + day_micros(h, mi, s, us)?;
                Value::TimestampTz(DateTime::from_unix_micros(micros).map_err(|e| e.to_string())?)
            }
            other => return Err(unexpected(&other)),
        },
        MyType::Time { .. } | MyType::LegacyTime => match v {
            M::Time(neg, days, h, mi, s, us) => {
                let abs = i64::from(days) * MICROS_PER_DAY
                    + i64::from(h) * 3_600_000_000
                    + i64::from(mi) * 60_000_000
                    + i64::from(s) * 1_000_000
                    + i64::from(us);
                Value::Time(
                    Time::from_micros(if neg { -abs } else { abs }).map_err(|e| e.to_string())?,
                )
            }
            other => return Err(unexpected(&other)),
        },
        MyType::Char { .. } | MyType::VarChar { .. } | MyType::Blob { .. } | MyType::Json => {
            let M::Bytes(b) = v else {
                return Err(unexpected(&v));
            };
            if c.json_text || c.ty == MyType::Json {
                Value::Json(String::from_utf8(b).map_err(|_| "JSON text is not UTF-8")?)
            } else if c.charset == Charset::Binary {
                Value::Bytes(b)
            } else {
                Value::Text(text(c, b)?)
            }
        }
        MyType::Enum { .. } => match v {
            M::Bytes(b) => Value::Enum(text(c, b)?),
            other => return Err(unexpected(&other)),
        },
        MyType::Set { .. } => match v {
            M::Bytes(b) => {
                let s = text(c, b)?;
                Value::Set(if s.is_empty() {
                    Vec::new()
                } else {
                    s.split(',').map(str::to_string).collect()
                })
            }
            other => return Err(unexpected(&other)),
        },
        MyType::Geometry { .. } => match v {
            M::Bytes(b) => Value::Bytes(b),
            other => return Err(unexpected(&other)),
        },
    })
}

/// Character data as the session receives it (already utf8mb4: the server
/// transcodes from the column's charset).
fn text(c: &MyColumn, b: Vec<u8>) -> Result<String, String> {
    if let Charset::Other(id) = c.charset {
        return Err(format!(
            "the column's character set (collation id {id}) is not supported; rowlog reads utf8mb4, utf8mb3, ascii and latin1: convert the column, e.g. ALTER TABLE ... MODIFY ... CHARACTER SET utf8mb4"
        ));
    }
    String::from_utf8(b).map_err(|e| {
        format!(
            "the server sent text that is not UTF-8 ({e}); the session must use SET NAMES utf8mb4"
        )
    })
}

fn utf8(b: &[u8]) -> Result<String, String> {
    String::from_utf8(b.to_vec()).map_err(|_| format!("{b:?} is not text"))
}

fn int_value(v: &mysql_async::Value) -> Option<i128> {
    match v {
        mysql_async::Value::Int(n) => Some(i128::from(*n)),
        mysql_async::Value::UInt(n) => Some(i128::from(*n)),
        mysql_async::Value::Bytes(b) => std::str::from_utf8(b).ok()?.trim().parse().ok(),
        _ => None,
    }
}

fn date(y: u16, m: u8, d: u8) -> Result<Date, String> {
    Date::new(i32::from(y), m, d).map_err(|e| e.to_string())
}

fn day_micros(h: u8, mi: u8, s: u8, us: u32) -> Result<i64, String> {
    if h > 23 || mi > 59 || s > 59 || us > 999_999 {
        return Err(format!(
            "time of day {h:02}:{mi:02}:{s:02}.{us:06} is out of range"
        ));
    }
    Ok(i64::from(h) * 3_600_000_000
        + i64::from(mi) * 60_000_000
        + i64::from(s) * 1_000_000
        + i64::from(us))
}

/// A DECIMAL(_, scale) in canonical text: optional `-`, integer digits
/// without leading zeros (`0` when none), and for `scale > 0` a point and
/// exactly `scale` digits; never `-0`. Missing fraction digits are filled
/// with zeros; extra ones must be zeros.
pub fn decimal_from_text(s: &str, scale: u8) -> Result<Decimal, String> {
    let bad = || format!("`{s}` is not a DECIMAL with scale {scale}");
    let t = s.trim();
    let (neg, body) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    if (int.is_empty() && frac.is_empty())
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let scale = usize::from(scale);
    let mut frac = frac.to_string();
    if frac.len() > scale {
        if frac[scale..].bytes().any(|b| b != b'0') {
            return Err(bad());
        }
        frac.truncate(scale);
    }
    while frac.len() < scale {
        frac.push('0');
    }
    let int = if int.is_empty() { "0" } else { int };
    let mut text = String::with_capacity(s.len() + scale + 2);
    if neg {
        text.push('-');
    }
    text.push_str(int);
    if scale > 0 {
        text.push('.');
        text.push_str(&frac);
    }
    // Strips leading zeros and the sign of zero.
    text.parse().map_err(|_| bad())
}

/// A `BIT(bits)` value from the big-endian number MySQL stores and sends
/// (`b'101'` in a BIT(3) is the byte `0x05`), as a bit string whose first
/// bit is the number's most significant of `bits` bits (`"101"`).
pub fn bits_from_mysql(bits: u16, bytes: &[u8]) -> Result<BitString, String> {
    if !(1..=64).contains(&bits) {
        return Err(format!("BIT({bits}) is out of range 1..=64"));
    }
    let significant: &[u8] = {
        let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
        &bytes[first..]
    };
    if significant.len() > 8 {
        return Err(format!("{} bytes for a BIT({bits})", bytes.len()));
    }
    let n = significant
        .iter()
        .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    if bits < 64 && n >> bits != 0 {
        return Err(format!("value {n:#x} does not fit in BIT({bits})"));
    }
    let nbytes = usize::from(bits).div_ceil(8);
    let shift = nbytes * 8 - usize::from(bits);
    let aligned = n << shift;
    let be = aligned.to_be_bytes();
    BitString::from_bytes(usize::from(bits), &be[8 - nbytes..]).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use rowlog_schemas::TableId;

    #[test]
    fn decimals_are_canonical_with_exact_scale() {
        for (s, scale, want) in [
            ("0.5", 2, "0.50"),
            ("-0.00", 2, "0.00"),
            ("007", 0, "7"),
            ("-12.3", 3, "-12.300"),
            (".5", 1, "0.5"),
            ("1.500", 1, "1.5"),
            ("-0", 0, "0"),
        ] {
            assert_eq!(decimal_from_text(s, scale).unwrap().as_str(), want, "{s}");
        }
        assert!(decimal_from_text("1.25", 1).is_err());
        assert!(decimal_from_text("1e5", 0).is_err());
        assert!(decimal_from_text("", 0).is_err());
    }

    #[test]
    fn bits_are_left_aligned() {
        assert_eq!(bits_from_mysql(1, &[1]).unwrap().to_string(), "1");
        assert_eq!(
            bits_from_mysql(10, &[0x03, 0xFE]).unwrap().to_string(),
            "1111111110"
        );
        assert_eq!(
            bits_from_mysql(64, &[0xFF; 8]).unwrap().to_string(),
            "1".repeat(64)
        );
        assert!(bits_from_mysql(3, &[0x08]).is_err());
        let b = bits_from_mysql(10, &[0x02, 0x01]).unwrap();
        assert_eq!(bits_to_u64(&b), Some(0x201));
    }

    fn col(name: &str, ty: MyType, unsigned: bool, charset: Charset) -> MyColumn {
        MyColumn {
            name: name.into(),
            ty,
            unsigned,
            charset,
            nullable: false,
            json_text: false,
            source_type: String::new(),
        }
    }

    #[test]
    fn state_round_trips_every_key_type() {
        let cols = vec![
            col("u", MyType::BigInt, true, Charset::Binary),
            col("i", MyType::BigInt, false, Charset::Binary),
            col(
                "d",
                MyType::Decimal {
                    precision: 65,
                    scale: 30,
                },
                false,
                Charset::Binary,
            ),
            col("f", MyType::Float, false, Charset::Binary),
            col("g", MyType::Double, false, Charset::Binary),
            col("dt", MyType::Date, false, Charset::Binary),
            col("ts", MyType::DateTime { fsp: 6 }, false, Charset::Binary),
            col("tz", MyType::Timestamp { fsp: 3 }, false, Charset::Binary),
            col("t", MyType::Time { fsp: 6 }, false, Charset::Binary),
            col(
                "b",
                MyType::VarChar { max_bytes: 8 },
                false,
                Charset::Binary,
            ),
            col("s", MyType::VarChar { max_bytes: 8 }, false, Charset::Utf8),
            col("bit", MyType::Bit { bits: 10 }, false, Charset::Binary),
            col(
                "e",
                MyType::Enum {
                    pack_len: 1,
                    labels: vec!["a".into()],
                },
                false,
                Charset::Utf8,
            ),
        ];
        let table = MyTable {
            id: TableId::new("db", "t"),
            key: cols.iter().map(|c| c.name.clone()).collect(),
            columns: cols,
        };
        let key = vec![
            Value::UInt(u64::MAX),
            Value::Int(i64::MIN),
            Value::Decimal(
                "-99999999999999999999999999999999999.000000000000000000000000000001"
                    .parse()
                    .unwrap(),
            ),
            Value::Float32(-0.0),
            Value::Float64(0.1),
            Value::Date(Date::ZERO),
            Value::Timestamp(DateTime::new(Date::new(2024, 0, 15).unwrap(), 1).unwrap()),
            Value::TimestampTz(DateTime::from_unix_micros(-1).unwrap()),
            Value::Time(Time::from_micros(-500_000).unwrap()),
            Value::Bytes(vec![0, 0xFF, b'"']),
            Value::Text("é\"€,[]".into()),
            Value::Bits(bits_from_mysql(10, &[0x03, 0x01]).unwrap()),
            Value::Enum("a".into()),
        ];
        let state = key_to_state(&key);
        assert_eq!(key_from_state(&table, &state).unwrap(), key, "{state}");
        assert!(key_from_state(&table, "[1]").is_err());
        assert!(key_from_state(&table, "nope").is_err());
    }

    #[test]
    fn time_and_timestamp_params() {
        let t = Value::Time(Time::from_micros(-(838 * 3600 + 59 * 60 + 59) * 1_000_000).unwrap());
        assert_eq!(
            value_to_param(&t),
            mysql_async::Value::Time(true, 34, 22, 59, 59, 0)
        );
        let dt = Value::TimestampTz(DateTime::from_unix_micros(1_000_001).unwrap());
        assert_eq!(
            value_to_param(&dt),
            mysql_async::Value::Date(1970, 1, 1, 0, 0, 1, 1)
        );
    }
}
