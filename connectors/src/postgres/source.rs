//! The PostgreSQL source: startup checks, the initial snapshot, and the
//! pgoutput stream, written through an [`Emitter`].
//!
//! Invariants (what a crash at any point leaves behind):
//! - The slot's `confirmed_flush_lsn` only moves to a mark the emitter
//!   reports durable, so after a crash PostgreSQL resends every transaction
//!   that was not fully in the log; duplicates are limited to what was in
//!   flight.
//! - A new slot is created with an exported snapshot; the snapshot is read
//!   while the replication connection stays idle, so the rows it emits are
//!   exactly the state at the slot's consistent point and the stream starts
//!   right after it (no gap, no overlap). The snapshot's end is itself a mark
//!   (the consistent point): until it is durable the slot stays put, so a
//!   crash mid-snapshot starts the snapshot again on a fresh slot's terms
//!   (see "Not yet" below).
//! - When nothing is in flight and no transaction is open, a keepalive's
//!   WAL end becomes a mark too, so a slot whose tables are quiet does not
//!   hold back WAL that other tables write.
//! - A captured table dropped (or renamed) after changes to it were
//!   committed still gets those changes: the stream's Relation message
//!   describes it even when the catalog no longer does.
//! - Transient errors (connection lost, server restarting) end the run with
//!   a transient [`SourceError`]; [`PgSource::run`] retries with backoff.
//!
//! Snapshot progress is saved in the log's state topic after each chunk (in
//! order with the rows, so it is never ahead of them). A run that finds the
//! slot but an unfinished snapshot resumes after the last saved key of each
//! table, in a new transaction: the exported snapshot died with its
//! connection, so rows of the remaining chunks are read as they are now, and
//! changes made to them since the consistent point also arrive from the
//! slot afterwards. Nothing is missed; such a row may appear in the log in
//! a newer state before its older changes replay, and the last event per key
//! is the current row. A slot without any snapshot record is an error that
//! says how to proceed, never a silent skip.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use rowlog_config::{PostgresSource, SnapshotMode};
use rowlog_schemas::position::{Lsn, PgPosition};
use rowlog_schemas::{ChangeEvent, Op, Position, TableId};
use tokio::sync::watch;

use super::catalog::{self, TableInfo, TypeCache, WireColumn};
use super::events::{Assembler, CapturedRelation, Output};
use super::pgoutput::{Decoder, Message};
use super::snapshot;
use super::types::SESSION_OPTIONS;
use super::walsender::{
    ConnectConfig, Host, ReplicationConnection, ReplicationError, ReplicationEvent, SlotOptions,
    SnapshotAction, StartOptions, StatusUpdate, Streaming,
};
use crate::backoff::Backoff;
use crate::emit::{Emitter, TransactionEnd, now_ms};
use crate::error::SourceError;

/// How often the slot hears from us while streaming.
const STATUS_INTERVAL: Duration = Duration::from_secs(1);
/// Rows per snapshot chunk.
const SNAPSHOT_CHUNK: u32 = 5_000;
/// Status ticks between samples of the slot's retained WAL (10 s).
const WAL_SAMPLE_TICKS: u64 = 10;
/// Bound on the final flush at shutdown.
const SHUTDOWN_FLUSH: Duration = Duration::from_secs(60);

impl From<ReplicationError> for SourceError {
    fn from(e: ReplicationError) -> SourceError {
        if e.is_transient() {
            SourceError::transient(e.to_string())
        } else if e.sqlstate() == Some("55006") {
            // "slot is active": after a crash the old walsender may hold the
            // slot for a moment; if another process really uses it, the
            // retries keep saying so in the log.
            SourceError::transient(format!(
                "{e} (another connection still uses the slot: a previous rowlog that has not ended yet, or a second process configured with the same slot)"
            ))
        } else {
            SourceError::permanent(e.to_string())
        }
    }
}

/// How a run ended without an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEnd {
    /// Shutdown was requested; everything emitted was flushed and confirmed.
    Shutdown,
    /// `snapshot: initial_only` finished its snapshot.
    SnapshotDone,
}

