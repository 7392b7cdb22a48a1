//! Columns of a binlog TABLE_MAP event, unpacked into the shared column model.
//!
//! mysql_common frames the event ([`TableMapEvent`]); everything after that is
//! ours: we do not use its `BinlogRow`/`BinlogValue` decoding (it builds a
//! named `Column` per row and re-parses the optional metadata per row, and its
//! value conversions are not the row log's). Instead the table map is
//! unpacked once here into [`MyColumn`]s that `rows.rs` decodes against.
//!
//! Invariants:
//! - Each column's storage type is unpacked from the type code and its
//!   metadata exactly as the server packs it (`Field::save_field_metadata`):
//!   MYSQL_TYPE_STRING carries the real type (ENUM / SET / STRING) and the
//!   length, whose bits 8–9 are stored inverted in bits 4–5 of the first
//!   byte; VARCHAR a 2-byte maximum byte length; BLOB / GEOMETRY / JSON the
//!   number of length bytes; NEWDECIMAL precision and scale; BIT
//!   (bits mod 8, bytes); TIME2 / DATETIME2 / TIMESTAMP2 the fsp.
//! - The optional metadata (`binlog_row_metadata=FULL`) supplies names,
//!   signedness (one bit per *numeric* column, YEAR included, as the server
//!   writes it), charsets (one per character column: CHAR, VARCHAR, BLOB/TEXT,
//!   and on MariaDB GEOMETRY too, which MySQL leaves out: see
//!   `geometry_counts_as_character`; a separate list for ENUM/SET), ENUM/SET
//!   labels, geometry subtypes and the primary key. Without it columns are named `@1`, `@2`…,
//!   [`TableMapInfo::has_names`] is false, integers are taken as signed and
//!   character columns get `Charset::Other(0)` (decoding them is an error
//!   until a catalog supplies the charset: see [`merge_with_catalog`]).
//! - Malformed events are errors naming the table and column, never panics.

use mysql_common::binlog::events::{OptionalMetadataField, TableMapEvent};
use mysql_common::constants::GeometryType;

use super::columns::{Charset, MyColumn, MyType};
use crate::error::SourceError;

/// What a table map says about its table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableMapInfo {
    /// Columns in table order.
    pub columns: Vec<MyColumn>,
    /// Primary key column names in key order, when the optional metadata
    /// carried SIMPLE_PRIMARY_KEY or PRIMARY_KEY_WITH_PREFIX.
    pub key: Option<Vec<String>>,
    /// Whether the column names came from the binlog (FULL metadata).
    pub has_names: bool,
}

// MySQL column type codes as they appear in a table map.
const T_DECIMAL: u8 = 0;
const T_TINY: u8 = 1;
const T_SHORT: u8 = 2;
const T_LONG: u8 = 3;
const T_FLOAT: u8 = 4;
const T_DOUBLE: u8 = 5;
const T_TIMESTAMP: u8 = 7;
const T_LONGLONG: u8 = 8;
const T_INT24: u8 = 9;
const T_DATE: u8 = 10;
const T_TIME: u8 = 11;
const T_DATETIME: u8 = 12;
const T_YEAR: u8 = 13;
const T_NEWDATE: u8 = 14;
const T_VARCHAR: u8 = 15;
const T_BIT: u8 = 16;
const T_TIMESTAMP2: u8 = 17;
const T_DATETIME2: u8 = 18;
const T_TIME2: u8 = 19;
const T_JSON: u8 = 245;
const T_NEWDECIMAL: u8 = 246;
const T_ENUM: u8 = 247;
const T_SET: u8 = 248;
const T_BLOB: u8 = 252;
const T_VAR_STRING: u8 = 253;
const T_STRING: u8 = 254;
const T_GEOMETRY: u8 = 255;

