//! [`LogEmitter`]: a source's [`Emitter`] over the row log.
//!
//! Invariants:
//! - Each event becomes one record on its table's topic
//!   (`<prefix>.<source>.<namespace>.<table>`), keyed by the encoded key
//!   columns (no key for keyless tables), appended in the order the source
//!   emits; a delete is followed by a tombstone with the same key when
//!   `log.tombstones` is on, so compacted topics drop deleted keys.
//! - With `log.transaction_topic`, a `BEGIN` record precedes a transaction's
//!   first event and an `END` record with its counts follows the last.
//! - A mark is attached to the seq of the last record appended before it;
//!   [`Emitter::durable`] hands out a mark only once the log's watermark
//!   passed that seq. A log failure is returned as the source error
//!   (transient or permanent as the log says), never swallowed.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use rowlog_config::{Format, LogConfig as Log};
use rowlog_connectors::emit::{Emitter, TransactionEnd};
use rowlog_connectors::error::SourceError;
use rowlog_schemas::encode::{json, txmeta};
use rowlog_schemas::{ChangeEvent, Op, TableId, TableSchema};

use crate::log::{ErrorKind, LogError, LogWriter, Seq, TopicName, TopicRegistry};

fn source_error(e: LogError) -> SourceError {
    match e.kind() {
        ErrorKind::Transient => SourceError::transient(format!("row log: {e}")),
        ErrorKind::Permanent => SourceError::permanent(format!("row log: {e}")),
    }
}

/// Writes one source's events to the row log.
pub struct LogEmitter<W: LogWriter, M> {
    writer: Arc<W>,
    source: String,
    registry: TopicRegistry,
    ensured: HashSet<TopicName>,
    /// The topic of each table seen so far, once it was ensured (naming and
    /// checking a topic per event was a visible share of the source's CPU),
    /// and its event counters per operation (metrics).
    tables: HashMap<TableId, (TopicName, [Counter; 5])>,
    tombstones: bool,
    tx_topic: Option<TopicName>,
    state_topic: TopicName,
    state_ready: bool,
    open_tx: Option<String>,
    marks: VecDeque<(Seq, M)>,
    last_durable: Option<M>,
    /// Where to report that the source is running (on its first event or
    /// position), if anywhere.
    status: Option<crate::status::Registry>,
    /// Whether `running` was reported since the start or the last retry.
    running: bool,
    /// Whether the source is retrying (for the "recovered" line).
    retrying: bool,
    /// Where checkpoints go for read-your-writes waits ([`crate::wait`]),
    /// and how a mark becomes a position there.
    progress: Option<(crate::wait::CheckpointTx, ToSourceAt<M>)>,
}

/// Turns a source's mark into a [`crate::wait::SourceAt`].
pub type ToSourceAt<M> = fn(&M) -> Option<crate::wait::SourceAt>;

impl<W: LogWriter, M> std::fmt::Debug for LogEmitter<W, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogEmitter")
            .field("source", &self.source)
            .field("pending_marks", &self.marks.len())
            .finish()
    }
}

/// The operations, in the order of an emitter's per-table counters.
const OPS: [Op; 5] = [Op::Insert, Op::Update, Op::Delete, Op::Truncate, Op::Read];

fn op_index(op: Op) -> usize {
    match op {
        Op::Insert => 0,
        Op::Update => 1,
        Op::Delete => 2,
        Op::Truncate => 3,
        Op::Read => 4,
    }
}

impl<W: LogWriter, M: Clone + Send + 'static> LogEmitter<W, M> {
    /// An emitter for source `source` writing through `writer` as `log` says.
    pub fn new(writer: Arc<W>, log: &Log, source: &str) -> Result<LogEmitter<W, M>, SourceError> {
        if log.format == Format::Avro {
            return Err(SourceError::permanent(
                "log.format avro: the schema-registry client is not built yet; use format: json for now",
            ));
        }
        let mut registry = TopicRegistry::new(log.topic_prefix.clone());
        let tx_topic = if log.transaction_topic {
            Some(
                registry
                    .transactions(source)
                    .map_err(|e| SourceError::permanent(format!("log.topic_prefix: {e}")))?,
            )
        } else {
            None
        };
        let state_topic = registry
            .state(source)
            .map_err(|e| SourceError::permanent(format!("log.topic_prefix: {e}")))?;
        Ok(LogEmitter {
            writer,
            state_topic,
            state_ready: false,
            source: source.to_string(),
            registry,
            ensured: HashSet::new(),
            tables: HashMap::new(),
            tombstones: log.tombstones,
            tx_topic,
            open_tx: None,
            marks: VecDeque::new(),
            last_durable: None,
            status: None,
            running: false,
            retrying: false,
            progress: None,
        })
    }

    /// Reports to `registry` (under the source's name) that the source runs
    /// once it hands over its first event or position.
    pub fn with_status(mut self, registry: crate::status::Registry) -> LogEmitter<W, M> {
        self.status = Some(registry);
        self
    }

    /// Hands every checkpoint, with the seq it waits for, to `tx`
    /// ([`crate::wait::track_source`]).
    pub fn with_progress(
        mut self,
        tx: crate::wait::CheckpointTx,
        to_at: ToSourceAt<M>,
    ) -> LogEmitter<W, M> {
        self.progress = Some((tx, to_at));
        self
    }

    fn report_running(&mut self) {
        if self.running {
            return;
        }
        self.running = true;
        if let Some(r) = &self.status {
            r.set(&self.source, crate::status::State::Running);
        }
        if std::mem::take(&mut self.retrying) {
            tracing::info!(source = %self.source, "source recovered: running again");
        }
    }

    async fn ensure(&mut self, topic: &TopicName) -> Result<(), SourceError> {
        if !self.ensured.contains(topic) {
            self.writer
                .ensure_topics(std::slice::from_ref(topic))
                .await
                .map_err(source_error)?;
            self.ensured.insert(topic.clone());
        }
        Ok(())
    }

    async fn append(
        &self,
        topic: &TopicName,
        key: Option<Vec<u8>>,
        value: Option<Vec<u8>>,
    ) -> Result<Seq, SourceError> {
        self.writer
            .append(topic, key, value)
            .await
            .map_err(source_error)
    }
}

