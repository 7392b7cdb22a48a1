//! The MySQL/MariaDB follower sink (MariaDB 10.6+, MySQL 8).
//!
//! Invariants:
//! - **One transaction per batch.** [`MysqlSink::apply`] runs every
//!   statement of a batch and the upsert of its offsets (table
//!   `offsets_table`, keyed by sink name, topic and partition) in one InnoDB
//!   transaction, then commits: after a crash either the batch and its
//!   offsets are there or neither is, and [`MysqlSink::open`] hands back the
//!   offsets to resume from. Nothing inside that transaction commits
//!   implicitly: truncates are `DELETE FROM`, and the DDL of `auto_create`
//!   and `auto_evolve` runs before the transaction starts ([`ddl`]).
//! - **Fenced.** The transaction first locks the batch's offset rows
//!   (`SELECT … FOR UPDATE`, REPEATABLE READ so a missing row is
//!   gap-locked) and checks they hold what this sink last read or wrote; a
//!   second worker on the same partitions is refused
//!   ([`crate::contract`]'s fencing), nothing of its batch applied.
//! - **Set-based where it is safe.** The batch is [`collapse`]d to one final
//!   action per key; for a target whose only unique index is the primary key
//!   on the source key, deletes run as `DELETE … WHERE (k…) IN (…)` and
//!   upserts as multi-row `INSERT … ON DUPLICATE KEY UPDATE` of the columns
//!   the change carried (absent columns keep the target's value), grouped by
//!   the set of present columns and chunked ([`sql`]).
//! - **Row by row, in log order, on tables with other unique keys.**
//!   `ON DUPLICATE KEY UPDATE` fires on *any* unique index, and set-based
//!   apply reorders keys, so with a secondary unique key it can update the
//!   wrong row (Debezium's documented case: row A's unique value moves to
//!   row B; applied out of order, B's insert "updates" A). For such targets
//!   (or a primary key that is not exactly the source key) the table's
//!   changes are applied one by one in the batch's log order, not
//!   collapsed: insert/read → plain `INSERT` (a duplicate of the primary key,
//!   i.e. a replay, becomes an `UPDATE … WHERE key`); update → `UPDATE … SET
//!   present columns WHERE key` (an `INSERT` if no row matched); delete →
//!   `DELETE … WHERE key`. Never `ON DUPLICATE KEY UPDATE` there. Every
//!   intermediate state of the target is then one the source had, so a
//!   unique key the source kept is never violated; a duplicate on a
//!   secondary key means the follower diverged and is a per-row rejection.
//! - **Rejections leave the rest of the batch intact.** A statement failing
//!   with a data or constraint error (see [`errors`]) rolls the batch back
//!   and redoes it row by row with one `SAVEPOINT` per final action (per
//!   change in row-by-row tables): only the failing ones are rejected (all
//!   the batch indices folded into them, with the server's message, the
//!   table and the key), the rest commits with the offsets. A value MySQL
//!   cannot hold at all (NaN, infinity, a year past 9999) is rejected before
//!   any statement runs ([`types::to_mysql`]).
//! - **Transient errors leave nothing applied.** A lost or killed
//!   connection, deadlock or lock wait timeout is a transient
//!   [`SinkError`]; the connection is dropped (the server rolls back the open
//!   transaction) and the next call reconnects. Everything else (missing
//!   table or column without `auto_create`/`auto_evolve`, privileges, access
//!   denied) is permanent and names the table and the fix.
//! - **Sessions are strict and UTC.** Each connection sets `time_zone =
//!   '+00:00'` (timestamptz values are UTC wall clocks), `sql_mode =
//!   'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'` (bad values are errors, not
//!   silent truncation; zero dates stay legal) and `utf8mb4`, and uses
//!   `CLIENT_FOUND_ROWS` so an `UPDATE` reports rows matched, not changed.
//! - Target tables: `table_map["ns.table"]` (`db.table`) if present, else
//!   the source's `namespace.table` as `database.table` (a PostgreSQL
//!   schema `public` becomes database `public`). Column types of created
//!   tables: see [`types`].

pub mod ddl;
pub mod errors;
pub mod sql;
pub mod types;

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, OptsBuilder, Params, Row, Value as My};
use rowlog_config::SqlSink;
use rowlog_schemas::{Op, TableId, TableSchema, Value};

