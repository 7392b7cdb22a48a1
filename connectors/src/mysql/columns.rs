//! The column model shared by everything that reads MySQL/MariaDB rows: the
//! binlog decoder, the information_schema catalog and the snapshot reader.
//!
//! Invariants:
//! - A [`MyColumn`] says how a column's bytes are *stored* ([`MyType`], the
//!   binlog's view after unpacking the table map's metadata) and how its
//!   values are *typed* in the row log ([`MyColumn::kind`]). Every source of
//!   rows (binlog, snapshot) goes through the same column, so a snapshot row
//!   and a streamed row of the same data are equal values.
//! - Nothing is lossy: unsigned integers stay unsigned, decimals stay exact
//!   text, character data is transcoded to UTF-8 from its declared charset
//!   and binary data stays bytes.

use rowlog_schemas::value::ValueKind;
use rowlog_schemas::{ColumnSchema, TableId, TableSchema};
use serde::{Deserialize, Serialize};

use crate::error::SourceError;

/// How a column is stored (MySQL 5.6+ temporal formats; the pre-5.6 formats
/// are the `Legacy*` variants, still written by MariaDB for tables created
/// with `mysql56_temporal_format=OFF`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MyType {
    /// TINYINT (1 byte).
    TinyInt,
    /// SMALLINT (2 bytes).
    SmallInt,
    /// MEDIUMINT (3 bytes).
    MediumInt,
    /// INT (4 bytes).
    Int,
    /// BIGINT (8 bytes).
    BigInt,
    /// DECIMAL(precision, scale) in the binary packed format.
    Decimal {
        /// Total digits (1..=65).
        precision: u8,
        /// Digits after the point (0..=38).
        scale: u8,
    },
    /// FLOAT (4 bytes).
    Float,
    /// DOUBLE (8 bytes).
    Double,
    /// BIT(bits).
    Bit {
        /// Width, 1..=64.
        bits: u16,
    },
    /// YEAR (1 byte, 0 = 0000, else 1900 + n).
    Year,
    /// DATE (3 bytes).
    Date,
    /// TIME(fsp), TIME2 format.
    Time {
        /// Fractional seconds digits, 0..=6.
        fsp: u8,
    },
    /// DATETIME(fsp), DATETIME2 format.
    DateTime {
        /// Fractional seconds digits, 0..=6.
        fsp: u8,
    },
    /// TIMESTAMP(fsp), TIMESTAMP2 format (seconds since the epoch, UTC).
    Timestamp {
        /// Fractional seconds digits, 0..=6.
        fsp: u8,
    },
    /// Pre-5.6 TIME (3 bytes, HHMMSS as a signed number).
    LegacyTime,
    /// Pre-5.6 DATETIME (8 bytes, YYYYMMDDHHMMSS).
    LegacyDateTime,
    /// Pre-5.6 TIMESTAMP (4 bytes, seconds since the epoch).
    LegacyTimestamp,
    /// CHAR(n) / BINARY(n): at most `max_bytes` bytes.
    Char {
        /// Byte length of the column (characters × the charset's max bytes).
        max_bytes: u32,
    },
    /// VARCHAR(n) / VARBINARY(n).
    VarChar {
        /// Byte length limit; 1 length byte if < 256, else 2.
        max_bytes: u32,
    },
    /// TINY/-/MEDIUM/LONG BLOB or TEXT: `len_bytes` little-endian length prefix.
    Blob {
        /// 1, 2, 3 or 4.
        len_bytes: u8,
    },
    /// MySQL's binary JSON (MariaDB's JSON is a LONGTEXT, a [`MyType::Blob`]).
    Json,
    /// ENUM: stored as the 1-based index in `pack_len` bytes.
    Enum {
        /// 1 or 2.
        pack_len: u8,
        /// The labels in declaration order (may be empty when only the
        /// binlog's minimal metadata is known; see [`MyColumn::labels_known`]).
        labels: Vec<String>,
    },
    /// SET: stored as a bitmask in `pack_len` bytes.
    Set {
        /// 1..=8.
        pack_len: u8,
        /// The members in declaration order (may be empty, as for enums).
        members: Vec<String>,
    },
    /// GEOMETRY and its subtypes: 4-byte SRID + WKB, behind a blob length.
    Geometry {
        /// Length prefix bytes (4 on every current server).
        len_bytes: u8,
    },
}

/// Character set of a character column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Charset {
    /// Bytes, not characters (BINARY, VARBINARY, BLOB, BIT-like data).
    Binary,
    /// utf8mb4 / utf8mb3 / ascii: already valid UTF-8.
    Utf8,
    /// MySQL's latin1, which is Windows-1252.
    Latin1,
    /// Anything else, by collation id; decoding it is an error that names the
    /// column and the way out (convert the column to utf8mb4).
    Other(u16),
}

