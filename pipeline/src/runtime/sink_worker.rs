//! The sink worker: reads a source's table topics as a consumer-group member
//! and applies them to a [`Sink`] in batches.
//!
//! Invariants (what a crash at any point leaves behind):
//! - Where to read comes from the *target*: on every partition assignment
//!   the partition is paused, the offsets the sink stored (atomically with
//!   the rows it applied) are read back, the partition is positioned there
//!   (or at its beginning when the target has none) and resumed. The
//!   consumer group's committed offsets are only a progress indicator for
//!   operators. A crash anywhere — before the target commit, between it and
//!   the group commit — restarts exactly after the last batch the target
//!   holds: each change takes effect once.
//! - A batch holds messages in partition order; batches commit one after
//!   the other (one in flight while the next is read and decoded).
//!   Messages of a partition revoked while a batch was filling are dropped
//!   before apply. The batch *in flight* at a revocation may still commit
//!   after the new owner read the offsets (as may a member that stalled
//!   past `session.timeout.ms`): the sink's offsets fence (a
//!   compare-and-set in the batch transaction) refuses whichever of the two
//!   commits second, and that worker re-reads the stored offsets and goes
//!   on from there. No change applies twice.
//! - A truncate has no key, so on a table topic with several partitions it
//!   lands in one of them and is ordered only against the changes in that
//!   partition: rows changed in other partitions around the truncate may be
//!   applied before it and removed. Tables that get truncated need
//!   `log.partitions: 1` until truncates are written to every partition and
//!   applied behind a barrier; the worker warns when it applies a truncate
//!   from a multi-partition topic.
//! - Every message advances its partition's offset in the batch, also
//!   tombstones, changes of tables the sink does not apply, and messages
//!   that cannot be decoded (those go to the dead-letter topic first).
//! - Transient sink errors retry the same batch with backoff
//!   ([`Backoff`]); a permanent error stops the worker. Rejected changes go to
//!   `<prefix>.dlq.<sink>` (acknowledged by the broker before the worker
//!   moves on) with the reason and their topic/partition/offset/position,
//!   or stop the worker with `on_error: stop`. A crash between the target
//!   commit and the dead-letter acknowledgement loses that dead-letter
//!   record (the row is not in the target either); the log line names it.
//!
//! Batching: with no batch applying, a batch is handed over as soon as no
//! further message is queued (a lone change is applied at once); while one
//! applies, the next fills until it lands, `max_rows` or `max_wait`. Batch
//! sizes thus follow the load without a fixed linger.
//!
//! Apply mode `per_key`: batches are formed per arrival across the
//! worker's partitions and collapsed per key by the sink. A `transactional`
//! mode would form batches along source transactions (from the transaction
//! topic) instead; the sink contract does not change.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::FutureExt as _;
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer,
};
use rdkafka::{ClientContext, Message, Offset, TopicPartitionList};
use rowlog_config::{LogConfig, OnError, Sink as SinkConfig};
use rowlog_connectors::backoff::Backoff;
use rowlog_schemas::encode::json;
use rowlog_schemas::{Op, TableId};
use rowlog_sinks::{Applied, Change, LogOffset, Sink, SinkError};
use tokio::sync::watch;

use crate::log::kafka::{AppenderOptions, KafkaAppender};
use crate::log::{LogWriter, TopicName};
use crate::metrics::{PartitionLabels, RowLabels, SinkLabels, TableLabels};
use crate::status::{Registry, State};

/// Assignment changes seen by the consumer's callbacks, for the worker loop.
#[derive(Default)]
struct Rebalances {
    /// In the order they happened: `true` = assigned, `false` = revoked.
    changes: Vec<(bool, Vec<(String, i32)>)>,
}

struct Ctx {
    events: Arc<Mutex<Rebalances>>,
    lag: Arc<Mutex<Lag>>,
    sink: String,
    brokers: crate::log::brokers::BrokerHealth,
}

/// What the consumer-lag gauge is computed from.
struct Lag {
    /// High watermarks from librdkafka's statistics (tansu's is inexact:
    /// the base offset of the last batch + 1).
    highs: HashMap<(String, i32), i64>,
    /// The offsets the target holds (the worker's [`SinkWorker::applied`]).
    applied: watch::Receiver<crate::wait::Applied>,
}

