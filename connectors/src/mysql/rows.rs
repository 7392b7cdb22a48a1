//! Decoding of binlog row events (WRITE/UPDATE/DELETE_ROWS, v1 and v2) into
//! row-log [`Value`]s.
//!
//! mysql_common only frames the event (`RowsEvent`: table id, column bitmaps,
//! the raw rows data; it strips the v2 extra-data header, so v1 and v2 decode
//! the same). We deliberately do not use its `BinlogRow`/`BinlogValue`: it
//! allocates a named `Column` per row and re-parses the optional metadata per
//! row, and its value conversions are not ours. Rows are decoded here against
//! the [`MyColumn`]s unpacked once per table map (`tablemap.rs`).
//!
//! Invariants (a contract shared with the snapshot reader, which produces the
//! same values from `SELECT`s):
//! - Values are in `columns` order. A column the image's column bitmap leaves
//!   out (`binlog_row_image=MINIMAL`/`NOBLOB`) is [`Value::Absent`]; SQL NULL
//!   is [`Value::Null`].
//! - Integers are `Int`, or `UInt` when unsigned; YEAR is `Int` (0 or
//!   1900 + n). DECIMAL is canonical text with exactly `scale` fraction
//!   digits and never a negative zero. FLOAT/DOUBLE are `Float32`/`Float64`.
//!   BIT(n) is an n-bit [`BitString`] whose first bit is the most
//!   significant bit of the stored number.
//! - Character data is transcoded by its [`Charset`] into `Text`; binary
//!   charset data is `Bytes`; BINARY(n) is right-padded with 0x00 to n bytes,
//!   as `SELECT` returns it (the binlog strips the padding). MariaDB's JSON
//!   (`json_text`) and MySQL's binary JSON (compact text) are `Json`.
//! - DATE is `Date` (zero dates included); DATETIME is `Timestamp`; TIMESTAMP
//!   is `TimestampTz` in UTC, with the zero timestamp as
//!   `DateTime::new(Date::ZERO, 0)`; TIME is signed `Time`. ENUM is the label
//!   (index 0 is `""`), SET the members in declaration order; unknown labels
//!   are an error. GEOMETRY is `Bytes`: the 4-byte SRID then the WKB.
//! - Bad input never panics: truncated or inconsistent data is an error that
//!   names the table, the column, its type and the byte offset.

use bitvec::slice::BitSlice;
use mysql_common::binlog::consts::EventType;
use mysql_common::binlog::jsonb;
use mysql_common::io::ParseBuf;
use rowlog_schemas::value::{BitString, Date, DateTime, Decimal, Time, Value};

use super::columns::{Charset, MyColumn, MyType};
use crate::error::SourceError;

/// Which row event the data comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowsKind {
    /// WRITE_ROWS: after images only.
    Write,
    /// UPDATE_ROWS: before and after image pairs.
    Update,
    /// DELETE_ROWS: before images only.
    Delete,
}

impl RowsKind {
    /// The kind of a rows event type (v0, v1 and v2); `Ok(None)` for other
    /// events. MySQL's PARTIAL_UPDATE_ROWS_EVENT (binary JSON diffs) is an
    /// error: `table` names the table in it.
    pub fn from_event_type(t: EventType, table: &str) -> Result<Option<RowsKind>, SourceError> {
        use EventType as E;
        Ok(Some(match t {
            E::WRITE_ROWS_EVENT | E::WRITE_ROWS_EVENT_V1 | E::PRE_GA_WRITE_ROWS_EVENT => {
                RowsKind::Write
            }
            E::UPDATE_ROWS_EVENT | E::UPDATE_ROWS_EVENT_V1 | E::PRE_GA_UPDATE_ROWS_EVENT => {
                RowsKind::Update
            }
            E::DELETE_ROWS_EVENT | E::DELETE_ROWS_EVENT_V1 | E::PRE_GA_DELETE_ROWS_EVENT => {
                RowsKind::Delete
            }
            E::PARTIAL_UPDATE_ROWS_EVENT => return Err(partial_json_error(table)),
            _ => return Ok(None),
        }))
    }
}

/// The error for MySQL's PARTIAL_UPDATE_ROWS_EVENT.
pub fn partial_json_error(table: &str) -> SourceError {
    SourceError::permanent(format!(
        "table {table}: partial JSON updates are not supported; set \
         binlog_row_value_options='' on the server so updates carry whole rows"
    ))
}

/// One changed row: the before image (UPDATE, DELETE) and the after image
/// (WRITE, UPDATE), each with one value per column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowImage {
    /// The row before the change.
    pub before: Option<Vec<Value>>,
    /// The row after the change.
    pub after: Option<Vec<Value>>,
}

/// Decodes the rows data of one rows event (see the module doc).
///
/// `table` is only used in error messages; `before_cols` / `after_cols` are
/// the event's column bitmaps (`None` means every column is present).
pub fn decode_rows(
    table: &str,
    columns: &[MyColumn],
    kind: RowsKind,
    before_cols: Option<&BitSlice<u8>>,
    after_cols: Option<&BitSlice<u8>>,
    data: &[u8],
) -> Result<Vec<RowImage>, SourceError> {
    for (name, bits) in [("before", before_cols), ("after", after_cols)] {
        if let Some(bits) = bits
            && bits.len() != columns.len()
        {
            return Err(SourceError::permanent(format!(
                "table {table}: the rows event's {name} image has {} columns but the table \
                 has {}; the table map and the known schema disagree (was the table altered \
                 while rowlog was stopped?)",
                bits.len(),
                columns.len()
            )));
        }
    }
    let mut r = Reader { data, pos: 0 };
    let mut rows = Vec::new();
    while r.pos < data.len() {
        let (before, after) = match kind {
            RowsKind::Write => (None, Some(image(table, columns, after_cols, &mut r)?)),
            RowsKind::Delete => (Some(image(table, columns, before_cols, &mut r)?), None),
            RowsKind::Update => {
                let b = image(table, columns, before_cols, &mut r)?;
                (Some(b), Some(image(table, columns, after_cols, &mut r)?))
            }
        };
        rows.push(RowImage { before, after });
    }
    Ok(rows)
}

