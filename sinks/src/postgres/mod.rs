//! The PostgreSQL follower: applies the row log to PostgreSQL tables.
//!
//! Invariants:
//! - **Atomic with offsets.** A batch's rows and its [`LogOffset`]s are
//!   written in one transaction (`BEGIN … COMMIT`); a crash or error before
//!   `COMMIT` leaves neither, so the worker replays the batch from the
//!   stored offsets and every change takes effect exactly once. The
//!   offsets are written first, as a compare-and-set that fences off a
//!   second worker on the same partitions (see [`crate::contract`]). DDL
//!   (creating tables, adding columns) runs before that transaction, is
//!   idempotent, and may survive a failed batch (see [`ddl`]).
//! - **Order.** The batch is [`collapse`]d to one final action per key;
//!   segments (truncates, schema changes) apply in log order; within a
//!   segment a table's deletes run as one set-based `DELETE`, then its
//!   upserts as one `INSERT … ON CONFLICT (key) DO UPDATE` per set of
//!   present columns (absent columns keep the target's value). Different
//!   keys may so be reordered — never two changes of one key.
//! - **Tables with a secondary UNIQUE index** (read from `pg_index`, cached
//!   per table) are the exception: reordering across keys can make a row
//!   collide transiently with another row's *old* unique value (row A's
//!   email moves to new row B: inserting B before updating A violates the
//!   index although the source never had both). Their changes are applied
//!   one statement per change **in log order**, uncollapsed, so every
//!   intermediate state is one the source had.
//! - **Rejections.** A value the target column cannot hold (MySQL zero date,
//!   NUL in text, negative TIME into `time`, too long for `varchar(n)`) is
//!   found before sending and rejects that row only. When the server
//!   refuses a statement with a data or constraint error (SQLSTATE class 21,
//!   22, 23), the transaction is rolled back and the batch redone row by row
//!   with a `SAVEPOINT` per final action (per change on unique-indexed
//!   tables): only the failing rows are rejected, each with every batch
//!   index folded into it and the server's message, table and key; the rest
//!   commits with the offsets.
//! - **Errors.** Connection loss, deadlocks, serialization failures and
//!   server shutdowns are transient (nothing applied; the connection is
//!   dropped and reopened on the next call). Missing tables/columns without
//!   `auto_create`/`auto_evolve`, privileges and authentication are
//!   permanent and say how to fix them.
//!
//! Targets: `table_map["ns.table"]` when present, else the source's
//! `namespace.table` as `schema.table` (a MySQL database becomes a schema).
//!
//! Column types of auto-created tables and added columns (a PostgreSQL
//! source's own built-in type, e.g. `numeric(10,2)`, is kept when known):
//!
//! | kind | PostgreSQL type |
//! |---|---|
//! | bool | boolean |
//! | int | bigint |
//! | uint | numeric(20,0) |
//! | float32 / float64 | real / double precision |
//! | decimal | numeric |
//! | text, enum | text |
//! | bytes | bytea |
//! | date | date |
//! | time | time (PostgreSQL source); interval (MySQL source: TIME is signed and exceeds 24 h) |
//! | timetz | timetz |
//! | timestamp / timestamptz | timestamp / timestamptz |
//! | interval | interval |
//! | uuid | uuid |
//! | json | jsonb |
//! | set | text[] |
//! | bits | varbit |
//! | `T[]` (any dimensions) | the type of `T`, then `[]` |

mod apply;
pub mod ddl;
pub mod errors;
pub mod sql;
pub mod types;

use std::collections::HashMap;
use std::time::Duration;

use rowlog_config::SqlSink;
use tokio_postgres::Client;

use crate::contract::{Applied, Change, LogOffset, Sink, SinkError};
use crate::fence::OffsetFence;
use ddl::TableInfo;
use sql::Target;
pub use types::value_to_pg_text;

/// A PostgreSQL follower (see the module doc).
pub struct PgSink {
    name: String,
    cfg: SqlSink,
    offsets: Target,
    client: Option<Client>,
    tables: HashMap<Target, TableInfo>,
    /// See [`Sink::allow_rejects`].
    allow_rejects: bool,
    /// The stored offsets as last read or written.
    fence: OffsetFence,
}

impl std::fmt::Debug for PgSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgSink")
            .field("name", &self.name)
            .field("url", &self.cfg.url.redacted())
            .field("offsets", &self.offsets)
            .field("connected", &self.client.is_some())
            .finish()
    }
}

impl PgSink {
    /// A sink called `sink_name` writing to the target of `cfg`; connects on
    /// [`Sink::open`].
    pub fn new(sink_name: &str, cfg: &SqlSink) -> PgSink {
        PgSink {
            name: sink_name.to_string(),
            cfg: cfg.clone(),
            offsets: Target::parse(&cfg.offsets_table),
            client: None,
            tables: HashMap::new(),
            allow_rejects: true,
            fence: OffsetFence::default(),
        }
    }

    /// Where rows of `table` go.
    pub fn target(&self, table: &rowlog_schemas::TableId) -> Target {
        apply::target_of(&self.cfg.table_map, table)
    }

