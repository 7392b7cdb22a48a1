//! Reading existing rows for a snapshot, in key-ordered chunks.
//!
//! Invariants:
//! - All chunks of one snapshot are read in one `REPEATABLE READ READ ONLY`
//!   transaction that adopted the snapshot exported when the slot was
//!   created (`SET TRANSACTION SNAPSHOT`), so together they show the database
//!   exactly as of the slot's consistent point: every change before it is in
//!   the rows, every change after it comes from the slot. No gap, no overlap.
//! - Chunks are `WHERE (key) > (last key) ORDER BY key LIMIT n`, so each
//!   costs an index range scan and memory stays at one chunk. The last key of
//!   a chunk is returned as text so progress can be saved and a later read
//!   can continue after it.
//! - Values are read as their type's output function writes them (what
//!   pgoutput sends), under the same session settings as the replication
//!   stream, and decoded by the same [`PgType`] code, so a snapshot row and a
//!   streamed row of the same data are identical. That text comes from
//!   `format('%s', col)`, not `col::text`: some types have their own cast to
//!   text that differs from their output (`bool::text` is `true`, not `t`;
//!   `char(n)::text` drops the padding; `inet::text` adds `/32`). `format`
//!   turns NULL into `''`, so NULL is told apart with `num_nulls` (not
//!   `IS NULL`, which is true for a composite whose fields are all NULL).
//! - A keyless table (REPLICA IDENTITY FULL without a key) is read in `ctid`
//!   order, which is stable only inside one snapshot: such a table restarts
//!   from its first row if a snapshot is interrupted.

use rowlog_schemas::{Row, TableSchema, Value};
use tokio_postgres::Client;
use tokio_postgres::types::ToSql;

use super::catalog::{quote_ident, quote_table};
use super::types::PgType;
use crate::error::SourceError;

/// Starts the snapshot transaction on `client`; with `snapshot`, adopts the
/// exported snapshot (it must still be alive: the replication connection
/// that exported it must not have run another command).
pub async fn begin(client: &Client, snapshot: Option<&str>) -> Result<(), SourceError> {
    client
        .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .await?;
    if let Some(name) = snapshot {
        // The name comes from the server; quote it anyway.
        let sql = format!("SET TRANSACTION SNAPSHOT '{}'", name.replace('\'', "''"));
        client.batch_execute(&sql).await.map_err(|e| {
            SourceError::from(e).context(format!(
                "adopting exported snapshot {name} (it ends when the replication connection runs another command)"
            ))
        })?;
    }
    Ok(())
}

/// Ends the snapshot transaction.
pub async fn finish(client: &Client) -> Result<(), SourceError> {
    client.batch_execute("COMMIT").await?;
    Ok(())
}

/// The planner's row estimate for progress reports (`-1` when never analysed).
pub async fn estimate_rows(client: &Client, schema: &TableSchema) -> Result<i64, SourceError> {
    let row = client
        .query_one(
            &format!(
                "SELECT reltuples::int8 FROM pg_class WHERE oid = '{}'::regclass",
                quote_table(&schema.table).replace('\'', "''")
            ),
            &[],
        )
        .await?;
    Ok(row.get(0))
}

/// One chunk of a table.
#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    /// Rows in key order, columns in schema order.
    pub rows: Vec<Row>,
    /// Text of the last row's key columns (or its `ctid` for a keyless
    /// table); `None` when the chunk is empty.
    pub last_key: Option<Vec<String>>,
}

/// Reads up to `limit` rows of `schema.table` after `after` (the `last_key`
/// of the previous chunk). `types[i]` decodes column `i`; the key
/// parameters are cast back with the columns' `source_type`.
pub async fn read_chunk(
    client: &Client,
    schema: &TableSchema,
    types: &[PgType],
    after: Option<&[String]>,
    limit: u32,
) -> Result<Chunk, SourceError> {
    let cols: Vec<String> = schema
        .columns
        .iter()
        .map(|c| {
            let col = format!("t.{}", quote_ident(&c.name));
            format!("CASE WHEN num_nulls({col}) = 0 THEN format('%s', {col}) END")
        })
        .collect();
    let keyless = schema.key.is_empty();
    // Qualified with the table alias: a bare name in ORDER BY would pick the
    // `::text` output column of the same name and sort as text.
    let key_exprs: Vec<String> = if keyless {
        vec!["t.ctid".to_string()]
    } else {
        schema
            .key
            .iter()
            .map(|k| format!("t.{}", quote_ident(k)))
            .collect()
    };
    let key_casts: Vec<String> = if keyless {
        vec!["tid".to_string()]
    } else {
        schema
            .key
            .iter()
            .map(|k| {
                schema
                    .column(k)
                    .map_or_else(|| "text".into(), |c| c.source_type.clone())
            })
            .collect()
    };
    let mut sql = format!(
        "SELECT {}, {} FROM {} AS t",
        cols.join(", "),
        key_exprs
            .iter()
            .map(|k| format!("{k}::text"))
            .collect::<Vec<_>>()
            .join(", "),
        quote_table(&schema.table)
    );
    let params: Vec<&(dyn ToSql + Sync)> = match after {
        Some(last) => {
            if last.len() != key_exprs.len() {
                return Err(SourceError::permanent(format!(
                    "{}: saved snapshot progress has {} key values but the key has {} columns; restart the snapshot",
                    schema.table,
                    last.len(),
                    key_exprs.len()
                )));
            }
            let placeholders: Vec<String> = (0..last.len())
                .map(|i| format!("${}::text::{}", i + 1, key_casts[i]))
                .collect();
            sql.push_str(&format!(
                " WHERE ({}) > ({})",
                key_exprs.join(", "),
                placeholders.join(", ")
            ));
            last.iter().map(|s| s as &(dyn ToSql + Sync)).collect()
        }
        None => Vec::new(),
    };
    sql.push_str(&format!(" ORDER BY {} LIMIT {limit}", key_exprs.join(", ")));
    let rows = client
        .query(&sql, &params)
        .await
        .map_err(|e| SourceError::from(e).context(format!("snapshot of {}", schema.table)))?;
    let n = schema.columns.len();
    let mut out = Vec::with_capacity(rows.len());
    let mut last_key = None;
    for r in &rows {
        let mut row = Row::new();
        for (i, c) in schema.columns.iter().enumerate() {
            let text: Option<String> = r.try_get(i)?;
            let v = match text {
                None => Value::Null,
                Some(t) => types[i].decode_text(&t).map_err(|e| {
                    SourceError::permanent(format!("{}.{} (snapshot): {e}", schema.table, c.name))
                })?,
            };
            row.push(c.name.clone(), v);
        }
        let key: Option<Vec<String>> = (n..n + key_exprs.len())
            .map(|i| r.try_get::<_, Option<String>>(i).ok().flatten())
            .collect();
        last_key = Some(key.ok_or_else(|| {
            SourceError::permanent(format!(
                "{}: a row has NULL in key column(s) {:?}; choose non-null key columns under `keys:`",
                schema.table, schema.key
            ))
        })?);
        out.push(row);
    }
    Ok(Chunk {
        rows: out,
        last_key,
    })
}