impl Lag {
    fn publish(&self, key: &(String, i32), sink: &str) {
        let next = self.applied.borrow().get(key).copied();
        if let (Some(high), Some(next)) = (self.highs.get(key), next) {
            crate::metrics::global()
                .sink
                .consumer_lag
                .get_or_create(&PartitionLabels {
                    sink: sink.to_string(),
                    topic: key.0.clone(),
                    partition: key.1,
                })
                .set((high - next).max(0));
        }
    }
}

impl ClientContext for Ctx {
    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        self.brokers.on_error(&error);
        tracing::warn!(target: "librdkafka", sink = %self.sink, error = %error, "{reason}");
    }

    fn stats(&self, statistics: rdkafka::Statistics) {
        self.brokers.on_stats(&statistics);
        let Ok(mut lag) = self.lag.lock() else {
            return;
        };
        for (topic, t) in statistics.topics {
            for (partition, p) in t.partitions {
                if partition < 0 || p.hi_offset < 0 {
                    continue;
                }
                let key = (topic.clone(), partition);
                lag.highs.insert(key.clone(), p.hi_offset);
                lag.publish(&key, &self.sink);
            }
        }
    }
}

impl ConsumerContext for Ctx {
    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let Ok(mut ev) = self.events.lock() else {
            return;
        };
        match rebalance {
            Rebalance::Assign(tpl) => {
                // Hold the partitions until the worker positioned them at
                // the target's offsets.
                if let Err(e) = consumer.pause(tpl) {
                    tracing::warn!("pausing newly assigned partitions: {e}");
                }
                let parts = tpl
                    .elements()
                    .iter()
                    .map(|el| (el.topic().to_string(), el.partition()))
                    .collect();
                ev.changes.push((true, parts));
            }
            Rebalance::Revoke(tpl) => {
                let parts = tpl
                    .elements()
                    .iter()
                    .map(|el| (el.topic().to_string(), el.partition()))
                    .collect();
                ev.changes.push((false, parts));
            }
            Rebalance::Error(e) => tracing::warn!("rebalance error: {e}"),
        }
    }
}

/// How an apply ended.
enum Outcome {
    Applied(Applied),
    /// Another worker moved the stored offsets (see the sink contract).
    Fenced(String),
    Shutdown,
}

/// How a batch ended.
#[derive(Debug, PartialEq, Eq)]
enum BatchEnd {
    /// Applied (rejected changes dead-lettered).
    Applied,
    /// Nothing applied: fenced (see [`Outcome::Fenced`]).
    Fenced,
    /// Nothing applied: shutting down.
    Shutdown,
}

/// One consumed record.
struct Msg {
    topic: String,
    partition: i32,
    offset: i64,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
}

/// A batch decoded and ready to apply.
struct Prepared {
    msgs: Vec<Msg>,
    /// Moved into the apply task (and dropped there).
    changes: Vec<Change>,
    /// Batch index of each change's message.
    origin: Vec<usize>,
    /// Messages that go to the dead-letter topic, and why.
    dead: Vec<(usize, String)>,
    offsets: Vec<LogOffset>,
    /// Per change: its table (index into `tables`), operation and source
    /// time (Unix ms), for the metrics.
    ops: Vec<(usize, Op, i64)>,
    /// Tables of the batch, with the row version and source time (ms) of
    /// their last change.
    tables: Vec<(TableId, i64, i64)>,
}

/// The batch being applied while the next one is read and decoded.
struct InFlight<S> {
    batch: Prepared,
    /// Gives back the sink, the outcome and how long the apply took.
    task: tokio::task::JoinHandle<(S, Result<Outcome, String>, Duration)>,
    /// Notified when the task is done, so the batch filling behind it is
    /// handed over at once rather than at its next message or `max_wait`.
    done: Arc<tokio::sync::Notify>,
}

/// Applies one source's tables to one sink.
pub struct SinkWorker<S: Sink> {
    cfg: SinkConfig,
    log: LogConfig,
    /// `None` while a batch is in flight (the apply task holds it).
    sink: Option<S>,
    /// Partitions ever assigned, per topic (for the truncate warning).
    partitions: HashMap<String, HashSet<i32>>,
    /// Record decoder, with the schemas of the table versions seen.
    decoder: json::Decoder,
    reporter: Reporter,
    /// Per partition, the offset after the last record the target holds:
    /// for the consumer-lag gauge and `/wait`.
    applied: watch::Sender<crate::wait::Applied>,
    /// The oldest change applying, for the lag ([`super::lag`]).
    pending: super::lag::Pending,
}

