//! What the MySQL/MariaDB source asks `information_schema`: the tables a
//! config selects and how their columns are stored.
//!
//! Invariants:
//! - Nothing here changes the server; every query only reads
//!   `information_schema`.
//! - [`describe_tables`] builds each [`MyColumn`]'s [`MyType`] exactly as the
//!   binlog's table map describes the column's storage (byte lengths, blob
//!   length prefixes, enum/set pack lengths, fractional-second digits, the
//!   pre-5.6 temporal formats), so the binlog decoder and the snapshot reader
//!   agree on every column. A type this module does not know is a permanent
//!   error naming `db.table.column` and the type, never a guess.
//! - Every described table has a non-empty key: the `keys:` override of the
//!   source config when there is one, else the PRIMARY KEY in index order.
//!   A table with neither is a permanent error that names the fix.

use std::collections::BTreeMap;

use mysql_async::Conn;
use mysql_async::prelude::Queryable;
use rowlog_config::model::common::{KeyOverrides, TableFilter};
use rowlog_schemas::TableId;

use super::columns::{Charset, MyColumn, MyTable, MyType};
use crate::error::SourceError;
use crate::pattern;

/// Databases that hold the server's own tables, never captured.
const SYSTEM_SCHEMAS: &[&str] = &["mysql", "information_schema", "performance_schema", "sys"];

