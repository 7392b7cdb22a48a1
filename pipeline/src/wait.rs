//! Read-your-writes: `/wait?sink=NAME&position=POS` answers once the sink
//! has applied every change its source committed at or before POS (an LSN
//! or a GTID set as the source database prints it).
//!
//! How it knows, without writing anything into the table topics (they stay
//! exactly Debezium's):
//! - **Source side.** Each source's emitter hands every checkpoint (the
//!   source position after a transaction, or of an idle stream) to
//!   [`track_source`] with the seq of the last record appended before it.
//!   Once the log's watermark passes that seq, every record of every change
//!   up to that position is acknowledged, and the writer's per-partition
//!   ends ([`crate::log::LogWriter::ends`]) count them from then on (ends
//!   only grow). The position is published as the source's [`Progress`],
//!   with a way to read those ends: a wait reads them once, when the
//!   position covers it, so checkpoints (one per transaction) cost no copy
//!   of the ends map under the writer's lock.
//! - **Sink side.** The sink worker publishes, per partition, the offset
//!   after the last record the target holds (after each landed batch, and
//!   the stored offsets when a partition is assigned).
//! - **The wait.** First until the source's progress covers POS; then until
//!   the sink's offsets reach that progress's ends on every partition of
//!   the sink's topics. Ends may be ahead of POS (later changes) — that only
//!   waits longer, never answers early.
//!
//! Invariants and limits:
//! - Ends written by an earlier process are not in this writer's memory.
//!   At start, [`track_source`] takes the broker's high watermark of every
//!   existing partition of the source's topics as a floor before publishing
//!   anything. That is exact on Kafka; tansu 0.6 reports the base offset of
//!   a partition's last batch + 1, which can be low by that batch's size, so
//!   a position older than the process start may be answered before the
//!   sink applied the last batch an earlier process wrote.
//! - The source and the sink must run in the same process (a `--only` split
//!   answers 400 naming the missing half); a sink partition that another
//!   process of the same sink holds is never seen applied here, so such a
//!   wait times out rather than answering early.
//! - A PostgreSQL position right after a WAL page header
//!   (`pg_current_wal_insert_lsn()` when the last record ended at a page
//!   boundary) is the same point as that boundary, and is treated as such,
//!   so an idle server needs no further WAL to answer. After a segment's
//!   longer first header this is certain only at 1 GiB boundaries (the
//!   segment size is the server's choice); elsewhere such a wait answers
//!   once the server writes more WAL.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rowlog_connectors::mysql::offset::{GtidState, MysqlOffset};
use rowlog_schemas::position::{BinlogPos, Lsn, MariadbGtidList, MysqlGtidSet};
use tokio::sync::{mpsc, watch};

use crate::log::{Ends, LogWriter, Seq};

/// Which database a source reads, for parsing positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// PostgreSQL: positions are LSNs.
    Postgres,
    /// MySQL/MariaDB: GTID sets or lists, or `FILE:OFFSET`.
    Mysql,
}

/// A position a caller waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitPosition {
    /// `pg_current_wal_insert_lsn()` / `pg_current_wal_lsn()`.
    Lsn(Lsn),
    /// MariaDB `@@gtid_binlog_pos` (`0-1-42,1-2-7`).
    Mariadb(MariadbGtidList),
    /// MySQL `@@gtid_executed` (`uuid:1-42`).
    Mysql(MysqlGtidSet),
    /// `SHOW MASTER STATUS` file and position, for servers without GTIDs.
    Binlog(BinlogPos),
}

/// WAL page size and the sizes of a page's header (short) and of a
/// segment's first page header (long). The largest WAL segment size: a
/// position that far into a page that far from 0 is certainly after a
/// segment's long header, whatever the server's segment size.
const WAL_PAGE: u64 = 8192;
const SHORT_PAGE_HEADER: u64 = 24;
const LONG_PAGE_HEADER: u64 = 40;
const MAX_WAL_SEGMENT: u64 = 1 << 30;