/// Unpacks one column's storage type from its type code and metadata.
fn unpack_type(code: u8, meta: &[u8]) -> Result<MyType, String> {
    let m = |i: usize| {
        meta.get(i).copied().ok_or_else(|| {
            format!(
                "type code {code} needs {} metadata bytes, the table map has {}",
                i + 1,
                meta.len()
            )
        })
    };
    let fsp = |f: u8| {
        if f > 6 {
            Err(format!(
                "fractional seconds precision {f} is out of range 0..=6"
            ))
        } else {
            Ok(f)
        }
    };
    Ok(match code {
        T_TINY => MyType::TinyInt,
        T_SHORT => MyType::SmallInt,
        T_INT24 => MyType::MediumInt,
        T_LONG => MyType::Int,
        T_LONGLONG => MyType::BigInt,
        T_FLOAT => MyType::Float,
        T_DOUBLE => MyType::Double,
        T_NEWDECIMAL => {
            let (precision, scale) = (m(0)?, m(1)?);
            if !(1..=65).contains(&precision) || scale > 38 || scale > precision {
                return Err(format!("DECIMAL({precision},{scale}) is out of range"));
            }
            MyType::Decimal { precision, scale }
        }
        T_DECIMAL => {
            return Err(
                "the pre-5.0 DECIMAL format is not supported; ALTER the column to DECIMAL \
                 again to rewrite it in the current format"
                    .into(),
            );
        }
        T_BIT => {
            let bits = u16::from(m(1)?) * 8 + u16::from(m(0)?);
            if !(1..=64).contains(&bits) {
                return Err(format!("BIT({bits}) is out of range 1..=64"));
            }
            MyType::Bit { bits }
        }
        T_YEAR => MyType::Year,
        T_DATE | T_NEWDATE => MyType::Date,
        T_TIME => MyType::LegacyTime,
        T_DATETIME => MyType::LegacyDateTime,
        T_TIMESTAMP => MyType::LegacyTimestamp,
        T_TIME2 => MyType::Time { fsp: fsp(m(0)?)? },
        T_DATETIME2 => MyType::DateTime { fsp: fsp(m(0)?)? },
        T_TIMESTAMP2 => MyType::Timestamp { fsp: fsp(m(0)?)? },
        T_VARCHAR | T_VAR_STRING => MyType::VarChar {
            max_bytes: u32::from(u16::from_le_bytes([m(0)?, m(1)?])),
        },
        T_BLOB => {
            let len_bytes = m(0)?;
            if !(1..=4).contains(&len_bytes) {
                return Err(format!("a BLOB length prefix of {len_bytes} bytes"));
            }
            MyType::Blob { len_bytes }
        }
        T_GEOMETRY => {
            let len_bytes = m(0)?;
            if !(1..=4).contains(&len_bytes) {
                return Err(format!("a GEOMETRY length prefix of {len_bytes} bytes"));
            }
            MyType::Geometry { len_bytes }
        }
        T_JSON => {
            let len_bytes = m(0)?;
            if len_bytes != 4 {
                return Err(format!(
                    "a JSON length prefix of {len_bytes} bytes (expected 4)"
                ));
            }
            MyType::Json
        }
        T_STRING => {
            let (m0, m1) = (m(0)?, m(1)?);
            // Field_string::save_field_metadata: byte 0 is the real type with
            // bits 8-9 of the length stored inverted in its bits 4-5.
            let (real, len) = if m0 != 0 && (m0 & 0x30) != 0x30 {
                (
                    m0 | 0x30,
                    u32::from(m1) | (u32::from((m0 & 0x30) ^ 0x30) << 4),
                )
            } else if m0 == 0 {
                (T_STRING, u32::from(m1))
            } else {
                (m0, u32::from(m1))
            };
            match real {
                T_ENUM => match len {
                    1 | 2 => MyType::Enum {
                        pack_len: len as u8,
                        labels: Vec::new(),
                    },
                    _ => return Err(format!("an ENUM stored in {len} bytes")),
                },
                T_SET => match len {
                    1..=8 => MyType::Set {
                        pack_len: len as u8,
                        members: Vec::new(),
                    },
                    _ => return Err(format!("a SET stored in {len} bytes")),
                },
                T_STRING => MyType::Char { max_bytes: len },
                other => return Err(format!("MYSQL_TYPE_STRING with real type {other}")),
            }
        }
        other => {
            return Err(format!(
                "column type code {other} is not supported by rowlog (VECTOR and other \
                 new types cannot be captured yet); exclude the table or change the column"
            ));
        }
    })
}

/// Whether the server gives this column a signedness bit (YEAR included).
fn is_numeric_code(code: u8) -> bool {
    matches!(
        code,
        T_TINY
            | T_SHORT
            | T_INT24
            | T_LONG
            | T_LONGLONG
            | T_DECIMAL
            | T_NEWDECIMAL
            | T_FLOAT
            | T_DOUBLE
            | T_YEAR
    )
}