impl<S: Sink> std::fmt::Debug for SinkWorker<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SinkWorker")
            .field("sink", &self.cfg.name)
            .field("source", &self.cfg.source)
            .finish_non_exhaustive()
    }
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| if c == '.' { vec!['\\', '.'] } else { vec![c] })
        .collect()
}

fn offsets_error(e: impl std::fmt::Display) -> String {
    format!("row log consumer: {e}")
}

/// Where a worker reports its state (`/status`, `/readyz`), if anywhere.
#[derive(Debug, Clone, Default)]
struct Reporter(Option<(Registry, String)>);

impl Reporter {
    fn set(&self, state: State) {
        if let Some((registry, name)) = &self.0 {
            registry.set(name, state);
        }
    }
}

/// After a failed attempt: `Ok(true)` to retry (transient, after the
/// backoff), `Ok(false)` when shutting down, `Err` when permanent.
async fn retry_after(
    place: &str,
    reporter: &Reporter,
    e: SinkError,
    what: &str,
    backoff: &mut Backoff,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<bool, String> {
    if !e.transient {
        return Err(format!("{place}: {what}: {e}"));
    }
    let delay = backoff.next_delay();
    // Once per streak of failures, not once per attempt.
    if backoff.retries() == 0 {
        tracing::warn!(
            "{place}: {what}: {e}; retrying in {delay:?} (further attempts are logged at debug level until it succeeds)"
        );
    } else {
        tracing::debug!("{place}: {what}: {e}; retrying in {delay:?}");
    }
    reporter.set(State::Retrying {
        error: format!("{what}: {e}"),
    });
    Ok(backoff.wait(shutdown).await)
}

/// Applies a batch, retrying transient errors.
async fn apply_retry<S: Sink>(
    sink: &mut S,
    place: &str,
    reporter: &Reporter,
    changes: &[Change],
    offsets: &[LogOffset],
    shutdown: &mut watch::Receiver<bool>,
) -> Result<Outcome, String> {
    let mut backoff = Backoff::new();
    loop {
        backoff.attempt();
        match sink.apply(changes, offsets).await {
            Ok(v) => {
                if backoff.retries() > 0 {
                    tracing::info!("{place}: applied after {} retries", backoff.retries());
                }
                reporter.set(State::Running);
                return Ok(Outcome::Applied(v));
            }
            Err(e) if e.fenced => return Ok(Outcome::Fenced(e.message)),
            Err(e) => {
                let what = "applying a batch";
                if !retry_after(place, reporter, e, what, &mut backoff, shutdown).await? {
                    return Ok(Outcome::Shutdown);
                }
            }
        }
    }
}

impl<S: Sink + 'static> SinkWorker<S> {
    /// A worker for sink `cfg` over the row log `log`.
    pub fn new(cfg: SinkConfig, log: LogConfig, mut sink: S) -> SinkWorker<S> {
        sink.allow_rejects(cfg.on_error != OnError::Stop);
        SinkWorker {
            cfg,
            log,
            sink: Some(sink),
            partitions: HashMap::new(),
            decoder: json::Decoder::new(),
            reporter: Reporter::default(),
            applied: watch::channel(crate::wait::Applied::new()).0,
            pending: super::lag::Pending::default(),
        }
    }

    /// Publishes on `tx`, per partition, the offset after the last record
    /// the target holds: the stored offsets when a partition is assigned,
    /// then each landed batch's (read-your-writes waits, [`crate::wait`]).
    pub fn with_applied(mut self, tx: watch::Sender<crate::wait::Applied>) -> SinkWorker<S> {
        self.applied = tx;
        self
    }

    fn publish_applied(&self, offsets: impl IntoIterator<Item = ((String, i32), i64)>) {
        self.applied.send_modify(|held| held.extend(offsets));
    }

    /// Reports the worker's state to `registry` (`/status`, `/readyz`)
    /// under the sink's name: running once the target is open, retrying
    /// while a transient error lasts. The caller registers it and marks
    /// how it ended.
    pub fn with_status(mut self, registry: Registry) -> SinkWorker<S> {
        self.reporter = Reporter(Some((registry, self.cfg.name.clone())));
        self
    }

    fn place(&self) -> String {
        format!("sink `{}`", self.cfg.name)
    }

    /// The sink's stored offsets, retrying transient errors; `None` on
    /// shutdown. Only between batches (no batch in flight).
    async fn open_retry(
        &mut self,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<Option<Vec<LogOffset>>, String> {
        let place = self.place();
        let sink = self
            .sink
            .as_mut()
            .ok_or_else(|| format!("{place}: opened while a batch is in flight"))?;
        let mut backoff = Backoff::new();
        loop {
            backoff.attempt();
            match sink.open().await {
                Ok(v) => {
                    if backoff.retries() > 0 {
                        tracing::info!(
                            "{place}: the target opened after {} retries",
                            backoff.retries()
                        );
                    }
                    self.reporter.set(State::Running);
                    return Ok(Some(v));
                }
                Err(e) => {
                    let what = "opening the target";
                    if !retry_after(&place, &self.reporter, e, what, &mut backoff, shutdown).await?
                    {
                        return Ok(None);
                    }
                }
            }
        }
    }

    /// Runs until `shutdown` turns true (after applying the batches in
    /// hand) or a permanent error.
    ///
    /// Pipelined: while one batch is applied (a task that holds the sink),
    /// the next is read and decoded; it is handed over only once the first
    /// has landed, so batches commit in order. When a batch lands fenced,
    /// the one read behind it is dropped (it was read from a position the
    /// target no longer holds) and every held partition is positioned anew.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) -> Result<(), String> {
        let place = self.place();
        let Some(_) = self.open_retry(&mut shutdown).await? else {
            return Ok(());
        };
        let dlq = KafkaAppender::new(&self.log, AppenderOptions::default())
            .map_err(|e| format!("{place}: log.kafka: {e}"))?;
        let dlq_topic = TopicName::new(format!("{}.dlq.{}", self.log.topic_prefix, self.cfg.name))
            .map_err(|e| format!("{place}: dead-letter topic: {e}"))?;
        let events = Arc::new(Mutex::new(Rebalances::default()));
        let lag = Arc::new(Mutex::new(Lag {
            highs: HashMap::new(),
            applied: self.applied.subscribe(),
        }));
        let brokers = crate::log::brokers::BrokerHealth::default();
        let mut config = crate::log::kafka::config::consumer_config(&self.log)
            .map_err(|e| format!("{place}: log.kafka: {e}"))?;
        config
            .set("group.id", format!("rowlog-sink-{}", self.cfg.name))
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("enable.partition.eof", "false")
            .set("partition.assignment.strategy", "range,roundrobin")
            .set("topic.metadata.refresh.interval.ms", "2000")
            .set("max.poll.interval.ms", "600000")
            // High watermarks for the consumer-lag gauge.
            .set("statistics.interval.ms", "5000");
        let consumer: StreamConsumer<Ctx> = config
            .create_with_context(Ctx {
                events: events.clone(),
                lag: lag.clone(),
                sink: self.cfg.name.clone(),
                brokers: brokers.clone(),
            })
            .map_err(|e| format!("{place}: {}", offsets_error(e)))?;
        let pattern = format!(
            "^{}\\.{}\\.[^.]+\\..+$",
            regex_escape(&self.log.topic_prefix),
            regex_escape(&self.cfg.source)
        );
        consumer
            .subscribe(&[&pattern])
            .map_err(|e| format!("{place}: subscribing to {pattern}: {e}"))?;
        tracing::info!(sink = %self.cfg.name, pattern = %pattern, "sink started");
        let lag_watch = tokio::spawn(super::lag::watch(
            self.cfg.name.clone(),
            self.pending.clone(),
            super::lag::Thresholds {
                warn: self.cfg.warn_lag.map(|d| d.get()),
                critical: self.cfg.critical_lag.map(|d| d.get()),
            },
            self.reporter.0.as_ref().map(|(r, _)| r.clone()),
            brokers.clone(),
            shutdown.clone(),
        ));
        let _stop_lag_watch = AbortOnDrop(lag_watch);

        let io = Io {
            consumer: &consumer,
            events: &events,
            lag: &lag,
            dlq: &dlq,
            dlq_topic: &dlq_topic,
        };
        // Next offset expected per partition (set when positioned).
        let mut expected: HashMap<(String, i32), i64> = HashMap::new();
        let mut inflight: Option<InFlight<S>> = None;
        let max_rows = self.cfg.batch.max_rows as usize;
        let max_wait: Duration = self.cfg.batch.max_wait.get();
        loop {
            if *shutdown.borrow() {
                if let Some(f) = inflight.take() {
                    self.land(f, &io, &mut expected, &mut shutdown).await?;
                }
                tracing::info!(sink = %self.cfg.name, "stopped");
                return Ok(());
            }
            let mut batch: Vec<Msg> = Vec::new();
            let mut first_at: Option<Instant> = None;
            loop {
                if !self
                    .rebalanced(&io, &mut expected, &mut batch, &mut inflight, &mut shutdown)
                    .await?
                {
                    batch.clear();
                    first_at = None;
                }
                if inflight.as_ref().is_some_and(|f| f.task.is_finished()) {
                    break; // land it, then hand this batch over
                }
                let limit = match first_at {
                    Some(t) => max_wait.saturating_sub(t.elapsed()),
                    None => Duration::from_millis(if inflight.is_some() { 20 } else { 500 }),
                };
                if first_at.is_some() && limit.is_zero() {
                    break;
                }
                // A message already queued is taken without arming a timer
                // (a timer per message was a visible share of the CPU).
                let msg = match consumer.recv().now_or_never() {
                    Some(m) => Ok(m),
                    // Nothing more queued and nothing applying: hand the
                    // batch over now (latency); while a batch applies the
                    // next keeps filling (throughput).
                    None if inflight.is_none() && !batch.is_empty() => break,
                    None => {
                        let landed = async {
                            match &inflight {
                                Some(f) => f.done.notified().await,
                                None => std::future::pending().await,
                            }
                        };
                        tokio::select! {
                            m = tokio::time::timeout(limit, consumer.recv()) => m,
                            _ = shutdown.changed() => break,
                            // The apply task is ending: land it and hand
                            // this batch over (each batch has its own
                            // Notify, so this is never a stale wake-up).
                            () = landed => break,
                        }
                    }
                };
                match msg {
                    Err(_) if first_at.is_some() => break,
                    Err(_) => continue,
                    Ok(Err(e)) => {
                        tracing::debug!(sink = %self.cfg.name, "consumer: {e}");
                        continue;
                    }
                    Ok(Ok(m)) => {
                        let key = (m.topic().to_string(), m.partition());
                        let Some(next) = expected.get_mut(&key) else {
                            // Not positioned yet (or revoked): ignore.
                            continue;
                        };
                        if m.offset() < *next {
                            continue;
                        }
                        *next = m.offset() + 1;
                        batch.push(Msg {
                            topic: key.0,
                            partition: m.partition(),
                            offset: m.offset(),
                            key: m.key().map(<[u8]>::to_vec),
                            value: m.payload().map(<[u8]>::to_vec),
                        });
                        first_at.get_or_insert_with(Instant::now);
                        if batch.len() >= max_rows {
                            break;
                        }
                    }
                }
            }
            // Revocations that came with the last poll: their messages leave
            // the batch before it is applied.
            if !self
                .rebalanced(&io, &mut expected, &mut batch, &mut inflight, &mut shutdown)
                .await?
            {
                continue;
            }
            let decoding = Instant::now();
            let prepared = if batch.is_empty() {
                None
            } else {
                Some(self.prepare(batch)?)
            };
            if let Some(p) = &prepared {
                tracing::debug!(sink = %self.cfg.name, records = p.msgs.len(), read_ms = first_at.map_or(0, |t| t.elapsed().as_millis()), decode_ms = decoding.elapsed().as_millis(), "batch read");
            }
            if let Some(f) = inflight.take() {
                match self.land(f, &io, &mut expected, &mut shutdown).await? {
                    BatchEnd::Applied => {}
                    // Shutdown: the loop's head stops. Fenced: `prepared` was
                    // read behind the fenced batch.
                    BatchEnd::Shutdown | BatchEnd::Fenced => continue,
                }
            }
            let Some(prepared) = prepared else {
                continue;
            };
            inflight = Some(self.launch(prepared, &shutdown)?);
        }
    }

    /// Hands a decoded batch to an apply task, which holds the sink until
    /// the batch has landed.
    fn launch(
        &mut self,
        batch: Prepared,
        shutdown: &watch::Receiver<bool>,
    ) -> Result<InFlight<S>, String> {
        let place = self.place();
        let mut sink = self
            .sink
            .take()
            .ok_or_else(|| format!("{place}: two batches in flight"))?;
        let mut batch = batch;
        self.pending
            .hold(batch.ops.iter().map(|(_, _, time_ms)| *time_ms).min());
        let changes = std::mem::take(&mut batch.changes);
        let offsets = batch.offsets.clone();
        let mut shutdown = shutdown.clone();
        let reporter = self.reporter.clone();
        let done = Arc::new(tokio::sync::Notify::new());
        let notify = done.clone();
        let task = tokio::spawn(async move {
            let _wake = NotifyOnDrop(notify);
            let started = Instant::now();
            let outcome = apply_retry(
                &mut sink,
                &place,
                &reporter,
                &changes,
                &offsets,
                &mut shutdown,
            )
            .await;
            (sink, outcome, started.elapsed())
        });
        Ok(InFlight { batch, task, done })
    }

    /// Waits for the batch in flight, takes the sink back, dead-letters
    /// what was rejected and records progress in the consumer group. When
    /// the batch was fenced, every held partition is positioned anew at the
    /// target's stored offsets (the caller drops what it read behind it).
    async fn land(
        &mut self,
        f: InFlight<S>,
        io: &Io<'_>,
        expected: &mut HashMap<(String, i32), i64>,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<BatchEnd, String> {
        let place = self.place();
        let (sink, outcome, took) = f
            .task
            .await
            .map_err(|e| format!("{place}: the apply task failed: {e}"))?;
        self.sink = Some(sink);
        self.pending.clear();
        let mut batch = f.batch;
        let metrics = &crate::metrics::global().sink;
        let labels = SinkLabels {
            sink: self.cfg.name.clone(),
        };
        let applied = match outcome? {
            Outcome::Applied(a) => a,
            Outcome::Shutdown => return Ok(BatchEnd::Shutdown),
            Outcome::Fenced(why) => {
                metrics.batches_fenced.get_or_create(&labels).inc();
                tracing::warn!(sink = %self.cfg.name, "{why}; reading on from the stored offsets");
                let held: Vec<(String, i32)> = expected.keys().cloned().collect();
                self.position_assigned(io.consumer, held, expected, shutdown)
                    .await?;
                return Ok(BatchEnd::Fenced);
            }
        };
        for r in &applied.rejected {
            if let Some(&i) = batch.origin.get(r.index) {
                batch.dead.push((i, r.reason.clone()));
            }
        }
        self.dead_letter(&batch, io).await?;
        tracing::debug!(sink = %self.cfg.name, records = batch.msgs.len(), apply_ms = took.as_millis(), "batch applied");
        self.publish_applied(
            batch
                .offsets
                .iter()
                .map(|o| ((o.topic.clone(), o.partition), o.next)),
        );
        self.count(&batch, &applied, took, io);
        let mut tpl = TopicPartitionList::new();
        for o in &batch.offsets {
            let _ = tpl.add_partition_offset(&o.topic, o.partition, Offset::Offset(o.next));
        }
        if let Err(e) = io.consumer.commit(&tpl, CommitMode::Async) {
            tracing::debug!(sink = %self.cfg.name, "group commit (progress only): {e}");
        }
        Ok(BatchEnd::Applied)
    }

    /// Records a landed batch in the metrics.
    fn count(&self, batch: &Prepared, applied: &Applied, took: Duration, io: &Io<'_>) {
        let m = &crate::metrics::global().sink;
        let sink = &self.cfg.name;
        let labels = SinkLabels { sink: sink.clone() };
        #[allow(clippy::cast_precision_loss)] // a batch's size
        m.batch_records
            .get_or_create(&labels)
            .observe(batch.msgs.len() as f64);
        m.batch_seconds
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
        let rejected: HashSet<usize> = applied.rejected.iter().map(|r| r.index).collect();
        let mut counts: HashMap<(usize, Op), u64> = HashMap::new();
        let latency = m.end_to_end_seconds.get_or_create(&labels);
        let now = rowlog_connectors::emit::now_ms();
        for (i, (table, op, time_ms)) in batch.ops.iter().enumerate() {
            if !rejected.contains(&i) {
                *counts.entry((*table, *op)).or_default() += 1;
                #[allow(clippy::cast_precision_loss)] // milliseconds
                latency.observe((now - time_ms).max(0) as f64 / 1000.0);
            }
        }
        drop(latency);
        for ((table, op), n) in counts {
            m.rows_applied
                .get_or_create(&RowLabels {
                    sink: sink.clone(),
                    table: batch.tables[table].0.to_string(),
                    op: crate::metrics::op_label(op).to_string(),
                })
                .inc_by(n);
        }
        for (table, version, time_ms) in &batch.tables {
            let l = TableLabels {
                sink: sink.clone(),
                table: table.to_string(),
            };
            m.applied_source_position.get_or_create(&l).set(*version);
            m.applied_source_time_ms.get_or_create(&l).set(*time_ms);
        }
        for o in &batch.offsets {
            let l = PartitionLabels {
                sink: sink.clone(),
                topic: o.topic.clone(),
                partition: o.partition,
            };
            m.applied_offset.get_or_create(&l).set(o.next);
            if let Ok(lag) = io.lag.lock() {
                lag.publish(&(o.topic.clone(), o.partition), sink);
            }
        }
    }

    /// Applies assignment changes in the order they happened: a revoked
    /// partition's messages leave the batch and it is no longer read; an
    /// assigned partition is positioned at the target's offsets (after the
    /// batch in flight has landed). `Ok(false)` when that batch was fenced:
    /// every held partition was positioned anew, and the batch being read
    /// must be dropped.
    async fn rebalanced(
        &mut self,
        io: &Io<'_>,
        expected: &mut HashMap<(String, i32), i64>,
        batch: &mut Vec<Msg>,
        inflight: &mut Option<InFlight<S>>,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<bool, String> {
        let changes: Vec<(bool, Vec<(String, i32)>)> = match io.events.lock() {
            Ok(mut ev) => ev.changes.drain(..).collect(),
            Err(_) => return Ok(true),
        };
        let mut kept = true;
        for (assigned, parts) in changes {
            if assigned {
                if let Some(f) = inflight.take()
                    && self.land(f, io, expected, shutdown).await? == BatchEnd::Fenced
                {
                    kept = false;
                }
                self.position_assigned(io.consumer, parts, expected, shutdown)
                    .await?;
            } else {
                let gone: HashSet<(String, i32)> = parts.into_iter().collect();
                batch.retain(|m| !gone.contains(&(m.topic.clone(), m.partition)));
                for g in &gone {
                    expected.remove(g);
                }
            }
        }
        Ok(kept)
    }

    /// Positions newly assigned partitions at the target's offsets.
    async fn position_assigned(
        &mut self,
        consumer: &StreamConsumer<Ctx>,
        assigned: Vec<(String, i32)>,
        expected: &mut HashMap<(String, i32), i64>,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<(), String> {
        if assigned.is_empty() {
            return Ok(());
        }
        let Some(stored) = self.open_retry(shutdown).await? else {
            return Ok(());
        };
        let stored: HashMap<(String, i32), i64> = stored
            .into_iter()
            .map(|o| ((o.topic, o.partition), o.next))
            .collect();
        let mut tpl = TopicPartitionList::new();
        for (topic, partition) in assigned {
            let next = stored.get(&(topic.clone(), partition)).copied();
            let offset = next.map_or(Offset::Beginning, Offset::Offset);
            if let Err(e) = consumer.seek(&topic, partition, offset, Duration::from_secs(10)) {
                return Err(format!(
                    "{}: positioning {topic}/{partition} at {offset:?}: {e}",
                    self.place()
                ));
            }
            tracing::info!(sink = %self.cfg.name, topic = %topic, partition, from = ?next, "partition assigned");
            expected.insert((topic.clone(), partition), next.unwrap_or(0));
            self.publish_applied([((topic.clone(), partition), next.unwrap_or(0))]);
            self.partitions
                .entry(topic.clone())
                .or_default()
                .insert(partition);
            let _ = tpl.add_partition(&topic, partition);
        }
        consumer
            .resume(&tpl)
            .map_err(|e| format!("{}: resuming partitions: {e}", self.place()))?;
        Ok(())
    }

    /// Decodes a batch (records that cannot be decoded are dead-lettered,
    /// or stop the worker with `on_error: stop`).
    fn prepare(&mut self, msgs: Vec<Msg>) -> Result<Prepared, String> {
        let mut changes: Vec<Change> = Vec::with_capacity(msgs.len());
        let mut origin: Vec<usize> = Vec::with_capacity(msgs.len());
        let mut dead: Vec<(usize, String)> = Vec::new();
        let mut ops: Vec<(usize, Op, i64)> = Vec::with_capacity(msgs.len());
        let mut tables: Vec<(TableId, i64, i64)> = Vec::new();
        for (i, m) in msgs.iter().enumerate() {
            let Some(value) = &m.value else {
                continue; // tombstone
            };
            match self.decoder.decode(value) {
                Ok((event, schema)) => {
                    if !self.applies(&event.table) {
                        continue;
                    }
                    if event.op == Op::Truncate
                        && (m.partition > 0
                            || self.partitions.get(&m.topic).is_some_and(|p| p.len() > 1))
                    {
                        tracing::warn!(sink = %self.cfg.name, topic = %m.topic, "a truncate on a topic with several partitions is ordered only against its own partition's changes; use log.partitions: 1 for tables that get truncated");
                    }
                    let t = match tables.iter().position(|(n, _, _)| *n == event.table) {
                        Some(t) => t,
                        None => {
                            tables.push((event.table.clone(), 0, 0));
                            tables.len() - 1
                        }
                    };
                    let time_ms = event
                        .transaction
                        .as_ref()
                        .map_or(event.ts_ms, |tx| tx.commit_time_us / 1000);
                    let version = event.position.row_version().unwrap_or(0);
                    let slot = &mut tables[t];
                    slot.1 = slot.1.max(version);
                    slot.2 = slot.2.max(time_ms);
                    ops.push((t, event.op, time_ms));
                    changes.push(Change { event, schema });
                    origin.push(i);
                }
                Err(e) => dead.push((i, format!("cannot decode the record: {e}"))),
            }
        }
        if self.cfg.on_error == OnError::Stop
            && let Some((i, why)) = dead.first()
        {
            // Stop before applying anything of this batch, so the offsets
            // stay before the record that cannot be decoded.
            let m = &msgs[*i];
            return Err(format!(
                "{}: {}/{} offset {}: {why} (on_error: stop; nothing of its batch was applied)",
                self.place(),
                m.topic,
                m.partition,
                m.offset
            ));
        }
        let offsets: Vec<LogOffset> = batch_offsets(&msgs)
            .into_iter()
            .map(|((topic, partition), next)| LogOffset {
                topic,
                partition,
                next,
            })
            .collect();
        Ok(Prepared {
            msgs,
            changes,
            origin,
            dead,
            offsets,
            ops,
            tables,
        })
    }

    /// Sends a landed batch's dead records to the dead-letter topic and
    /// waits for the broker's acknowledgement.
    async fn dead_letter(&self, batch: &Prepared, io: &Io<'_>) -> Result<(), String> {
        if batch.dead.is_empty() {
            return Ok(());
        }
        io.dlq
            .ensure_topics(std::slice::from_ref(io.dlq_topic))
            .await
            .map_err(|e| format!("{}: dead-letter topic: {e}", self.place()))?;
        for (i, why) in &batch.dead {
            let m = &batch.msgs[*i];
            tracing::warn!(sink = %self.cfg.name, topic = %m.topic, partition = m.partition, offset = m.offset, "to the dead-letter topic: {why}");
            let record = serde_json::json!({
                "sink": self.cfg.name,
                "reason": why,
                "topic": m.topic,
                "partition": m.partition,
                "offset": m.offset,
                "value": m.value.as_ref().map(|v| String::from_utf8_lossy(v).into_owned()),
            });
            io.dlq
                .append(
                    io.dlq_topic,
                    m.key.clone(),
                    Some(record.to_string().into_bytes()),
                )
                .await
                .map_err(|e| format!("{}: dead-letter topic: {e}", self.place()))?;
        }
        io.dlq
            .flush(Duration::from_secs(60))
            .await
            .map_err(|e| format!("{}: dead-letter topic: {e}", self.place()))?;
        crate::metrics::global()
            .sink
            .rows_dead_lettered
            .get_or_create(&SinkLabels {
                sink: self.cfg.name.clone(),
            })
            .inc_by(batch.dead.len() as u64);
        Ok(())
    }

    fn applies(&self, table: &TableId) -> bool {
        self.cfg.tables.is_empty()
            || self
                .cfg
                .tables
                .iter()
                .any(|p| rowlog_connectors::pattern::matches(p, &table.to_string()))
    }
}

/// Wakes the worker when an apply task ends, however it ends.
struct NotifyOnDrop(Arc<tokio::sync::Notify>);

impl Drop for NotifyOnDrop {
    fn drop(&mut self) {
        self.0.notify_one();
    }
}

/// Aborts a helper task when the worker's run ends, however it ends.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The worker's Kafka handles, for the steps of the loop.
struct Io<'a> {
    consumer: &'a StreamConsumer<Ctx>,
    events: &'a Arc<Mutex<Rebalances>>,
    lag: &'a Arc<Mutex<Lag>>,
    dlq: &'a KafkaAppender,
    dlq_topic: &'a TopicName,
}

/// Per partition, the offset after the batch's last message.
fn batch_offsets(batch: &[Msg]) -> BTreeMap<(String, i32), i64> {
    let mut out: BTreeMap<(String, i32), i64> = BTreeMap::new();
    for m in batch {
        let e = out.entry((m.topic.clone(), m.partition)).or_insert(0);
        *e = (*e).max(m.offset + 1);
    }
    out
}
