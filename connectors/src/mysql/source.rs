//! The MySQL/MariaDB source: startup checks, the initial snapshot, and the
//! row binlog, written through an [`Emitter`] whose marks are
//! [`MysqlOffset`]s.
//!
//! Invariants (what a crash at any point leaves behind):
//! - Events are emitted in binlog order, which is commit order; every row of
//!   a transaction carries its GTID (or file/position) and its ordinal.
//! - A transaction's end attaches its offset (the first byte after the
//!   commit, and the GTID state there) as a mark; the offset is saved in the
//!   state topic (`offset`) only once the emitter says that mark is durable,
//!   four times a second and at shutdown. A crash therefore resumes at or
//!   before the last durable transaction: duplicates only, never a gap.
//! - Rows are streamed as they are read: a transaction of any size costs one
//!   rows event of memory plus what the emitter holds in flight.
//! - The snapshot is consistent with its binlog position (`FLUSH TABLES WITH
//!   READ LOCK` for the moment it takes to start a consistent-snapshot
//!   transaction and read the position; with `snapshot_locking: none`,
//!   MariaDB's lock-free `binlog_snapshot_file/position`). Progress (the last
//!   key per table) is saved after each chunk once the chunk is durable. A
//!   crash mid-snapshot resumes after the last saved key, reading the rest as
//!   it is now; changes since the snapshot's position replay afterwards from
//!   the binlog, so every key converges to its current state.
//! - Anything the source does not understand inside a transaction (a
//!   compressed event, an encrypted binlog, an XA transaction with captured rows,
//!   an unknown event type) stops it with an error naming the position.
//!   Nothing is skipped silently.
//! - Transient errors (connection lost, server restarting) end the run;
//!   [`MysqlSource::run`] retries from the last saved offset with backoff.
//!
//! Each binlog event goes through `MysqlSource::on_event`, which needs no
//! server: information_schema is behind the [`Catalog`] trait. Its unit
//! tests (`source_tests.rs`) feed hand-built MySQL and MariaDB event bytes
//! through it, covering the MySQL paths no server here can produce.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use mysql_async::Conn;
use mysql_async::binlog::events::{Event, EventData, RowsEventData, TableMapEvent};
use mysql_async::prelude::Queryable;
use rowlog_config::{MysqlSource as MysqlConfig, SnapshotLocking, SnapshotMode};
use rowlog_schemas::position::{BinlogPos, Gtid, MysqlGtid, MysqlPosition};
use rowlog_schemas::{ChangeEvent, Op, Position, Row, TableSchema, TxInfo, Value};
use tokio::sync::watch;

use super::checks::{self, ServerInfo};
use super::columns::{MyColumn, MyTable};
use super::mariadb_events::{self, GTID_EVENT, GTID_LIST_EVENT};
use super::offset::{GtidState, MysqlOffset};
use super::rows::{RowsKind, decode_rows};
use super::tables::{Catalog, MapOutcome, Tables};
use super::{catalog, connect, snapshot, stream};
use crate::backoff::Backoff;
use crate::emit::{Emitter, TransactionEnd, now_ms};
use crate::error::SourceError;

/// State-topic key of the saved offset.
pub const OFFSET_KEY: &str = "offset";
/// State-topic key of the snapshot record.
pub const SNAPSHOT_KEY: &str = "snapshot";
/// State-topic key prefix of per-table snapshot progress.
const SNAPSHOT_TABLE_PREFIX: &str = "snapshot/";
/// Rows per snapshot chunk.
const SNAPSHOT_CHUNK: usize = 5_000;
/// How often a durable offset is saved.
const SAVE_INTERVAL: Duration = Duration::from_millis(250);
/// Bound on the final flush at shutdown.
const SHUTDOWN_FLUSH: Duration = Duration::from_secs(60);
/// No event (not even a heartbeat) for this long means the connection is dead.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// MariaDB event types the source refuses (compressed or encrypted data).
const MARIADB_START_ENCRYPTION: u8 = 164;
const MARIADB_COMPRESSED: std::ops::RangeInclusive<u8> = 165..=171;
/// Informational events that never change data.
const ANNOTATE_ROWS: u8 = 160;
const BINLOG_CHECKPOINT: u8 = 161;
/// An event the server marks as safe to ignore.
const LOG_EVENT_IGNORABLE_F: u16 = 0x80;

/// How a run ended without an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEnd {
    /// Stopped on request after flushing and saving the offset.
    Shutdown,
    /// `snapshot: initial_only` finished its snapshot.
    SnapshotDone,
}

/// A MySQL/MariaDB source.
#[derive(Debug)]
pub struct MysqlSource {
    name: String,
    cfg: MysqlConfig,
    progress: watch::Sender<Progress>,
}

/// How far a MySQL/MariaDB source has read, for metrics (published a few
/// times a second; the distance to the binlog end is sampled every 5 s).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Progress {
    /// Bytes of binlog between the end of the last event read and the
    /// server's binlog end (its files' sizes from `SHOW BINARY LOGS`), when
    /// last sampled.
    pub behind_bytes: Option<i64>,
    /// Commit time (µs since 1970) of the newest event read.
    pub last_commit_time_us: Option<i64>,
    /// Per table of a snapshot: rows read and the server's estimate.
    pub snapshot: Vec<(rowlog_schemas::TableId, u64, i64)>,
    /// Streaming the binlog (after any snapshot).
    pub streaming: bool,
}

impl Progress {
    /// Seconds behind the source at `now_us`: 0 when the last sample found
    /// nothing left to read, else the age of the newest event read.
    pub fn lag_seconds(&self, now_us: i64) -> Option<f64> {
        if self.behind_bytes == Some(0) {
            return Some(0.0);
        }
        #[allow(clippy::cast_precision_loss)] // microseconds as seconds
        self.last_commit_time_us
            .map(|t| (now_us - t).max(0) as f64 / 1e6)
    }
}