/// A cursor over the rows data; every read is bounds-checked.
struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len());
        match end {
            Some(end) => {
                let s = &self.data[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            None => Err(format!(
                "the row data ends after {} bytes but {n} more are needed at byte {}: the \
                 event is truncated or the table map does not describe these rows",
                self.data.len(),
                self.pos
            )),
        }
    }
    fn le(&mut self, n: usize) -> Result<u64, String> {
        Ok(self
            .take(n)?
            .iter()
            .rev()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }
    fn be(&mut self, n: usize) -> Result<u64, String> {
        Ok(be(self.take(n)?))
    }
    fn length_prefixed(&mut self, len_bytes: usize) -> Result<&'a [u8], String> {
        let len = self.le(len_bytes)?;
        let len = usize::try_from(len).map_err(|_| format!("length {len} is too large"))?;
        self.take(len)
    }
}

fn be(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
}

/// Decodes one image: the null bitmap of the present columns, then their values.
fn image(
    table: &str,
    columns: &[MyColumn],
    present: Option<&BitSlice<u8>>,
    r: &mut Reader<'_>,
) -> Result<Vec<Value>, SourceError> {
    let is_present = |i: usize| present.is_none_or(|p| p.get(i).is_some_and(|b| *b));
    let count = (0..columns.len()).filter(|&i| is_present(i)).count();
    let nulls = r.take(count.div_ceil(8)).map_err(|e| {
        SourceError::permanent(format!(
            "table {table}: the null bitmap of a row: {e}; check the event with \
             mysqlbinlog --verbose at this position"
        ))
    })?;
    let mut out = Vec::with_capacity(columns.len());
    let mut k = 0usize;
    for (i, c) in columns.iter().enumerate() {
        if !is_present(i) {
            out.push(Value::Absent);
            continue;
        }
        let null = nulls[k / 8] & (1 << (k % 8)) != 0;
        k += 1;
        if null {
            out.push(Value::Null);
            continue;
        }
        let at = r.pos;
        let v = value(table, c, r).map_err(|e| {
            SourceError::permanent(format!(
                "table {table}, column {} ({}): {e} (value at byte {at} of the rows data); \
                 check the event with mysqlbinlog --verbose at this position",
                c.name,
                type_name(c)
            ))
        })?;
        out.push(v);
    }
    Ok(out)
}

fn type_name(c: &MyColumn) -> String {
    if c.source_type.is_empty() {
        format!("{:?}", c.ty)
    } else {
        c.source_type.clone()
    }
}

/// Decodes one non-null value.
fn value(table: &str, c: &MyColumn, r: &mut Reader<'_>) -> Result<Value, String> {
    let int = |v: u64, bytes: u32| -> Value {
        if c.unsigned {
            Value::UInt(v)
        } else {
            // Sign-extend from `bytes` bytes.
            let shift = 64 - 8 * bytes;
            Value::Int(((v << shift) as i64) >> shift)
        }
    };
    Ok(match &c.ty {
        MyType::TinyInt => int(r.le(1)?, 1),
        MyType::SmallInt => int(r.le(2)?, 2),
        MyType::MediumInt => int(r.le(3)?, 3),
        MyType::Int => int(r.le(4)?, 4),
        MyType::BigInt => int(r.le(8)?, 8),
        MyType::Year => match r.le(1)? {
            0 => Value::Int(0),
            n => Value::Int(1900 + n as i64),
        },
        MyType::Float => Value::Float32(f32::from_bits(r.le(4)? as u32)),
        MyType::Double => Value::Float64(f64::from_bits(r.le(8)?)),
        MyType::Decimal { precision, scale } => {
            Value::Decimal(decimal(r, usize::from(*precision), usize::from(*scale))?)
        }
        MyType::Bit { bits } => {
            let bits = usize::from(*bits);
            let n = bits.div_ceil(8);
            let v = r.be(n)?;
            // Left-align the number so its most significant bit comes first.
            let v = if n == 8 { v } else { v << (8 * n - bits) };
            let bytes = v.to_be_bytes();
            let bs = BitString::from_bytes(bits, &bytes[8 - n..]).map_err(|e| e.to_string())?;
            Value::Bits(bs)
        }
        MyType::Date => Value::Date(date(r.le(3)?)?),
        MyType::Time { fsp } => Value::Time(time2(r, *fsp)?),
        MyType::DateTime { fsp } => Value::Timestamp(datetime2(r, *fsp)?),
        MyType::Timestamp { fsp } => {
            let secs = r.be(4)?;
            let frac = fraction(r, *fsp)?;
            Value::TimestampTz(timestamp(secs, frac)?)
        }
        MyType::LegacyTime => {
            let v = r.le(3)?;
            let v = ((v << 40) as i64) >> 40;
            let a = v.unsigned_abs();
            let (h, m, s) = (a / 10000, (a / 100) % 100, a % 100);
            if m > 59 || s > 59 {
                return Err(format!("TIME value {v} is not HHMMSS"));
            }
            let micros = ((h * 3600 + m * 60 + s) * 1_000_000) as i64;
            let t = Time::from_micros(if v < 0 { -micros } else { micros })
                .map_err(|e| e.to_string())?;
            Value::Time(t)
        }
        MyType::LegacyDateTime => {
            let v = r.le(8)?;
            let (d, t) = (v / 1_000_000, v % 1_000_000);
            let (h, m, s) = (t / 10000, (t / 100) % 100, t % 100);
            if h > 23 || m > 59 || s > 59 {
                return Err(format!("DATETIME value {v} is not YYYYMMDDHHMMSS"));
            }
            let date = Date::new((d / 10000) as i32, ((d / 100) % 100) as u8, (d % 100) as u8)
                .map_err(|e| e.to_string())?;
            let dt = DateTime::new(date, ((h * 3600 + m * 60 + s) * 1_000_000) as i64)
                .map_err(|e| e.to_string())?;
            Value::Timestamp(dt)
        }
        MyType::LegacyTimestamp => Value::TimestampTz(timestamp(r.le(4)?, 0)?),
        MyType::Char { max_bytes } => {
            let len_bytes = if *max_bytes > 255 { 2 } else { 1 };
            let bytes = r.length_prefixed(len_bytes)?;
            if c.charset == Charset::Binary && !c.json_text {
                // The binlog strips BINARY(n)'s 0x00 padding; SELECT returns it.
                let mut v = bytes.to_vec();
                let n = usize::try_from(*max_bytes).unwrap_or(usize::MAX);
                if v.len() < n {
                    v.resize(n, 0);
                }
                Value::Bytes(v)
            } else {
                text(c, bytes)?
            }
        }
        MyType::VarChar { max_bytes } => {
            let len_bytes = if *max_bytes > 255 { 2 } else { 1 };
            text(c, r.length_prefixed(len_bytes)?)?
        }
        MyType::Blob { len_bytes } => text(c, r.length_prefixed(usize::from(*len_bytes))?)?,
        MyType::Json => Value::Json(json_binary(r.length_prefixed(4)?)?),
        MyType::Enum { pack_len, labels } => {
            let idx = r.le(usize::from(*pack_len))?;
            if idx == 0 {
                Value::Enum(String::new())
            } else if labels.is_empty() {
                return Err(unknown_labels(table, c));
            } else {
                let label = usize::try_from(idx - 1)
                    .ok()
                    .and_then(|i| labels.get(i))
                    .ok_or_else(|| {
                        format!(
                            "ENUM index {idx} but the column has {} labels (was a label \
                             added after the table map was read?)",
                            labels.len()
                        )
                    })?;
                Value::Enum(label.clone())
            }
        }
        MyType::Set { pack_len, members } => {
            let mask = r.le(usize::from(*pack_len))?;
            if members.is_empty() {
                return Err(unknown_labels(table, c));
            }
            if members.len() < 64 && mask >> members.len() != 0 {
                return Err(format!(
                    "SET bitmask {mask:#x} has bits beyond the column's {} members",
                    members.len()
                ));
            }
            Value::Set(
                members
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| mask & (1u64 << i) != 0)
                    .map(|(_, m)| m.clone())
                    .collect(),
            )
        }
        MyType::Geometry { len_bytes } => {
            Value::Bytes(r.length_prefixed(usize::from(*len_bytes))?.to_vec())
        }
    })
}

