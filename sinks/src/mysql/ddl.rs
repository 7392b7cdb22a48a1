//! What the sink knows about a target table, and making it fit the source.
//!
//! Invariants:
//! - DDL runs only here and only *between* batch transactions: MySQL and
//!   MariaDB commit implicitly before and after `CREATE`/`ALTER`, so running
//!   one inside a batch would commit half a batch.
//! - Tables are created (`auto_create`) from the change's [`TableSchema`] with
//!   a primary key on its key columns and the types of
//!   [`super::types::target_type`]; columns the source has and the target
//!   lacks are added as nullable columns (`auto_evolve`). Nothing is ever
//!   dropped or retyped. With either switch off, what is missing is a
//!   permanent error naming table, column and the fixes.
//! - [`Target::set_based`] is true only when the target's one unique index
//!   is its primary key on exactly the source key: only then may upserts use
//!   `ON DUPLICATE KEY UPDATE` (which fires on *any* unique index).

use std::collections::HashMap;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row};
use rowlog_schemas::{Position, TableSchema};

use super::errors::to_sink;
use super::sql;
use super::types::target_type;
use crate::contract::{Change, SinkError};

/// A target table as `information_schema` describes it.
#[derive(Debug, Clone)]
pub struct Target {
    /// Database.
    pub db: String,
    /// Table.
    pub name: String,
    /// Lowercased column name → lowercased `DATA_TYPE`.
    pub columns: HashMap<String, String>,
    /// Unique indexes (`PRIMARY` included) and their lowercased columns.
    pub uniques: Vec<(String, Vec<String>)>,
    /// Schema versions already checked against this table.
    pub checked: Vec<u32>,
}

impl Target {
    /// `` `db`.`table` ``, for statements.
    pub fn sql_name(&self) -> String {
        sql::table(&self.db, &self.name)
    }

    /// The `DATA_TYPE` of `column` (empty if unknown).
    pub fn data_type(&self, column: &str) -> &str {
        self.columns
            .get(&column.to_lowercase())
            .map_or("", String::as_str)
    }

    /// Whether set-based upserts are safe (see the module doc).
    pub fn set_based(&self, key: &[String]) -> bool {
        let mut key: Vec<String> = key.iter().map(|k| k.to_lowercase()).collect();
        key.sort();
        match self.uniques.as_slice() {
            [(name, cols)] if name == "PRIMARY" => {
                let mut cols = cols.clone();
                cols.sort();
                cols == key
            }
            _ => false,
        }
    }
}