    fn place(&self) -> String {
        format!("sink `{}` ({})", self.name, self.cfg.url.redacted())
    }

    async fn connect(&self) -> Result<Client, SinkError> {
        let mut pc: tokio_postgres::Config =
            self.cfg.url.expose().as_str().parse().map_err(|e| {
                SinkError::permanent(format!(
                    "{}: the url is not a PostgreSQL URL: {e}; expected postgres://user@host:port/database",
                    self.place()
                ))
            })?;
        if let Some(p) = self.cfg.password() {
            pc.password(p.expose());
        }
        pc.application_name(format!("rowlog-sink-{}", self.name));
        // Commits do not wait for the WAL flush (as PostgreSQL's own
        // subscriptions apply): a follower crash can lose the last commits,
        // but rows and offsets together (one transaction), so the worker
        // replays them from the offsets that survived. The url's `options`
        // may set `-c synchronous_commit=on` to wait anyway.
        let options = pc.get_options().unwrap_or_default().to_string();
        if !options.contains("synchronous_commit") {
            pc.options(format!("{options} -c synchronous_commit=off").trim());
        }
        if pc.get_connect_timeout().is_none() {
            pc.connect_timeout(Duration::from_secs(10));
        }
        let (client, conn) = pc.connect(tokio_postgres::NoTls).await.map_err(|e| {
            let code = e.as_db_error().map(|d| d.code().code().to_string());
            match code.as_deref() {
                Some("28P01" | "28000") => SinkError::permanent(format!(
                    "{}: authentication failed: {}; check the user/password (url, password or password_file)",
                    self.place(),
                    errors::describe(&e)
                )),
                Some("3D000") => SinkError::permanent(format!(
                    "{}: {}; create the database or fix the url",
                    self.place(),
                    errors::describe(&e)
                )),
                _ => errors::sink_error(&e, &self.place()),
            }
        })?;
        let name = self.name.clone();
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(sink = %name, "connection ended: {e}");
            }
        });
        Ok(client)
    }

    /// Connects unless connected; a connection found closed is a transient
    /// error (the next call connects afresh).
    async fn ensure_client(&mut self) -> Result<(), SinkError> {
        match &self.client {
            None => self.client = Some(self.connect().await?),
            Some(c) if c.is_closed() => {
                // Reported rather than hidden: the worker retries the batch,
                // and the retry connects afresh.
                self.client = None;
                return Err(SinkError::transient(format!(
                    "{}: the connection to PostgreSQL was lost; the batch will be retried on a new connection",
                    self.place()
                )));
            }
            Some(_) => {}
        }
        Ok(())
    }

    /// Forgets the connection (after a transient error) and the catalog
    /// cache (after any non-data error), so the next call starts afresh.
    fn reset(&mut self, e: &SinkError) {
        if e.transient {
            self.client = None;
        }
        self.tables.clear();
    }
}

impl Sink for PgSink {
    fn allow_rejects(&mut self, allowed: bool) {
        self.allow_rejects = allowed;
    }

    async fn open(&mut self) -> Result<Vec<LogOffset>, SinkError> {
        self.ensure_client().await?;
        let place = self.offsets.to_string();
        let name = self.name.clone();
        let result = async {
            let client = self
                .client
                .as_ref()
                .ok_or_else(|| SinkError::transient("not connected"))?;
            let fail = |e: tokio_postgres::Error| errors::sink_error(&e, &place);
            if let Err(e) = client
                .batch_execute(&sql::create_offsets(&self.offsets))
                .await
            {
                // Two processes creating the table at once: one of them gets
                // a unique violation on the catalog (23505) or "already
                // exists" (42P07) despite IF NOT EXISTS. The table is there
                // now; try again.
                let racing = matches!(e.code().map(|c| c.code()), Some("23505") | Some("42P07"));
                if !racing {
                    return Err(fail(e));
                }
                return Err(SinkError::transient(format!(
                    "{place}: created by another process at the same time; retrying"
                )));
            }
            let rows = client
                .query(&sql::select_offsets(&self.offsets), &[&name])
                .await
                .map_err(fail)?;
            rows.iter()
                .map(|r| {
                    Ok(LogOffset {
                        topic: r.try_get(0).map_err(fail)?,
                        partition: r.try_get(1).map_err(fail)?,
                        next: r.try_get(2).map_err(fail)?,
                    })
                })
                .collect::<Result<Vec<_>, SinkError>>()
        }
        .await;
        match &result {
            Ok(stored) => self.fence.load(stored),
            Err(e) => self.reset(e),
        }
        result.map_err(|e| e.context(format!("sink `{}`", self.name)))
    }

    async fn apply(
        &mut self,
        changes: &[Change],
        offsets: &[LogOffset],
    ) -> Result<Applied, SinkError> {
        let result = self.apply_batch(changes, offsets).await;
        if let Err(e) = &result {
            self.reset(e);
        }
        result.map_err(|e| e.context(format!("sink `{}`", self.name)))
    }
}