use crate::collapse::{Action, Final, Segment, TableActions, collapse, column_index};
use crate::contract::{Applied, Change, LogOffset, Rejected, Sink, SinkError};
use crate::fence::{self, OffsetFence};
use errors::{Class, classify, code, describe, to_sink};

/// Bound on opening a connection (a frozen server must not hang the sink).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// A MySQL/MariaDB follower (see the module doc).
pub struct MysqlSink {
    name: String,
    cfg: SqlSink,
    conn: Option<Conn>,
    /// Target tables seen so far, by (database, table).
    targets: HashMap<(String, String), ddl::Target>,
    /// See [`Sink::allow_rejects`].
    allow_rejects: bool,
    /// The stored offsets as last read or written.
    fence: OffsetFence,
}

impl fmt::Debug for MysqlSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MysqlSink")
            .field("name", &self.name)
            .field("url", &self.cfg.url.redacted())
            .field("connected", &self.conn.is_some())
            .finish()
    }
}

/// Why a statement failed, for the apply loop.
enum Fail {
    /// A row's values or a constraint: the row can be rejected.
    Data { code: Option<u16>, message: String },
    /// Anything else.
    Sink(SinkError),
}

impl From<SinkError> for Fail {
    fn from(e: SinkError) -> Fail {
        Fail::Sink(e)
    }
}

impl Fail {
    /// As a sink error where no row can be rejected.
    fn into_sink(self, place: &str) -> SinkError {
        match self {
            Fail::Data { message, .. } => SinkError::permanent(format!("{place}: {message}")),
            Fail::Sink(e) => e,
        }
    }
}

/// Runs a prepared statement; returns the affected (with
/// `CLIENT_FOUND_ROWS`: matched) rows.
async fn exec(conn: &mut Conn, stmt: &str, params: Vec<My>, place: &str) -> Result<u64, Fail> {
    let params = if params.is_empty() {
        Params::Empty
    } else {
        Params::Positional(params)
    };
    match conn.exec_drop(stmt, params).await {
        Ok(()) => Ok(conn.affected_rows()),
        Err(e) => Err(match classify(&e) {
            Class::Data => Fail::Data {
                code: code(&e),
                message: describe(&e),
            },
            Class::Transient | Class::Permanent => Fail::Sink(to_sink(&e, place)),
        }),
    }
}

async fn query(conn: &mut Conn, stmt: &str, place: &str) -> Result<(), SinkError> {
    conn.query_drop(stmt).await.map_err(|e| to_sink(&e, place))
}

fn int_at(row: &Row, i: usize) -> Option<i64> {
    match row.as_ref(i)? {
        My::Int(n) => Some(*n),
        My::UInt(n) => i64::try_from(*n).ok(),
        My::Bytes(b) => std::str::from_utf8(b).ok()?.parse().ok(),
        _ => None,
    }
}

fn text_at(row: &Row, i: usize) -> Option<String> {
    match row.as_ref(i)? {
        My::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
        _ => None,
    }
}

/// Where the batch is applied: everything a transaction needs to know.
struct Ctx<'a> {
    changes: &'a [Change],
    /// Source table → its target.
    targets: HashMap<TableId, ddl::Target>,
    /// Rejected changes so far.
    rejected: Vec<Rejected>,
    /// Redo mode: one savepoint per final action, rejections instead of
    /// errors.
    careful: bool,
    /// See [`Sink::allow_rejects`].
    allow_rejects: bool,
}

impl Ctx<'_> {
    fn target(&self, table: &TableId) -> Result<&ddl::Target, Fail> {
        self.targets.get(table).ok_or_else(|| {
            Fail::Sink(SinkError::permanent(format!(
                "no target prepared for source table {table} (a bug in the MySQL sink)"
            )))
        })
    }

    fn reject(&mut self, indices: &[usize], reason: &str) {
        for &index in indices {
            self.rejected.push(Rejected {
                index,
                reason: reason.to_owned(),
            });
        }
    }
}