fn unknown_labels(table: &str, c: &MyColumn) -> String {
    format!(
        "ENUM/SET labels of {table}.{} are unknown: set binlog_row_metadata=FULL",
        c.name
    )
}

/// Character data: `Json` for MariaDB's JSON, `Bytes` for the binary charset,
/// else `Text` transcoded from the column's charset.
fn text(c: &MyColumn, bytes: &[u8]) -> Result<Value, String> {
    if c.json_text {
        let cs = if c.charset == Charset::Binary {
            Charset::Utf8
        } else {
            c.charset
        };
        return Ok(Value::Json(cs.decode(bytes)?));
    }
    if c.charset == Charset::Binary {
        return Ok(Value::Bytes(bytes.to_vec()));
    }
    Ok(Value::Text(c.charset.decode(bytes)?))
}

/// MySQL's binary JSON as compact JSON text.
fn json_binary(bytes: &[u8]) -> Result<String, String> {
    let bad = |e: std::io::Error| format!("invalid binary JSON: {e}");
    let v: jsonb::Value<'_> = ParseBuf(bytes).parse(()).map_err(bad)?;
    let dom = v.parse().map_err(bad)?;
    let json: serde_json::Value = dom.into();
    Ok(json.to_string())
}

const DIG2BYTES: [usize; 10] = [0, 1, 1, 2, 2, 3, 3, 4, 4, 4];

/// The packed DECIMAL format: integer part then fraction, in groups of nine
/// digits per 4 big-endian bytes, with the leftover digits of the integer
/// part first and of the fraction last (DIG2BYTES bytes each). The sign bit
/// (the top bit of the first byte) is inverted, and a negative number has
/// every byte inverted.
fn decimal(r: &mut Reader<'_>, precision: usize, scale: usize) -> Result<Decimal, String> {
    let intg = precision
        .checked_sub(scale)
        .ok_or_else(|| format!("DECIMAL({precision},{scale}) has scale > precision"))?;
    let (intg0, intg0x, frac0, frac0x) = (intg / 9, intg % 9, scale / 9, scale % 9);
    let size = intg0 * 4 + DIG2BYTES[intg0x] + frac0 * 4 + DIG2BYTES[frac0x];
    let raw = r.take(size)?;
    if raw.is_empty() {
        return Err("DECIMAL with no digits".into());
    }
    let negative = raw[0] & 0x80 == 0;
    let mask = if negative { 0xFF } else { 0x00 };
    let mut buf: Vec<u8> = raw.iter().map(|b| b ^ mask).collect();
    buf[0] ^= 0x80;

    let mut at = 0;
    let mut group = |bytes: usize, digits: usize| -> Result<String, String> {
        let v = be(&buf[at..at + bytes]);
        at += bytes;
        if digits > 0 && v >= 10u64.pow(digits as u32) {
            return Err(format!(
                "DECIMAL digit group {v} has more than {digits} digits: corrupt value"
            ));
        }
        Ok(format!("{v:0digits$}"))
    };
    let mut int = String::with_capacity(intg);
    if intg0x > 0 {
        int.push_str(&group(DIG2BYTES[intg0x], intg0x)?);
    }
    for _ in 0..intg0 {
        int.push_str(&group(4, 9)?);
    }
    let mut frac = String::with_capacity(scale);
    for _ in 0..frac0 {
        frac.push_str(&group(4, 9)?);
    }
    if frac0x > 0 {
        frac.push_str(&group(DIG2BYTES[frac0x], frac0x)?);
    }
    let int = int.trim_start_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    let is_zero = int == "0" && frac.bytes().all(|b| b == b'0');
    let mut text = String::with_capacity(precision + 2);
    if negative && !is_zero {
        text.push('-');
    }
    text.push_str(int);
    if scale > 0 {
        text.push('.');
        text.push_str(&frac);
    }
    text.parse::<Decimal>().map_err(|e| e.to_string())
}