fn quote_labels(labels: &[String]) -> String {
    labels
        .iter()
        .map(|l| format!("'{}'", l.replace('\'', "''")))
        .collect::<Vec<_>>()
        .join(",")
}

/// The declared type as well as the binlog lets us tell it.
fn source_type(ty: &MyType, unsigned: bool, charset: Charset, geometry: Option<&str>) -> String {
    let int = |name: &str| {
        if unsigned {
            format!("{name} unsigned")
        } else {
            name.to_string()
        }
    };
    let binary = charset == Charset::Binary;
    match ty {
        MyType::TinyInt => int("tinyint"),
        MyType::SmallInt => int("smallint"),
        MyType::MediumInt => int("mediumint"),
        MyType::Int => int("int"),
        MyType::BigInt => int("bigint"),
        MyType::Decimal { precision, scale } => int(&format!("decimal({precision},{scale})")),
        MyType::Float => int("float"),
        MyType::Double => int("double"),
        MyType::Bit { bits } => format!("bit({bits})"),
        MyType::Year => "year".into(),
        MyType::Date => "date".into(),
        MyType::Time { fsp: 0 } | MyType::LegacyTime => "time".into(),
        MyType::Time { fsp } => format!("time({fsp})"),
        MyType::DateTime { fsp: 0 } | MyType::LegacyDateTime => "datetime".into(),
        MyType::DateTime { fsp } => format!("datetime({fsp})"),
        MyType::Timestamp { fsp: 0 } | MyType::LegacyTimestamp => "timestamp".into(),
        MyType::Timestamp { fsp } => format!("timestamp({fsp})"),
        MyType::Char { max_bytes } if binary => format!("binary({max_bytes})"),
        MyType::Char { max_bytes } => format!("char({max_bytes} bytes)"),
        MyType::VarChar { max_bytes } if binary => format!("varbinary({max_bytes})"),
        MyType::VarChar { max_bytes } => format!("varchar({max_bytes} bytes)"),
        MyType::Blob { len_bytes } => {
            let size = match len_bytes {
                1 => "tiny",
                2 => "",
                3 => "medium",
                _ => "long",
            };
            format!("{size}{}", if binary { "blob" } else { "text" })
        }
        MyType::Json => "json".into(),
        MyType::Enum { labels, .. } if labels.is_empty() => "enum".into(),
        MyType::Enum { labels, .. } => format!("enum({})", quote_labels(labels)),
        MyType::Set { members, .. } if members.is_empty() => "set".into(),
        MyType::Set { members, .. } => format!("set({})", quote_labels(members)),
        MyType::Geometry { .. } => geometry.unwrap_or("geometry").into(),
    }
}

fn geometry_name(g: GeometryType) -> &'static str {
    match g {
        GeometryType::GEOM_GEOMETRY => "geometry",
        GeometryType::GEOM_POINT => "point",
        GeometryType::GEOM_LINESTRING => "linestring",
        GeometryType::GEOM_POLYGON => "polygon",
        GeometryType::GEOM_MULTIPOINT => "multipoint",
        GeometryType::GEOM_MULTILINESTRING => "multilinestring",
        GeometryType::GEOM_MULTIPOLYGON => "multipolygon",
        GeometryType::GEOM_GEOMETRYCOLLECTION => "geometrycollection",
    }
}

/// Charsets of a group of columns (character columns, or ENUM/SET columns)
/// from a DEFAULT_CHARSET-style field or a per-column field.
#[derive(Default)]
struct Charsets {
    default: Option<u16>,
    /// (index within the group, collation id)
    non_default: Vec<(u64, u16)>,
    per_column: Option<Vec<u16>>,
}

impl Charsets {
    fn get(&self, group_index: usize) -> Option<u16> {
        if let Some(list) = &self.per_column {
            return list.get(group_index).copied();
        }
        let d = self.default?;
        Some(
            self.non_default
                .iter()
                .find(|(i, _)| *i == group_index as u64)
                .map_or(d, |(_, c)| *c),
        )
    }
}