fn describe_key(schema: &TableSchema, key: &[Value]) -> String {
    schema
        .key
        .iter()
        .zip(key)
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The values at `cols` converted for the target, or why they cannot be.
fn convert(
    target: &ddl::Target,
    schema: &TableSchema,
    values: &[Value],
    cols: &[usize],
) -> Result<Vec<My>, String> {
    cols.iter()
        .map(|&i| {
            let name = schema.columns.get(i).map_or("?", |c| c.name.as_str());
            let v = values.get(i).unwrap_or(&Value::Absent);
            types::to_mysql(v, target.data_type(name))
                .map_err(|e| format!("column {}: {e}", sql::ident(name)))
        })
        .collect()
}

fn key_positions(schema: &TableSchema) -> Result<Vec<usize>, SinkError> {
    schema
        .key
        .iter()
        .map(|k| {
            column_index(schema, k).ok_or_else(|| {
                SinkError::permanent(format!(
                    "{}: key column `{k}` is not a column of the schema",
                    schema.table
                ))
            })
        })
        .collect()
}

fn names<'s>(schema: &'s TableSchema, cols: &[usize]) -> Vec<&'s str> {
    cols.iter()
        .filter_map(|&i| schema.columns.get(i).map(|c| c.name.as_str()))
        .collect()
}

/// One final action, converted and ready.
struct Ready<'f> {
    fin: &'f Final,
    params: Vec<My>,
    bytes: usize,
}

impl<'f> Ready<'f> {
    fn new(fin: &'f Final, params: Vec<My>) -> Ready<'f> {
        let bytes = params.iter().map(types::wire_size).sum();
        Ready { fin, params, bytes }
    }
}

/// Splits `rows` into statement-sized chunks.
fn chunks<'r, 'f>(rows: &'r [Ready<'f>], width: usize) -> Vec<&'r [Ready<'f>]> {
    let max_rows = sql::rows_per_statement(width);
    let mut out = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (i, r) in rows.iter().enumerate() {
        if i > start && (i - start >= max_rows || bytes + r.bytes > sql::MAX_BYTES) {
            out.push(&rows[start..i]);
            start = i;
            bytes = 0;
        }
        bytes += r.bytes;
    }
    if start < rows.len() {
        out.push(&rows[start..]);
    }
    out
}

const SAVEPOINT: &str = "SAVEPOINT rowlog_row";
const ROLLBACK_TO: &str = "ROLLBACK TO SAVEPOINT rowlog_row";

/// Before one final action: in careful mode, a savepoint.
async fn begin_row(conn: &mut Conn, ctx: &Ctx<'_>, what: &str) -> Result<(), Fail> {
    if ctx.careful {
        query(conn, SAVEPOINT, what).await?;
    }
    Ok(())
}

/// After one final action: in careful mode a data error rolls back to the
/// savepoint and rejects `indices` instead of failing the batch.
async fn end_row(
    conn: &mut Conn,
    ctx: &mut Ctx<'_>,
    indices: &[usize],
    what: &str,
    result: Result<(), Fail>,
) -> Result<(), Fail> {
    match result {
        Err(Fail::Data { message, .. }) if ctx.careful => {
            query(conn, ROLLBACK_TO, what).await?;
            ctx.reject(indices, &format!("{what}: {message}"));
            Ok(())
        }
        other => other,
    }
}