fn date(v: u64) -> Result<Date, String> {
    let day = (v & 31) as u8;
    let month = ((v >> 5) & 15) as u8;
    let year = (v >> 9) as i32;
    Date::new(year, month, day).map_err(|e| e.to_string())
}

/// The fractional part of TIME2/DATETIME2/TIMESTAMP2 (unsigned), in µs.
fn fraction(r: &mut Reader<'_>, fsp: u8) -> Result<i64, String> {
    Ok(match fsp {
        0 => 0,
        1 | 2 => r.be(1)? as i64 * 10_000,
        3 | 4 => r.be(2)? as i64 * 100,
        5 | 6 => r.be(3)? as i64,
        _ => return Err(format!("fractional seconds precision {fsp}")),
    })
}

/// TIME2: 3 bytes big-endian `0x800000 + HMS` (hours 10 bits, minutes and
/// seconds 6 each) then the fraction; negative values store the fraction as
/// its complement and borrow one second from the integer part. Converted
/// through MySQL's packed form `(int_part << 24) + frac_micros`.
fn time2(r: &mut Reader<'_>, fsp: u8) -> Result<Time, String> {
    const INT_OFS: i64 = 0x80_0000;
    let packed: i64 = match fsp {
        0 => (r.be(3)? as i64 - INT_OFS) << 24,
        1 | 2 => {
            let mut int = r.be(3)? as i64 - INT_OFS;
            let mut frac = r.be(1)? as i64;
            if int < 0 && frac != 0 {
                int += 1;
                frac -= 0x100;
            }
            (int << 24) + frac * 10_000
        }
        3 | 4 => {
            let mut int = r.be(3)? as i64 - INT_OFS;
            let mut frac = r.be(2)? as i64;
            if int < 0 && frac != 0 {
                int += 1;
                frac -= 0x1_0000;
            }
            (int << 24) + frac * 100
        }
        5 | 6 => r.be(6)? as i64 - 0x8000_0000_0000,
        _ => return Err(format!("fractional seconds precision {fsp}")),
    };
    let neg = packed < 0;
    let t = packed.unsigned_abs();
    let hms = t >> 24;
    let frac = t % (1 << 24);
    let (h, m, s) = ((hms >> 12) % (1 << 10), (hms >> 6) % 64, hms % 64);
    if m > 59 || s > 59 || frac > 999_999 {
        return Err(format!("TIME packed value {packed} is not a time"));
    }
    let micros = ((h * 3600 + m * 60 + s) * 1_000_000 + frac) as i64;
    Time::from_micros(if neg { -micros } else { micros }).map_err(|e| e.to_string())
}

/// DATETIME2: 5 bytes big-endian `0x8000000000 + packed` where packed is
/// `((year * 13 + month) << 5 | day) << 17 | hour << 12 | minute << 6 | second`,
/// then the fraction.
fn datetime2(r: &mut Reader<'_>, fsp: u8) -> Result<DateTime, String> {
    let int = r.be(5)? as i64 - 0x80_0000_0000;
    let frac = fraction(r, fsp)?;
    if int < 0 {
        return Err(format!("negative DATETIME packed value {int}"));
    }
    let v = int as u64;
    let ymd = v >> 17;
    let ym = ymd >> 5;
    let hms = v % (1 << 17);
    let date = Date::new((ym / 13) as i32, (ym % 13) as u8, (ymd % 32) as u8)
        .map_err(|e| e.to_string())?;
    let (h, m, s) = (hms >> 12, (hms >> 6) % 64, hms % 64);
    if h > 23 || m > 59 || s > 59 || frac > 999_999 {
        return Err(format!(
            "DATETIME time part {h}:{m}:{s}.{frac} is out of range"
        ));
    }
    DateTime::new(date, ((h * 3600 + m * 60 + s) * 1_000_000) as i64 + frac)
        .map_err(|e| e.to_string())
}