/// Bytes from `read` to the end of the binlog files `logs` (name, size).
fn bytes_behind(read: &BinlogPos, logs: &[(String, u64)]) -> Option<i64> {
    let at = logs.iter().position(|(f, _)| *f == read.file)?;
    let rest: u64 = logs[at].1.saturating_sub(read.pos)
        + logs[at + 1..].iter().map(|(_, size)| size).sum::<u64>();
    i64::try_from(rest).ok()
}

/// One open transaction (event group) of the binlog.
struct Tx {
    id: String,
    gtid: Option<Gtid>,
    commit_time_us: i64,
    /// A group of one statement (DDL): it ends after its QUERY event.
    standalone: bool,
    /// MySQL: a GTID event was read and BEGIN has not been seen yet.
    awaiting_begin: bool,
    /// An XA transaction (MariaDB's PREPARED_XA GTID flag, or XA START):
    /// rows of captured tables in it are refused.
    prepared_xa: bool,
    ordinal: u64,
    counts: BTreeMap<String, u64>,
}

/// Everything the stream loop tracks between events.
struct Cursor {
    file: String,
    epoch: u8,
    server_id: u32,
    gtid: Option<GtidState>,
    tx: Option<Tx>,
    /// Events carry a CRC32 (`binlog_checksum` is not NONE).
    checksums: bool,
    /// A FORMAT_DESCRIPTION event was read (until then the parser does not
    /// know about checksums, and the server's first, artificial ROTATE
    /// event's name still has the 4 checksum bytes at its end).
    seen_fde: bool,
}

impl Cursor {
    fn offset(&self, pos: u64) -> MysqlOffset {
        MysqlOffset {
            epoch: self.epoch,
            server_id: self.server_id,
            binlog: BinlogPos {
                file: self.file.clone(),
                pos,
            },
            gtid: self.gtid.clone(),
        }
    }
}

fn snapshot_record(status: &str, offset: &MysqlOffset) -> String {
    serde_json::json!({"status": status, "offset": offset.to_string()}).to_string()
}

fn parse_snapshot_record(s: &str) -> Result<(String, MysqlOffset), SourceError> {
    let bad = || {
        SourceError::permanent(format!(
            "snapshot record `{s}` in the state topic is unreadable; re-snapshot the source (restart once with `snapshot: always`)"
        ))
    };
    let v: serde_json::Value = serde_json::from_str(s).map_err(|_| bad())?;
    let status = v["status"].as_str().ok_or_else(bad)?.to_string();
    let offset = v["offset"].as_str().ok_or_else(bad)?.parse()?;
    Ok((status, offset))
}

fn row_of(columns: &[MyColumn], values: Vec<Value>) -> Row {
    columns
        .iter()
        .zip(values)
        .map(|(c, v)| (c.name.clone(), v))
        .collect()
}

impl MysqlSource {
    /// A source named `name` (the config's `sources[].name`).
    pub fn new(name: impl Into<String>, cfg: MysqlConfig) -> MysqlSource {
        MysqlSource {
            name: name.into(),
            cfg,
            progress: watch::channel(Progress::default()).0,
        }
    }

    /// Where the source has read to, for metrics.
    pub fn progress(&self) -> watch::Receiver<Progress> {
        self.progress.subscribe()
    }

    /// Records a snapshot table's rows read so far.
    fn snapshot_progress(&self, table: &rowlog_schemas::TableId, read: u64, estimate: u64) {
        let estimate = i64::try_from(estimate).unwrap_or(i64::MAX);
        self.progress.send_modify(
            |p| match p.snapshot.iter_mut().find(|(t, _, _)| t == table) {
                Some(f) => {
                    f.1 = read;
                    f.2 = estimate;
                }
                None => p.snapshot.push((table.clone(), read, estimate)),
            },
        );
    }

    /// Publishes the newest commit time read and, given the end of the last
    /// event read, the distance from there to the binlog end (a failed
    /// sample only logs at debug level).
    async fn publish_progress(
        &self,
        conn: &mut Conn,
        read: Option<BinlogPos>,
        commit_time_us: Option<i64>,
    ) {
        let behind = match &read {
            // Log_name, File_size (MySQL 8 adds Encrypted).
            Some(r) => match conn.query::<mysql_async::Row, _>("SHOW BINARY LOGS").await {
                Ok(rows) => {
                    let logs: Vec<(String, u64)> = rows
                        .iter()
                        .filter_map(|row| Some((row.get::<String, _>(0)?, row.get::<u64, _>(1)?)))
                        .collect();
                    bytes_behind(r, &logs)
                }
                Err(e) => {
                    tracing::debug!(source = %self.name, "SHOW BINARY LOGS: {e}");
                    None
                }
            },
            None => None,
        };
        self.progress.send_if_modified(|p| {
            let changed = (commit_time_us.is_some() && p.last_commit_time_us != commit_time_us)
                || (behind.is_some() && p.behind_bytes != behind);
            p.last_commit_time_us = commit_time_us.or(p.last_commit_time_us);
            p.behind_bytes = behind.or(p.behind_bytes);
            changed
        });
    }

    fn url(&self) -> String {
        let mut url = self.cfg.url.expose().to_string();
        if let Some(rest) = url.strip_prefix("mariadb://") {
            url = format!("mysql://{rest}");
        }
        if let Some(p) = self.cfg.password()
            && let Ok(mut u) = url::Url::parse(&url)
        {
            let _ = u.set_password(Some(p.expose()));
            url = u.to_string();
        }
        url
    }