fn text_at(row: &Row, i: usize) -> Option<String> {
    match row.as_ref(i)? {
        mysql_async::Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
        mysql_async::Value::Int(n) => Some(n.to_string()),
        mysql_async::Value::UInt(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Reads the target table; `None` if it does not exist.
pub async fn load(conn: &mut Conn, db: &str, name: &str) -> Result<Option<Target>, SinkError> {
    let place = format!("reading the definition of {}", sql::table(db, name));
    let rows: Vec<Row> = conn
        .exec(
            "SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
            (db, name),
        )
        .await
        .map_err(|e| to_sink(&e, &place))?;
    if rows.is_empty() {
        return Ok(None);
    }
    let columns = rows
        .iter()
        .filter_map(|r| Some((text_at(r, 0)?.to_lowercase(), text_at(r, 1)?.to_lowercase())))
        .collect();
    let rows: Vec<Row> = conn
        .exec(
            "SELECT INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS \
             WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND NON_UNIQUE = 0 \
             ORDER BY INDEX_NAME, SEQ_IN_INDEX",
            (db, name),
        )
        .await
        .map_err(|e| to_sink(&e, &place))?;
    let mut uniques: Vec<(String, Vec<String>)> = Vec::new();
    for r in &rows {
        let (Some(index), Some(col)) = (text_at(r, 0), text_at(r, 1)) else {
            continue;
        };
        match uniques.iter_mut().find(|(n, _)| *n == index) {
            Some((_, cols)) => cols.push(col.to_lowercase()),
            None => uniques.push((index, vec![col.to_lowercase()])),
        }
    }
    Ok(Some(Target {
        db: db.to_owned(),
        name: name.to_owned(),
        columns,
        uniques,
        checked: Vec::new(),
    }))
}

async fn ddl(conn: &mut Conn, stmt: String, place: &str) -> Result<(), SinkError> {
    tracing::info!(statement = %stmt, "mysql sink DDL");
    conn.query_drop(stmt).await.map_err(|e| to_sink(&e, place))
}

/// What [`ensure`] may do.
#[derive(Debug, Clone, Copy)]
pub struct Allow {
    /// Create missing databases and tables.
    pub create: bool,
    /// Add missing columns.
    pub evolve: bool,
}

/// Makes sure `db.name` exists and has every column of `change`'s schema
/// (creating and evolving as allowed), and returns it. `cached` is what the
/// sink knew.
pub async fn ensure(
    conn: &mut Conn,
    cached: Option<Target>,
    db: &str,
    name: &str,
    change: &Change,
    allow: Allow,
) -> Result<Target, SinkError> {
    let source = &change.event.table;
    let schema: &TableSchema = &change.schema;
    let mysql_source = matches!(change.event.position, Position::Mysql(_));
    let version = schema.version();
    if let Some(t) = &cached
        && t.checked.contains(&version)
    {
        return Ok(t.clone());
    }
    let tname = sql::table(db, name);
    let target = match cached {
        Some(t) => t,
        None => match load(conn, db, name).await? {
            Some(t) => t,
            None if !allow.create => {
                return Err(SinkError::permanent(format!(
                    "target table {tname} (for source table {source}) does not exist; create it with a primary key on ({}), set `auto_create: true`, or map the table elsewhere with `table_map`",
                    schema.key.join(", ")
                )));
            }
            None => {
                let place = format!("creating {tname} for source table {source}");
                ddl(conn, sql::create_database(db), &place).await?;
                let columns: Vec<sql::ColumnDef> = schema
                    .columns
                    .iter()
                    .map(|c| {
                        let key = schema.key.contains(&c.name);
                        sql::ColumnDef {
                            name: c.name.clone(),
                            sql_type: target_type(c, key, mysql_source),
                            not_null: key || !c.nullable,
                        }
                    })
                    .collect();
                let key: Vec<&str> = schema.key.iter().map(String::as_str).collect();
                ddl(conn, sql::create_table(&tname, &columns, &key), &place).await?;
                load(conn, db, name).await?.ok_or_else(|| {
                    SinkError::permanent(format!(
                        "{place}: the table is still missing after CREATE TABLE; check the user's privileges"
                    ))
                })?
            }
        },
    };
    let missing: Vec<_> = schema
        .columns
        .iter()
        .filter(|c| !target.columns.contains_key(&c.name.to_lowercase()))
        .collect();
    let mut target = if missing.is_empty() {
        target
    } else if !allow.evolve {
        let names: Vec<&str> = missing.iter().map(|c| c.name.as_str()).collect();
        return Err(SinkError::permanent(format!(
            "target table {tname} lacks column(s) {} of source table {source} (schema version {version}); add them (e.g. `ALTER TABLE {tname} ADD COLUMN {} {}`), set `auto_evolve: true`, or exclude the columns at the source",
            names.join(", "),
            sql::ident(&missing[0].name),
            target_type(missing[0], false, mysql_source),
        )));
    } else {
        for c in &missing {
            let place = format!(
                "adding column {} to {tname} (source table {source})",
                sql::ident(&c.name)
            );
            ddl(
                conn,
                sql::add_column(&tname, &c.name, &target_type(c, false, mysql_source)),
                &place,
            )
            .await?;
        }
        load(conn, db, name).await?.ok_or_else(|| {
            SinkError::permanent(format!(
                "target table {tname} vanished while adding columns"
            ))
        })?
    };
    target.checked.push(version);
    Ok(target)
}