impl WaitPosition {
    /// Parses `s` as a position of a `flavor` source; the error says which
    /// forms are accepted.
    pub fn parse(flavor: Flavor, s: &str) -> Result<WaitPosition, String> {
        let s = s.trim();
        match flavor {
            Flavor::Postgres => {
                let lsn: Lsn = s.parse().map_err(|e| format!("{e}"))?;
                // A record ends at a page boundary, never right after a
                // page header (see the module doc). 24 bytes into a page is
                // always a header's end; 40 bytes only on a segment's first
                // page, which is certain only at a 1 GiB boundary (a record
                // may end 40 bytes into other pages).
                let lsn = if lsn.0 % WAL_PAGE == SHORT_PAGE_HEADER {
                    Lsn(lsn.0 - SHORT_PAGE_HEADER)
                } else if lsn.0 % MAX_WAL_SEGMENT == LONG_PAGE_HEADER {
                    Lsn(lsn.0 - LONG_PAGE_HEADER)
                } else {
                    lsn
                };
                Ok(WaitPosition::Lsn(lsn))
            }
            Flavor::Mysql => {
                let first = s.split([',', ':']).next().unwrap_or_default();
                if s.contains(':') && uuid::Uuid::parse_str(first.trim()).is_ok() {
                    return s
                        .parse()
                        .map(WaitPosition::Mysql)
                        .map_err(|e| format!("{e}"));
                }
                if s.contains(':') {
                    return s
                        .parse()
                        .map(WaitPosition::Binlog)
                        .map_err(|e| format!("{e}"));
                }
                s.parse().map(WaitPosition::Mariadb).map_err(|e| {
                    format!(
                        "{e}; expected a MariaDB GTID list (0-1-42,1-2-7), a MySQL GTID set (UUID:1-42) or FILE:OFFSET"
                    )
                })
            }
        }
    }
}

/// How far a source got: the position of a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceAt {
    /// A PostgreSQL source: everything committed before this LSN.
    Pg(Lsn),
    /// A MySQL/MariaDB source: the GTID state and binlog position after the
    /// last whole transaction.
    Mysql {
        /// GTID state, when the server has GTIDs.
        gtid: Option<GtidState>,
        /// File and offset.
        binlog: BinlogPos,
    },
}

impl SourceAt {
    /// A PostgreSQL source's mark.
    #[allow(clippy::trivially_copy_pass_by_ref)] // the emitter's hook type
    pub fn from_lsn(lsn: &Lsn) -> Option<SourceAt> {
        Some(SourceAt::Pg(*lsn))
    }

    /// A MySQL/MariaDB source's mark.
    pub fn from_mysql(offset: &MysqlOffset) -> Option<SourceAt> {
        Some(SourceAt::Mysql {
            gtid: offset.gtid.clone(),
            binlog: offset.binlog.clone(),
        })
    }

    /// Whether every change at or before `pos` is at or before this point;
    /// an error when `pos` is of another kind than this source's positions.
    pub fn covers(&self, pos: &WaitPosition) -> Result<bool, String> {
        match (self, pos) {
            (SourceAt::Pg(at), WaitPosition::Lsn(p)) => Ok(at >= p),
            (
                SourceAt::Mysql {
                    gtid: Some(GtidState::Mariadb(at)),
                    ..
                },
                WaitPosition::Mariadb(p),
            ) => Ok(p.gtids().iter().all(|g| at.contains(g))),
            (
                SourceAt::Mysql {
                    gtid: Some(GtidState::Mysql(at)),
                    ..
                },
                WaitPosition::Mysql(p),
            ) => Ok(p.intervals().all(|(uuid, ivs)| {
                at.intervals().any(|(u, have)| {
                    u == uuid
                        && ivs
                            .iter()
                            .all(|&(a, b)| have.iter().any(|&(c, d)| c <= a && b <= d))
                })
            })),
            (SourceAt::Mysql { binlog, .. }, WaitPosition::Binlog(p)) => Ok(binlog >= p),
            (SourceAt::Mysql { gtid: None, .. }, WaitPosition::Mariadb(_) | WaitPosition::Mysql(_)) => {
                Err("the source's server has no GTIDs; wait for a FILE:OFFSET from SHOW MASTER STATUS instead".into())
            }
            (SourceAt::Mysql { gtid: Some(GtidState::Mariadb(_)), .. }, WaitPosition::Mysql(_)) => Err(
                "the source is MariaDB: pass @@gtid_binlog_pos (domain-server-seq), not a MySQL GTID set".into(),
            ),
            (SourceAt::Mysql { gtid: Some(GtidState::Mysql(_)), .. }, WaitPosition::Mariadb(_)) => Err(
                "the source is MySQL: pass @@gtid_executed (UUID:1-42), not a MariaDB GTID list".into(),
            ),
            (SourceAt::Pg(_), _) | (SourceAt::Mysql { .. }, WaitPosition::Lsn(_)) => {
                Err("the position is not of this source's kind".into())
            }
        }
    }
}