/// Set-based apply of one table's final actions (see the module doc).
async fn apply_set(conn: &mut Conn, ctx: &mut Ctx<'_>, ta: &TableActions) -> Result<(), Fail> {
    let target = ctx.target(&ta.table)?.clone();
    let schema = &ta.schema;
    let tname = target.sql_name();
    let key = key_positions(schema)?;
    let key_names = names(schema, &key);
    let mut deletes: Vec<Ready> = Vec::new();
    // (present columns, rows), in first-appearance order.
    let mut groups: Vec<(Vec<usize>, Vec<Ready>)> = Vec::new();
    let mut group_of: HashMap<Vec<usize>, usize> = HashMap::new();
    for fin in &ta.finals {
        match &fin.action {
            Action::Delete(kv) => {
                let all: Vec<usize> = (0..kv.len()).collect();
                // Key values are in key order: convert against the key columns.
                let converted: Result<Vec<My>, String> = all
                    .iter()
                    .map(|&i| {
                        let col = key.get(i).and_then(|&c| schema.columns.get(c));
                        let name = col.map_or("?", |c| c.name.as_str());
                        types::to_mysql(&kv[i], target.data_type(name))
                            .map_err(|e| format!("column {}: {e}", sql::ident(name)))
                    })
                    .collect();
                match converted {
                    Ok(p) => deletes.push(Ready::new(fin, p)),
                    Err(e) => ctx.reject(
                        &fin.indices,
                        &format!("{tname} key ({}): {e}", describe_key(schema, kv)),
                    ),
                }
            }
            Action::Upsert(vals) => {
                let present: Vec<usize> =
                    (0..vals.len()).filter(|&i| !vals[i].is_absent()).collect();
                match convert(&target, schema, vals, &present) {
                    Ok(p) => {
                        let g = *group_of.entry(present.clone()).or_insert_with(|| {
                            groups.push((present, Vec::new()));
                            groups.len() - 1
                        });
                        groups[g].1.push(Ready::new(fin, p));
                    }
                    Err(e) => {
                        let kv: Vec<Value> = key.iter().map(|&i| vals[i].clone()).collect();
                        ctx.reject(
                            &fin.indices,
                            &format!("{tname} key ({}): {e}", describe_key(schema, &kv)),
                        );
                    }
                }
            }
        }
    }
    let place = format!("applying to {tname} (source table {})", ta.table);
    if ctx.careful {
        for r in &deletes {
            let what = row_place(&tname, schema, &r.fin.action, &key);
            let stmt = sql::delete_in(&tname, &key_names, 1);
            begin_row(conn, ctx, &what).await?;
            let result = exec(conn, &stmt, r.params.clone(), &what).await.map(drop);
            end_row(conn, ctx, &r.fin.indices, &what, result).await?;
        }
        for (present, rows) in &groups {
            let cols = names(schema, present);
            let update: Vec<&str> = cols
                .iter()
                .copied()
                .filter(|c| !key_names.contains(c))
                .collect();
            let stmt = sql::upsert(&tname, &cols, &update, 1);
            for r in rows {
                let what = row_place(&tname, schema, &r.fin.action, &key);
                begin_row(conn, ctx, &what).await?;
                let result = exec(conn, &stmt, r.params.clone(), &what).await.map(drop);
                end_row(conn, ctx, &r.fin.indices, &what, result).await?;
            }
        }
        return Ok(());
    }
    for chunk in chunks(&deletes, key.len()) {
        let stmt = sql::delete_in(&tname, &key_names, chunk.len());
        let params = chunk
            .iter()
            .flat_map(|r| r.params.iter().cloned())
            .collect();
        exec(conn, &stmt, params, &place).await?;
    }
    for (present, rows) in &groups {
        let cols = names(schema, present);
        let update: Vec<&str> = cols
            .iter()
            .copied()
            .filter(|c| !key_names.contains(c))
            .collect();
        for chunk in chunks(rows, cols.len()) {
            let stmt = sql::upsert(&tname, &cols, &update, chunk.len());
            let params = chunk
                .iter()
                .flat_map(|r| r.params.iter().cloned())
                .collect();
            exec(conn, &stmt, params, &place).await?;
        }
    }
    Ok(())
}

/// `` `db`.`t` key (id=1) `` for messages.
fn row_place(tname: &str, schema: &TableSchema, action: &Action, key: &[usize]) -> String {
    let kv: Vec<Value> = match action {
        Action::Delete(kv) => kv.clone(),
        Action::Upsert(vals) => key
            .iter()
            .map(|&i| vals.get(i).cloned().unwrap_or(Value::Absent))
            .collect(),
    };
    format!("{tname} key ({})", describe_key(schema, &kv))
}

/// The values of `change`'s row image in schema order.
fn image(change: &Change) -> Vec<Value> {
    let row = match change.event.op {
        Op::Delete => change.event.before.as_ref(),
        _ => change.event.after.as_ref(),
    };
    change
        .schema
        .columns
        .iter()
        .map(|c| {
            row.and_then(|r| r.get(&c.name))
                .cloned()
                .unwrap_or(Value::Absent)
        })
        .collect()
}