/// Progress figures of the running source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    /// Per table: snapshot rows done and the planner's estimate.
    pub snapshot: Vec<(TableId, u64, i64)>,
    /// Last confirmed LSN.
    pub confirmed: Option<Lsn>,
    /// WAL the slot retains, bytes (sampled every 10 s).
    pub retained_wal_bytes: Option<i64>,
    /// Commit time (µs since 1970) of the newest transaction read; with the
    /// clock, the lag in seconds behind the source.
    pub last_commit_time_us: Option<i64>,
    /// Streaming changes (after any snapshot).
    pub streaming: bool,
}

impl Progress {
    /// Seconds between the newest transaction read and `now_us`.
    pub fn lag_seconds(&self, now_us: i64) -> Option<f64> {
        self.last_commit_time_us
            .map(|t| (now_us - t).max(0) as f64 / 1e6)
    }
}

/// One configured PostgreSQL source.
#[derive(Debug, Clone)]
pub struct PgSource {
    name: String,
    cfg: PostgresSource,
    progress: watch::Sender<Progress>,
}

impl PgSource {
    /// The source `name` with its config.
    pub fn new(name: impl Into<String>, cfg: PostgresSource) -> PgSource {
        PgSource {
            name: name.into(),
            cfg,
            progress: watch::channel(Progress::default()).0,
        }
    }

    /// Progress figures, updated as the source runs.
    pub fn progress(&self) -> watch::Receiver<Progress> {
        self.progress.subscribe()
    }

    fn connect_config(&self) -> Result<ConnectConfig, SourceError> {
        let mut c = ConnectConfig::from_url(self.cfg.url.expose().as_str())
            .map_err(|e| SourceError::permanent(format!("source `{}`: {e}", self.name)))?;
        if let Some(p) = self.cfg.password() {
            c.password = Some(p.expose().to_string());
        }
        c.options = SESSION_OPTIONS.to_string();
        c.application_name = format!("rowlog-{}", self.name);
        Ok(c)
    }