impl std::fmt::Display for SourceAt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SourceAt::Pg(lsn) => write!(f, "{lsn}"),
            SourceAt::Mysql { gtid: Some(g), .. } => write!(f, "{g}"),
            SourceAt::Mysql { binlog, .. } => write!(f, "{binlog}"),
        }
    }
}

/// Reads the log's current ends (the writer's, with the broker's as a floor).
pub type EndsFn = Arc<dyn Fn() -> Ends + Send + Sync>;

/// A source's durable progress: its position, and the log's ends.
#[derive(Clone)]
pub struct Progress {
    /// Every change at or before this point is acknowledged by the log.
    pub at: SourceAt,
    /// Per topic and partition, offsets that every such change lies below
    /// (read now or any time later: they only grow).
    pub ends: EndsFn,
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Progress")
            .field("at", &self.at)
            .finish_non_exhaustive()
    }
}

/// A source's checkpoints, from its emitter to [`track_source`].
pub type CheckpointTx = mpsc::UnboundedSender<(Seq, SourceAt)>;

/// Per partition, the offset after the last record the target holds.
pub type Applied = HashMap<(String, i32), i64>;

struct SourceEntry {
    flavor: Flavor,
    progress: watch::Receiver<Option<Progress>>,
}

struct SinkEntry {
    source: String,
    /// Table topics of the source are `<topics>.<namespace>.<table>`.
    topics: String,
    applied: watch::Receiver<Applied>,
}

/// The sources and sinks of this process that waits can use.
#[derive(Clone, Default)]
pub struct Waits {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Default)]
struct Inner {
    sources: HashMap<String, SourceEntry>,
    sinks: HashMap<String, SinkEntry>,
}