/// Row-by-row apply of one table's changes in log order (see the module
/// doc).
async fn apply_rows(conn: &mut Conn, ctx: &mut Ctx<'_>, ta: &TableActions) -> Result<(), Fail> {
    let target = ctx.target(&ta.table)?.clone();
    let schema = &ta.schema;
    let tname = target.sql_name();
    let key = key_positions(schema)?;
    let key_names = names(schema, &key);
    let mut indices: Vec<usize> = ta
        .finals
        .iter()
        .flat_map(|f| f.indices.iter().copied())
        .collect();
    indices.sort_unstable();
    for index in indices {
        let Some(change) = ctx.changes.get(index) else {
            continue;
        };
        let op = change.event.op;
        let vals = image(change);
        let kv: Vec<Value> = key.iter().map(|&i| vals[i].clone()).collect();
        let what = format!("{tname} key ({})", describe_key(schema, &kv));
        let key_params = match convert(&target, schema, &vals, &key) {
            Ok(p) => p,
            Err(e) => {
                ctx.reject(&[index], &format!("{what}: {e}"));
                continue;
            }
        };
        if op == Op::Delete {
            let stmt = sql::delete_in(&tname, &key_names, 1);
            begin_row(conn, ctx, &what).await?;
            let result = exec(conn, &stmt, key_params, &what).await.map(drop);
            end_row(conn, ctx, &[index], &what, result).await?;
            continue;
        }
        let present: Vec<usize> = (0..vals.len()).filter(|&i| !vals[i].is_absent()).collect();
        let set: Vec<usize> = present
            .iter()
            .copied()
            .filter(|i| !key.contains(i))
            .collect();
        let (all_params, set_params) = match (
            convert(&target, schema, &vals, &present),
            convert(&target, schema, &vals, &set),
        ) {
            (Ok(a), Ok(s)) => (a, s),
            (Err(e), _) | (_, Err(e)) => {
                ctx.reject(&[index], &format!("{what}: {e}"));
                continue;
            }
        };
        let insert = sql::insert(&tname, &names(schema, &present));
        let update = sql::update(&tname, &names(schema, &set), &key_names);
        let mut update_params = set_params;
        update_params.extend(key_params);
        let insert_first = matches!(op, Op::Insert | Op::Read);
        begin_row(conn, ctx, &what).await?;
        let result = if insert_first {
            match exec(conn, &insert, all_params, &what).await {
                Ok(_) => Ok(()),
                // A replay: the primary key is there. Anything else (a
                // secondary key) stays the insert's error.
                Err(Fail::Data {
                    code: Some(1062),
                    message,
                }) => match exec(conn, &update, update_params, &what).await {
                    Ok(0) => Err(Fail::Data {
                        code: Some(1062),
                        message,
                    }),
                    Ok(_) => Ok(()),
                    Err(e) => Err(e),
                },
                Err(e) => Err(e),
            }
        } else {
            match exec(conn, &update, update_params, &what).await {
                Ok(0) => exec(conn, &insert, all_params, &what).await.map(drop),
                Ok(_) => Ok(()),
                Err(e) => Err(e),
            }
        };
        end_row(conn, ctx, &[index], &what, result).await?;
    }
    Ok(())
}

/// The fence (see [`crate::contract`]): locks the batch's offset rows and
/// checks they hold what this sink last read or wrote. `FOR UPDATE` under
/// REPEATABLE READ (set on connect) also gap-locks a missing row, so two
/// workers starting on a fresh partition cannot both insert it: one of them
/// deadlocks (transient), retries and is fenced.
async fn fence_offsets(
    conn: &mut Conn,
    offsets_table: &str,
    sink: &str,
    offsets: &[LogOffset],
    expected: &[Option<i64>],
) -> Result<(), Fail> {
    let place = format!("checking the stored offsets in {offsets_table}");
    let mut moved: Vec<&LogOffset> = Vec::new();
    for (o, want) in offsets.iter().zip(expected) {
        let rows: Vec<Row> = conn
            .exec(
                sql::lock_offset(offsets_table),
                (sink, o.topic.as_str(), o.partition),
            )
            .await
            .map_err(|e| Fail::Sink(to_sink(&e, &place)))?;
        let stored = rows.first().and_then(|r| int_at(r, 0));
        // A row that disappeared (offsets reset by hand) is not a fence.
        if stored.is_some() && stored != *want {
            moved.push(o);
        }
    }
    if moved.is_empty() {
        return Ok(());
    }
    Err(Fail::Sink(SinkError::fenced(format!(
        "{offsets_table}: the stored offsets of {} are not the ones this worker read: another worker applied them; nothing of this batch was applied",
        fence::describe(&moved)
    ))))
}