    async fn sql(&self, c: &ConnectConfig) -> Result<tokio_postgres::Client, SourceError> {
        let mut pc = tokio_postgres::Config::new();
        match &c.host {
            Host::Tcp(h) => pc.host(h),
            Host::Unix(p) => pc.host_path(p),
        };
        pc.port(c.port)
            .user(&c.user)
            .dbname(&c.dbname)
            .options(&c.options)
            .application_name(&c.application_name)
            .connect_timeout(c.connect_timeout);
        if let Some(p) = &c.password {
            pc.password(p);
        }
        let (client, conn) = pc.connect(tokio_postgres::NoTls).await?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!("snapshot/catalog connection ended: {e}");
            }
        });
        Ok(client)
    }

    /// Runs until `shutdown` turns true or a permanent error, retrying
    /// transient errors with exponential backoff (1 s doubling to 30 s).
    pub async fn run<E: Emitter<Lsn>>(
        &self,
        emitter: &mut E,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<RunEnd, SourceError> {
        let mut backoff = Backoff::new();
        loop {
            backoff.attempt();
            match self.run_once(emitter, shutdown).await {
                Err(e) if e.transient && !*shutdown.borrow() => {
                    let first = emitter.retrying(&e);
                    let delay = backoff.next_delay();
                    // Once per streak of failures, not once per attempt.
                    if first {
                        tracing::warn!(source = %self.name, "transient error, retrying in {delay:?} (further attempts are logged at debug level until it runs again): {e}");
                    } else {
                        tracing::debug!(source = %self.name, "transient error, retrying in {delay:?}: {e}");
                    }
                    if !backoff.wait(shutdown).await {
                        return Ok(RunEnd::Shutdown);
                    }
                }
                other => return other,
            }
        }
    }

    /// One connection's worth of work: checks, slot, snapshot, stream.
    pub async fn run_once<E: Emitter<Lsn>>(
        &self,
        emitter: &mut E,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<RunEnd, SourceError> {
        let place = format!("source `{}`", self.name);
        let conn_cfg = self.connect_config()?;
        let client = self.sql(&conn_cfg).await.map_err(|e| e.context(&place))?;
        catalog::check_server(&client)
            .await
            .map_err(|e| e.context(&place))?;
        let tables = catalog::resolve_tables(&client, &self.cfg.tables, &self.cfg.keys)
            .await
            .map_err(|e| e.context(&place))?;
        let publication = self.cfg.publication_name().to_string();
        let slot_name = self.cfg.slot_name().to_string();
        catalog::ensure_publication(&client, &publication, &tables)
            .await
            .map_err(|e| e.context(&place))?;
        let mut cache = TypeCache::default();
        let mut repl = ReplicationConnection::connect(&conn_cfg).await?;

        let start = match catalog::slot_info(&client, &slot_name).await? {
            None => {
                let created = repl
                    .create_logical_slot(
                        &slot_name,
                        &SlotOptions {
                            temporary: false,
                            snapshot: SnapshotAction::Export,
                            two_phase: false,
                        },
                    )
                    .await?;
                tracing::info!(source = %self.name, slot = %slot_name, consistent_point = %created.consistent_point, "created replication slot");
                if self.cfg.snapshot == SnapshotMode::Never {
                    emitter
                        .save_state(
                            SNAPSHOT_KEY,
                            Some(snapshot_record("skipped", created.consistent_point)),
                        )
                        .await?;
                } else {
                    let info = catalog::slot_info(&client, &slot_name).await?;
                    let restart = info
                        .and_then(|s| s.restart_lsn)
                        .unwrap_or(created.consistent_point);
                    emitter
                        .save_state(
                            SNAPSHOT_KEY,
                            Some(snapshot_record("running", created.consistent_point)),
                        )
                        .await?;
                    self.snapshot(
                        &client,
                        created.snapshot_name.as_deref(),
                        &tables,
                        &mut cache,
                        PgPosition::new(created.consistent_point, restart),
                        &BTreeMap::new(),
                        emitter,
                    )
                    .await
                    .map_err(|e| e.context(&place))?;
                    emitter
                        .save_state(
                            SNAPSHOT_KEY,
                            Some(snapshot_record("done", created.consistent_point)),
                        )
                        .await?;
                }
                emitter.checkpoint(created.consistent_point);
                created.consistent_point
            }
            Some(slot) => {
                catalog::check_slot(&slot_name, &slot, &conn_cfg.dbname)
                    .map_err(|e| e.context(&place))?;
                let confirmed = slot.confirmed_flush_lsn.unwrap_or_default();
                let state = emitter.load_state().await?;
                let record = state
                    .get(SNAPSHOT_KEY)
                    .map(|r| parse_snapshot_record(r))
                    .transpose()
                    .map_err(|e| e.context(&place))?;
                match (record, self.cfg.snapshot) {
                    (_, SnapshotMode::Always) => {
                        // A fresh snapshot of current rows; streaming resumes at
                        // the slot's position, so rows changed in between appear
                        // in the snapshot and again in the stream (converging).
                        self.snapshot(
                            &client,
                            None,
                            &tables,
                            &mut cache,
                            PgPosition::new(confirmed, confirmed),
                            &BTreeMap::new(),
                            emitter,
                        )
                        .await
                        .map_err(|e| e.context(&place))?;
                    }
                    (Some((status, cp)), _) if status == "running" => {
                        tracing::warn!(source = %self.name, consistent_point = %cp, "resuming an interrupted snapshot after the last saved chunk of each table");
                        self.snapshot(
                            &client,
                            None,
                            &tables,
                            &mut cache,
                            PgPosition::new(cp, cp),
                            &state,
                            emitter,
                        )
                        .await
                        .map_err(|e| e.context(&place))?;
                        emitter
                            .save_state(SNAPSHOT_KEY, Some(snapshot_record("done", cp)))
                            .await?;
                    }
                    (Some(_), _) | (None, SnapshotMode::Never) => {}
                    (None, _) => {
                        return Err(SourceError::permanent(format!(
                            "{place}: replication slot `{slot_name}` exists but the row log has no record of its snapshot (state topic empty or lost). If the topics already hold this source's rows, set `snapshot: never`; to take the snapshot again, drop the slot with `rowlog source drop-slot {slot_name} -c FILE` and restart"
                        )));
                    }
                }
                confirmed
            }
        };
        if self.cfg.snapshot == SnapshotMode::InitialOnly {
            let durable = emitter.flush(SHUTDOWN_FLUSH).await?;
            tracing::info!(source = %self.name, ?durable, "initial snapshot done; not streaming (snapshot: initial_only)");
            return Ok(RunEnd::SnapshotDone);
        }
        self.stream(
            repl,
            &client,
            &slot_name,
            &publication,
            start,
            &tables,
            &mut cache,
            emitter,
            shutdown,
        )
        .await
        .map_err(|e| e.context(&place))
    }

    #[allow(clippy::too_many_arguments)]
    async fn snapshot<E: Emitter<Lsn>>(
        &self,
        client: &tokio_postgres::Client,
        exported: Option<&str>,
        tables: &[TableInfo],
        cache: &mut TypeCache,
        position: PgPosition,
        progress: &BTreeMap<String, String>,
        emitter: &mut E,
    ) -> Result<(), SourceError> {
        snapshot::begin(client, exported).await?;
        let mut figures: Vec<(TableId, u64, i64)> = Vec::new();
        for table in tables {
            let desc = catalog::describe_table(client, table, cache).await?;
            for (col, t) in desc.schema.columns.iter().zip(&desc.types) {
                if t.is_other() {
                    tracing::warn!(
                        table = %table.id,
                        column = %col.name,
                        source_type = %col.source_type,
                        "column type is not known to rowlog; snapshot values are carried as their text form"
                    );
                }
            }
            let schema = Arc::new(desc.schema);
            let estimate = snapshot::estimate_rows(client, &schema).await?;
            figures.push((table.id.clone(), 0, estimate));
            let table_key = format!("{SNAPSHOT_KEY}/{}", table.id);
            let saved = progress
                .get(&table_key)
                .map(|r| parse_table_record(r))
                .transpose()?;
            let mut after: Option<Vec<String>> = match saved {
                Some(TableProgress { done: true, .. }) => continue,
                // A keyless table has no stable resume key: start it over.
                Some(TableProgress { after, .. }) if !schema.key.is_empty() => after,
                _ => None,
            };
            loop {
                let chunk = snapshot::read_chunk(
                    client,
                    &schema,
                    &desc.types,
                    after.as_deref(),
                    SNAPSHOT_CHUNK,
                )
                .await?;
                if chunk.rows.is_empty() {
                    break;
                }
                let n = chunk.rows.len() as u64;
                for row in chunk.rows {
                    let event = ChangeEvent {
                        source: self.name.clone(),
                        table: schema.table.clone(),
                        op: Op::Read,
                        key_columns: schema.key.clone(),
                        before: None,
                        after: Some(row),
                        position: Position::Postgres(position),
                        transaction: None,
                        schema_version: schema.version(),
                        ts_ms: now_ms(),
                    };
                    emitter.emit(event, &schema).await?;
                }
                if let Some(f) = figures.last_mut() {
                    f.1 += n;
                    tracing::info!(source = %self.name, table = %f.0, rows = f.1, estimate = f.2, "snapshot progress");
                }
                self.progress.send_modify(|p| p.snapshot = figures.clone());
                after = chunk.last_key;
                emitter
                    .save_state(&table_key, Some(table_record(after.as_deref(), false)))
                    .await?;
            }
            emitter
                .save_state(&table_key, Some(table_record(after.as_deref(), true)))
                .await?;
        }
        snapshot::finish(client).await?;
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn stream<E: Emitter<Lsn>>(
        &self,
        repl: ReplicationConnection,
        client: &tokio_postgres::Client,
        slot: &str,
        publication: &str,
        start: Lsn,
        tables: &[TableInfo],
        cache: &mut TypeCache,
        emitter: &mut E,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<RunEnd, SourceError> {
        let by_name: HashMap<TableId, &TableInfo> =
            tables.iter().map(|t| (t.id.clone(), t)).collect();
        let mut options = StartOptions::new([publication.to_string()]);
        options.proto_version = 2;
        options.messages = true;
        options.streaming = Streaming::Off;
        let mut stream = repl.start_replication(slot, start, &options).await?;
        tracing::info!(source = %self.name, slot, %start, "streaming");
        self.progress.send_modify(|p| p.streaming = true);
        let mut decoder = Decoder::new();
        let mut assembler = Assembler::new(self.name.clone());
        let mut confirmed = start;
        let mut ticker = tokio::time::interval(STATUS_INTERVAL);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut ticks: u64 = 0;
        loop {
            let event = tokio::select! {
                biased;
                _ = shutdown.changed() => None,
                _ = ticker.tick() => {
                    confirmed = self.confirm(&mut stream, emitter, confirmed, false).await?;
                    if ticks.is_multiple_of(WAL_SAMPLE_TICKS) {
                        self.sample_retained_wal(client, slot, ticks.is_multiple_of(WAL_SAMPLE_TICKS * 6)).await;
                    }
                    ticks += 1;
                    continue;
                }
                ev = stream.next_event() => Some(ev?),
            };
            let Some(event) = event else { break };
            match event {
                ReplicationEvent::Keepalive(k) => {
                    if !assembler.in_transaction() && emitter.idle() && k.wal_end > confirmed {
                        emitter.checkpoint(k.wal_end);
                    }
                    if k.reply_requested {
                        confirmed = self.confirm(&mut stream, emitter, confirmed, true).await?;
                    }
                }
                ReplicationEvent::XLogData(x) => {
                    let msg = decoder.decode(x.data).map_err(|e| {
                        SourceError::permanent(format!("pgoutput at {}: {e}", x.wal_start))
                    })?;
                    if let Message::Relation(rel) = &msg {
                        let id = TableId::new(rel.namespace.clone(), rel.name.clone());
                        let vanished;
                        let info = match by_name.get(&id) {
                            Some(info) => Some(*info),
                            None => {
                                vanished = self.vanished_table(&id, rel);
                                vanished.as_ref()
                            }
                        };
                        match info {
                            Some(info) => {
                                let wire: Vec<WireColumn> = rel
                                    .columns
                                    .iter()
                                    .map(|c| WireColumn {
                                        name: c.name.clone(),
                                        type_oid: c.type_oid,
                                        type_modifier: c.type_modifier,
                                    })
                                    .collect();
                                let desc =
                                    catalog::describe_relation(client, info, &wire, cache).await?;
                                let old = assembler.relation(rel.oid).map(|r| r.schema.version());
                                if old.is_some_and(|v| v != desc.schema.version()) {
                                    tracing::info!(source = %self.name, table = %id, version = desc.schema.version(), "table schema changed");
                                }
                                assembler.set_relation(
                                    rel.oid,
                                    CapturedRelation {
                                        schema: Arc::new(desc.schema),
                                        types: desc.types,
                                    },
                                );
                            }
                            None => assembler.ignore_relation(rel.oid),
                        }
                        continue;
                    }
                    if let Message::Message(m) = &msg {
                        tracing::debug!(source = %self.name, prefix = %m.prefix, "skipping logical decoding message");
                    }
                    for out in assembler.push(msg, x.wal_start, now_ms())? {
                        match out {
                            Output::Event(event, schema) => emitter.emit(*event, &schema).await?,
                            Output::Commit {
                                xid,
                                end_lsn,
                                commit_time_us,
                                counts,
                                ..
                            } => {
                                self.progress
                                    .send_modify(|p| p.last_commit_time_us = Some(commit_time_us));
                                emitter
                                    .end_transaction(TransactionEnd {
                                        mark: end_lsn,
                                        id: xid.to_string(),
                                        commit_time_us,
                                        counts,
                                    })
                                    .await?
                            }
                        }
                    }
                }
            }
        }
        // Shutdown: stop reading, flush the log, confirm, say goodbye.
        let durable = emitter.flush(SHUTDOWN_FLUSH).await?;
        if let Some(lsn) = durable.filter(|l| *l > confirmed) {
            stream.send_status(&StatusUpdate::up_to(lsn)).await?;
            confirmed = lsn;
        }
        self.progress.send_modify(|p| p.confirmed = Some(confirmed));
        let conn = stream.finish().await?;
        conn.close().await?;
        tracing::info!(source = %self.name, %confirmed, "stopped");
        Ok(RunEnd::Shutdown)
    }

    /// Samples how much WAL the slot holds back (a figure for lag and
    /// bloat); logs it when `log` is set. A failed sample is only logged:
    /// the figure is informational.
    async fn sample_retained_wal(&self, client: &tokio_postgres::Client, slot: &str, log: bool) {
        match catalog::slot_info(client, slot).await {
            Ok(Some(info)) => {
                self.progress
                    .send_modify(|p| p.retained_wal_bytes = info.retained_wal_bytes);
                if log {
                    tracing::info!(
                        source = %self.name,
                        slot,
                        retained_wal_bytes = info.retained_wal_bytes.unwrap_or(-1),
                        lag_seconds = self.progress.borrow().lag_seconds(now_ms().saturating_mul(1000)).unwrap_or(0.0),
                        confirmed = %info.confirmed_flush_lsn.unwrap_or_default(),
                        "slot status"
                    );
                }
            }
            Ok(None) => {
                tracing::warn!(source = %self.name, slot, "the replication slot disappeared")
            }
            Err(e) => tracing::debug!(source = %self.name, "sampling the slot failed: {e}"),
        }
    }

    /// A Relation the stream describes but the start-up catalog did not
    /// list, for a table the config selects: the table was dropped (or
    /// renamed) after these changes were committed, and they must not be
    /// lost. Its key comes from the `keys:` override, else from the columns
    /// the Relation flags as replica identity (the primary key under
    /// REPLICA IDENTITY DEFAULT); a REPLICA IDENTITY FULL table without an
    /// override is keyless here (its primary key, if it had one, is no
    /// longer known).
    fn vanished_table(&self, id: &TableId, rel: &super::pgoutput::Relation) -> Option<TableInfo> {
        use super::pgoutput::ReplicaIdentity;
        let name = id.to_string();
        if !crate::pattern::selected(&self.cfg.tables.include, &self.cfg.tables.exclude, &name) {
            return None;
        }
        let replica_identity = match rel.replica_identity {
            ReplicaIdentity::Default => 'd',
            ReplicaIdentity::Nothing => 'n',
            ReplicaIdentity::Full => 'f',
            ReplicaIdentity::Index => 'i',
        };
        let key = match self.cfg.keys.get(&name) {
            Some(cols) => cols.clone(),
            None if replica_identity == 'f' => Vec::new(),
            None => rel
                .columns
                .iter()
                .filter(|c| c.is_key())
                .map(|c| c.name.clone())
                .collect(),
        };
        tracing::warn!(source = %self.name, table = %id, ?key, "changes of a captured table that no longer exists under this name (dropped or renamed since): writing them with the columns the stream describes");
        Some(TableInfo {
            id: id.clone(),
            oid: rel.oid,
            replica_identity,
            key,
        })
    }

    /// Sends a status update with the newest durable mark.
    async fn confirm<E: Emitter<Lsn>>(
        &self,
        stream: &mut super::walsender::ReplicationStream,
        emitter: &mut E,
        confirmed: Lsn,
        force: bool,
    ) -> Result<Lsn, SourceError> {
        let durable = emitter.durable()?.unwrap_or(confirmed).max(confirmed);
        if durable > confirmed || force {
            stream.send_status(&StatusUpdate::up_to(durable)).await?;
            self.progress.send_modify(|p| p.confirmed = Some(durable));
        }
        Ok(durable)
    }
}

/// State key of the snapshot record; `snapshot/<schema>.<table>` per table.
const SNAPSHOT_KEY: &str = "snapshot";

fn snapshot_record(status: &str, consistent_point: Lsn) -> String {
    serde_json::json!({ "status": status, "consistent_point": consistent_point.to_string() })
        .to_string()
}

fn parse_snapshot_record(text: &str) -> Result<(String, Lsn), SourceError> {
    let bad = || SourceError::permanent(format!("state record `snapshot` is not valid: {text}"));
    let v: serde_json::Value = serde_json::from_str(text).map_err(|_| bad())?;
    let status = v["status"].as_str().ok_or_else(bad)?.to_string();
    let cp = v["consistent_point"]
        .as_str()
        .ok_or_else(bad)?
        .parse()
        .map_err(|_| bad())?;
    Ok((status, cp))
}

/// Saved progress of one table.
struct TableProgress {
    after: Option<Vec<String>>,
    done: bool,
}

fn table_record(after: Option<&[String]>, done: bool) -> String {
    serde_json::json!({ "after": after, "done": done }).to_string()
}

fn parse_table_record(text: &str) -> Result<TableProgress, SourceError> {
    let bad = || SourceError::permanent(format!("snapshot progress record is not valid: {text}"));
    let v: serde_json::Value = serde_json::from_str(text).map_err(|_| bad())?;
    let after = match &v["after"] {
        serde_json::Value::Null => None,
        serde_json::Value::Array(items) => Some(
            items
                .iter()
                .map(|i| i.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(bad)?,
        ),
        _ => return Err(bad()),
    };
    Ok(TableProgress {
        after,
        done: v["done"].as_bool().ok_or_else(bad)?,
    })
}
