//! What the PostgreSQL source asks the catalog, over an ordinary SQL
//! connection: server settings, the tables a config selects and their keys,
//! the publication, the slot, column details and types.
//!
//! Invariants: every check that can fail names the table or setting and the
//! SQL that fixes it; nothing here changes the server except
//! [`ensure_publication`] (which only creates a missing publication) — a
//! publication that exists but misses a table is an error with the
//! `ALTER PUBLICATION` to run, because it may be shared with other consumers.

use std::collections::BTreeMap;

use rowlog_config::model::common::{KeyOverrides, TableFilter};
use rowlog_schemas::position::Lsn;
use rowlog_schemas::{ColumnSchema, TableId, TableSchema};
use tokio_postgres::Client;

use super::types::{CatalogType, PgType};
use crate::error::SourceError;
use crate::pattern;

/// Server facts the source depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerInfo {
    /// `server_version_num`, e.g. 150004.
    pub version_num: u32,
    /// `wal_level`.
    pub wal_level: String,
}

/// Reads and checks the server: PostgreSQL 14 or newer with
/// `wal_level = logical`.
pub async fn check_server(client: &Client) -> Result<ServerInfo, SourceError> {
    let row = client
        .query_one(
            "SELECT current_setting('server_version_num')::int4, current_setting('wal_level')",
            &[],
        )
        .await?;
    let info = ServerInfo {
        version_num: u32::try_from(row.get::<_, i32>(0)).unwrap_or(0),
        wal_level: row.get(1),
    };
    if info.version_num < 140_000 {
        return Err(SourceError::permanent(format!(
            "PostgreSQL {} is too old; rowlog needs 14 or newer (pgoutput protocol v2+)",
            info.version_num
        )));
    }
    if info.wal_level != "logical" {
        return Err(SourceError::permanent(format!(
            "wal_level is `{}`, logical decoding needs `logical`; run ALTER SYSTEM SET wal_level = logical and restart PostgreSQL",
            info.wal_level
        )));
    }
    Ok(info)
}

/// A captured table and how its rows are identified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableInfo {
    /// Schema and name.
    pub id: TableId,
    /// `pg_class.oid`.
    pub oid: u32,
    /// `relreplident`: `d` default (primary key), `f` full, `i` index, `n` nothing.
    pub replica_identity: char,
    /// Key columns: the configured override, else the primary key, else the
    /// replica identity index; empty for a keyless REPLICA IDENTITY FULL table.
    pub key: Vec<String>,
}

/// The tables `filter` selects (ordinary and partitioned tables outside the
/// system schemas), with their keys. A table without a primary key or
/// replica identity index is an error unless it has REPLICA IDENTITY FULL
/// (then keyless, or keyed by the columns `overrides` names); an override
/// on a table with a key must name columns of its replica identity, since a
/// delete carries only those.
pub async fn resolve_tables(
    client: &Client,
    filter: &TableFilter,
    overrides: &KeyOverrides,
) -> Result<Vec<TableInfo>, SourceError> {
    let rows = client
        .query(
            "SELECT n.nspname, c.relname, c.oid, c.relreplident::text,
                    (SELECT array_agg(a.attname::text ORDER BY k.ord)
                       FROM pg_index i
                       CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
                       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                      WHERE i.indrelid = c.oid AND i.indisprimary) AS pk,
                    (SELECT array_agg(a.attname::text ORDER BY k.ord)
                       FROM pg_index i
                       CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
                       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                      WHERE i.indrelid = c.oid AND i.indisreplident) AS ident
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE c.relkind IN ('r', 'p')
                AND n.nspname NOT IN ('pg_catalog', 'information_schema')
                AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'
              ORDER BY 1, 2",
            &[],
        )
        .await?;
    let mut out = Vec::new();
    for row in rows {
        let id = TableId::new(row.get::<_, String>(0), row.get::<_, String>(1));
        if !pattern::selected(&filter.include, &filter.exclude, &id.to_string()) {
            continue;
        }
        let ident: String = row.get(3);
        let replica_identity = ident.chars().next().unwrap_or('d');
        let pk: Option<Vec<String>> = row.get(4);
        let ident_cols: Option<Vec<String>> = row.get(5);
        let key = match (
            overrides.get(&id.to_string()),
            replica_identity,
            pk,
            ident_cols,
        ) {
            // Without a replica identity PostgreSQL refuses UPDATE and
            // DELETE on a published table, so publishing it would break the
            // application's writes: an override alone is not enough.
            (Some(_), 'n', ..) | (Some(_), 'd', None, _) => {
                return Err(SourceError::permanent(format!(
                    "table {id} has no primary key and REPLICA IDENTITY {}: once it is in the publication PostgreSQL refuses every UPDATE and DELETE on it, so the `keys:` override alone is not enough; run ALTER TABLE {} REPLICA IDENTITY FULL (the override then keys its records), or add a primary key",
                    if replica_identity == 'n' {
                        "NOTHING"
                    } else {
                        "DEFAULT"
                    },
                    quote_table(&id)
                )));
            }
            // A delete sends only the replica identity columns: an override
            // naming others would have no value for its key on deletes.
            (Some(cols), 'd' | 'i', pk, ident) => {
                let sent = if replica_identity == 'i' { ident } else { pk }.unwrap_or_default();
                if let Some(c) = cols.iter().find(|c| !sent.contains(c)) {
                    return Err(SourceError::permanent(format!(
                        "table {id}: the `keys:` override names column `{c}`, which deletes do not carry (the replica identity is {}); use columns of it, or run ALTER TABLE {} REPLICA IDENTITY FULL",
                        sent.join(", "),
                        quote_table(&id)
                    )));
                }
                cols.clone()
            }
            (Some(cols), ..) => cols.clone(),
            (None, 'n', ..) => {
                return Err(SourceError::permanent(format!(
                    "table {id} has REPLICA IDENTITY NOTHING, so its updates and deletes carry no key; run ALTER TABLE {} REPLICA IDENTITY DEFAULT (with a primary key) or FULL",
                    quote_table(&id)
                )));
            }
            (None, 'i', _, Some(cols)) => cols,
            (None, _, Some(pk), _) => pk,
            (None, 'f', None, _) => Vec::new(),
            (None, ..) => {
                return Err(SourceError::permanent(format!(
                    "table {id} has no primary key, so PostgreSQL cannot publish its updates and deletes; add a primary key, or run ALTER TABLE {} REPLICA IDENTITY FULL (and name its key under `keys:` in the source config to key its records)",
                    quote_table(&id)
                )));
            }
        };
        out.push(TableInfo {
            id,
            oid: row.get(2),
            replica_identity,
            key,
        });
    }
    Ok(out)
}