/// One attempt at the whole batch in one transaction.
async fn run(
    conn: &mut Conn,
    ctx: &mut Ctx<'_>,
    segments: &[Segment],
    offsets_table: &str,
    sink: &str,
    offsets: &[LogOffset],
    expected: &[Option<i64>],
) -> Result<(), Fail> {
    query(conn, "START TRANSACTION", "starting the batch transaction").await?;
    fence_offsets(conn, offsets_table, sink, offsets, expected).await?;
    for segment in segments {
        match segment {
            Segment::Truncate(table, index) => {
                let tname = ctx.target(table)?.sql_name();
                let what = format!("truncating {tname} (source table {table})");
                let stmt = sql::delete_all(&tname);
                begin_row(conn, ctx, &what).await?;
                let result = exec(conn, &stmt, Vec::new(), &what).await.map(drop);
                end_row(conn, ctx, &[*index], &what, result).await?;
            }
            Segment::Rows(tables) => {
                for ta in tables {
                    if ctx.target(&ta.table)?.set_based(&ta.schema.key) {
                        apply_set(conn, ctx, ta).await?;
                    } else {
                        apply_rows(conn, ctx, ta).await?;
                    }
                }
            }
        }
    }
    if let (false, Some(first)) = (ctx.allow_rejects, ctx.rejected.first()) {
        return Err(Fail::Sink(SinkError::permanent(format!(
            "{} (on_error: stop: nothing of this batch was applied)",
            first.reason
        ))));
    }
    if !offsets.is_empty() {
        let place = format!("storing offsets in {offsets_table}");
        let params = offsets
            .iter()
            .flat_map(|o| {
                [
                    My::from(sink),
                    My::from(o.topic.as_str()),
                    My::Int(i64::from(o.partition)),
                    My::Int(o.next),
                ]
            })
            .collect();
        exec(
            conn,
            &sql::store_offsets(offsets_table, offsets.len()),
            params,
            &place,
        )
        .await
        .map_err(|f| Fail::Sink(f.into_sink(&place)))?;
    }
    query(conn, "COMMIT", "committing the batch").await?;
    Ok(())
}

impl MysqlSink {
    /// A sink called `sink_name` (the offsets are stored under it) applying
    /// to the target `cfg` describes. Connects on [`Sink::open`].
    pub fn new(sink_name: &str, cfg: &SqlSink) -> MysqlSink {
        MysqlSink {
            name: sink_name.to_owned(),
            cfg: cfg.clone(),
            conn: None,
            targets: HashMap::new(),
            allow_rejects: true,
            fence: OffsetFence::default(),
        }
    }

    /// The server's id of the current connection (`CONNECTION_ID()`), if
    /// connected.
    pub fn connection_id(&self) -> Option<u32> {
        self.conn.as_ref().map(Conn::id)
    }

    fn place(&self) -> String {
        format!("MySQL sink `{}` ({})", self.name, self.cfg.url.redacted())
    }

    /// Connection options and the URL's database.
    fn opts(&self) -> Result<(Opts, String), SinkError> {
        let url = self.cfg.url.expose();
        let scheme = url.scheme();
        let rest = match scheme {
            "mysql" | "mariadb" => url.as_str().strip_prefix(scheme).unwrap_or_default(),
            other => {
                return Err(SinkError::permanent(format!(
                    "{}: URL scheme `{other}` is not mysql:// or mariadb://",
                    self.place()
                )));
            }
        };
        let opts = Opts::from_url(&format!("mysql{rest}")).map_err(|e| {
            SinkError::permanent(format!(
                "{}: bad MySQL URL: {e}; expected mysql://USER:PASSWORD@HOST:PORT/DATABASE",
                self.place()
            ))
        })?;
        let db = opts
            .db_name()
            .filter(|d| !d.is_empty())
            .ok_or_else(|| {
                SinkError::permanent(format!(
                    "{}: the URL names no database; add the one that holds the offsets table, e.g. mysql://USER@HOST:3306/rowlog",
                    self.place()
                ))
            })?
            .to_owned();
        let mut builder = OptsBuilder::from_opts(opts).client_found_rows(true);
        if let Some(p) = self.cfg.password() {
            builder = builder.pass(Some(p.expose().to_owned()));
        }
        Ok((builder.into(), db))
    }