impl<W: LogWriter + 'static, M: Clone + Send + Sync + 'static> Emitter<M> for LogEmitter<W, M> {
    async fn emit(
        &mut self,
        event: ChangeEvent,
        schema: &Arc<TableSchema>,
    ) -> Result<(), SourceError> {
        self.report_running();
        let topic = match self.tables.get(&event.table) {
            Some((topic, counters)) => {
                counters[op_index(event.op)].inc();
                topic.clone()
            }
            None => {
                let topic = self
                    .registry
                    .table(&self.source, &event.table.namespace, &event.table.name)
                    .map_err(|e| SourceError::permanent(format!("{}: {e}", event.table)))?;
                self.ensure(&topic).await?;
                let events = &crate::metrics::global().source.events;
                let counters = OPS.map(|op| {
                    events
                        .get_or_create(&crate::metrics::SourceRowLabels {
                            source: self.source.clone(),
                            table: event.table.to_string(),
                            op: crate::metrics::op_label(op).to_string(),
                        })
                        .clone()
                });
                counters[op_index(event.op)].inc();
                self.tables
                    .insert(event.table.clone(), (topic.clone(), counters));
                topic
            }
        };
        if let (Some(tx_topic), Some(tx)) = (self.tx_topic.clone(), &event.transaction)
            && self.open_tx.as_deref() != Some(tx.id.as_str())
        {
            self.ensure(&tx_topic).await?;
            let id = tx.id.clone();
            self.append(
                &tx_topic,
                Some(txmeta::key(&id)),
                Some(txmeta::begin(&id, event.ts_ms)),
            )
            .await?;
            self.open_tx = Some(id);
        }
        let key = event
            .key()
            .map(|k| json::encode_key(&k))
            .transpose()
            .map_err(|e| SourceError::permanent(format!("encoding the key: {e}")))?;
        let value = json::encode(&event, schema)
            .map_err(|e| SourceError::permanent(format!("encoding: {e}")))?;
        self.append(&topic, key.clone(), Some(value)).await?;
        if event.op == Op::Delete && self.tombstones && key.is_some() {
            self.append(&topic, key, None).await?;
        }
        Ok(())
    }

    async fn end_transaction(&mut self, end: TransactionEnd<M>) -> Result<(), SourceError> {
        if let Some(tx_topic) = self.tx_topic.clone() {
            self.ensure(&tx_topic).await?;
            let ts_ms = end.commit_time_us.div_euclid(1000);
            self.append(
                &tx_topic,
                Some(txmeta::key(&end.id)),
                Some(txmeta::end(&end.id, ts_ms, &end.counts)),
            )
            .await?;
            self.open_tx = None;
        }
        self.checkpoint(end.mark);
        Ok(())
    }

    fn checkpoint(&mut self, mark: M) {
        self.report_running();
        let seq = self.writer.last_appended();
        // A newer mark at the same seq replaces the older one.
        if self.marks.back().is_some_and(|(s, _)| *s == seq) {
            self.marks.pop_back();
        }
        if let Some((tx, to_at)) = &self.progress
            && let Some(at) = to_at(&mark)
        {
            // The receiver ends only with the process.
            let _ = tx.send((seq, at));
        }
        self.marks.push_back((seq, mark));
    }

    fn retrying(&mut self, error: &SourceError) -> bool {
        let first = !self.retrying;
        self.running = false;
        self.retrying = true;
        if let Some(r) = &self.status {
            r.set(
                &self.source,
                crate::status::State::Retrying {
                    error: error.to_string(),
                },
            );
        }
        first
    }

    fn durable(&mut self) -> Result<Option<M>, SourceError> {
        self.report_running();
        let now = *self.writer.durability().borrow();
        while let Some((seq, _)) = self.marks.front() {
            if *seq > now.watermark {
                break;
            }
            if let Some((_, mark)) = self.marks.pop_front() {
                self.last_durable = Some(mark);
            }
        }
        if now.is_failed()
            && let Some(e) = self.writer.failure()
        {
            return Err(source_error(e));
        }
        Ok(self.last_durable.clone())
    }

    fn idle(&self) -> bool {
        let now = *self.writer.durability().borrow();
        !now.is_failed() && now.watermark >= self.writer.last_appended()
    }

    async fn flush(&mut self, timeout: Duration) -> Result<Option<M>, SourceError> {
        self.writer.flush(timeout).await.map_err(source_error)?;
        self.durable()
    }

    async fn load_state(&mut self) -> Result<BTreeMap<String, String>, SourceError> {
        let state = super::state::load(self.writer.as_ref(), &self.state_topic)
            .await
            .map_err(|e| SourceError::transient(format!("row log state: {e}")))?;
        self.state_ready = true;
        Ok(state)
    }

    async fn save_state(&mut self, key: &str, value: Option<String>) -> Result<(), SourceError> {
        if !self.state_ready {
            self.writer
                .ensure_state_topic(&self.state_topic)
                .await
                .map_err(source_error)?;
            self.state_ready = true;
        }
        let topic = self.state_topic.clone();
        self.append(
            &topic,
            Some(key.as_bytes().to_vec()),
            value.map(String::into_bytes),
        )
        .await?;
        Ok(())
    }
}