/// The base tables (not views, not sequences, not system databases) that
/// `filter` selects, sorted by database and name.
pub async fn resolve_tables(
    conn: &mut Conn,
    filter: &TableFilter,
) -> Result<Vec<TableId>, SourceError> {
    let sql = format!(
        "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES \
         WHERE TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA NOT IN ({})",
        SYSTEM_SCHEMAS
            .iter()
            .map(|s| format!("'{s}'"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let rows: Vec<mysql_async::Row> = conn
        .query(sql)
        .await
        .map_err(|e| SourceError::from(e).context("listing tables in information_schema.TABLES"))?;
    let mut out = Vec::new();
    for row in rows {
        let vals = row.unwrap();
        let (Some(db), Some(name)) = (text_at(&vals, 0), text_at(&vals, 1)) else {
            continue;
        };
        let id = TableId::new(db, name);
        if pattern::selected(&filter.include, &filter.exclude, &id.to_string()) {
            out.push(id);
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// One row of `information_schema.COLUMNS`.
#[derive(Debug, Clone, Default)]
struct ColumnRow {
    name: String,
    data_type: String,
    column_type: String,
    nullable: bool,
    charset: Option<String>,
    octet_length: Option<u64>,
    precision: Option<u64>,
    scale: Option<u64>,
    datetime_precision: Option<u64>,
}

/// Describes `tables` (columns in table order, storage types, keys) with
/// one query per `information_schema` view for all of them.
///
/// `keys` (the source config's `keys:` map, `database.table` → columns)
/// overrides the PRIMARY KEY of the tables it names.
pub async fn describe_tables(
    conn: &mut Conn,
    tables: &[TableId],
    keys: &KeyOverrides,
) -> Result<Vec<MyTable>, SourceError> {
    if tables.is_empty() {
        return Ok(Vec::new());
    }
    let mut schemas: Vec<&str> = tables.iter().map(|t| t.namespace.as_str()).collect();
    schemas.sort_unstable();
    schemas.dedup();
    let marks = vec!["?"; schemas.len()].join(", ");
    let params: Vec<mysql_async::Value> = schemas.iter().map(|s| (*s).into()).collect();
    let wanted: std::collections::BTreeSet<(&str, &str)> = tables
        .iter()
        .map(|t| (t.namespace.as_str(), t.name.as_str()))
        .collect();

    let sql = format!(
        "SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE, \
                CHARACTER_SET_NAME, CHARACTER_OCTET_LENGTH, NUMERIC_PRECISION, NUMERIC_SCALE, \
                DATETIME_PRECISION \
           FROM information_schema.COLUMNS WHERE TABLE_SCHEMA IN ({marks}) \
          ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION"
    );
    let rows: Vec<mysql_async::Row> = conn
        .exec(sql, params.clone())
        .await
        .map_err(|e| SourceError::from(e).context("reading information_schema.COLUMNS"))?;
    let mut columns: BTreeMap<TableId, Vec<ColumnRow>> = BTreeMap::new();
    for row in rows {
        let v = row.unwrap();
        let (Some(db), Some(table)) = (text_at(&v, 0), text_at(&v, 1)) else {
            continue;
        };
        if !wanted.contains(&(db.as_str(), table.as_str())) {
            continue;
        }
        columns
            .entry(TableId::new(db, table))
            .or_default()
            .push(ColumnRow {
                name: text_at(&v, 2).unwrap_or_default(),
                data_type: text_at(&v, 3).unwrap_or_default().to_ascii_lowercase(),
                column_type: text_at(&v, 4).unwrap_or_default(),
                nullable: text_at(&v, 5).is_some_and(|s| s.eq_ignore_ascii_case("YES")),
                charset: text_at(&v, 6),
                octet_length: num_at(&v, 7),
                precision: num_at(&v, 8),
                scale: num_at(&v, 9),
                datetime_precision: num_at(&v, 10),
            });
    }

    let sql = format!(
        "SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME FROM information_schema.STATISTICS \
          WHERE TABLE_SCHEMA IN ({marks}) AND INDEX_NAME = 'PRIMARY' \
          ORDER BY TABLE_SCHEMA, TABLE_NAME, SEQ_IN_INDEX"
    );
    let rows: Vec<mysql_async::Row> = conn
        .exec(sql, params.clone())
        .await
        .map_err(|e| SourceError::from(e).context("reading information_schema.STATISTICS"))?;
    let mut primary: BTreeMap<TableId, Vec<String>> = BTreeMap::new();
    for row in rows {
        let v = row.unwrap();
        if let (Some(db), Some(table), Some(col)) = (text_at(&v, 0), text_at(&v, 1), text_at(&v, 2))
        {
            primary
                .entry(TableId::new(db, table))
                .or_default()
                .push(col);
        }
    }

    // MariaDB's JSON is a LONGTEXT with a `json_valid(`col`)` check; MySQL's
    // JSON is its own type (and its CHECK_CONSTRAINTS has no TABLE_NAME).
    let version: Option<String> = conn.query_first("SELECT @@version").await?;
    let mut checks: BTreeMap<TableId, Vec<String>> = BTreeMap::new();
    if version.is_some_and(|v| v.contains("MariaDB")) {
        let sql = format!(
            "SELECT CONSTRAINT_SCHEMA, TABLE_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS \
              WHERE CONSTRAINT_SCHEMA IN ({marks})"
        );
        let rows: Vec<mysql_async::Row> = conn.exec(sql, params).await.map_err(|e| {
            SourceError::from(e).context("reading information_schema.CHECK_CONSTRAINTS")
        })?;
        for row in rows {
            let v = row.unwrap();
            if let (Some(db), Some(table), Some(clause)) =
                (text_at(&v, 0), text_at(&v, 1), text_at(&v, 2))
            {
                checks
                    .entry(TableId::new(db, table))
                    .or_default()
                    .push(clause);
            }
        }
    }

    let mut out = Vec::with_capacity(tables.len());
    for id in tables {
        let Some(rows) = columns.get(id) else {
            return Err(SourceError::permanent(format!(
                "table {id} is not in information_schema.COLUMNS: it was dropped or renamed, or the user lacks SELECT on it (GRANT SELECT ON `{}`.* TO the rowlog user)",
                id.namespace
            )));
        };
        let table_checks = checks.get(id).map(Vec::as_slice).unwrap_or_default();
        let mut cols = Vec::with_capacity(rows.len());
        for r in rows {
            cols.push(build_column(id, r, table_checks)?);
        }
        let key = match keys.get(&id.to_string()) {
            Some(over) => {
                if over.is_empty() {
                    return Err(SourceError::permanent(format!(
                        "table {id}: the `keys:` override in the source config names no column; list the key columns, e.g. `keys: {{{id}: [id]}}`"
                    )));
                }
                if let Some(missing) = over.iter().find(|k| !cols.iter().any(|c| &c.name == *k)) {
                    return Err(SourceError::permanent(format!(
                        "table {id}: the `keys:` override in the source config names column `{missing}`, which the table does not have (columns: {}); fix `keys: {{{id}: [...]}}`",
                        cols.iter()
                            .map(|c| c.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
                over.clone()
            }
            None => match primary.get(id) {
                Some(pk) if !pk.is_empty() => pk.clone(),
                _ => {
                    return Err(SourceError::permanent(format!(
                        "table {id} has no primary key: add one, or set `keys: {{{id}: [col, ...]}}` in the source config"
                    )));
                }
            },
        };
        let table = MyTable {
            id: id.clone(),
            columns: cols,
            key,
        };
        // Checks the schema invariants (unique names, key columns exist).
        table.schema()?;
        out.push(table);
    }
    Ok(out)
}

fn build_column(
    table: &TableId,
    r: &ColumnRow,
    checks: &[String],
) -> Result<MyColumn, SourceError> {
    let (ty, binary) = storage_type(r).map_err(|e| {
        SourceError::permanent(format!(
            "column {table}.{} has type `{}`: {e}; leave the table out with `tables: {{exclude: [{table}]}}` in the source config, or change the column to a supported type",
            r.name, r.column_type
        ))
    })?;
    let numeric = matches!(
        ty,
        MyType::TinyInt
            | MyType::SmallInt
            | MyType::MediumInt
            | MyType::Int
            | MyType::BigInt
            | MyType::Decimal { .. }
            | MyType::Float
            | MyType::Double
    );
    let unsigned = numeric && r.column_type.to_ascii_lowercase().contains("unsigned");
    let charset = if binary {
        Charset::Binary
    } else {
        r.charset
            .as_deref()
            .map_or(Charset::Binary, Charset::from_name)
    };
    let json_text = r.data_type == "longtext" && {
        let want = format!("json_valid(`{}`)", r.name.replace('`', "``"));
        checks.iter().any(|c| {
            let c: String = c.chars().filter(|ch| !ch.is_whitespace()).collect();
            c.eq_ignore_ascii_case(&want.replace(' ', ""))
        })
    };
    Ok(MyColumn {
        name: r.name.clone(),
        ty,
        unsigned,
        charset,
        nullable: r.nullable,
        json_text,
        source_type: r.column_type.clone(),
    })
}

/// The storage type of a column and whether its bytes are binary whatever
/// `CHARACTER_SET_NAME` says (numbers, dates, blobs, BIT, geometry, JSON).
fn storage_type(r: &ColumnRow) -> Result<(MyType, bool), String> {
    let ct = r.column_type.to_ascii_lowercase();
    // MariaDB marks the pre-5.6 temporal formats; MySQL does with
    // `show_old_temporals=ON`.
    let legacy = ct.contains("mariadb-5.3") || ct.contains("5.5 binary format");
    let fsp = || -> Result<u8, String> {
        let p = r.datetime_precision.unwrap_or(0);
        u8::try_from(p)
            .ok()
            .filter(|p| *p <= 6)
            .ok_or_else(|| format!("fractional seconds precision {p} is out of range 0..=6"))
    };
    let octets = || -> Result<u32, String> {
        r.octet_length
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| {
                format!(
                    "information_schema gives no usable CHARACTER_OCTET_LENGTH ({:?})",
                    r.octet_length
                )
            })
    };
    let t = match r.data_type.as_str() {
        "tinyint" => (MyType::TinyInt, true),
        "smallint" => (MyType::SmallInt, true),
        "mediumint" => (MyType::MediumInt, true),
        "int" | "integer" => (MyType::Int, true),
        "bigint" => (MyType::BigInt, true),
        "decimal" | "numeric" => {
            let precision = r
                .precision
                .and_then(|p| u8::try_from(p).ok())
                .filter(|p| (1..=65).contains(p))
                .ok_or_else(|| format!("decimal precision {:?} is out of range", r.precision))?;
            let scale = r
                .scale
                .and_then(|s| u8::try_from(s).ok())
                .filter(|s| *s <= 38 && *s <= precision)
                .ok_or_else(|| format!("decimal scale {:?} is out of range", r.scale))?;
            (MyType::Decimal { precision, scale }, true)
        }
        "float" => (MyType::Float, true),
        "double" | "real" | "double precision" => (MyType::Double, true),
        "bit" => {
            let bits = r
                .precision
                .or_else(|| parenthesised_number(&ct))
                .and_then(|b| u16::try_from(b).ok())
                .filter(|b| (1..=64).contains(b))
                .ok_or_else(|| "cannot read the BIT width (1..=64)".to_string())?;
            (MyType::Bit { bits }, true)
        }
        "year" => (MyType::Year, true),
        "date" => (MyType::Date, true),
        "time" if legacy => (MyType::LegacyTime, true),
        "datetime" if legacy => (MyType::LegacyDateTime, true),
        "timestamp" if legacy => (MyType::LegacyTimestamp, true),
        "time" => (MyType::Time { fsp: fsp()? }, true),
        "datetime" => (MyType::DateTime { fsp: fsp()? }, true),
        "timestamp" => (MyType::Timestamp { fsp: fsp()? }, true),
        "char" => (
            MyType::Char {
                max_bytes: octets()?,
            },
            false,
        ),
        "binary" => (
            MyType::Char {
                max_bytes: octets()?,
            },
            true,
        ),
        "varchar" => (
            MyType::VarChar {
                max_bytes: octets()?,
            },
            false,
        ),
        "varbinary" => (
            MyType::VarChar {
                max_bytes: octets()?,
            },
            true,
        ),
        "tinytext" => (MyType::Blob { len_bytes: 1 }, false),
        "text" => (MyType::Blob { len_bytes: 2 }, false),
        "mediumtext" => (MyType::Blob { len_bytes: 3 }, false),
        "longtext" => (MyType::Blob { len_bytes: 4 }, false),
        "tinyblob" => (MyType::Blob { len_bytes: 1 }, true),
        "blob" => (MyType::Blob { len_bytes: 2 }, true),
        "mediumblob" => (MyType::Blob { len_bytes: 3 }, true),
        "longblob" => (MyType::Blob { len_bytes: 4 }, true),
        "json" => (MyType::Json, true),
        "enum" => {
            let labels = parse_labels(&r.column_type)?;
            if labels.is_empty() {
                return Err("an ENUM without labels".into());
            }
            let pack_len = if labels.len() <= 255 { 1 } else { 2 };
            (MyType::Enum { pack_len, labels }, false)
        }
        "set" => {
            let members = parse_labels(&r.column_type)?;
            if members.is_empty() || members.len() > 64 {
                return Err(format!("a SET with {} members (1..=64)", members.len()));
            }
            let pack_len = match members.len().div_ceil(8) {
                n @ 1..=4 => n as u8,
                _ => 8,
            };
            (MyType::Set { pack_len, members }, false)
        }
        "geometry" | "point" | "linestring" | "polygon" | "multipoint" | "multilinestring"
        | "multipolygon" | "geometrycollection" | "geomcollection" => {
            (MyType::Geometry { len_bytes: 4 }, true)
        }
        other => {
            return Err(format!("rowlog does not support the type `{other}` yet"));
        }
    };
    Ok(t)
}

/// `bit(10)` → 10.
fn parenthesised_number(ct: &str) -> Option<u64> {
    let open = ct.find('(')?;
    let close = ct[open..].find(')')? + open;
    ct[open + 1..close].trim().parse().ok()
}

/// The labels of `enum('a','b')` / `set('a','b')` as `COLUMN_TYPE` spells
/// them: quoted with `'`, a quote inside doubled (`''`) or backslash-escaped,
/// commas and parentheses inside quotes are part of the label.
pub(crate) fn parse_labels(column_type: &str) -> Result<Vec<String>, String> {
    let bad = |why: &str| format!("cannot read the labels of `{column_type}`: {why}");
    let open = column_type.find('(').ok_or_else(|| bad("no `(`"))?;
    let mut chars = column_type[open + 1..].chars().peekable();
    let mut labels = Vec::new();
    loop {
        match chars.next() {
            Some('\'') => {}
            Some(')') if labels.is_empty() => return Ok(labels),
            _ => return Err(bad("expected a quoted label")),
        }
        let mut label = String::new();
        loop {
            match chars.next() {
                None => return Err(bad("unterminated label")),
                Some('\'') => {
                    if chars.peek() == Some(&'\'') {
                        chars.next();
                        label.push('\'');
                    } else {
                        break;
                    }
                }
                Some('\\') => match chars.next() {
                    None => return Err(bad("unterminated label")),
                    Some('0') => label.push('\0'),
                    Some('n') => label.push('\n'),
                    Some('r') => label.push('\r'),
                    Some('t') => label.push('\t'),
                    Some('Z') => label.push('\u{1a}'),
                    Some(c) => label.push(c),
                },
                Some(c) => label.push(c),
            }
        }
        labels.push(label);
        match chars.next() {
            Some(',') => {}
            Some(')') => return Ok(labels),
            _ => return Err(bad("expected `,` or `)` after a label")),
        }
    }
}

/// Column `i` of a row as text (`None` for NULL or a missing column).
fn text_at(row: &[mysql_async::Value], i: usize) -> Option<String> {
    match row.get(i)? {
        mysql_async::Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
        mysql_async::Value::Int(n) => Some(n.to_string()),
        mysql_async::Value::UInt(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Column `i` of a row as an unsigned number (`None` for NULL, a missing
/// column or something else).
fn num_at(row: &[mysql_async::Value], i: usize) -> Option<u64> {
    match row.get(i)? {
        mysql_async::Value::Int(n) => u64::try_from(*n).ok(),
        mysql_async::Value::UInt(n) => Some(*n),
        mysql_async::Value::Bytes(b) => std::str::from_utf8(b).ok()?.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn labels_with_quotes_commas_and_escapes() {
        assert_eq!(
            parse_labels("enum('a','b''c','d,e','(x)','')").unwrap(),
            vec!["a", "b'c", "d,e", "(x)", ""]
        );
        assert_eq!(
            parse_labels(r"set('back\\slash','q\'')").unwrap(),
            vec![r"back\slash", "q'"]
        );
        assert!(parse_labels("enum('a'").is_err());
        assert!(parse_labels("enum(a)").is_err());
    }

    fn row(data_type: &str, column_type: &str) -> ColumnRow {
        ColumnRow {
            name: "c".into(),
            data_type: data_type.into(),
            column_type: column_type.into(),
            ..ColumnRow::default()
        }
    }

    #[test]
    fn storage_types() {
        let mut r = row("set", "set('a','b','c','d','e','f','g','h','i')");
        assert_eq!(
            storage_type(&r).unwrap().0,
            MyType::Set {
                pack_len: 2,
                members: "abcdefghi".chars().map(String::from).collect()
            }
        );
        let members: Vec<String> = (0..40).map(|i| format!("'m{i}'")).collect();
        r.column_type = format!("set({})", members.join(","));
        assert!(matches!(
            storage_type(&r).unwrap().0,
            MyType::Set { pack_len: 8, .. }
        ));
        let labels: Vec<String> = (0..256).map(|i| format!("'l{i}'")).collect();
        let r = row("enum", &format!("enum({})", labels.join(",")));
        assert!(matches!(
            storage_type(&r).unwrap().0,
            MyType::Enum { pack_len: 2, .. }
        ));
        let mut r = row("datetime", "datetime /* mariadb-5.3 */");
        assert_eq!(storage_type(&r).unwrap().0, MyType::LegacyDateTime);
        r.column_type = "datetime(3)".into();
        r.datetime_precision = Some(3);
        assert_eq!(storage_type(&r).unwrap().0, MyType::DateTime { fsp: 3 });
        let r = row("bit", "bit(10)");
        assert_eq!(storage_type(&r).unwrap().0, MyType::Bit { bits: 10 });
        let e = storage_type(&row("inet6", "inet6")).unwrap_err();
        assert!(e.contains("`inet6`"), "{e}");
    }
}