impl Charset {
    /// The charset of a collation id (as the table map's metadata and
    /// `information_schema.COLLATIONS.ID` give it).
    pub fn from_collation_id(id: u16) -> Charset {
        match id {
            63 => Charset::Binary,
            5 | 8 | 15 | 31 | 47 | 48 | 49 | 94 => Charset::Latin1,
            // ascii_general_ci, ascii_bin
            11 | 65 => Charset::Utf8,
            // utf8mb3: 33, 83, 192..=215, 223; utf8mb4: 45, 46, 224..=247,
            // 255..=323 (MySQL 8); MariaDB's uca1400 collations are >= 2048.
            33
            | 45
            | 46
            | 76
            | 83
            | 192..=215
            | 223..=247
            | 255..=323
            | 576..=577
            | 608..=609
            | 2048..=4095 => Charset::Utf8,
            other => Charset::Other(other),
        }
    }

    /// Transcodes a column's stored bytes to UTF-8. `Utf8` must already be
    /// valid UTF-8; `Latin1` is MySQL's latin1, i.e. Windows-1252 with the
    /// five holes (0x81, 0x8D, 0x8F, 0x90, 0x9D) mapped to the C1 controls of
    /// the same number, so every byte decodes. `Binary` and `Other` are
    /// errors (binary data is not text; other charsets are not supported):
    /// the message says what is wrong, the caller adds the column.
    pub fn decode(&self, bytes: &[u8]) -> Result<String, String> {
        match self {
            Charset::Utf8 => match std::str::from_utf8(bytes) {
                Ok(s) => Ok(s.to_owned()),
                Err(e) => Err(format!(
                    "the bytes are not valid UTF-8 ({e}); the column's charset says UTF-8"
                )),
            },
            Charset::Latin1 => Ok(bytes.iter().map(|&b| latin1_char(b)).collect()),
            Charset::Binary => {
                Err("binary data is not text (the column has the binary charset)".into())
            }
            Charset::Other(0) => Err(
                "the character set is unknown (the binlog carries no charset metadata and no \
                 catalog supplied it, or the catalog names a charset rowlog does not decode): \
                 set binlog_row_metadata=FULL, or convert the column to utf8mb4"
                    .into(),
            ),
            Charset::Other(id) => Err(format!(
                "collation id {id} uses a character set rowlog does not decode; convert the \
                 column to utf8mb4 (ALTER TABLE ... CONVERT TO CHARACTER SET utf8mb4)"
            )),
        }
    }

    /// The charset of a `CHARACTER_SET_NAME` from information_schema.
    pub fn from_name(name: &str) -> Charset {
        match name {
            "binary" => Charset::Binary,
            "utf8mb4" | "utf8mb3" | "utf8" | "ascii" => Charset::Utf8,
            "latin1" => Charset::Latin1,
            _ => Charset::Other(0),
        }
    }
}

/// Windows-1252 for 0x80..=0x9F (MySQL's latin1); the rest is ISO 8859-1.
const CP1252_HIGH: [char; 32] = [
    '\u{20AC}', '\u{0081}', '\u{201A}', '\u{0192}', '\u{201E}', '\u{2026}', '\u{2020}', '\u{2021}',
    '\u{02C6}', '\u{2030}', '\u{0160}', '\u{2039}', '\u{0152}', '\u{008D}', '\u{017D}', '\u{008F}',
    '\u{0090}', '\u{2018}', '\u{2019}', '\u{201C}', '\u{201D}', '\u{2022}', '\u{2013}', '\u{2014}',
    '\u{02DC}', '\u{2122}', '\u{0161}', '\u{203A}', '\u{0153}', '\u{009D}', '\u{017E}', '\u{0178}',
];

fn latin1_char(b: u8) -> char {
    match b {
        0x80..=0x9F => CP1252_HIGH[usize::from(b - 0x80)],
        _ => char::from(b),
    }
}

/// One column of a captured table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MyColumn {
    /// Column name (`@N`, 1-based, when neither the binlog nor the catalog
    /// told it, which is refused before any row is emitted).
    pub name: String,
    /// Storage type.
    pub ty: MyType,
    /// UNSIGNED (integers; DECIMAL/FLOAT/DOUBLE UNSIGNED store the same bytes).
    pub unsigned: bool,
    /// Character set of CHAR/VARCHAR/TEXT/ENUM/SET; `Binary` for the rest.
    pub charset: Charset,
    /// Whether NULL is allowed.
    pub nullable: bool,
    /// MariaDB's JSON alias: a LONGTEXT with a `json_valid()` check. Its
    /// values are typed `json`, not `text`.
    pub json_text: bool,
    /// The declared type as `SHOW CREATE TABLE` spells it, e.g.
    /// `decimal(65,30)`, `bigint(20) unsigned`, `enum('a','b')`.
    pub source_type: String,
}