impl std::fmt::Debug for Waits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = self.lock();
        f.debug_struct("Waits")
            .field("sources", &inner.sources.keys().collect::<Vec<_>>())
            .field("sinks", &inner.sinks.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Why a wait did not answer 200.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitError {
    /// No such sink in this process (404).
    UnknownSink(String),
    /// A malformed position, or one this setup cannot wait for (400).
    BadRequest(String),
    /// The deadline passed first (408); says what was still missing.
    TimedOut(String),
}

impl Waits {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers source `name`; its progress comes through the returned
    /// sender (see [`track_source`]).
    pub fn add_source(&self, name: &str, flavor: Flavor) -> watch::Sender<Option<Progress>> {
        let (tx, rx) = watch::channel(None);
        self.lock().sources.insert(
            name.to_string(),
            SourceEntry {
                flavor,
                progress: rx,
            },
        );
        tx
    }

    /// Registers sink `name` applying source `source` from the topics
    /// `<topic_prefix>.<source>.*`; it publishes what it applied through the
    /// returned sender.
    pub fn add_sink(&self, name: &str, source: &str, topic_prefix: &str) -> watch::Sender<Applied> {
        let (tx, rx) = watch::channel(Applied::new());
        self.lock().sinks.insert(
            name.to_string(),
            SinkEntry {
                source: source.to_string(),
                topics: format!("{topic_prefix}.{source}."),
                applied: rx,
            },
        );
        tx
    }

    /// Waits until sink `sink` applied every change up to `position` (see
    /// the module doc), at most `timeout`.
    pub async fn wait(
        &self,
        sink: &str,
        position: &str,
        timeout: Duration,
    ) -> Result<(), WaitError> {
        let deadline = Instant::now() + timeout;
        let (flavor, mut progress, mut applied, topics, source) = {
            let inner = self.lock();
            let s = inner
                .sinks
                .get(sink)
                .ok_or_else(|| WaitError::UnknownSink(sink.to_string()))?;
            let src = inner.sources.get(&s.source).ok_or_else(|| {
                WaitError::BadRequest(format!(
                    "sink `{sink}`'s source `{}` does not run in this process; /wait needs the source and the sink in one `rowlog run` (drop --only, or list both)",
                    s.source
                ))
            })?;
            (
                src.flavor,
                src.progress.clone(),
                s.applied.clone(),
                s.topics.clone(),
                s.source.clone(),
            )
        };
        let pos = WaitPosition::parse(flavor, position)
            .map_err(|e| WaitError::BadRequest(format!("position={position}: {e}")))?;
        let is_empty = match &pos {
            WaitPosition::Mariadb(l) => l.gtids().is_empty(),
            WaitPosition::Mysql(s) => s.is_empty(),
            _ => false,
        };
        if is_empty {
            return Ok(());
        }
        // 1. The source's durable progress covers the position.
        let ends = loop {
            let last = progress.borrow_and_update().clone();
            if let Some(p) = &last
                && p.at.covers(&pos).map_err(|e| {
                    WaitError::BadRequest(format!("position={position} for source `{source}`: {e}"))
                })?
            {
                break (p.ends)();
            }
            let why = || match &last {
                Some(p) => format!(
                    "source `{source}` has reached {} durably, not yet {position}",
                    p.at
                ),
                None => format!("source `{source}` has not reported a durable position yet"),
            };
            match tokio::time::timeout_at(deadline.into(), progress.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => return Err(WaitError::TimedOut(why())),
            }
        };
        // 2. The sink holds every record below those ends.
        let needed: Vec<(String, i32, i64)> = ends
            .iter()
            .filter(|(topic, _)| is_table_topic(&topics, topic))
            .flat_map(|(topic, parts)| {
                parts
                    .iter()
                    .enumerate()
                    .filter(|(_, end)| **end > 0)
                    .filter_map(|(p, end)| i32::try_from(p).ok().map(|p| (topic.clone(), p, *end)))
            })
            .collect();
        tracing::debug!(sink, position, ends = ?ends, needed = ?needed, "waiting for the sink");
        loop {
            let behind: Vec<String> = {
                let held = applied.borrow_and_update();
                needed
                    .iter()
                    .filter(|(t, p, end)| held.get(&(t.clone(), *p)).is_none_or(|a| a < end))
                    .map(|(t, p, end)| {
                        let at = held
                            .get(&(t.clone(), *p))
                            .map_or("nothing".to_string(), |a| a.to_string());
                        format!("{t}/{p} applied to {at} of {end}")
                    })
                    .collect()
            };
            if behind.is_empty() {
                tracing::debug!(sink, position, held = ?*applied.borrow(), "wait answered");
                return Ok(());
            }
            match tokio::time::timeout_at(deadline.into(), applied.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => {
                    return Err(WaitError::TimedOut(format!(
                        "sink `{sink}` has not applied up to {position}: {}",
                        behind.join(", ")
                    )));
                }
            }
        }
    }
}

/// Whether `topic` is a table topic under `prefix` (`<prefix><ns>.<table>`),
/// not the source's state or transaction topic.
fn is_table_topic(prefix: &str, topic: &str) -> bool {
    topic
        .strip_prefix(prefix)
        .and_then(|rest| rest.split_once('.'))
        .is_some_and(|(ns, table)| !ns.is_empty() && !table.is_empty())
}

/// Publishes source `source`'s [`Progress`] on `tx`: takes the broker's
/// ends of its existing table topics as a floor (see the module doc), then,
/// for each checkpoint from `checkpoints`, waits until the log's watermark
/// passes its seq. Ends when the checkpoint sender is dropped.
pub async fn track_source<W: LogWriter + 'static>(
    writer: Arc<W>,
    topic_prefix: String,
    source: String,
    mut checkpoints: mpsc::UnboundedReceiver<(Seq, SourceAt)>,
    tx: watch::Sender<Option<Progress>>,
    status: Option<crate::status::Registry>,
) {
    // `/status` shows the durable position, at most twice a second.
    let mut shown = Instant::now() - Duration::from_secs(1);
    let prefix = format!("{topic_prefix}.{source}.");
    let floor = {
        let config = writer.client_config();
        let prefix = prefix.clone();
        tokio::task::spawn_blocking(move || broker_ends(&config, &prefix))
            .await
            .unwrap_or_else(|e| Err(e.to_string()))
    };
    let floor = match floor {
        Ok(f) => f,
        Err(e) => {
            tracing::warn!(source = %source, "reading the row log's ends for /wait: {e}; waits for positions written before this start may answer before those changes are applied");
            Ends::new()
        }
    };
    let ends: EndsFn = {
        let writer = writer.clone();
        Arc::new(move || {
            let mut ends = writer.ends();
            for (topic, parts) in &floor {
                let e = ends.entry(topic.clone()).or_default();
                if e.len() < parts.len() {
                    e.resize(parts.len(), 0);
                }
                for (i, p) in parts.iter().enumerate() {
                    e[i] = e[i].max(*p);
                }
            }
            ends
        })
    };
    let mut durability = writer.durability();
    let mut pending: std::collections::VecDeque<(Seq, SourceAt)> =
        std::collections::VecDeque::new();
    let mut open = true;
    while open || !pending.is_empty() {
        tokio::select! {
            m = checkpoints.recv(), if open => match m {
                Some((seq, at)) => {
                    if pending.back().is_some_and(|(s, _)| *s == seq) {
                        pending.pop_back();
                    }
                    pending.push_back((seq, at));
                }
                None => open = false,
            },
            r = durability.changed() => if r.is_err() { return },
        }
        let watermark = durability.borrow_and_update().watermark;
        let mut last = None;
        while pending.front().is_some_and(|(s, _)| *s <= watermark) {
            last = pending.pop_front().map(|(_, at)| at);
        }
        if let Some(at) = last {
            if let Some(r) = &status
                && shown.elapsed() >= Duration::from_millis(500)
            {
                r.set_position(&source, at.to_string());
                shown = Instant::now();
            }
            tx.send_replace(Some(Progress {
                at,
                ends: ends.clone(),
            }));
        }
    }
}