/// TIMESTAMP: seconds since the epoch and µs; 0 and 0 is the zero timestamp.
fn timestamp(secs: u64, frac: i64) -> Result<DateTime, String> {
    if secs == 0 && frac == 0 {
        return DateTime::new(Date::ZERO, 0).map_err(|e| e.to_string());
    }
    if frac > 999_999 {
        return Err(format!("TIMESTAMP fraction {frac} µs is out of range"));
    }
    DateTime::from_unix_micros(secs as i64 * 1_000_000 + frac).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitvec::prelude::*;

    fn col(ty: MyType) -> MyColumn {
        MyColumn {
            name: "c".into(),
            ty,
            unsigned: false,
            charset: Charset::Binary,
            nullable: true,
            json_text: false,
            source_type: String::new(),
        }
    }

    /// Decodes one value of `c` from a single-column WRITE row.
    fn one(c: &MyColumn, bytes: &[u8]) -> Result<Value, SourceError> {
        let mut data = vec![0u8];
        data.extend_from_slice(bytes);
        let rows = decode_rows(
            "d.t",
            std::slice::from_ref(c),
            RowsKind::Write,
            None,
            None,
            &data,
        )?;
        assert_eq!(rows.len(), 1);
        Ok(rows[0].after.as_ref().unwrap()[0].clone())
    }

    fn dec(s: &str) -> Value {
        Value::Decimal(s.parse().unwrap())
    }

    /// MySQL's decimal2bin for test input: digits as text.
    fn enc_decimal(neg: bool, int: &str, frac: &str, precision: usize, scale: usize) -> Vec<u8> {
        let intg = precision - scale;
        let int = format!("{int:0>intg$}");
        let frac = format!("{frac:0<scale$}");
        let mut out = Vec::new();
        let mut push = |digits: &str| {
            if digits.is_empty() {
                return;
            }
            let v: u64 = digits.parse().unwrap();
            let n = DIG2BYTES[digits.len()];
            out.extend_from_slice(&v.to_be_bytes()[8 - n..]);
        };
        let lead = intg % 9;
        push(&int[..lead]);
        for g in int.as_bytes()[lead..].chunks(9) {
            push(std::str::from_utf8(g).unwrap());
        }
        let full = scale / 9 * 9;
        for g in frac.as_bytes()[..full].chunks(9) {
            push(std::str::from_utf8(g).unwrap());
        }
        push(&frac[full..]);
        out[0] ^= 0x80;
        if neg {
            for b in &mut out {
                *b ^= 0xFF;
            }
        }
        out
    }

    #[test]
    fn decimals() {
        let c52 = col(MyType::Decimal {
            precision: 5,
            scale: 2,
        });
        // 0.50: int "000" -> 2 bytes, frac "50" -> 1 byte.
        assert_eq!(one(&c52, &[0x80, 0x00, 0x32]).unwrap(), dec("0.50"));
        assert_eq!(
            one(&c52, &enc_decimal(true, "0", "5", 5, 2)).unwrap(),
            dec("-0.50")
        );
        assert_eq!(
            one(&c52, &enc_decimal(true, "0", "5", 5, 2)).unwrap(),
            Value::Decimal("-0.50".parse().unwrap())
        );
        // Negative zero never appears.
        let v = one(&c52, &enc_decimal(true, "0", "0", 5, 2)).unwrap();
        let Value::Decimal(d) = v else { panic!() };
        assert_eq!(d.as_str(), "0.00");
        assert_eq!(
            one(&c52, &enc_decimal(false, "999", "99", 5, 2)).unwrap(),
            dec("999.99")
        );
        assert_eq!(
            one(&c52, &enc_decimal(true, "999", "99", 5, 2)).unwrap(),
            dec("-999.99")
        );
        // The MySQL manual's example: DECIMAL(14,4) 1234567890.1234.
        let c144 = col(MyType::Decimal {
            precision: 14,
            scale: 4,
        });
        assert_eq!(
            one(&c144, &[0x81, 0x0D, 0xFB, 0x38, 0xD2, 0x04, 0xD2]).unwrap(),
            dec("1234567890.1234")
        );
        assert_eq!(
            one(&c144, &[0x7E, 0xF2, 0x04, 0xC7, 0x2D, 0xFB, 0x2D]).unwrap(),
            dec("-1234567890.1234")
        );
        let c6530 = col(MyType::Decimal {
            precision: 65,
            scale: 30,
        });
        let int = "9".repeat(35);
        let frac = "9".repeat(30);
        assert_eq!(
            one(&c6530, &enc_decimal(true, &int, &frac, 65, 30)).unwrap(),
            dec(&format!("-{int}.{frac}"))
        );
        assert_eq!(
            one(
                &c6530,
                &enc_decimal(false, "1", "000000000000000000000000000001", 65, 30)
            )
            .unwrap(),
            dec("1.000000000000000000000000000001")
        );
        assert_eq!(
            one(&c6530, &enc_decimal(false, "0", "0", 65, 30)).unwrap(),
            dec(&format!("0.{}", "0".repeat(30)))
        );
        let c100 = col(MyType::Decimal {
            precision: 10,
            scale: 0,
        });
        assert_eq!(
            one(&c100, &enc_decimal(true, "42", "", 10, 0)).unwrap(),
            dec("-42")
        );
        // A digit group beyond 999999999 is corrupt.
        assert!(one(&c100, &[0x80, 0xFF, 0xFF, 0xFF, 0xFF]).is_err());
        // Truncated.
        assert!(one(&c144, &[0x81, 0x0D]).is_err());
    }

    #[test]
    fn integers() {
        let mut u = col(MyType::BigInt);
        u.unsigned = true;
        assert_eq!(one(&u, &[0xFF; 8]).unwrap(), Value::UInt(u64::MAX));
        assert_eq!(
            one(&col(MyType::BigInt), &[0xFF; 8]).unwrap(),
            Value::Int(-1)
        );
        assert_eq!(
            one(&col(MyType::BigInt), &i64::MIN.to_le_bytes()).unwrap(),
            Value::Int(i64::MIN)
        );
        assert_eq!(
            one(&col(MyType::TinyInt), &[0x80]).unwrap(),
            Value::Int(-128)
        );
        let mut ut = col(MyType::TinyInt);
        ut.unsigned = true;
        assert_eq!(one(&ut, &[0xFF]).unwrap(), Value::UInt(255));
        assert_eq!(
            one(&col(MyType::SmallInt), &[0x00, 0x80]).unwrap(),
            Value::Int(-32768)
        );
        assert_eq!(
            one(&col(MyType::MediumInt), &[0x00, 0x00, 0x80]).unwrap(),
            Value::Int(-8_388_608)
        );
        assert_eq!(
            one(&col(MyType::MediumInt), &[0xFF, 0xFF, 0x7F]).unwrap(),
            Value::Int(8_388_607)
        );
        let mut um = col(MyType::MediumInt);
        um.unsigned = true;
        assert_eq!(
            one(&um, &[0xFF, 0xFF, 0xFF]).unwrap(),
            Value::UInt(16_777_215)
        );
        assert_eq!(
            one(&col(MyType::Int), &(-2_147_483_648i32).to_le_bytes()).unwrap(),
            Value::Int(-2_147_483_648)
        );
        assert_eq!(one(&col(MyType::Year), &[0]).unwrap(), Value::Int(0));
        assert_eq!(one(&col(MyType::Year), &[255]).unwrap(), Value::Int(2155));
        assert_eq!(one(&col(MyType::Year), &[124]).unwrap(), Value::Int(2024));
        assert_eq!(
            one(&col(MyType::Float), &1.5f32.to_le_bytes()).unwrap(),
            Value::Float32(1.5)
        );
        assert_eq!(
            one(&col(MyType::Double), &(-2.25f64).to_le_bytes()).unwrap(),
            Value::Float64(-2.25)
        );
        assert!(one(&col(MyType::Int), &[1, 2, 3]).is_err());
    }

    #[test]
    fn bits() {
        let b10 = col(MyType::Bit { bits: 10 });
        // b'1000000001' = 513 = 0x0201, stored big-endian.
        assert_eq!(
            one(&b10, &[0x02, 0x01]).unwrap(),
            Value::Bits("1000000001".parse().unwrap())
        );
        assert_eq!(
            one(&col(MyType::Bit { bits: 1 }), &[1]).unwrap(),
            Value::Bits("1".parse().unwrap())
        );
        assert_eq!(
            one(&col(MyType::Bit { bits: 64 }), &[0x80, 0, 0, 0, 0, 0, 0, 1]).unwrap(),
            Value::Bits(format!("1{}1", "0".repeat(62)).parse().unwrap())
        );
    }

    fn text_col(ty: MyType, cs: Charset) -> MyColumn {
        let mut c = col(ty);
        c.charset = cs;
        c
    }

    #[test]
    fn strings() {
        let l1 = text_col(MyType::VarChar { max_bytes: 10 }, Charset::Latin1);
        assert_eq!(
            one(&l1, &[2, 0x80, 0xE9]).unwrap(),
            Value::Text("€é".into())
        );
        let u = text_col(MyType::VarChar { max_bytes: 400 }, Charset::Utf8);
        let s = "é😀";
        let mut b = (s.len() as u16).to_le_bytes().to_vec();
        b.extend_from_slice(s.as_bytes());
        assert_eq!(one(&u, &b).unwrap(), Value::Text(s.into()));
        let e = one(&u, &[1, 0, 0xE9]).unwrap_err();
        assert!(
            e.message.contains("UTF-8") && e.message.contains("d.t, column c"),
            "{e}"
        );
        let other = text_col(MyType::VarChar { max_bytes: 10 }, Charset::Other(28));
        assert!(
            one(&other, &[1, b'x'])
                .unwrap_err()
                .message
                .contains("utf8mb4")
        );
        // BINARY(4): trailing zeros come back.
        let bin = col(MyType::Char { max_bytes: 4 });
        assert_eq!(
            one(&bin, &[2, 0x61, 0x00]).unwrap(),
            Value::Bytes(vec![0x61, 0, 0, 0])
        );
        // CHAR(300) utf8mb4 (1200 bytes): two length bytes.
        let ch = text_col(MyType::Char { max_bytes: 1200 }, Charset::Utf8);
        assert_eq!(
            one(&ch, &[2, 0, b'h', b'i']).unwrap(),
            Value::Text("hi".into())
        );
        let blob = col(MyType::Blob { len_bytes: 2 });
        assert_eq!(
            one(&blob, &[3, 0, 1, 2, 3]).unwrap(),
            Value::Bytes(vec![1, 2, 3])
        );
        let mut j = text_col(MyType::Blob { len_bytes: 4 }, Charset::Utf8);
        j.json_text = true;
        assert_eq!(
            one(&j, &[7, 0, 0, 0, b'{', b'"', b'a', b'"', b':', b'1', b'}']).unwrap(),
            Value::Json("{\"a\":1}".into())
        );
        let g = col(MyType::Geometry { len_bytes: 4 });
        assert_eq!(
            one(&g, &[2, 0, 0, 0, 9, 8]).unwrap(),
            Value::Bytes(vec![9, 8])
        );
        // Length beyond the data.
        assert!(one(&blob, &[9, 0, 1]).is_err());
        assert!(
            one(
                &col(MyType::Blob { len_bytes: 4 }),
                &[0xFF, 0xFF, 0xFF, 0xFF]
            )
            .is_err()
        );
    }

    #[test]
    fn enums_and_sets() {
        let e = text_col(
            MyType::Enum {
                pack_len: 1,
                labels: vec!["a".into(), "b".into()],
            },
            Charset::Utf8,
        );
        assert_eq!(one(&e, &[2]).unwrap(), Value::Enum("b".into()));
        assert_eq!(one(&e, &[0]).unwrap(), Value::Enum(String::new()));
        assert!(one(&e, &[3]).is_err());
        let s = text_col(
            MyType::Set {
                pack_len: 1,
                members: vec!["x".into(), "y".into(), "z".into()],
            },
            Charset::Utf8,
        );
        assert_eq!(
            one(&s, &[0b101]).unwrap(),
            Value::Set(vec!["x".into(), "z".into()])
        );
        assert_eq!(one(&s, &[0]).unwrap(), Value::Set(vec![]));
        assert!(one(&s, &[0b1000]).is_err());
        let unknown = text_col(
            MyType::Enum {
                pack_len: 2,
                labels: vec![],
            },
            Charset::Utf8,
        );
        let err = one(&unknown, &[1, 0]).unwrap_err();
        assert!(
            err.message
                .contains("ENUM/SET labels of d.t.c are unknown: set binlog_row_metadata=FULL"),
            "{err}"
        );
    }

    fn dt(s: &str) -> DateTime {
        s.parse().unwrap()
    }

    /// MySQL's my_time_packed_to_binary, for test input.
    fn enc_time2(micros: i64, fsp: u8) -> Vec<u8> {
        let neg = micros < 0;
        let a = micros.unsigned_abs() as i64;
        let secs = a / 1_000_000;
        let frac = a % 1_000_000;
        let hms = ((secs / 3600) << 12) | (((secs / 60) % 60) << 6) | (secs % 60);
        let mut nr = (hms << 24) + frac;
        if neg {
            nr = -nr;
        }
        let int_part = nr >> 24;
        let frac_part = nr % (1 << 24); // C remainder: sign of nr
        let mut out = ((0x80_0000 + int_part) as u32).to_be_bytes()[1..].to_vec();
        match fsp {
            0 => {}
            1 | 2 => out.push((frac_part / 10_000) as i8 as u8),
            3 | 4 => out.extend_from_slice(&((frac_part / 100) as i16).to_be_bytes()),
            _ => return ((nr + 0x8000_0000_0000) as u64).to_be_bytes()[2..].to_vec(),
        }
        out
    }

    #[test]
    fn times() {
        let us = |h: i64, m: i64, s: i64, f: i64| ((h * 3600 + m * 60 + s) * 1_000_000) + f;
        for fsp in 0..=6u8 {
            let c = col(MyType::Time { fsp });
            let step = 10i64.pow(6 - u32::from(fsp));
            for micros in [
                0,
                us(838, 59, 59, 0),
                -us(838, 59, 59, 0),
                us(12, 34, 56, 999_999 / step * step),
                -us(12, 34, 56, 999_999 / step * step),
                -(500_000 / step * step),
                -us(0, 0, 1, 0),
                -us(1, 0, 0, step),
            ] {
                assert_eq!(
                    one(&c, &enc_time2(micros, fsp)).unwrap(),
                    Value::Time(Time::from_micros(micros).unwrap()),
                    "fsp {fsp}, {micros} µs"
                );
            }
        }
        // Hand-checked bytes: TIME(1) '-00:00:00.5' is 7F FF FF CE.
        assert_eq!(
            one(&col(MyType::Time { fsp: 1 }), &[0x7F, 0xFF, 0xFF, 0xCE]).unwrap(),
            Value::Time(Time::from_micros(-500_000).unwrap())
        );
        // TIME(0) '-838:59:59': 0x800000 - (838 << 12 | 59 << 6 | 59).
        let v = 0x80_0000 - ((838 << 12) | (59 << 6) | 59);
        assert_eq!(
            one(
                &col(MyType::Time { fsp: 0 }),
                &(v as u32).to_be_bytes()[1..]
            )
            .unwrap(),
            Value::Time("-838:59:59".parse().unwrap())
        );
        // Legacy TIME: -123456 = -12:34:56.
        assert_eq!(
            one(&col(MyType::LegacyTime), &(-123456i32).to_le_bytes()[..3]).unwrap(),
            Value::Time("-12:34:56".parse().unwrap())
        );
        assert!(one(&col(MyType::Time { fsp: 6 }), &[0x80, 0, 0, 0]).is_err());
    }

    fn enc_datetime2(y: u64, mo: u64, d: u64, h: u64, mi: u64, s: u64) -> Vec<u8> {
        let ymd = ((y * 13 + mo) << 5) | d;
        let v = (ymd << 17) | (h << 12) | (mi << 6) | s;
        (v + 0x80_0000_0000).to_be_bytes()[3..].to_vec()
    }

    #[test]
    fn dates_and_datetimes() {
        let d = col(MyType::Date);
        let enc = |y: u32, m: u32, dd: u32| ((y << 9) | (m << 5) | dd).to_le_bytes()[..3].to_vec();
        assert_eq!(
            one(&d, &enc(2024, 2, 29)).unwrap(),
            Value::Date(Date::new(2024, 2, 29).unwrap())
        );
        assert_eq!(one(&d, &[0, 0, 0]).unwrap(), Value::Date(Date::ZERO));
        assert_eq!(
            one(&d, &enc(2024, 0, 15)).unwrap(),
            Value::Date(Date::new(2024, 0, 15).unwrap())
        );
        let c0 = col(MyType::DateTime { fsp: 0 });
        assert_eq!(
            one(&c0, &enc_datetime2(9999, 12, 31, 23, 59, 59)).unwrap(),
            Value::Timestamp(dt("9999-12-31T23:59:59"))
        );
        assert_eq!(
            one(&c0, &enc_datetime2(0, 0, 0, 0, 0, 0)).unwrap(),
            Value::Timestamp(DateTime::new(Date::ZERO, 0).unwrap())
        );
        let c6 = col(MyType::DateTime { fsp: 6 });
        let mut b = enc_datetime2(1000, 1, 1, 0, 0, 0);
        b.extend_from_slice(&[0x0F, 0x42, 0x3F]); // 999999
        assert_eq!(
            one(&c6, &b).unwrap(),
            Value::Timestamp(dt("1000-01-01T00:00:00.999999"))
        );
        let c3 = col(MyType::DateTime { fsp: 3 });
        let mut b = enc_datetime2(2020, 5, 6, 7, 8, 9);
        b.extend_from_slice(&1230u16.to_be_bytes()); // .123 stored as 1230 (×100 µs)
        assert_eq!(
            one(&c3, &b).unwrap(),
            Value::Timestamp(dt("2020-05-06T07:08:09.123000"))
        );
        assert_eq!(
            one(
                &col(MyType::LegacyDateTime),
                &20_240_229_235_958_u64.to_le_bytes()
            )
            .unwrap(),
            Value::Timestamp(dt("2024-02-29T23:59:58"))
        );
        assert_eq!(
            one(&col(MyType::LegacyDateTime), &0u64.to_le_bytes()).unwrap(),
            Value::Timestamp(DateTime::new(Date::ZERO, 0).unwrap())
        );
        assert!(one(&c6, &[0x80, 0, 0]).is_err());
    }

    #[test]
    fn timestamps() {
        let t3 = col(MyType::Timestamp { fsp: 3 });
        let mut b = 1_700_000_000u32.to_be_bytes().to_vec();
        b.extend_from_slice(&4560u16.to_be_bytes());
        assert_eq!(
            one(&t3, &b).unwrap(),
            Value::TimestampTz(DateTime::from_unix_micros(1_700_000_000_456_000).unwrap())
        );
        assert_eq!(
            one(&t3, &[0, 0, 0, 0, 0, 0]).unwrap(),
            Value::TimestampTz(DateTime::new(Date::ZERO, 0).unwrap())
        );
        assert_eq!(
            one(&col(MyType::LegacyTimestamp), &1u32.to_le_bytes()).unwrap(),
            Value::TimestampTz(dt("1970-01-01T00:00:01"))
        );
        assert_eq!(
            one(
                &col(MyType::Timestamp { fsp: 0 }),
                &0x7FFF_FFFFu32.to_be_bytes()
            )
            .unwrap(),
            Value::TimestampTz(dt("2038-01-19T03:14:07"))
        );
    }

    #[test]
    fn binary_json() {
        let j = col(MyType::Json);
        // {"a": [1, true, "x"]} in MySQL's binary JSON, built by hand.
        let mut arr = vec![];
        // small array: count u16, size u16, 3 entries (type u8 + u16 inline/offset)
        let header = 4 + 3 * 3;
        let string_off = header as u16;
        arr.extend_from_slice(&3u16.to_le_bytes());
        let size = header as u16 + 2;
        arr.extend_from_slice(&size.to_le_bytes());
        arr.extend_from_slice(&[0x05]); // int16 inline
        arr.extend_from_slice(&1i16.to_le_bytes());
        arr.extend_from_slice(&[0x04]); // literal inline
        arr.extend_from_slice(&[0x01, 0x00]); // true
        arr.extend_from_slice(&[0x0C]); // string at offset
        arr.extend_from_slice(&string_off.to_le_bytes());
        arr.extend_from_slice(&[1, b'x']);
        assert_eq!(arr.len(), size as usize);
        // small object: count, size, key entry (off u16, len u16), value entry
        // (type u8, off u16), key, value.
        let key_off = 4 + 4 + 3;
        let val_off = key_off + 1;
        let obj_size = val_off + arr.len();
        let mut obj = vec![];
        obj.extend_from_slice(&1u16.to_le_bytes());
        obj.extend_from_slice(&(obj_size as u16).to_le_bytes());
        obj.extend_from_slice(&(key_off as u16).to_le_bytes());
        obj.extend_from_slice(&1u16.to_le_bytes());
        obj.push(0x02); // small array
        obj.extend_from_slice(&(val_off as u16).to_le_bytes());
        obj.push(b'a');
        obj.extend_from_slice(&arr);
        let mut doc = vec![0x00]; // small object
        doc.extend_from_slice(&obj);
        let mut b = (doc.len() as u32).to_le_bytes().to_vec();
        b.extend_from_slice(&doc);
        assert_eq!(
            one(&j, &b).unwrap(),
            Value::Json(r#"{"a":[1,true,"x"]}"#.into())
        );
        // A scalar string document and an empty value (JSON null).
        assert_eq!(
            one(&j, &[3, 0, 0, 0, 0x0C, 1, b'q']).unwrap(),
            Value::Json("\"q\"".into())
        );
        assert_eq!(one(&j, &[0, 0, 0, 0]).unwrap(), Value::Json("null".into()));
        assert!(one(&j, &[2, 0, 0, 0, 0x42, 0]).is_err());
    }

    #[test]
    fn images_bitmaps_and_nulls() {
        let cols = vec![
            col(MyType::TinyInt),
            col(MyType::TinyInt),
            col(MyType::TinyInt),
        ];
        // UPDATE: before has all 3 columns (second NULL), after only column 0.
        let before = bitvec![u8, Lsb0; 1, 1, 1];
        let after = bitvec![u8, Lsb0; 1, 0, 0];
        let data = [0b010, 1, 3, 0b0, 9];
        let rows = decode_rows(
            "d.t",
            &cols,
            RowsKind::Update,
            Some(&before),
            Some(&after),
            &data,
        )
        .unwrap();
        assert_eq!(
            rows,
            vec![RowImage {
                before: Some(vec![Value::Int(1), Value::Null, Value::Int(3)]),
                after: Some(vec![Value::Int(9), Value::Absent, Value::Absent]),
            }]
        );
        // Two DELETE rows.
        let rows = decode_rows(
            "d.t",
            &cols,
            RowsKind::Delete,
            Some(&before),
            None,
            &[0, 1, 2, 3, 0b111],
        )
        .unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].before, Some(vec![Value::Null; 3]));
        // Truncated: the second row's values are missing.
        let e = decode_rows(
            "d.t",
            &cols,
            RowsKind::Delete,
            None,
            None,
            &[0, 1, 2, 3, 0, 1],
        )
        .unwrap_err();
        assert!(
            e.message.contains("d.t, column c") && e.message.contains("byte"),
            "{e}"
        );
        // Bitmap width mismatch.
        let short = bitvec![u8, Lsb0; 1, 1];
        assert!(decode_rows("d.t", &cols, RowsKind::Write, None, Some(&short), &[0]).is_err());
        let e = RowsKind::from_event_type(EventType::PARTIAL_UPDATE_ROWS_EVENT, "d.t").unwrap_err();
        assert!(e.message.contains("binlog_row_value_options=''"), "{e}");
        assert_eq!(
            RowsKind::from_event_type(EventType::UPDATE_ROWS_EVENT_V1, "d.t"),
            Ok(Some(RowsKind::Update))
        );
        assert_eq!(
            RowsKind::from_event_type(EventType::QUERY_EVENT, "d.t"),
            Ok(None)
        );
        // No input ever panics: every prefix of a valid row is an error or a
        // shorter decode.
        let wide = vec![
            col(MyType::Decimal {
                precision: 65,
                scale: 30,
            }),
            col(MyType::Time { fsp: 6 }),
            col(MyType::Blob { len_bytes: 4 }),
        ];
        let mut row = vec![0u8];
        row.extend(enc_decimal(false, "1", "1", 65, 30));
        row.extend(enc_time2(1, 6));
        row.extend([1, 0, 0, 0, 7]);
        decode_rows("d.t", &wide, RowsKind::Write, None, None, &row).unwrap();
        for n in 1..row.len() {
            assert!(decode_rows("d.t", &wide, RowsKind::Write, None, None, &row[..n]).is_err());
        }
    }
}