/// `"schema"."table"`, quoted for SQL.
pub fn quote_table(id: &TableId) -> String {
    format!("{}.{}", quote_ident(&id.namespace), quote_ident(&id.name))
}

/// An identifier quoted for SQL.
pub fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// Creates publication `name` for `tables` if it does not exist; if it does,
/// checks that it covers every table and publishes inserts, updates,
/// deletes and truncates.
pub async fn ensure_publication(
    client: &Client,
    name: &str,
    tables: &[TableInfo],
) -> Result<(), SourceError> {
    let existing = client
        .query_opt(
            "SELECT puballtables, pubinsert, pubupdate, pubdelete, pubtruncate FROM pg_publication WHERE pubname = $1",
            &[&name],
        )
        .await?;
    let Some(pubrow) = existing else {
        if tables.is_empty() {
            return Err(SourceError::permanent(format!(
                "no table matches the source's `tables:` patterns, so publication `{name}` cannot be created; check the patterns (schema.table, * and ? wildcards)"
            )));
        }
        let list: Vec<String> = tables.iter().map(|t| quote_table(&t.id)).collect();
        let sql = format!(
            "CREATE PUBLICATION {} FOR TABLE {}",
            quote_ident(name),
            list.join(", ")
        );
        client
            .batch_execute(&sql)
            .await
            .map_err(|e| SourceError::from(e).context(format!("creating publication `{name}`")))?;
        return Ok(());
    };
    let ops: [(bool, &str); 4] = [
        (pubrow.get(1), "insert"),
        (pubrow.get(2), "update"),
        (pubrow.get(3), "delete"),
        (pubrow.get(4), "truncate"),
    ];
    let missing_ops: Vec<&str> = ops.iter().filter(|(on, _)| !on).map(|(_, n)| *n).collect();
    if !missing_ops.is_empty() {
        return Err(SourceError::permanent(format!(
            "publication `{name}` does not publish {}; run ALTER PUBLICATION {} SET (publish = 'insert, update, delete, truncate')",
            missing_ops.join(", "),
            quote_ident(name)
        )));
    }
    let all_tables: bool = pubrow.get(0);
    if all_tables {
        return Ok(());
    }
    let covered = client
        .query("SELECT schemaname::text, tablename::text FROM pg_publication_tables WHERE pubname = $1", &[&name])
        .await?;
    let covered: Vec<TableId> = covered
        .iter()
        .map(|r| TableId::new(r.get::<_, String>(0), r.get::<_, String>(1)))
        .collect();
    let missing: Vec<String> = tables
        .iter()
        .filter(|t| !covered.contains(&t.id))
        .map(|t| quote_table(&t.id))
        .collect();
    if !missing.is_empty() {
        return Err(SourceError::permanent(format!(
            "publication `{name}` does not cover {}; run ALTER PUBLICATION {} ADD TABLE {}",
            missing.join(", "),
            quote_ident(name),
            missing.join(", ")
        )));
    }
    Ok(())
}