    /// The offsets table: `offsets_table`, in the URL's database unless it
    /// names one (`db.table`).
    fn offsets_table(&self, db: &str) -> String {
        match self.cfg.offsets_table.split_once('.') {
            Some((d, t)) => sql::table(d, t),
            None => sql::table(db, &self.cfg.offsets_table),
        }
    }

    /// The target `(database, table)` of a source table.
    pub fn target_of(&self, table: &TableId) -> Result<(String, String), SinkError> {
        match self.cfg.table_map.get(&table.to_string()) {
            Some(mapped) => match mapped.split_once('.') {
                Some((d, t)) if !d.is_empty() && !t.is_empty() => Ok((d.to_owned(), t.to_owned())),
                _ => Err(SinkError::permanent(format!(
                    "{}: table_map maps {table} to `{mapped}`; write the target as `database.table`",
                    self.place()
                ))),
            },
            None => Ok((table.namespace.clone(), table.name.clone())),
        }
    }

    async fn connect(&mut self) -> Result<String, SinkError> {
        let (opts, db) = self.opts()?;
        if self.conn.is_some() {
            return Ok(db);
        }
        let place = self.place();
        let mut conn = match tokio::time::timeout(CONNECT_TIMEOUT, Conn::new(opts)).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => return Err(to_sink(&e, &format!("{place}: connecting"))),
            Err(_) => {
                return Err(SinkError::transient(format!(
                    "{place}: the server did not complete the connection handshake within {CONNECT_TIMEOUT:?}"
                )));
            }
        };
        for stmt in [
            "SET NAMES utf8mb4",
            "SET time_zone = '+00:00'",
            "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'",
            // The offsets fence relies on gap locks (see `fence_offsets`).
            "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
        ] {
            query(&mut conn, stmt, &format!("{place}: {stmt}")).await?;
        }
        self.conn = Some(conn);
        Ok(db)
    }

    async fn open_inner(&mut self) -> Result<Vec<LogOffset>, SinkError> {
        self.conn = None;
        self.targets.clear();
        let db = self.connect().await?;
        let table = self.offsets_table(&db);
        let place = format!("{}: offsets table {table}", self.place());
        let conn = self
            .conn
            .as_mut()
            .ok_or_else(|| SinkError::transient("not connected"))?;
        query(conn, &sql::create_offsets(&table), &place).await?;
        let rows: Vec<Row> = conn
            .exec(sql::load_offsets(&table), (self.name.as_str(),))
            .await
            .map_err(|e| to_sink(&e, &place))?;
        rows.iter()
            .map(|r| {
                match (
                    text_at(r, 0),
                    int_at(r, 1).and_then(|p| i32::try_from(p).ok()),
                    int_at(r, 2),
                ) {
                    (Some(topic), Some(partition), Some(next)) => Ok(LogOffset {
                        topic,
                        partition,
                        next,
                    }),
                    _ => Err(SinkError::permanent(format!(
                        "{place}: a row of sink `{}` is malformed; fix or delete it",
                        self.name
                    ))),
                }
            })
            .collect()
    }

    /// Creates and evolves the targets of every table in the batch (DDL,
    /// outside the batch transaction) and returns them by source table.
    async fn prepare(
        &mut self,
        changes: &[Change],
        segments: &[Segment],
    ) -> Result<HashMap<TableId, ddl::Target>, SinkError> {
        let mut wanted: Vec<(&TableId, usize)> = Vec::new();
        for segment in segments {
            match segment {
                Segment::Truncate(table, index) => wanted.push((table, *index)),
                Segment::Rows(tables) => {
                    for ta in tables {
                        if let Some(&i) = ta.finals.first().and_then(|f| f.indices.first()) {
                            wanted.push((&ta.table, i));
                        }
                    }
                }
            }
        }
        let allow = ddl::Allow {
            create: self.cfg.auto_create,
            evolve: self.cfg.auto_evolve,
        };
        let mut out = HashMap::new();
        for (table, index) in wanted {
            let Some(change) = changes.get(index) else {
                continue;
            };
            let (db, name) = self.target_of(table)?;
            let cached = self.targets.remove(&(db.clone(), name.clone()));
            let conn = self
                .conn
                .as_mut()
                .ok_or_else(|| SinkError::transient("not connected"))?;
            let target = ddl::ensure(conn, cached, &db, &name, change, allow).await?;
            out.insert(table.clone(), target.clone());
            self.targets.insert((db, name), target);
        }
        Ok(out)
    }

    async fn apply_inner(
        &mut self,
        changes: &[Change],
        offsets: &[LogOffset],
    ) -> Result<Applied, SinkError> {
        let plan = collapse(changes)?;
        let expected: Vec<Option<i64>> = offsets.iter().map(|o| self.fence.expected(o)).collect();
        let db = self.connect().await?;
        let offsets_table = self.offsets_table(&db);
        let targets = self.prepare(changes, &plan.segments).await?;
        let conn = self
            .conn
            .as_mut()
            .ok_or_else(|| SinkError::transient("not connected"))?;
        let mut ctx = Ctx {
            changes,
            targets,
            rejected: Vec::new(),
            careful: false,
            allow_rejects: self.allow_rejects,
        };
        let sink = self.name.as_str();
        let mut result = run(
            conn,
            &mut ctx,
            &plan.segments,
            &offsets_table,
            sink,
            offsets,
            &expected,
        )
        .await;
        if let Err(Fail::Data { message, .. }) = &result {
            tracing::info!(sink, %message, "a row was refused; redoing the batch row by row");
            query(conn, "ROLLBACK", "rolling back before the row-by-row redo").await?;
            ctx.rejected.clear();
            ctx.careful = true;
            result = run(
                conn,
                &mut ctx,
                &plan.segments,
                &offsets_table,
                sink,
                offsets,
                &expected,
            )
            .await;
        }
        match result {
            Ok(()) => {}
            Err(fail) => {
                let e = fail.into_sink("applying the batch");
                if !e.transient {
                    // Best effort: the error is what matters.
                    let _ = conn.query_drop("ROLLBACK").await;
                }
                return Err(e);
            }
        }
        self.fence.committed(offsets);
        let mut rejected = ctx.rejected;
        rejected.sort_by_key(|r| r.index);
        rejected.dedup_by_key(|r| r.index);
        Ok(Applied {
            changes: changes.len() - rejected.len(),
            rejected,
        })
    }

    /// Forgets the connection after a transient error (the server rolls
    /// back what it held) and the cached targets after any error.
    fn after_error(&mut self, e: &SinkError) {
        if e.transient {
            self.conn = None;
        }
        self.targets.clear();
    }
}