/// Unpacks a table map into columns (see the module doc).
pub fn columns_from_table_map(tme: &TableMapEvent<'_>) -> Result<TableMapInfo, SourceError> {
    let table = format!("{}.{}", tme.database_name(), tme.table_name());
    let bad = |what: String| {
        SourceError::permanent(format!(
            "table {table}: bad TABLE_MAP event: {what}; the binlog is damaged or was written \
             by a server version rowlog does not know"
        ))
    };
    let n = usize::try_from(tme.columns_count()).map_err(|_| bad("too many columns".into()))?;
    let nulls = tme.null_bitmask();

    let mut codes = Vec::with_capacity(n);
    let mut columns = Vec::with_capacity(n);
    for i in 0..n {
        let code = match tme.get_raw_column_type(i) {
            Ok(Some(t)) => t as u8,
            Ok(None) => return Err(bad(format!("no type for column {}", i + 1))),
            Err(e) => {
                return Err(bad(format!(
                    "column @{}: unknown type code {}",
                    i + 1,
                    u8::from(e)
                )));
            }
        };
        let meta = tme.get_column_metadata(i).unwrap_or(&[]);
        let ty = unpack_type(code, meta).map_err(|e| {
            SourceError::permanent(format!("table {table}, column @{}: {e}", i + 1))
        })?;
        let textual = matches!(
            ty,
            MyType::Char { .. }
                | MyType::VarChar { .. }
                | MyType::Blob { .. }
                | MyType::Enum { .. }
                | MyType::Set { .. }
        );
        codes.push(code);
        columns.push(MyColumn {
            name: format!("@{}", i + 1),
            ty,
            unsigned: false,
            charset: if textual {
                Charset::Other(0)
            } else {
                Charset::Binary
            },
            nullable: nulls.get(i).is_some_and(|b| *b),
            json_text: false,
            source_type: String::new(),
        });
    }

    // Optional metadata.
    let mut signedness: Option<Vec<bool>> = None;
    let mut chars = Charsets::default();
    let mut enum_set_chars = Charsets::default();
    let mut names: Option<Vec<String>> = None;
    let mut enum_labels: Vec<Vec<String>> = Vec::new();
    let mut set_members: Vec<Vec<String>> = Vec::new();
    let mut geometry: Vec<&'static str> = Vec::new();
    let mut key: Option<Vec<u64>> = None;
    let meta_err = |e: std::io::Error| bad(format!("optional metadata: {e}"));
    for field in tme.iter_optional_meta() {
        match field.map_err(meta_err)? {
            OptionalMetadataField::Signedness(bits) => {
                signedness = Some(bits.iter().by_vals().collect());
            }
            OptionalMetadataField::DefaultCharset(d) => {
                chars.default = Some(d.default_charset());
                for nd in d.iter_non_default() {
                    let nd = nd.map_err(meta_err)?;
                    chars.non_default.push((nd.column_index(), nd.charset()));
                }
            }
            OptionalMetadataField::ColumnCharset(c) => {
                chars.per_column = Some(
                    c.iter_charsets()
                        .collect::<Result<_, _>>()
                        .map_err(meta_err)?,
                );
            }
            OptionalMetadataField::EnumAndSetDefaultCharset(d) => {
                enum_set_chars.default = Some(d.default_charset());
                for nd in d.iter_non_default() {
                    let nd = nd.map_err(meta_err)?;
                    enum_set_chars
                        .non_default
                        .push((nd.column_index(), nd.charset()));
                }
            }
            OptionalMetadataField::EnumAndSetColumnCharset(c) => {
                enum_set_chars.per_column = Some(
                    c.iter_charsets()
                        .collect::<Result<_, _>>()
                        .map_err(meta_err)?,
                );
            }
            OptionalMetadataField::ColumnName(c) => {
                let mut list = Vec::with_capacity(n);
                for name in c.iter_names() {
                    list.push(name.map_err(meta_err)?.name().into_owned());
                }
                names = Some(list);
            }
            OptionalMetadataField::EnumStrValue(v) => {
                for labels in v.iter_values() {
                    let labels = labels.map_err(meta_err)?;
                    enum_labels.push(
                        labels
                            .values()
                            .iter()
                            .map(|l| l.value().into_owned())
                            .collect(),
                    );
                }
            }
            OptionalMetadataField::SetStrValue(v) => {
                for members in v.iter_values() {
                    let members = members.map_err(meta_err)?;
                    set_members.push(
                        members
                            .values()
                            .iter()
                            .map(|l| l.value().into_owned())
                            .collect(),
                    );
                }
            }
            OptionalMetadataField::GeometryType(g) => {
                for t in g.iter_geometry_types() {
                    geometry.push(t.map_or("geometry", geometry_name));
                }
            }
            OptionalMetadataField::SimplePrimaryKey(k) => {
                let idx: Vec<u64> = k
                    .iter_indexes()
                    .collect::<Result<_, _>>()
                    .map_err(meta_err)?;
                key = Some(idx);
            }
            OptionalMetadataField::PrimaryKeyWithPrefix(k) => {
                let mut idx = Vec::new();
                for p in k.iter_keys() {
                    idx.push(p.map_err(meta_err)?.column_index());
                }
                key = Some(idx);
            }
            OptionalMetadataField::ColumnVisibility(_)
            | OptionalMetadataField::Dimensionality(_) => {}
        }
    }

    let has_names = names.as_ref().is_some_and(|l| l.len() == n);
    if let Some(list) = &names
        && list.len() != n
    {
        return Err(bad(format!("{} column names for {n} columns", list.len())));
    }
    let geometry_has_charset = geometry_counts_as_character(&columns, &chars);
    let (mut numeric, mut character, mut enum_set, mut enums, mut sets, mut geoms) =
        (0, 0, 0, 0, 0, 0);
    for (i, (col, &code)) in columns.iter_mut().zip(&codes).enumerate() {
        if let Some(list) = &names
            && let Some(name) = list.get(i)
        {
            col.name.clone_from(name);
        }
        if is_numeric_code(code) {
            if let Some(s) = &signedness {
                col.unsigned = s.get(numeric).copied().unwrap_or(false);
            }
            numeric += 1;
        }
        let mut geometry_name = None;
        match &mut col.ty {
            MyType::Char { .. } | MyType::VarChar { .. } | MyType::Blob { .. } => {
                if let Some(id) = chars.get(character) {
                    col.charset = Charset::from_collation_id(id);
                }
                character += 1;
            }
            MyType::Enum { labels, .. } => {
                if let Some(id) = enum_set_chars.get(enum_set) {
                    col.charset = Charset::from_collation_id(id);
                }
                enum_set += 1;
                if let Some(l) = enum_labels.get(enums) {
                    labels.clone_from(l);
                }
                enums += 1;
            }
            MyType::Set { members, .. } => {
                if let Some(id) = enum_set_chars.get(enum_set) {
                    col.charset = Charset::from_collation_id(id);
                }
                enum_set += 1;
                if let Some(m) = set_members.get(sets) {
                    members.clone_from(m);
                }
                sets += 1;
            }
            MyType::Geometry { .. } => {
                geometry_name = geometry.get(geoms).copied();
                geoms += 1;
                if geometry_has_charset {
                    character += 1;
                }
            }
            _ => {}
        }
        col.source_type = source_type(&col.ty, col.unsigned, col.charset, geometry_name);
    }

    let key = match key {
        None => None,
        Some(idx) => {
            let mut out = Vec::with_capacity(idx.len());
            for i in idx {
                let col = usize::try_from(i)
                    .ok()
                    .and_then(|i| columns.get(i))
                    .ok_or_else(|| bad(format!("primary key column index {i} out of range")))?;
                out.push(col.name.clone());
            }
            Some(out)
        }
    };
    Ok(TableMapInfo {
        columns,
        key,
        has_names,
    })
}