/// A replication slot as `pg_replication_slots` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotInfo {
    /// Output plugin (`pgoutput` for rowlog's slots).
    pub plugin: Option<String>,
    /// `logical` or `physical`.
    pub slot_type: String,
    /// Database the slot decodes.
    pub database: Option<String>,
    /// Whether a walsender is using it now.
    pub active: bool,
    /// Oldest WAL the slot keeps.
    pub restart_lsn: Option<Lsn>,
    /// Position confirmed by the consumer.
    pub confirmed_flush_lsn: Option<Lsn>,
    /// WAL held back by the slot: `pg_current_wal_lsn() - restart_lsn`, bytes.
    pub retained_wal_bytes: Option<i64>,
}

/// Reads slot `name`, if it exists.
pub async fn slot_info(client: &Client, name: &str) -> Result<Option<SlotInfo>, SourceError> {
    let row = client
        .query_opt(
            "SELECT plugin::text, slot_type, database::text, active, restart_lsn::text, confirmed_flush_lsn::text,
                    (pg_current_wal_lsn() - restart_lsn)::int8
               FROM pg_replication_slots WHERE slot_name = $1",
            &[&name],
        )
        .await?;
    let Some(row) = row else { return Ok(None) };
    let lsn = |i: usize| -> Result<Option<Lsn>, SourceError> {
        row.get::<_, Option<String>>(i)
            .map(|s| {
                s.parse()
                    .map_err(|e| SourceError::permanent(format!("slot `{name}`: {e}")))
            })
            .transpose()
    };
    Ok(Some(SlotInfo {
        plugin: row.get(0),
        slot_type: row.get(1),
        database: row.get(2),
        active: row.get(3),
        restart_lsn: lsn(4)?,
        confirmed_flush_lsn: lsn(5)?,
        retained_wal_bytes: row.get(6),
    }))
}

/// Checks that an existing slot is one rowlog can stream from.
pub fn check_slot(name: &str, slot: &SlotInfo, database: &str) -> Result<(), SourceError> {
    if slot.slot_type != "logical" || slot.plugin.as_deref() != Some("pgoutput") {
        return Err(SourceError::permanent(format!(
            "replication slot `{name}` exists but is a {} slot with plugin {}; rowlog needs a logical pgoutput slot: pick another `slot:` name, or drop it with `rowlog source drop-slot {name}` if nothing else uses it",
            slot.slot_type,
            slot.plugin.as_deref().unwrap_or("(none)")
        )));
    }
    if slot.database.as_deref() != Some(database) {
        return Err(SourceError::permanent(format!(
            "replication slot `{name}` decodes database `{}`, not `{database}`; pick another `slot:` name",
            slot.database.as_deref().unwrap_or("?")
        )));
    }
    Ok(())
}

/// One column as the catalog describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnInfo {
    /// Column name.
    pub name: String,
    /// Type OID.
    pub type_oid: u32,
    /// `format_type(atttypid, atttypmod)`, e.g. `numeric(10,2)`.
    pub source_type: String,
    /// `NOT NULL`.
    pub not_null: bool,
}

/// Live columns of relation `oid`, by name.
pub async fn columns(
    client: &Client,
    oid: u32,
) -> Result<BTreeMap<String, ColumnInfo>, SourceError> {
    Ok(columns_ordered(client, oid)
        .await?
        .into_iter()
        .map(|c| (c.name.clone(), c))
        .collect())
}

/// What `pg_type` says about `oid`, for [`super::types::PgType::from_catalog`].
pub async fn catalog_type(client: &Client, oid: u32) -> Result<Option<CatalogType>, SourceError> {
    let row = client
        .query_opt(
            "SELECT typtype::text, typcategory::text, typelem, typbasetype, typdelim::text FROM pg_type WHERE oid = $1",
            &[&oid],
        )
        .await?;
    Ok(row.map(|r| {
        let ch = |i: usize| r.get::<_, String>(i).chars().next().unwrap_or(' ');
        CatalogType {
            typtype: ch(0),
            typcategory: ch(1),
            typelem: r.get(2),
            typbasetype: r.get(3),
            typdelim: ch(4),
        }
    }))
}

/// Resolved types by OID, so each type is looked up in `pg_type` once.
#[derive(Debug, Default)]
pub struct TypeCache {
    types: std::collections::HashMap<u32, PgType>,
}