    /// Runs until `shutdown` turns true or a permanent error, retrying
    /// transient errors with exponential backoff (1 s doubling to 30 s).
    pub async fn run<E: Emitter<MysqlOffset>>(
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

    /// One connection's worth of work: checks, snapshot, stream.
    pub async fn run_once<E: Emitter<MysqlOffset>>(
        &self,
        emitter: &mut E,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<RunEnd, SourceError> {
        let place = format!("source `{}`", self.name);
        let url = self.url();
        let mut conn = connect(&url).await.map_err(|e| e.context(&place))?;
        let info = checks::check_server(&mut conn)
            .await
            .map_err(|e| e.context(&place))?;
        let ids = catalog::resolve_tables(&mut conn, &self.cfg.tables)
            .await
            .map_err(|e| e.context(&place))?;
        let described = catalog::describe_tables(&mut conn, &ids, &self.cfg.keys)
            .await
            .map_err(|e| e.context(&place))?;
        let state = emitter.load_state().await?;
        let saved: Option<MysqlOffset> = state
            .get(OFFSET_KEY)
            .map(|s| s.parse())
            .transpose()
            .map_err(|e: SourceError| e.context(&place))?;
        let snap = state
            .get(SNAPSHOT_KEY)
            .map(|s| parse_snapshot_record(s))
            .transpose()
            .map_err(|e| e.context(&place))?;

        let start = match (&snap, self.cfg.snapshot) {
            (_, SnapshotMode::Always) => {
                let (at, tables) = self
                    .snapshot(&url, &info, &ids, &BTreeMap::new(), None, emitter)
                    .await
                    .map_err(|e| e.context(&place))?;
                // Streaming resumes from the saved offset when it is still
                // there (rows changed since appear again: converging);
                // otherwise from the new snapshot's position.
                match saved {
                    Some(o) if self.resumable(&mut conn, &info, &o).await.is_ok() => (o, tables),
                    _ => (at, tables),
                }
            }
            (Some((status, at)), _) if status == "running" => {
                tracing::warn!(source = %self.name, position = %at.binlog, "resuming an interrupted snapshot after the last saved chunk of each table");
                let (_, tables) = self
                    .snapshot(&url, &info, &ids, &state, Some(at.clone()), emitter)
                    .await
                    .map_err(|e| e.context(&place))?;
                (saved.unwrap_or_else(|| at.clone()), tables)
            }
            (Some((_, at)), _) => (saved.unwrap_or_else(|| at.clone()), described),
            (None, SnapshotMode::Never) => {
                let at = match saved {
                    Some(o) => o,
                    None => {
                        let at = current_offset(&mut conn, &info).await?;
                        emitter
                            .save_state(SNAPSHOT_KEY, Some(snapshot_record("skipped", &at)))
                            .await?;
                        at
                    }
                };
                (at, described)
            }
            (None, _) => match saved {
                Some(_) => {
                    return Err(SourceError::permanent(format!(
                        "{place}: the state topic has an offset but no snapshot record (lost or written by an older version); if the topics already hold this source's rows set `snapshot: never`, else restart once with `snapshot: always`"
                    )));
                }
                None => self
                    .snapshot(&url, &info, &ids, &BTreeMap::new(), None, emitter)
                    .await
                    .map_err(|e| e.context(&place))?,
            },
        };
        let (start, catalog) = start;
        if self.cfg.snapshot == SnapshotMode::InitialOnly {
            let durable = emitter.flush(SHUTDOWN_FLUSH).await?;
            tracing::info!(source = %self.name, ?durable, "initial snapshot done; not streaming (snapshot: initial_only)");
            return Ok(RunEnd::SnapshotDone);
        }
        let mut tables = Tables::new(self.cfg.tables.clone(), self.cfg.keys.clone(), catalog);
        tables.load_history(state.iter())?;
        self.stream(&url, &info, conn, tables, start, emitter, shutdown)
            .await
            .map_err(|e| e.context(&place))
    }

    /// Whether `offset` can be resumed from on this server.
    async fn resumable(
        &self,
        conn: &mut Conn,
        info: &ServerInfo,
        offset: &MysqlOffset,
    ) -> Result<bool, SourceError> {
        let by_gtid = self.by_gtid(info, offset)?;
        match (&offset.gtid, by_gtid) {
            (Some(state), true) => super::purged::check_gtid_available(conn, state).await?,
            _ => super::purged::check_file_pos(conn, offset).await?,
        }
        Ok(by_gtid)
    }

    /// Whether to resume by GTID: always when the offset came from another
    /// server (file/position mean nothing there), else when it has a GTID
    /// state (MariaDB; MySQL with gtid_mode=ON).
    fn by_gtid(&self, info: &ServerInfo, offset: &MysqlOffset) -> Result<bool, SourceError> {
        let has_gtid = match &offset.gtid {
            Some(GtidState::Mariadb(l)) => info.mariadb && !l.gtids().is_empty(),
            Some(GtidState::Mysql(s)) => !info.mariadb && !s.is_empty(),
            None => false,
        };
        if offset.server_id != info.server_id && !has_gtid {
            return Err(SourceError::permanent(format!(
                "the saved offset {} belongs to server_id {} but this server is server_id {} and the offset has no GTID to find the same point here; re-snapshot (restart once with `snapshot: always`)",
                offset.binlog, offset.server_id, info.server_id
            )));
        }
        Ok(has_gtid)
    }

    #[allow(clippy::too_many_arguments)]
    async fn stream<E: Emitter<MysqlOffset>>(
        &self,
        url: &str,
        info: &ServerInfo,
        mut conn: Conn,
        mut tables: Tables,
        start: MysqlOffset,
        emitter: &mut E,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<RunEnd, SourceError> {
        let by_gtid = self.resumable(&mut conn, info, &start).await?;
        let epoch = if start.server_id != info.server_id {
            start.epoch.checked_add(1).ok_or_else(|| {
                SourceError::permanent("more than 255 failovers: row versions would overflow; re-snapshot into new topics")
            })?
        } else {
            start.epoch
        };
        tracing::info!(source = %self.name, offset = %start.binlog, gtid = ?start.gtid.as_ref().map(|g| g.to_string()), by_gtid, "streaming the binlog");
        self.progress.send_modify(|p| p.streaming = true);
        let checksum: Option<String> = conn.query_first("SELECT @@global.binlog_checksum").await?;
        let checksums = !checksum.is_some_and(|c| c.eq_ignore_ascii_case("NONE"));
        let binlog_conn = connect(url).await?;
        let mut binlog = stream::open(
            binlog_conn,
            info.mariadb,
            self.cfg.server_id,
            &start,
            by_gtid,
        )
        .await?;
        let mut cur = Cursor {
            file: start.binlog.file.clone(),
            epoch,
            server_id: info.server_id,
            gtid: start.gtid.clone(),
            tx: None,
            checksums,
            seen_fde: false,
        };
        let mut last_saved: Option<MysqlOffset> = None;
        let mut last_checkpoint = Instant::now();
        // One ticker drives offset saves and the dead-connection check: no
        // timer is armed per event, and a quiet binlog still gets its offset
        // saved on time.
        let mut ticker = tokio::time::interval(SAVE_INTERVAL);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_event = Instant::now();
        let mut read_pos: Option<u64> = None;
        let mut commit_time_us: Option<i64> = None;
        let mut ticks: u64 = 0;
        loop {
            let next = tokio::select! {
                biased;
                _ = shutdown.changed() => None,
                _ = ticker.tick() => {
                    self.save_offset(emitter, &mut last_saved).await?;
                    // The distance to the binlog end every 5 s.
                    let read = read_pos
                        .filter(|_| ticks.is_multiple_of(20))
                        .map(|pos| BinlogPos { file: cur.file.clone(), pos });
                    self.publish_progress(&mut conn, read, commit_time_us).await;
                    ticks += 1;
                    if last_event.elapsed() > READ_TIMEOUT {
                        return Err(SourceError::transient(format!(
                            "no binlog event or heartbeat for {READ_TIMEOUT:?}: the connection is dead"
                        )));
                    }
                    continue;
                }
                r = binlog.next() => Some(r),
            };
            let event = match next {
                None => {
                    let durable = emitter.flush(SHUTDOWN_FLUSH).await?;
                    self.save_offset(emitter, &mut last_saved).await?;
                    emitter.flush(SHUTDOWN_FLUSH).await?;
                    tracing::info!(source = %self.name, offset = ?durable.map(|d| d.to_string()), "stopped");
                    return Ok(RunEnd::Shutdown);
                }
                Some(None) => {
                    return Err(SourceError::transient("the server ended the binlog stream"));
                }
                Some(Some(Err(e))) => return Err(stream::stream_error(e, &start, by_gtid)),
                Some(Some(Ok(ev))) => ev,
            };
            last_event = Instant::now();
            let header = event.header();
            if header.log_pos() > 0 {
                read_pos = Some(u64::from(header.log_pos()));
            }
            if header.timestamp() > 0 {
                commit_time_us = Some(i64::from(header.timestamp()) * 1_000_000);
            }
            self.on_event(
                &event,
                &mut cur,
                &mut tables,
                &mut conn,
                emitter,
                &mut last_checkpoint,
            )
            .await?;
        }
    }

    async fn save_offset<E: Emitter<MysqlOffset>>(
        &self,
        emitter: &mut E,
        last_saved: &mut Option<MysqlOffset>,
    ) -> Result<(), SourceError> {
        if let Some(m) = emitter.durable()?
            && last_saved.as_ref() != Some(&m)
        {
            emitter.save_state(OFFSET_KEY, Some(m.to_string())).await?;
            *last_saved = Some(m);
        }
        Ok(())
    }

    /// Handles one binlog event. `catalog` is asked for a table's current
    /// definition when a TABLE_MAP names a table not known or stale.
    #[allow(clippy::too_many_arguments)]
    async fn on_event<E: Emitter<MysqlOffset>, C: Catalog>(
        &self,
        event: &Event,
        cur: &mut Cursor,
        tables: &mut Tables,
        catalog: &mut C,
        emitter: &mut E,
        last_checkpoint: &mut Instant,
    ) -> Result<(), SourceError> {
        let header = event.header();
        let ty = header.event_type_raw();
        let end = u64::from(header.log_pos());
        let start = end.saturating_sub(u64::from(header.event_size()));
        let at = format!("{}:{start}", cur.file);
        if (MARIADB_COMPRESSED).contains(&ty) {
            return Err(SourceError::permanent(format!(
                "compressed binlog event (type {ty}) at {at}: rowlog does not decode compressed events; set log_bin_compress=OFF on the server, then re-snapshot (restart once with `snapshot: always`) because these changes cannot be read"
            )));
        }
        if ty == MARIADB_START_ENCRYPTION {
            return Err(SourceError::permanent(format!(
                "the binlog is encrypted (START_ENCRYPTION at {at}); rowlog cannot read encrypted binlogs: turn off encrypt_binlog"
            )));
        }
        if ty == GTID_EVENT {
            let g = mariadb_events::decode_gtid(event.data(), header.server_id())?;
            self.begin_group(cur, &at)?;
            cur.tx = Some(Tx {
                id: g.gtid.to_string(),
                gtid: Some(Gtid::Mariadb(g.gtid)),
                commit_time_us: i64::from(header.timestamp()) * 1_000_000,
                standalone: g.is_standalone(),
                awaiting_begin: false,
                prepared_xa: g.is_prepared_xa(),
                ordinal: 0,
                counts: BTreeMap::new(),
            });
            return Ok(());
        }
        if ty == GTID_LIST_EVENT {
            let list = mariadb_events::decode_gtid_list(event.data())?;
            tracing::debug!(source = %self.name, entries = list.entries.len(), "GTID list");
            return Ok(());
        }
        if ty == ANNOTATE_ROWS || ty == BINLOG_CHECKPOINT {
            return Ok(());
        }
        let data = event.read_data().map_err(|e| {
            SourceError::permanent(format!("binlog event type {ty} at {at} is malformed: {e}"))
        })?;
        match data {
            Some(EventData::RotateEvent(r)) => {
                let mut name = r.name_raw();
                if cur.checksums && !cur.seen_fde && name.len() > 4 {
                    name = &name[..name.len() - 4];
                }
                cur.file = String::from_utf8_lossy(name).into_owned();
                tables.forget_ids();
            }
            Some(EventData::FormatDescriptionEvent(_)) => cur.seen_fde = true,
            Some(EventData::HeartbeatEvent)
            | Some(EventData::PreviousGtidsEvent(_))
            | Some(EventData::RowsQueryEvent(_))
            | Some(EventData::IntvarEvent(_))
            | Some(EventData::RandEvent(_))
            | Some(EventData::UserVarEvent(_))
            | Some(EventData::StopEvent) => {}
            Some(EventData::TransactionPayloadEvent(_)) => {
                // A whole transaction (its table maps and rows included),
                // compressed: skipping it would lose its rows.
                return Err(SourceError::permanent(format!(
                    "compressed transaction (TRANSACTION_PAYLOAD event) at {at}: rowlog does not decode compressed transactions; set binlog_transaction_compression=OFF on the server, then re-snapshot (restart once with `snapshot: always`) because these changes cannot be read"
                )));
            }
            Some(EventData::GtidEvent(g)) => {
                if g.is_tagged() {
                    // `uuid:tag:n` is not `uuid:n`: recording it as such
                    // would tell the server on resume that another
                    // transaction was executed (a gap).
                    return Err(SourceError::permanent(format!(
                        "tagged GTID (MySQL 8.4+) at {at}: rowlog does not track tagged GTIDs yet; write transactions without a GTID tag (gtid_next=AUTOMATIC)"
                    )));
                }
                self.begin_group(cur, &at)?;
                let uuid = uuid::Uuid::from_bytes(g.sid());
                let gtid = MysqlGtid { uuid, seq: g.gno() };
                cur.tx = Some(Tx {
                    id: gtid.to_string(),
                    gtid: Some(Gtid::Mysql(gtid)),
                    commit_time_us: i64::from(header.timestamp()) * 1_000_000,
                    standalone: false,
                    awaiting_begin: true,
                    prepared_xa: false,
                    ordinal: 0,
                    counts: BTreeMap::new(),
                });
            }
            Some(EventData::AnonymousGtidEvent(_)) => {
                self.begin_group(cur, &at)?;
                cur.tx = Some(self.plain_tx(&at, header.timestamp(), true));
            }
            Some(EventData::QueryEvent(q)) => {
                let query = q.query();
                let trimmed = query.trim();
                let upper: String = trimmed
                    .chars()
                    .take(16)
                    .collect::<String>()
                    .to_ascii_uppercase();
                if upper.starts_with("BEGIN") || upper.starts_with("START TRANSACTION") {
                    match cur.tx.as_mut() {
                        Some(tx) => {
                            tx.awaiting_begin = false;
                            tx.standalone = false;
                        }
                        None => cur.tx = Some(self.plain_tx(&at, header.timestamp(), false)),
                    }
                } else if upper.starts_with("COMMIT") || upper == "ROLLBACK" {
                    self.commit(cur, end, emitter, last_checkpoint).await?;
                } else if upper.starts_with("XA START") || upper.starts_with("XA BEGIN") {
                    // The group goes on to XA END and XA PREPARE (or a
                    // one-phase XA COMMIT). Rows of a captured table in it
                    // stop the source before any is emitted (`on_rows`).
                    let tx = cur
                        .tx
                        .get_or_insert_with(|| self.plain_tx(&at, header.timestamp(), false));
                    tx.awaiting_begin = false;
                    tx.standalone = false;
                    tx.prepared_xa = true;
                } else if upper.starts_with("XA END") {
                    // Still inside the XA group: XA PREPARE ends it.
                } else if upper.starts_with("XA ") {
                    // XA PREPARE (as a query) ends a prepared group; XA
                    // COMMIT/ROLLBACK is a group of its own.
                    let has_rows = cur.tx.as_ref().is_some_and(|t| t.ordinal > 0);
                    if has_rows {
                        return Err(SourceError::permanent(format!(
                            "XA transaction with rows of captured tables at {at} (`{trimmed}`): rowlog does not capture XA transactions yet"
                        )));
                    }
                    self.commit(cur, end, emitter, last_checkpoint).await?;
                } else if upper.starts_with("SAVEPOINT") || upper.starts_with("ROLLBACK TO") {
                    // Inside a transaction; the binlog only has what stayed.
                } else {
                    // DDL (or another statement logged as text).
                    let marks = tables.on_ddl(&q.schema(), trimmed, &at);
                    for (k, v) in marks {
                        emitter.save_state(&k, Some(v)).await?;
                    }
                    let ends_group = match cur.tx.as_ref() {
                        None => true,
                        Some(tx) => tx.standalone || tx.awaiting_begin,
                    };
                    if ends_group {
                        if cur.tx.is_none() {
                            cur.tx = Some(self.plain_tx(&at, header.timestamp(), true));
                        }
                        self.commit(cur, end, emitter, last_checkpoint).await?;
                    }
                }
            }
            Some(EventData::XidEvent(_)) => {
                self.commit(cur, end, emitter, last_checkpoint).await?;
            }
            Some(EventData::TableMapEvent(tme)) => {
                self.on_table_map(&tme, event.data(), tables, catalog, emitter, &at)
                    .await?;
            }
            Some(EventData::RowsEvent(rows)) => {
                self.on_rows(&rows, start, cur, tables, emitter, &at)
                    .await?;
            }
            Some(EventData::IncidentEvent(i)) => {
                return Err(SourceError::permanent(format!(
                    "the server logged an INCIDENT at {at} ({i:?}): changes may be missing from its binlog; re-snapshot (restart once with `snapshot: always`)"
                )));
            }
            Some(EventData::XaPrepareLogEvent(_)) => {
                let has_rows = cur.tx.as_ref().is_some_and(|t| t.ordinal > 0);
                if has_rows {
                    return Err(SourceError::permanent(format!(
                        "XA PREPARE with rows of captured tables at {at}: rowlog does not capture XA transactions yet"
                    )));
                }
                self.commit(cur, end, emitter, last_checkpoint).await?;
            }
            _ => {
                let ignorable = header.flags_raw() & LOG_EVENT_IGNORABLE_F != 0;
                if cur.tx.is_some() && !ignorable {
                    return Err(SourceError::permanent(format!(
                        "unknown binlog event type {ty} inside a transaction at {at}: rowlog cannot tell whether it changes rows, so it stops rather than skip it; report this with the server version"
                    )));
                }
                tracing::warn!(source = %self.name, event_type = ty, at = %at, "skipping an unknown binlog event outside any transaction");
            }
        }
        Ok(())
    }

    fn plain_tx(&self, at: &str, ts: u32, standalone: bool) -> Tx {
        Tx {
            id: at.to_string(),
            gtid: None,
            commit_time_us: i64::from(ts) * 1_000_000,
            standalone,
            awaiting_begin: false,
            prepared_xa: false,
            ordinal: 0,
            counts: BTreeMap::new(),
        }
    }

    fn begin_group(&self, cur: &Cursor, at: &str) -> Result<(), SourceError> {
        match &cur.tx {
            Some(tx) if tx.ordinal > 0 => Err(SourceError::permanent(format!(
                "a new event group starts at {at} while transaction {} has not ended: the binlog is damaged or truncated",
                tx.id
            ))),
            _ => Ok(()),
        }
    }

    async fn on_table_map<E: Emitter<MysqlOffset>, C: Catalog>(
        &self,
        tme: &TableMapEvent<'_>,
        raw: &[u8],
        tables: &mut Tables,
        catalog: &mut C,
        emitter: &mut E,
        at: &str,
    ) -> Result<(), SourceError> {
        let body = raw.get(6..).unwrap_or(raw);
        if let MapOutcome::NewSchema { key, value } =
            tables.on_table_map(tme, body, catalog, at).await?
        {
            emitter.save_state(&key, Some(value)).await?;
        }
        Ok(())
    }

    async fn on_rows<E: Emitter<MysqlOffset>>(
        &self,
        rows: &RowsEventData<'_>,
        start: u64,
        cur: &mut Cursor,
        tables: &mut Tables,
        emitter: &mut E,
        at: &str,
    ) -> Result<(), SourceError> {
        let Some(decoded) = tables.get(rows.table_id(), at)? else {
            return Ok(());
        };
        let kind = match rows {
            RowsEventData::WriteRowsEventV1(_) | RowsEventData::WriteRowsEvent(_) => {
                RowsKind::Write
            }
            RowsEventData::UpdateRowsEventV1(_) | RowsEventData::UpdateRowsEvent(_) => {
                RowsKind::Update
            }
            RowsEventData::DeleteRowsEventV1(_) | RowsEventData::DeleteRowsEvent(_) => {
                RowsKind::Delete
            }
            RowsEventData::PartialUpdateRowsEvent(_) => {
                return Err(SourceError::permanent(format!(
                    "partial JSON update at {at} (table {}): set binlog_row_value_options='' on the server so updates carry whole rows",
                    decoded.table.id
                )));
            }
        };
        if cur.tx.is_none() {
            cur.tx = Some(self.plain_tx(at, 0, false));
        }
        let images = decode_rows(
            &format!("{} at {at}", decoded.table.id),
            &decoded.table.columns,
            kind,
            rows.columns_before_image(),
            rows.columns_after_image(),
            rows.rows_data(),
        )?;
        let table = &decoded.table;
        let schema = &decoded.schema;
        let Some(tx) = cur.tx.as_mut() else {
            return Ok(());
        };
        if tx.prepared_xa {
            return Err(SourceError::permanent(format!(
                "XA transaction with rows of captured table {} at {at}: rowlog does not capture XA transactions yet",
                table.id
            )));
        }
        let ts_ms = now_ms();
        let version = schema.version();
        let mut emitted: u64 = 0;
        for (i, image) in images.into_iter().enumerate() {
            let position = Position::Mysql(MysqlPosition {
                epoch: cur.epoch,
                binlog: BinlogPos {
                    file: cur.file.clone(),
                    pos: start,
                },
                row: u32::try_from(i).unwrap_or(u32::MAX),
                gtid: tx.gtid,
            });
            let before = image.before.map(|v| row_of(&table.columns, v));
            let after = image.after.map(|v| row_of(&table.columns, v));
            // An update that moves the key is a delete of the old key and an
            // insert of the new one.
            let (first, second) = match kind {
                RowsKind::Write => ((Op::Insert, None, after), None),
                RowsKind::Delete => ((Op::Delete, before, None), None),
                RowsKind::Update => {
                    let key_changed = match (&before, &after) {
                        (Some(b), Some(a)) => table
                            .key
                            .iter()
                            .any(|k| matches!((b.get(k), a.get(k)), (Some(x), Some(y)) if x != y)),
                        _ => false,
                    };
                    if key_changed {
                        ((Op::Delete, before, None), Some((Op::Insert, None, after)))
                    } else {
                        ((Op::Update, before, after), None)
                    }
                }
            };
            for (op, before, after) in std::iter::once(first).chain(second) {
                tx.ordinal += 1;
                emitted += 1;
                let event = ChangeEvent {
                    source: self.name.clone(),
                    table: table.id.clone(),
                    op,
                    key_columns: table.key.clone(),
                    before,
                    after,
                    position: position.clone(),
                    transaction: Some(TxInfo {
                        id: tx.id.clone(),
                        commit_time_us: tx.commit_time_us,
                        ordinal: tx.ordinal,
                    }),
                    schema_version: version,
                    ts_ms,
                };
                emitter.emit(event, schema).await?;
            }
        }
        if emitted > 0 {
            *tx.counts.entry(table.id.to_string()).or_default() += emitted;
        }
        Ok(())
    }

    async fn commit<E: Emitter<MysqlOffset>>(
        &self,
        cur: &mut Cursor,
        end: u64,
        emitter: &mut E,
        last_checkpoint: &mut Instant,
    ) -> Result<(), SourceError> {
        let Some(tx) = cur.tx.take() else {
            return Ok(());
        };
        match (&tx.gtid, &mut cur.gtid) {
            (Some(Gtid::Mariadb(g)), Some(GtidState::Mariadb(list))) => list.advance(*g),
            (Some(Gtid::Mariadb(g)), state @ None) => {
                let mut list = rowlog_schemas::position::MariadbGtidList::default();
                list.advance(*g);
                *state = Some(GtidState::Mariadb(list));
            }
            (Some(Gtid::Mysql(g)), Some(GtidState::Mysql(set))) => set.add(*g),
            (Some(Gtid::Mysql(g)), state @ None) => {
                let mut set = rowlog_schemas::position::MysqlGtidSet::default();
                set.add(*g);
                *state = Some(GtidState::Mysql(set));
            }
            _ => {}
        }
        let mark = cur.offset(end);
        if tx.ordinal > 0 {
            emitter
                .end_transaction(TransactionEnd {
                    mark,
                    id: tx.id,
                    commit_time_us: tx.commit_time_us,
                    counts: tx.counts.into_iter().collect(),
                })
                .await?;
        } else if last_checkpoint.elapsed() >= Duration::from_millis(200) {
            emitter.checkpoint(mark);
            *last_checkpoint = Instant::now();
        }
        Ok(())
    }

    /// Takes (or, with `resume`, continues) the snapshot of the tables
    /// `ids`; returns its position and the tables as of that position.
    async fn snapshot<E: Emitter<MysqlOffset>>(
        &self,
        url: &str,
        info: &ServerInfo,
        ids: &[rowlog_schemas::TableId],
        state: &BTreeMap<String, String>,
        resume: Option<MysqlOffset>,
        emitter: &mut E,
    ) -> Result<(MysqlOffset, Vec<MyTable>), SourceError> {
        let mut conn = connect(url).await?;
        snapshot::prepare_session(&mut conn).await?;
        let (at, tables) = match resume {
            Some(at) => {
                conn.query_drop("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
                    .await?;
                let tables = catalog::describe_tables(&mut conn, ids, &self.cfg.keys).await?;
                (at, tables)
            }
            None => {
                let (at, tables) = self.consistent_start(&mut conn, info, ids).await?;
                emitter
                    .save_state(SNAPSHOT_KEY, Some(snapshot_record("running", &at)))
                    .await?;
                for t in &tables {
                    emitter
                        .save_state(&format!("{SNAPSHOT_TABLE_PREFIX}{}", t.id), None)
                        .await?;
                }
                (at, tables)
            }
        };
        tracing::info!(source = %self.name, position = %at.binlog, gtid = ?at.gtid.as_ref().map(|g| g.to_string()), tables = tables.len(), "snapshot started");
        for table in &tables {
            let progress_key = format!("{SNAPSHOT_TABLE_PREFIX}{}", table.id);
            let mut after = match state.get(&progress_key).map(String::as_str) {
                Some("done") => continue,
                Some(k) => Some(snapshot::key_from_state(table, k)?),
                None => None,
            };
            let schema = Arc::new(table.schema()?);
            let estimate = snapshot::estimate_rows(&mut conn, table).await.unwrap_or(0);
            let mut read: u64 = 0;
            loop {
                let rows = snapshot::read_chunk(&mut conn, table, after.as_deref(), SNAPSHOT_CHUNK)
                    .await
                    .map_err(|e| e.context(format!("snapshot of {}", table.id)))?;
                let n = rows.len();
                let mut last = None;
                for values in rows {
                    last = Some(snapshot::key_of(table, &values));
                    self.emit_read(table, &schema, values, &at, emitter).await?;
                }
                read += n as u64;
                if n < SNAPSHOT_CHUNK {
                    break;
                }
                // Progress only once the chunk is durable, so a saved key is
                // never ahead of the rows it stands for.
                emitter.flush(SHUTDOWN_FLUSH).await?;
                if let Some(k) = &last {
                    emitter
                        .save_state(&progress_key, Some(snapshot::key_to_state(k)))
                        .await?;
                }
                after = last;
                tracing::info!(source = %self.name, table = %table.id, read, estimate, "snapshot progress");
                self.snapshot_progress(&table.id, read, estimate);
            }
            emitter.flush(SHUTDOWN_FLUSH).await?;
            emitter
                .save_state(&progress_key, Some("done".into()))
                .await?;
            tracing::info!(source = %self.name, table = %table.id, rows = read, "table snapshot done");
            self.snapshot_progress(&table.id, read, estimate);
        }
        conn.query_drop("COMMIT").await?;
        emitter
            .save_state(SNAPSHOT_KEY, Some(snapshot_record("done", &at)))
            .await?;
        emitter.checkpoint(at.clone());
        Ok((at, tables))
    }

    async fn emit_read<E: Emitter<MysqlOffset>>(
        &self,
        table: &MyTable,
        schema: &Arc<TableSchema>,
        values: Vec<Value>,
        at: &MysqlOffset,
        emitter: &mut E,
    ) -> Result<(), SourceError> {
        let event = ChangeEvent {
            source: self.name.clone(),
            table: table.id.clone(),
            op: Op::Read,
            key_columns: table.key.clone(),
            before: None,
            after: Some(row_of(&table.columns, values)),
            position: Position::Mysql(MysqlPosition {
                epoch: at.epoch,
                binlog: at.binlog.clone(),
                row: 0,
                gtid: None,
            }),
            transaction: None,
            schema_version: schema.version(),
            ts_ms: now_ms(),
        };
        emitter.emit(event, schema).await
    }

    /// Starts the snapshot transaction and reads the binlog position it
    /// corresponds to.
    async fn consistent_start(
        &self,
        conn: &mut Conn,
        info: &ServerInfo,
        ids: &[rowlog_schemas::TableId],
    ) -> Result<(MysqlOffset, Vec<MyTable>), SourceError> {
        conn.query_drop("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            .await?;
        match self.cfg.snapshot_locking {
            SnapshotLocking::Global => {
                conn.query_drop("FLUSH TABLES WITH READ LOCK").await.map_err(|e| {
                    SourceError::from(e).context(
                        "FLUSH TABLES WITH READ LOCK for a consistent snapshot (needs the RELOAD privilege; on MariaDB, `snapshot_locking: none` is consistent without it)",
                    )
                })?;
                // Under the lock no DDL or write can run: the tables'
                // definitions, the rows the transaction sees and the
                // position all describe the same moment.
                let started = async {
                    conn.query_drop("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
                        .await?;
                    let tables = catalog::describe_tables(conn, ids, &self.cfg.keys).await?;
                    Ok::<_, SourceError>((current_offset(conn, info).await?, tables))
                }
                .await;
                conn.query_drop("UNLOCK TABLES").await?;
                started
            }
            SnapshotLocking::None => {
                conn.query_drop("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
                    .await?;
                if info.mariadb {
                    // MariaDB reports the binlog position of the snapshot
                    // itself: consistent without any lock.
                    let file: Option<(String, String)> = conn
                        .query_first("SHOW STATUS LIKE 'binlog_snapshot_file'")
                        .await?;
                    let pos: Option<(String, String)> = conn
                        .query_first("SHOW STATUS LIKE 'binlog_snapshot_position'")
                        .await?;
                    let (Some((_, file)), Some((_, pos))) = (file, pos) else {
                        return Err(SourceError::permanent(
                            "the server did not report binlog_snapshot_file/position",
                        ));
                    };
                    let pos: u64 = pos.parse().map_err(|_| {
                        SourceError::permanent(format!(
                            "binlog_snapshot_position `{pos}` is not a number"
                        ))
                    })?;
                    let gtid: Option<String> = conn
                        .exec_first("SELECT BINLOG_GTID_POS(?, ?)", (file.as_str(), pos))
                        .await?;
                    let tables = catalog::describe_tables(conn, ids, &self.cfg.keys).await?;
                    let at = MysqlOffset {
                        epoch: 0,
                        server_id: info.server_id,
                        binlog: BinlogPos { file, pos },
                        gtid: parse_mariadb_gtid(gtid.as_deref())?,
                    };
                    Ok((at, tables))
                } else {
                    tracing::warn!(source = %self.name, "snapshot_locking: none on MySQL: tables written while the snapshot starts may be inconsistent until their next change");
                    let at = current_offset(conn, info).await?;
                    let tables = catalog::describe_tables(conn, ids, &self.cfg.keys).await?;
                    Ok((at, tables))
                }
            }
        }
    }
}

fn parse_mariadb_gtid(s: Option<&str>) -> Result<Option<GtidState>, SourceError> {
    match s.map(str::trim) {
        None | Some("") => Ok(None),
        Some(t) => Ok(Some(GtidState::Mariadb(t.parse().map_err(|e| {
            SourceError::permanent(format!("server GTID position `{t}`: {e}"))
        })?))),
    }
}

/// The server's current binlog end (`SHOW MASTER STATUS`) and GTID state.
async fn current_offset(conn: &mut Conn, info: &ServerInfo) -> Result<MysqlOffset, SourceError> {
    let row: Option<mysql_async::Row> = conn.query_first("SHOW MASTER STATUS").await?;
    let Some(row) = row else {
        return Err(SourceError::permanent(
            "SHOW MASTER STATUS returned nothing: binary logging is off; start the server with log_bin",
        ));
    };
    let file: String = row.get(0).unwrap_or_default();
    let pos: u64 = row.get(1).unwrap_or_default();
    let gtid = if info.mariadb {
        let g: Option<String> = conn.query_first("SELECT @@gtid_binlog_pos").await?;
        parse_mariadb_gtid(g.as_deref())?
    } else {
        let g: Option<String> = conn.query_first("SELECT @@gtid_executed").await?;
        match g.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(t) => Some(GtidState::Mysql(t.parse().map_err(|e| {
                SourceError::permanent(format!("server gtid_executed `{t}`: {e}"))
            })?)),
        }
    };
    Ok(MysqlOffset {
        epoch: 0,
        server_id: info.server_id,
        binlog: BinlogPos { file, pos },
        gtid,
    })
}

#[cfg(test)]
mod progress_tests {
    use super::*;

    #[test]
    fn bytes_behind_counts_the_rest_of_this_file_and_the_later_ones() {
        let logs = vec![
            ("b.000001".to_string(), 1000),
            ("b.000002".to_string(), 500),
            ("b.000003".to_string(), 200),
        ];
        let at = |file: &str, pos| BinlogPos {
            file: file.into(),
            pos,
        };
        assert_eq!(bytes_behind(&at("b.000002", 400), &logs), Some(300));
        assert_eq!(bytes_behind(&at("b.000003", 200), &logs), Some(0));
        assert_eq!(bytes_behind(&at("b.000001", 0), &logs), Some(1700));
        assert_eq!(bytes_behind(&at("b.000009", 0), &logs), None);
        let p = Progress {
            behind_bytes: Some(0),
            last_commit_time_us: Some(0),
            ..Progress::default()
        };
        assert_eq!(p.lag_seconds(5_000_000), Some(0.0));
        let p = Progress {
            behind_bytes: Some(10),
            last_commit_time_us: Some(1_000_000),
            ..Progress::default()
        };
        assert_eq!(p.lag_seconds(3_000_000), Some(2.0));
    }
}

#[cfg(test)]
#[path = "source_tests.rs"]
mod tests;