fn is_character(ty: &MyType) -> bool {
    matches!(
        ty,
        MyType::Char { .. } | MyType::VarChar { .. } | MyType::Blob { .. }
    )
}

/// Whether the charset list has an entry for GEOMETRY columns too. MariaDB
/// gives every column with a charset an entry, geometry included (binary,
/// 63); MySQL (and mysql_common) count only CHAR/VARCHAR/BLOB. The event
/// does not say which server wrote it, so the list decides: a per-column
/// list is as long as one of the two numberings; with a default charset,
/// geometry counts when every geometry column would get charset 63.
fn geometry_counts_as_character(columns: &[MyColumn], chars: &Charsets) -> bool {
    let n_geom = columns
        .iter()
        .filter(|c| matches!(c.ty, MyType::Geometry { .. }))
        .count();
    if n_geom == 0 {
        return false;
    }
    let n_char = columns.iter().filter(|c| is_character(&c.ty)).count();
    if let Some(list) = &chars.per_column {
        return list.len() == n_char + n_geom;
    }
    if chars.default.is_none() {
        return false;
    }
    let mut idx = 0;
    for c in columns {
        if matches!(c.ty, MyType::Geometry { .. }) {
            if chars.get(idx) != Some(63) {
                return false;
            }
            idx += 1;
        } else if is_character(&c.ty) {
            idx += 1;
        }
    }
    true
}