impl TypeCache {
    /// The decoder for type `oid`, asking `pg_type` about types that are not
    /// built in (and about their element/base types).
    pub async fn resolve(&mut self, client: &Client, oid: u32) -> Result<PgType, SourceError> {
        if let Some(t) = self.types.get(&oid) {
            return Ok(t.clone());
        }
        if let Some(t) = PgType::builtin(oid) {
            self.types.insert(oid, t.clone());
            return Ok(t);
        }
        // Fetch the chain of catalog rows this type depends on, then resolve.
        let mut rows = std::collections::HashMap::new();
        let mut pending = vec![oid];
        while let Some(o) = pending.pop() {
            if rows.contains_key(&o) || PgType::builtin(o).is_some() || rows.len() > 32 {
                continue;
            }
            if let Some(ct) = catalog_type(client, o).await? {
                pending.extend([ct.typelem, ct.typbasetype].into_iter().filter(|x| *x != 0));
                rows.insert(o, ct);
            }
        }
        let t = PgType::from_catalog(oid, &mut |o| rows.get(&o).cloned());
        self.types.insert(oid, t.clone());
        Ok(t)
    }
}

/// A captured table's schema with the decoder and source type of each column.
#[derive(Debug, Clone, PartialEq)]
pub struct TableDescription {
    /// The row-log schema.
    pub schema: TableSchema,
    /// Decoder per column, in schema order.
    pub types: Vec<PgType>,
}

/// Describes `table` from the catalog (column order, types, nullability).
pub async fn describe_table(
    client: &Client,
    table: &TableInfo,
    cache: &mut TypeCache,
) -> Result<TableDescription, SourceError> {
    let cols = columns_ordered(client, table.oid).await?;
    let mut columns = Vec::with_capacity(cols.len());
    let mut types = Vec::with_capacity(cols.len());
    for c in cols {
        let t = cache.resolve(client, c.type_oid).await?;
        columns.push(ColumnSchema {
            name: c.name,
            kind: t.kind(),
            source_type: c.source_type,
            nullable: !c.not_null,
        });
        types.push(t);
    }
    let schema = TableSchema::new(table.id.clone(), columns, table.key.clone()).map_err(|e| {
        SourceError::permanent(format!("{e}; fix the `keys:` override for {}", table.id))
    })?;
    Ok(TableDescription { schema, types })
}

/// Live columns of relation `oid` in attribute order.
pub async fn columns_ordered(client: &Client, oid: u32) -> Result<Vec<ColumnInfo>, SourceError> {
    let rows = client
        .query(
            "SELECT attname::text, atttypid, format_type(atttypid, atttypmod), attnotnull
               FROM pg_attribute WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped
              ORDER BY attnum",
            &[&oid],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| ColumnInfo {
            name: r.get(0),
            type_oid: r.get(1),
            source_type: r.get(2),
            not_null: r.get(3),
        })
        .collect())
}

/// A column as a pgoutput Relation message describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireColumn {
    /// Column name.
    pub name: String,
    /// Type OID.
    pub type_oid: u32,
    /// `atttypmod`.
    pub type_modifier: i32,
}

/// Builds the description of a relation from its Relation message: names
/// and types come from the message (they describe the rows that follow, even
/// when the stream lags behind later DDL); the source type text comes from
/// `format_type`, nullability from the catalog when the column still exists
/// with the same type (else nullable), and the key from `table`.
pub async fn describe_relation(
    client: &Client,
    table: &TableInfo,
    wire: &[WireColumn],
    cache: &mut TypeCache,
) -> Result<TableDescription, SourceError> {
    let oids: Vec<u32> = wire.iter().map(|c| c.type_oid).collect();
    let mods: Vec<i32> = wire.iter().map(|c| c.type_modifier).collect();
    let formatted = client
        .query(
            "SELECT format_type(t.oid, t.typmod) FROM unnest($1::oid[], $2::int4[]) WITH ORDINALITY AS t(oid, typmod, n) ORDER BY n",
            &[&oids, &mods],
        )
        .await?;
    let live = columns(client, table.oid).await?;
    let mut columns_out = Vec::with_capacity(wire.len());
    let mut types = Vec::with_capacity(wire.len());
    for (c, f) in wire.iter().zip(formatted) {
        let t = cache.resolve(client, c.type_oid).await?;
        let nullable = match live.get(&c.name) {
            Some(l) if l.type_oid == c.type_oid => !l.not_null,
            _ => true,
        };
        columns_out.push(ColumnSchema {
            name: c.name.clone(),
            kind: t.kind(),
            source_type: f.get::<_, Option<String>>(0).unwrap_or_default(),
            nullable,
        });
        types.push(t);
    }
    let schema = TableSchema::new(table.id.clone(), columns_out, table.key.clone()).map_err(|e| {
        SourceError::permanent(format!(
            "{e}; a key column was dropped or renamed — fix the table's key or the `keys:` override for {}",
            table.id
        ))
    })?;
    Ok(TableDescription { schema, types })
}