impl MyColumn {
    /// The kind of this column's values in the row log.
    pub fn kind(&self) -> ValueKind {
        match &self.ty {
            MyType::TinyInt
            | MyType::SmallInt
            | MyType::MediumInt
            | MyType::Int
            | MyType::BigInt => {
                if self.unsigned {
                    ValueKind::UInt
                } else {
                    ValueKind::Int
                }
            }
            MyType::Year => ValueKind::Int,
            MyType::Decimal { .. } => ValueKind::Decimal,
            MyType::Float => ValueKind::Float32,
            MyType::Double => ValueKind::Float64,
            MyType::Bit { .. } => ValueKind::Bits,
            MyType::Date => ValueKind::Date,
            MyType::Time { .. } | MyType::LegacyTime => ValueKind::Time,
            MyType::DateTime { .. } | MyType::LegacyDateTime => ValueKind::Timestamp,
            MyType::Timestamp { .. } | MyType::LegacyTimestamp => ValueKind::TimestampTz,
            MyType::Char { .. } | MyType::VarChar { .. } | MyType::Blob { .. } => {
                if self.json_text {
                    ValueKind::Json
                } else if self.charset == Charset::Binary {
                    ValueKind::Bytes
                } else {
                    ValueKind::Text
                }
            }
            MyType::Json => ValueKind::Json,
            MyType::Enum { .. } => ValueKind::Enum,
            MyType::Set { .. } => ValueKind::Set,
            MyType::Geometry { .. } => ValueKind::Bytes,
        }
    }

    /// Whether ENUM labels / SET members are known (always true for other types).
    pub fn labels_known(&self) -> bool {
        match &self.ty {
            MyType::Enum { labels, .. } => !labels.is_empty(),
            MyType::Set { members, .. } => !members.is_empty(),
            _ => true,
        }
    }
}

/// A captured table's columns and key, and the row-log schema built from them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MyTable {
    /// `database.table`.
    pub id: TableId,
    /// Columns in table order.
    pub columns: Vec<MyColumn>,
    /// Key column names in key order.
    pub key: Vec<String>,
}

impl MyTable {
    /// The row-log schema of this table.
    pub fn schema(&self) -> Result<TableSchema, SourceError> {
        let columns = self
            .columns
            .iter()
            .map(|c| ColumnSchema {
                name: c.name.clone(),
                kind: c.kind(),
                source_type: c.source_type.clone(),
                nullable: c.nullable,
            })
            .collect();
        TableSchema::new(self.id.clone(), columns, self.key.clone())
            .map_err(|e| SourceError::permanent(format!("table {}: {e}", self.id)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(ty: MyType, unsigned: bool, charset: Charset) -> MyColumn {
        MyColumn {
            name: "c".into(),
            ty,
            unsigned,
            charset,
            nullable: true,
            json_text: false,
            source_type: String::new(),
        }
    }

    #[test]
    fn kinds_follow_signedness_and_charset() {
        assert_eq!(
            col(MyType::BigInt, true, Charset::Binary).kind(),
            ValueKind::UInt
        );
        assert_eq!(
            col(MyType::BigInt, false, Charset::Binary).kind(),
            ValueKind::Int
        );
        assert_eq!(
            col(MyType::VarChar { max_bytes: 10 }, false, Charset::Binary).kind(),
            ValueKind::Bytes
        );
        assert_eq!(
            col(MyType::Blob { len_bytes: 4 }, false, Charset::Latin1).kind(),
            ValueKind::Text
        );
        let mut json = col(MyType::Blob { len_bytes: 4 }, false, Charset::Utf8);
        json.json_text = true;
        assert_eq!(json.kind(), ValueKind::Json);
    }

    #[test]
    fn latin1_is_windows_1252() {
        assert_eq!(
            Charset::Latin1.decode(&[0x80, 0xE9, 0x41, 0x81, 0x9D, 0x9F]),
            Ok("\u{20AC}\u{E9}A\u{81}\u{9D}\u{178}".to_string())
        );
        assert!(Charset::Utf8.decode(&[0xE9]).is_err());
        assert_eq!(
            Charset::Utf8.decode("é😀".as_bytes()),
            Ok("é😀".to_string())
        );
        let e = Charset::Other(28).decode(b"x").unwrap_err();
        assert!(e.contains("utf8mb4"), "{e}");
    }

    #[test]
    fn collations_map_to_charsets() {
        assert_eq!(Charset::from_collation_id(63), Charset::Binary);
        assert_eq!(Charset::from_collation_id(8), Charset::Latin1);
        assert_eq!(Charset::from_collation_id(45), Charset::Utf8);
        assert_eq!(Charset::from_collation_id(255), Charset::Utf8);
        assert_eq!(Charset::from_collation_id(28), Charset::Other(28));
    }
}