/// Whether the storage parameters of two types agree (see
/// [`merge_with_catalog`]).
fn compatible(catalog: &MyType, binlog: &MyType) -> bool {
    use MyType as T;
    match (catalog, binlog) {
        (T::Char { .. }, T::Char { .. }) | (T::VarChar { .. }, T::VarChar { .. }) => true,
        (
            T::Enum {
                pack_len: a,
                labels: la,
            },
            T::Enum {
                pack_len: b,
                labels: lb,
            },
        ) => a == b && (la.is_empty() || lb.is_empty() || la == lb),
        (
            T::Set {
                pack_len: a,
                members: ma,
            },
            T::Set {
                pack_len: b,
                members: mb,
            },
        ) => a == b && (ma.is_empty() || mb.is_empty() || ma == mb),
        // Every other variant: equal parameters (Decimal, Bit, fsp, length bytes).
        (a, b) => a == b,
    }
}

/// Combines information_schema's columns with a table map's: `Some` when the
/// catalog describes the table the rows were written with (same number of
/// columns, each with a compatible storage type), `None` otherwise.
///
/// The result has the catalog's names, nullability, `json_text` and
/// `source_type`, and the binlog's storage parameters (`ty`, keeping the
/// catalog's ENUM labels / SET members when the binlog has none). Signedness
/// and charset come from the binlog when it had FULL metadata (its columns
/// are named), else from the catalog.
pub fn merge_with_catalog(catalog: &[MyColumn], binlog: &[MyColumn]) -> Option<Vec<MyColumn>> {
    if catalog.len() != binlog.len() {
        return None;
    }
    let full = binlog
        .iter()
        .enumerate()
        .all(|(i, c)| c.name != format!("@{}", i + 1));
    catalog
        .iter()
        .zip(binlog)
        .map(|(c, b)| {
            if !compatible(&c.ty, &b.ty) {
                return None;
            }
            let mut out = c.clone();
            out.ty = match (&b.ty, &c.ty) {
                (MyType::Enum { pack_len, labels }, MyType::Enum { labels: cl, .. })
                    if labels.is_empty() =>
                {
                    MyType::Enum {
                        pack_len: *pack_len,
                        labels: cl.clone(),
                    }
                }
                (MyType::Set { pack_len, members }, MyType::Set { members: cm, .. })
                    if members.is_empty() =>
                {
                    MyType::Set {
                        pack_len: *pack_len,
                        members: cm.clone(),
                    }
                }
                (ty, _) => ty.clone(),
            };
            if full {
                out.unsigned = b.unsigned;
                out.charset = b.charset;
            }
            Some(out)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_metadata_packs_real_type_and_long_lengths() {
        // CHAR(10) latin1: real type 254, length 10.
        assert_eq!(
            unpack_type(T_STRING, &[0xFE, 10]),
            Ok(MyType::Char { max_bytes: 10 })
        );
        // CHAR(255) utf8mb4 = 1020 bytes: 1020 = 0x3FC; bits 8-9 = 3 stored
        // inverted in bits 4-5 (0x30 ^ 0x30 = 0): 0xCE, 0xFC.
        assert_eq!(
            unpack_type(T_STRING, &[0xCE, 0xFC]),
            Ok(MyType::Char { max_bytes: 1020 })
        );
        // 400 bytes = 0x190: bits 8-9 = 1 -> (1 << 4) ^ 0x30 = 0x20 -> 0xEE.
        assert_eq!(
            unpack_type(T_STRING, &[0xEE, 0x90]),
            Ok(MyType::Char { max_bytes: 400 })
        );
        assert_eq!(
            unpack_type(T_STRING, &[T_ENUM, 2]),
            Ok(MyType::Enum {
                pack_len: 2,
                labels: vec![]
            })
        );
        assert_eq!(
            unpack_type(T_STRING, &[T_SET, 8]),
            Ok(MyType::Set {
                pack_len: 8,
                members: vec![]
            })
        );
        assert!(unpack_type(T_STRING, &[T_ENUM, 3]).is_err());
        assert!(unpack_type(T_STRING, &[T_STRING]).is_err());
    }

    #[test]
    fn other_metadata() {
        assert_eq!(
            unpack_type(T_NEWDECIMAL, &[65, 30]),
            Ok(MyType::Decimal {
                precision: 65,
                scale: 30
            })
        );
        assert_eq!(unpack_type(T_BIT, &[2, 1]), Ok(MyType::Bit { bits: 10 }));
        assert_eq!(unpack_type(T_BIT, &[0, 8]), Ok(MyType::Bit { bits: 64 }));
        assert_eq!(
            unpack_type(T_VARCHAR, &[0x2C, 0x01]),
            Ok(MyType::VarChar { max_bytes: 300 })
        );
        assert_eq!(unpack_type(T_TIME2, &[6]), Ok(MyType::Time { fsp: 6 }));
        assert!(unpack_type(T_TIME2, &[7]).is_err());
        assert!(unpack_type(T_TIME2, &[]).is_err());
        assert!(unpack_type(T_DECIMAL, &[]).is_err());
        assert!(unpack_type(242, &[4]).is_err());
        assert_eq!(unpack_type(T_BLOB, &[3]), Ok(MyType::Blob { len_bytes: 3 }));
    }

    fn col(name: &str, ty: MyType) -> MyColumn {
        MyColumn {
            name: name.into(),
            ty,
            unsigned: false,
            charset: Charset::Binary,
            nullable: true,
            json_text: false,
            source_type: String::new(),
        }
    }

    #[test]
    fn geometry_charsets_follow_the_list_shape() {
        let cols = vec![
            col("g", MyType::Geometry { len_bytes: 4 }),
            col("v", MyType::VarChar { max_bytes: 10 }),
        ];
        // MariaDB: an entry for the geometry column too.
        let per = |list: Vec<u16>| Charsets {
            per_column: Some(list),
            ..Charsets::default()
        };
        assert!(geometry_counts_as_character(&cols, &per(vec![63, 8])));
        // MySQL: character columns only.
        assert!(!geometry_counts_as_character(&cols, &per(vec![8])));
        let dflt = |default: u16, non_default: Vec<(u64, u16)>| Charsets {
            default: Some(default),
            non_default,
            per_column: None,
        };
        assert!(geometry_counts_as_character(
            &cols,
            &dflt(45, vec![(0, 63)])
        ));
        assert!(!geometry_counts_as_character(&cols, &dflt(45, vec![])));
        assert!(!geometry_counts_as_character(&cols[1..], &per(vec![8])));
    }

    #[test]
    fn merge_takes_catalog_names_and_binlog_storage() {
        let mut cat_id = col("id", MyType::BigInt);
        cat_id.unsigned = true;
        cat_id.nullable = false;
        let cat = vec![
            cat_id,
            col(
                "e",
                MyType::Enum {
                    pack_len: 1,
                    labels: vec!["a".into()],
                },
            ),
            col("s", MyType::VarChar { max_bytes: 40 }),
        ];
        let bin = vec![
            col("@1", MyType::BigInt),
            col(
                "@2",
                MyType::Enum {
                    pack_len: 1,
                    labels: vec![],
                },
            ),
            col("@3", MyType::VarChar { max_bytes: 400 }),
        ];
        let merged = merge_with_catalog(&cat, &bin).unwrap();
        assert_eq!(merged[0].name, "id");
        assert!(
            merged[0].unsigned,
            "minimal metadata keeps the catalog's signedness"
        );
        assert_eq!(
            merged[1].ty,
            MyType::Enum {
                pack_len: 1,
                labels: vec!["a".into()]
            }
        );
        assert_eq!(merged[2].ty, MyType::VarChar { max_bytes: 400 });
        // Different decimal scale, different column count: not the same schema.
        let d1 = [col(
            "d",
            MyType::Decimal {
                precision: 5,
                scale: 2,
            },
        )];
        let d2 = [col(
            "@1",
            MyType::Decimal {
                precision: 5,
                scale: 1,
            },
        )];
        assert_eq!(merge_with_catalog(&d1, &d2), None);
        assert_eq!(merge_with_catalog(&cat[..1], &bin), None);
        assert_eq!(
            merge_with_catalog(&[col("a", MyType::Int)], &[col("@1", MyType::BigInt)]),
            None
        );
    }
}
