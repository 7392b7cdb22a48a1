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
//! - A batch holds messages in partition order; messages of a partition
//!   revoked while the batch was filling are dropped before apply (the new
//!   owner reads from the target's offsets). With the eager rebalance
//!   protocol every member gives its partitions up before anyone gets them,
//!   and a batch is never applied after its partitions were revoked.
//!   A member that stalls past `session.timeout.ms` in the middle of an
//!   apply may still commit after the new owner read the offsets: the
//!   sink's offsets fence (compare-and-set in the batch transaction) then
//!   fails the new owner's batch, which re-reads the stored offsets and
//!   goes on from there; whichever commits second is refused, so no change
//!   applies twice.
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
//! Apply mode `per_key`: batches are formed per arrival across the
//! worker's partitions and collapsed per key by the sink. A `transactional`
//! mode would form batches along source transactions (from the transaction
//! topic) instead; the sink contract does not change.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

/// Assignment changes seen by the consumer's callbacks, for the worker loop.
#[derive(Default)]
struct Rebalances {
    /// In the order they happened: `true` = assigned, `false` = revoked.
    changes: Vec<(bool, Vec<(String, i32)>)>,
}

struct Ctx {
    events: Arc<Mutex<Rebalances>>,
}

impl ClientContext for Ctx {}

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

/// Applies one source's tables to one sink.
pub struct SinkWorker<S: Sink> {
    cfg: SinkConfig,
    log: LogConfig,
    sink: S,
    /// Partitions ever assigned, per topic (for the truncate warning).
    partitions: HashMap<String, HashSet<i32>>,
    /// Record decoder, with the schemas of the table versions seen.
    decoder: json::Decoder,
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

impl<S: Sink> SinkWorker<S> {
    /// A worker for sink `cfg` over the row log `log`.
    pub fn new(cfg: SinkConfig, log: LogConfig, mut sink: S) -> SinkWorker<S> {
        sink.allow_rejects(cfg.on_error != OnError::Stop);
        SinkWorker {
            cfg,
            log,
            sink,
            partitions: HashMap::new(),
            decoder: json::Decoder::new(),
        }
    }

    fn place(&self) -> String {
        format!("sink `{}`", self.cfg.name)
    }