impl Sink for MysqlSink {
    fn allow_rejects(&mut self, allowed: bool) {
        self.allow_rejects = allowed;
    }

    async fn open(&mut self) -> Result<Vec<LogOffset>, SinkError> {
        let result = self.open_inner().await;
        match &result {
            Ok(stored) => self.fence.load(stored),
            Err(e) => self.after_error(e),
        }
        result
    }

    async fn apply(
        &mut self,
        changes: &[Change],
        offsets: &[LogOffset],
    ) -> Result<Applied, SinkError> {
        let result = self.apply_inner(changes, offsets).await;
        if let Err(e) = &result {
            self.after_error(e);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_respect_rows_and_bytes() {
        let fin = Final {
            action: Action::Delete(Vec::new()),
            indices: vec![0],
        };
        let small: Vec<Ready> = (0..2_500)
            .map(|i| Ready::new(&fin, vec![My::Int(i)]))
            .collect();
        let sizes: Vec<usize> = chunks(&small, 1).iter().map(|c| c.len()).collect();
        assert_eq!(sizes, vec![1_000, 1_000, 500]);
        let wide: Vec<Ready> = (0..5)
            .map(|_| Ready::new(&fin, vec![My::Int(0); 20_000]))
            .collect();
        let sizes: Vec<usize> = chunks(&wide, 20_000).iter().map(|c| c.len()).collect();
        assert_eq!(sizes, vec![3, 2]);
        let big: Vec<Ready> = (0..3)
            .map(|_| Ready::new(&fin, vec![My::Bytes(vec![0; 3 << 20])]))
            .collect();
        let sizes: Vec<usize> = chunks(&big, 1).iter().map(|c| c.len()).collect();
        assert_eq!(sizes, vec![1, 1, 1]);
        assert!(chunks(&[], 3).is_empty());
    }
}
