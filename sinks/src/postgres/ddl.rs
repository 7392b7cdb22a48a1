//! Target tables: what they look like, creating them, adding columns.
//!
//! Invariants:
//! - DDL runs in its own autocommit statements *before* a batch's data
//!   transaction, and is idempotent (`IF NOT EXISTS` everywhere). A crash
//!   between the DDL and the data leaves an empty table or a new NULL-able
//!   column, which the replayed batch then fills: nothing is lost, nothing
//!   applies twice.
//! - Columns are only ever added (`auto_evolve`), never dropped or retyped:
//!   a follower may hold columns the source no longer has.
//! - The catalog view of a table ([`TableInfo`]) is cached per target and
//!   re-read whenever a change arrives with a schema version not yet checked
//!   against it. Column types come from `pg_attribute` via `format_type`
//!   (rather than `information_schema.columns`, which says `ARRAY` and
//!   `USER-DEFINED` instead of the type), with modifiers for checks and
//!   without them for casts (see [`super::types::cast_type`]).
//! - Whether the table has a UNIQUE index besides its primary key is read
//!   with the columns; such tables are applied change by change in log order
//!   (see the module doc of [`super`]).

use std::collections::{HashMap, HashSet};

use rowlog_schemas::{SourceKind, TableSchema};
use tokio_postgres::Client;

use super::errors;
use super::sql::{self, Target};
use super::types;
use crate::SinkError;

/// One column of a target table.
#[derive(Debug, Clone)]
pub struct Column {
    /// `format_type` with modifiers, e.g. `character varying(3)`.
    pub ty: String,
    /// The type to cast text to (see [`types::cast_type`]).
    pub cast: String,
}

/// What the sink knows about a target table.
#[derive(Debug, Clone, Default)]
pub struct TableInfo {
    /// Columns by name.
    pub columns: HashMap<String, Column>,
    /// Whether a UNIQUE index other than the primary key exists.
    pub unique_secondary: bool,
    /// Schema versions already checked against these columns.
    pub versions: HashSet<u32>,
}

/// Reads `target` from the catalog; `None` when it does not exist.
pub async fn load(client: &Client, target: &Target) -> Result<Option<TableInfo>, SinkError> {
    let fail = |e: tokio_postgres::Error| errors::sink_error(&e, &target.to_string());
    let row = client
        .query_one("SELECT to_regclass($1)::oid", &[&target.sql()])
        .await
        .map_err(fail)?;
    let Some(oid) = row.try_get::<_, Option<u32>>(0).map_err(fail)? else {
        return Ok(None);
    };
    let rows = client
        .query(
            "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), format_type(a.atttypid, NULL) \
             FROM pg_attribute a WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped",
            &[&oid],
        )
        .await
        .map_err(fail)?;
    let mut columns = HashMap::new();
    for r in rows {
        let name: String = r.try_get(0).map_err(fail)?;
        let ty: String = r.try_get(1).map_err(fail)?;
        let plain: String = r.try_get(2).map_err(fail)?;
        columns.insert(
            name,
            Column {
                ty,
                cast: types::cast_type(&plain),
            },
        );
    }
    let unique_secondary: bool = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_index WHERE indrelid = $1 AND indisunique AND NOT indisprimary)",
            &[&oid],
        )
        .await
        .map_err(fail)?
        .try_get(0)
        .map_err(fail)?;
    Ok(Some(TableInfo {
        columns,
        unique_secondary,
        versions: HashSet::new(),
    }))
}

/// What the sink may change on the target.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Create missing schemas and tables.
    pub auto_create: bool,
    /// Add missing columns.
    pub auto_evolve: bool,
}

/// Makes sure `target` exists and has every column of `schema`, creating
/// or evolving it as `policy` allows; afterwards `cache[target]` is current.
pub async fn ensure(
    client: &Client,
    target: &Target,
    schema: &TableSchema,
    source: SourceKind,
    policy: Policy,
    cache: &mut HashMap<Target, TableInfo>,
) -> Result<(), SinkError> {
    let version = schema.version();
    if cache
        .get(target)
        .is_some_and(|t| t.versions.contains(&version))
    {
        return Ok(());
    }
    let place = target.to_string();
    let exec = async |stmt: String| {
        client
            .batch_execute(&stmt)
            .await
            .map_err(|e| match errors::classify(&e) {
                // `IF NOT EXISTS` racing another session's identical DDL
                // fails with a unique violation on the catalog: retry.
                errors::Class::Data => SinkError::transient(format!(
                    "{place}: {}; another session changed the table at the same time, retrying",
                    errors::describe(&e)
                )),
                _ => errors::sink_error(&e, &place),
            })
    };
    let mut info = match load(client, target).await? {
        Some(info) => info,
        None if policy.auto_create => {
            exec(format!(
                "CREATE SCHEMA IF NOT EXISTS {}",
                sql::ident(&target.schema)
            ))
            .await?;
            let cols: Vec<(String, String)> = schema
                .columns
                .iter()
                .map(|c| {
                    (
                        c.name.clone(),
                        types::pg_type(&c.kind, source, &c.source_type),
                    )
                })
                .collect();
            exec(sql::create_table(target, &cols, &schema.key)).await?;
            tracing::info!(table = %target, "created the target table from source table {}", schema.table);
            load(client, target).await?.ok_or_else(|| {
                SinkError::permanent(format!("{target}: created but not visible in the catalog"))
            })?
        }
        None => {
            return Err(SinkError::permanent(format!(
                "target table {target} (for source table {}) does not exist; create it, or set `auto_create: true` on the sink",
                schema.table
            )));
        }
    };
    let missing: Vec<&rowlog_schemas::ColumnSchema> = schema
        .columns
        .iter()
        .filter(|c| !info.columns.contains_key(&c.name))
        .collect();
    if !missing.is_empty() {
        if !policy.auto_evolve {
            let names: Vec<String> = missing.iter().map(|c| format!("`{}`", c.name)).collect();
            return Err(SinkError::permanent(format!(
                "target table {target} lacks column {} of source table {}; add it (ALTER TABLE {} ADD COLUMN …), or set `auto_evolve: true` on the sink",
                names.join(", "),
                schema.table,
                target.sql()
            )));
        }
        for c in &missing {
            let ty = types::pg_type(&c.kind, source, &c.source_type);
            exec(sql::add_column(target, &c.name, &ty)).await?;
            tracing::info!(table = %target, column = %c.name, "added column ({ty})");
        }
        info = load(client, target).await?.ok_or_else(|| {
            SinkError::permanent(format!(
                "{target}: the table disappeared while adding columns"
            ))
        })?;
    }
    let mut versions = cache.remove(target).map(|t| t.versions).unwrap_or_default();
    if !missing.is_empty() {
        versions.clear();
    }
    versions.insert(version);
    info.versions = versions;
    cache.insert(target.clone(), info);
    Ok(())
}