    /// After a failed attempt: `Ok(true)` to retry (transient, after the
    /// backoff), `Ok(false)` when shutting down, `Err` when permanent.
    async fn retry_after(
        &self,
        e: SinkError,
        what: &str,
        backoff: &mut Backoff,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<bool, String> {
        if !e.transient {
            return Err(format!("{}: {what}: {e}", self.place()));
        }
        let delay = backoff.next_delay();
        tracing::warn!(sink = %self.cfg.name, "{what}: {e}; retrying in {delay:?}");
        Ok(backoff.wait(shutdown).await)
    }

    /// The sink's stored offsets, retrying transient errors; `None` on shutdown.
    async fn open_retry(
        &mut self,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<Option<Vec<LogOffset>>, String> {
        let mut backoff = Backoff::new();
        loop {
            backoff.attempt();
            match self.sink.open().await {
                Ok(v) => return Ok(Some(v)),
                Err(e) => {
                    if !self
                        .retry_after(e, "opening the target", &mut backoff, shutdown)
                        .await?
                    {
                        return Ok(None);
                    }
                }
            }
        }
    }

    /// Applies a batch, retrying transient errors.
    async fn apply_retry(
        &mut self,
        changes: &[Change],
        offsets: &[LogOffset],
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<Outcome, String> {
        let mut backoff = Backoff::new();
        loop {
            backoff.attempt();
            match self.sink.apply(changes, offsets).await {
                Ok(v) => return Ok(Outcome::Applied(v)),
                Err(e) if e.fenced => return Ok(Outcome::Fenced(e.message)),
                Err(e) => {
                    if !self
                        .retry_after(e, "applying a batch", &mut backoff, shutdown)
                        .await?
                    {
                        return Ok(Outcome::Shutdown);
                    }
                }
            }
        }
    }

    /// Runs until `shutdown` turns true (after applying the batch in hand)
    /// or a permanent error.
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
        let mut config = dlq.client_config();
        config
            .set("group.id", format!("rowlog-sink-{}", self.cfg.name))
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("enable.partition.eof", "false")
            .set("partition.assignment.strategy", "range,roundrobin")
            .set("topic.metadata.refresh.interval.ms", "2000")
            .set("session.timeout.ms", "10000")
            // Bound the prefetch queue (librdkafka's default is 64 MB per
            // partition) and each fetch (a fetch response is held whole and
            // decompressed: 8 MB fetches cost ~100 MB of RSS): the batch in
            // hand is what matters.
            .set("queued.max.messages.kbytes", "8192")
            .set("fetch.max.bytes", "2097152")
            // Once the queue is full librdkafka stops fetching for this long
            // (default 1 s): with a bounded queue that pause, not the broker,
            // capped reading at ~80k records/s.
            .set("fetch.queue.backoff.ms", "10")
            .set("max.poll.interval.ms", "600000");
        let consumer: StreamConsumer<Ctx> = config
            .create_with_context(Ctx {
                events: events.clone(),
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

        // Next offset expected per partition (set when positioned).
        let mut expected: HashMap<(String, i32), i64> = HashMap::new();
        let max_rows = self.cfg.batch.max_rows as usize;
        let max_wait: Duration = self.cfg.batch.max_wait.get();
        loop {
            if *shutdown.borrow() {
                tracing::info!(sink = %self.cfg.name, "stopped");
                return Ok(());
            }
            let mut batch: Vec<Msg> = Vec::new();
            let mut first_at: Option<Instant> = None;
            loop {
                self.rebalanced(&consumer, &events, &mut expected, &mut batch, &mut shutdown)
                    .await?;
                let limit = match first_at {
                    Some(t) => max_wait.saturating_sub(t.elapsed()),
                    None => Duration::from_millis(500),
                };
                if first_at.is_some() && limit.is_zero() {
                    break;
                }
                let msg = tokio::select! {
                    m = tokio::time::timeout(limit, consumer.recv()) => m,
                    _ = shutdown.changed() => break,
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
                        let Some(next) = expected.get(&key).copied() else {
                            // Not positioned yet (or revoked): ignore.
                            continue;
                        };
                        if m.offset() < next {
                            continue;
                        }
                        expected.insert(key, m.offset() + 1);
                        batch.push(Msg {
                            topic: m.topic().to_string(),
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
            self.rebalanced(&consumer, &events, &mut expected, &mut batch, &mut shutdown)
                .await?;
            if batch.is_empty() {
                continue;
            }
            let end = self
                .apply_batch(&batch, &dlq, &dlq_topic, &mut shutdown)
                .await?;
            if end == BatchEnd::Shutdown {
                continue; // the loop's head stops
            }
            if end == BatchEnd::Fenced {
                // Fenced: another worker moved offsets of partitions this
                // one holds. Nothing was applied; read on from what the
                // target stores, for every partition held.
                let held: Vec<(String, i32)> = expected.keys().cloned().collect();
                self.position_assigned(&consumer, held, &mut expected, &mut shutdown)
                    .await?;
                continue;
            }
            let mut tpl = TopicPartitionList::new();
            for ((t, p), o) in batch_offsets(&batch) {
                let _ = tpl.add_partition_offset(&t, p, Offset::Offset(o));
            }
            if let Err(e) = consumer.commit(&tpl, CommitMode::Async) {
                tracing::debug!(sink = %self.cfg.name, "group commit (progress only): {e}");
            }
        }
    }

    /// Applies assignment changes in the order they happened: a revoked
    /// partition's messages leave the batch and it is no longer read; an
    /// assigned partition is positioned at the target's offsets.
    async fn rebalanced(
        &mut self,
        consumer: &StreamConsumer<Ctx>,
        events: &Arc<Mutex<Rebalances>>,
        expected: &mut HashMap<(String, i32), i64>,
        batch: &mut Vec<Msg>,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<(), String> {
        let changes: Vec<(bool, Vec<(String, i32)>)> = match events.lock() {
            Ok(mut ev) => ev.changes.drain(..).collect(),
            Err(_) => return Ok(()),
        };
        for (assigned, parts) in changes {
            if assigned {
                self.position_assigned(consumer, parts, expected, shutdown)
                    .await?;
            } else {
                let gone: HashSet<(String, i32)> = parts.into_iter().collect();
                batch.retain(|m| !gone.contains(&(m.topic.clone(), m.partition)));
                for g in &gone {
                    expected.remove(g);
                }
            }
        }
        Ok(())
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

    /// Applies a batch and dead-letters what was rejected.
    async fn apply_batch(
        &mut self,
        batch: &[Msg],
        dlq: &KafkaAppender,
        dlq_topic: &TopicName,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<BatchEnd, String> {
        let mut changes: Vec<Change> = Vec::with_capacity(batch.len());
        // Batch index of each change → its message.
        let mut origin: Vec<usize> = Vec::with_capacity(batch.len());
        let mut dead: Vec<(usize, String)> = Vec::new();
        for (i, m) in batch.iter().enumerate() {
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
                    changes.push(Change { event, schema });
                    origin.push(i);
                }
                Err(e) => dead.push((i, format!("cannot decode the record: {e}"))),
            }
        }
        let offsets: Vec<LogOffset> = batch_offsets(batch)
            .into_iter()
            .map(|((topic, partition), next)| LogOffset {
                topic,
                partition,
                next,
            })
            .collect();
        if self.cfg.on_error == OnError::Stop
            && let Some((i, why)) = dead.first()
        {
            // Stop before applying anything of this batch, so the offsets
            // stay before the record that cannot be decoded.
            let m = &batch[*i];
            return Err(format!(
                "{}: {}/{} offset {}: {why} (on_error: stop; nothing of its batch was applied)",
                self.place(),
                m.topic,
                m.partition,
                m.offset
            ));
        }
        // With on_error: stop the sink fails a batch with a rejected change
        // itself (allow_rejects(false)), so `rejected` is empty then.
        let applied = match self.apply_retry(&changes, &offsets, shutdown).await? {
            Outcome::Applied(a) => a,
            Outcome::Shutdown => return Ok(BatchEnd::Shutdown),
            Outcome::Fenced(why) => {
                tracing::warn!(sink = %self.cfg.name, "{why}; reading on from the stored offsets");
                return Ok(BatchEnd::Fenced);
            }
        };
        for r in &applied.rejected {
            if let Some(&i) = origin.get(r.index) {
                dead.push((i, r.reason.clone()));
            }
        }
        if dead.is_empty() {
            return Ok(BatchEnd::Applied);
        }
        dlq.ensure_topics(std::slice::from_ref(dlq_topic))
            .await
            .map_err(|e| format!("{}: dead-letter topic: {e}", self.place()))?;
        for (i, why) in &dead {
            let m = &batch[*i];
            tracing::warn!(sink = %self.cfg.name, topic = %m.topic, partition = m.partition, offset = m.offset, "to the dead-letter topic: {why}");
            let record = serde_json::json!({
                "sink": self.cfg.name,
                "reason": why,
                "topic": m.topic,
                "partition": m.partition,
                "offset": m.offset,
                "value": m.value.as_ref().map(|v| String::from_utf8_lossy(v).into_owned()),
            });
            dlq.append(
                dlq_topic,
                m.key.clone(),
                Some(record.to_string().into_bytes()),
            )
            .await
            .map_err(|e| format!("{}: dead-letter topic: {e}", self.place()))?;
        }
        dlq.flush(Duration::from_secs(60))
            .await
            .map_err(|e| format!("{}: dead-letter topic: {e}", self.place()))?;
        Ok(BatchEnd::Applied)
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

/// Per partition, the offset after the batch's last message.
fn batch_offsets(batch: &[Msg]) -> BTreeMap<(String, i32), i64> {
    let mut out: BTreeMap<(String, i32), i64> = BTreeMap::new();
    for m in batch {
        let e = out.entry((m.topic.clone(), m.partition)).or_insert(0);
        *e = (*e).max(m.offset + 1);
    }
    out
}