/// High watermarks of every partition of the topics named `<prefix>…`.
fn broker_ends(config: &rdkafka::ClientConfig, prefix: &str) -> Result<Ends, String> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let consumer: BaseConsumer = config.create().map_err(|e| e.to_string())?;
    let timeout = Duration::from_secs(10);
    let metadata = consumer
        .fetch_metadata(None, timeout)
        .map_err(|e| format!("metadata: {e}"))?;
    let mut ends = Ends::new();
    for t in metadata.topics() {
        if !is_table_topic(prefix, t.name()) {
            continue;
        }
        let mut parts = vec![0; t.partitions().len()];
        for p in t.partitions() {
            let (_, high) = consumer
                .fetch_watermarks(t.name(), p.id(), timeout)
                .map_err(|e| format!("{}/{}: {e}", t.name(), p.id()))?;
            if let Some(slot) = usize::try_from(p.id()).ok().and_then(|i| parts.get_mut(i)) {
                *slot = high.max(0);
            }
        }
        ends.insert(t.name().to_string(), parts);
    }
    Ok(ends)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lsn_after_a_page_header_is_the_page_boundary() {
        let p = |s| WaitPosition::parse(Flavor::Postgres, s).unwrap();
        assert_eq!(p("0/16B3748"), WaitPosition::Lsn(Lsn(0x16B_3748)));
        assert_eq!(p("0/1002018"), WaitPosition::Lsn(Lsn(0x100_2000)));
        // 40 bytes into a page: a record may end there unless the page
        // certainly starts a segment.
        assert_eq!(p("0/1000028"), WaitPosition::Lsn(Lsn(0x100_0028)));
        assert_eq!(p("1/28"), WaitPosition::Lsn(Lsn(0x1_0000_0000)));
        assert_eq!(p("1/18"), WaitPosition::Lsn(Lsn(0x1_0000_0000)));
        assert!(WaitPosition::parse(Flavor::Postgres, "16B3748").is_err());
        assert!(WaitPosition::parse(Flavor::Postgres, "0-1-5").is_err());
    }

    #[test]
    fn mysql_positions_of_each_form() {
        let p = |s| WaitPosition::parse(Flavor::Mysql, s);
        assert!(matches!(p("0-1-42,1-2-7"), Ok(WaitPosition::Mariadb(_))));
        assert!(matches!(
            p("3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5"),
            Ok(WaitPosition::Mysql(_))
        ));
        assert!(matches!(
            p("mysql-bin.000003:4711"),
            Ok(WaitPosition::Binlog(_))
        ));
        let e = p("0-1").unwrap_err();
        assert!(e.contains("MariaDB GTID list"), "{e}");
        assert!(p("0/16B3748").is_err());
    }

    fn mariadb(gtids: &str) -> SourceAt {
        SourceAt::Mysql {
            gtid: Some(GtidState::Mariadb(gtids.parse().unwrap())),
            binlog: "b.000001:4".parse().unwrap(),
        }
    }

    #[test]
    fn coverage_per_kind() {
        fn pos(s: &str) -> WaitPosition {
            WaitPosition::parse(Flavor::Mysql, s).unwrap()
        }
        let at = mariadb("0-1-10,1-2-7");
        assert!(at.covers(&pos("0-1-10")).unwrap());
        assert!(at.covers(&pos("0-2-9,1-2-7")).unwrap());
        assert!(!at.covers(&pos("0-1-11")).unwrap());
        assert!(!at.covers(&pos("2-1-1")).unwrap());
        assert!(at.covers(&pos("b.000001:4")).unwrap());
        assert!(!at.covers(&pos("b.000002:4")).unwrap());
        assert!(
            at.covers(&pos("3e11fa47-71ca-11e1-9e33-c80aa9429562:1"))
                .is_err()
        );

        let u = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
        let my = SourceAt::Mysql {
            gtid: Some(GtidState::Mysql(format!("{u}:1-10:12-20").parse().unwrap())),
            binlog: "b.000001:4".parse().unwrap(),
        };
        assert!(my.covers(&pos(&format!("{u}:1-10"))).unwrap());
        assert!(my.covers(&pos(&format!("{u}:12-20"))).unwrap());
        assert!(!my.covers(&pos(&format!("{u}:1-12"))).unwrap());
        assert!(my.covers(&pos("0-1-1")).is_err());

        let pg = SourceAt::Pg(Lsn(100));
        assert!(pg.covers(&WaitPosition::Lsn(Lsn(100))).unwrap());
        assert!(!pg.covers(&WaitPosition::Lsn(Lsn(101))).unwrap());
    }

    #[test]
    fn only_table_topics_count() {
        assert!(is_table_topic("rl.app.", "rl.app.public.t"));
        assert!(!is_table_topic("rl.app.", "rl.app.state"));
        assert!(!is_table_topic("rl.app.", "rl.app2.public.t"));
        assert!(!is_table_topic("rl.app.", "rl.other.public.t"));
    }

    fn ends(e: &[(&str, &[i64])]) -> EndsFn {
        let e: Ends = e.iter().map(|(t, p)| (t.to_string(), p.to_vec())).collect();
        Arc::new(move || e.clone())
    }

    #[tokio::test]
    async fn a_wait_needs_the_source_to_cover_and_the_sink_to_reach_the_ends() {
        let waits = Waits::default();
        let src = waits.add_source("app", Flavor::Postgres);
        let sink = waits.add_sink("follower", "app", "rl");
        let short = Duration::from_millis(50);
        // Nothing known yet.
        let e = waits.wait("follower", "0/100", short).await.unwrap_err();
        assert!(
            matches!(&e, WaitError::TimedOut(m) if m.contains("not reported")),
            "{e:?}"
        );
        // The source is past, the sink is not.
        src.send_replace(Some(Progress {
            at: SourceAt::Pg(Lsn(0x200)),
            ends: ends(&[("rl.app.public.t", &[5, 0]), ("rl.app.state", &[9])]),
        }));
        let e = waits.wait("follower", "0/100", short).await.unwrap_err();
        assert!(
            matches!(&e, WaitError::TimedOut(m) if m.contains("rl.app.public.t/0 applied to nothing of 5")),
            "{e:?}"
        );
        sink.send_replace([(("rl.app.public.t".to_string(), 0), 4)].into());
        assert!(waits.wait("follower", "0/100", short).await.is_err());
        // The sink reaches the end while a wait is running.
        let w = waits.clone();
        let task =
            tokio::spawn(async move { w.wait("follower", "0/100", Duration::from_secs(5)).await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        sink.send_replace([(("rl.app.public.t".to_string(), 0), 5)].into());
        assert_eq!(task.await.unwrap(), Ok(()));
        // A later position waits for the source.
        let e = waits.wait("follower", "0/201", short).await.unwrap_err();
        assert!(
            matches!(&e, WaitError::TimedOut(m) if m.contains("0/200")),
            "{e:?}"
        );
        assert!(matches!(
            waits.wait("follower", "x", short).await,
            Err(WaitError::BadRequest(_))
        ));
        assert!(matches!(
            waits.wait("nope", "0/1", short).await,
            Err(WaitError::UnknownSink(_))
        ));
        let _ = waits.add_sink("other", "elsewhere", "rl");
        let e = waits.wait("other", "0/1", short).await.unwrap_err();
        assert!(
            matches!(&e, WaitError::BadRequest(m) if m.contains("does not run in this process")),
            "{e:?}"
        );
    }
}
