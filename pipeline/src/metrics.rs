//! The process's metrics registry: one per process, read by the sidecar's
//! `/metrics` endpoint (OpenMetrics text through `prometheus-client`).
//!
//! Invariants: metrics are bumped only after what they count happened (rows
//! count once their batch committed in the target, dead letters once the
//! broker acknowledged them), so a crash can lose a bump but never report
//! work that is not done. Counters restart at zero with the process; the
//! durable truth is the target's offsets table. Label values are sink,
//! table and topic names from the config and the log, so their number is
//! bounded by the tables captured.

use std::sync::OnceLock;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of a sink-wide metric.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SinkLabels {
    /// Sink name.
    pub sink: String,
}

/// Labels of a per-table, per-operation count.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RowLabels {
    /// Sink name.
    pub sink: String,
    /// Source table (`namespace.table`).
    pub table: String,
    /// `insert`, `update`, `delete`, `truncate` or `read` (snapshot).
    pub op: String,
}

/// Labels of a per-partition metric.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PartitionLabels {
    /// Sink name.
    pub sink: String,
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
}

/// Labels of a per-table position.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TableLabels {
    /// Sink name.
    pub sink: String,
    /// Source table.
    pub table: String,
}

/// Labels of a source's per-table, per-operation count.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SourceRowLabels {
    /// Source name.
    pub source: String,
    /// Source table (`namespace.table`).
    pub table: String,
    /// `insert`, `update`, `delete`, `truncate` or `read` (snapshot).
    pub op: String,
}

/// Labels of a per-source metric.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SourceLabels {
    /// Source name.
    pub source: String,
}

/// What sources report.
#[derive(Debug)]
pub struct SourceMetrics {
    /// Change events handed to the row log, per table and operation.
    pub events: Family<SourceRowLabels, Counter>,
    /// Source database log the source has not confirmed yet, bytes
    /// (PostgreSQL: WAL its slot retains, sampled every 10 s).
    pub lag_bytes: Family<SourceLabels, Gauge>,
    /// Seconds since the commit of the newest transaction read (it also
    /// grows while the source database is idle: read it with `lag_bytes`).
    pub lag_seconds: Family<SourceLabels, Gauge<f64, AtomicU64>>,
    /// The position confirmed to the source database (PostgreSQL: LSN).
    pub confirmed_position: Family<SourceLabels, Gauge>,
}

/// The label value of an operation.
pub fn op_label(op: rowlog_schemas::Op) -> &'static str {
    match op {
        rowlog_schemas::Op::Insert => "insert",
        rowlog_schemas::Op::Update => "update",
        rowlog_schemas::Op::Delete => "delete",
        rowlog_schemas::Op::Truncate => "truncate",
        rowlog_schemas::Op::Read => "read",
    }
}

/// What sink workers report.
#[derive(Debug)]
pub struct SinkMetrics {
    /// Changes applied (committed in the target), per table and operation.
    pub rows_applied: Family<RowLabels, Counter>,
    /// Changes sent to the dead-letter topic (rejected or undecodable).
    pub rows_dead_lettered: Family<SinkLabels, Counter>,
    /// Records per applied batch (tombstones and skipped tables included).
    pub batch_records: Family<SinkLabels, Histogram>,
    /// Seconds from handing a batch to the sink to its commit (retries
    /// included).
    pub batch_seconds: Family<SinkLabels, Histogram>,
    /// Batches refused by the offsets fence (another worker moved them).
    pub batches_fenced: Family<SinkLabels, Counter>,
    /// The next offset to apply, per partition (what the target stores).
    pub applied_offset: Family<PartitionLabels, Gauge>,
    /// Records in the partition after the applied offset (the broker's high
    /// watermark as last seen by the consumer, minus `applied_offset`).
    pub consumer_lag: Family<PartitionLabels, Gauge>,
    /// The source position of the last applied change per table, as its
    /// row version (PostgreSQL: the change's LSN; MySQL: epoch, binlog file,
    /// position and row packed in order; see `Position::row_version`).
    pub applied_source_position: Family<TableLabels, Gauge>,
    /// The source commit time (Unix ms) of the last applied change per
    /// table: now minus this is the replica's lag in time.
    pub applied_source_time_ms: Family<TableLabels, Gauge>,
    /// Seconds from a change's source commit (snapshot rows: their read
    /// time) to its batch's commit in the target: end-to-end latency.
    pub end_to_end_seconds: Family<SinkLabels, Histogram>,
    /// Age (since its source commit) of the oldest change the sink has read
    /// but not applied; 0 when it holds none.
    pub lag_seconds: Family<SinkLabels, Gauge<f64, AtomicU64>>,
    /// Against `warn_lag` / `critical_lag`: 0 below both, 1 warn, 2 critical.
    pub lag_level: Family<SinkLabels, Gauge>,
}

fn batch_records() -> Histogram {
    Histogram::new(exponential_buckets(1.0, 4.0, 10))
}

fn batch_seconds() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.5, 14))
}

fn end_to_end_seconds() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 2.0, 16))
}

/// The registry and the metric families in it.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Sink workers' metrics.
    pub sink: SinkMetrics,
    /// Sources' metrics.
    pub source: SourceMetrics,
}

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::with_prefix("rowlog");
        let sink = SinkMetrics {
            rows_applied: Family::default(),
            rows_dead_lettered: Family::default(),
            batch_records: Family::new_with_constructor(batch_records),
            batch_seconds: Family::new_with_constructor(batch_seconds),
            batches_fenced: Family::default(),
            applied_offset: Family::default(),
            consumer_lag: Family::default(),
            applied_source_position: Family::default(),
            applied_source_time_ms: Family::default(),
            end_to_end_seconds: Family::new_with_constructor(end_to_end_seconds),
            lag_seconds: Family::default(),
            lag_level: Family::default(),
        };
        let source = SourceMetrics {
            events: Family::default(),
            lag_bytes: Family::default(),
            lag_seconds: Family::default(),
            confirmed_position: Family::default(),
        };
        let r = &mut registry;
        r.register(
            "sink_rows_applied",
            "Changes committed in the target, per table and operation",
            sink.rows_applied.clone(),
        );
        r.register(
            "sink_rows_dead_lettered",
            "Changes sent to the dead-letter topic",
            sink.rows_dead_lettered.clone(),
        );
        r.register(
            "sink_batch_records",
            "Records per applied batch",
            sink.batch_records.clone(),
        );
        r.register(
            "sink_batch_seconds",
            "Seconds to apply and commit a batch",
            sink.batch_seconds.clone(),
        );
        r.register(
            "sink_batches_fenced",
            "Batches refused because another worker moved the stored offsets",
            sink.batches_fenced.clone(),
        );
        r.register(
            "sink_applied_offset",
            "Next offset to apply per partition, as stored in the target",
            sink.applied_offset.clone(),
        );
        r.register(
            "sink_consumer_lag",
            "Records in the partition not applied yet",
            sink.consumer_lag.clone(),
        );
        r.register(
            "sink_applied_source_position",
            "Row version (source position) of the last applied change per table",
            sink.applied_source_position.clone(),
        );
        r.register(
            "sink_applied_source_time_ms",
            "Source commit time (Unix ms) of the last applied change per table",
            sink.applied_source_time_ms.clone(),
        );
        r.register(
            "sink_end_to_end_seconds",
            "Seconds from a change's source commit to its commit in the target",
            sink.end_to_end_seconds.clone(),
        );
        r.register(
            "sink_lag_seconds",
            "Age of the oldest change the sink has read but not applied",
            sink.lag_seconds.clone(),
        );
        r.register(
            "sink_lag_level",
            "0 below warn_lag, 1 at or above warn_lag, 2 at or above critical_lag",
            sink.lag_level.clone(),
        );
        r.register(
            "source_events",
            "Change events handed to the row log, per table and operation",
            source.events.clone(),
        );
        r.register(
            "source_lag_bytes",
            "Source database log not confirmed yet, bytes",
            source.lag_bytes.clone(),
        );
        r.register(
            "source_lag_seconds",
            "Seconds since the commit of the newest transaction read",
            source.lag_seconds.clone(),
        );
        r.register(
            "source_confirmed_position",
            "Position confirmed to the source database (PostgreSQL: LSN)",
            source.confirmed_position.clone(),
        );
        Metrics {
            registry,
            sink,
            source,
        }
    }

    /// The metrics as OpenMetrics text.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// The process's metrics.
pub fn global() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_every_family_with_labels() {
        let m = Metrics::new();
        m.sink
            .rows_applied
            .get_or_create(&RowLabels {
                sink: "s".into(),
                table: "public.t".into(),
                op: "insert".into(),
            })
            .inc_by(3);
        m.sink
            .batch_records
            .get_or_create(&SinkLabels { sink: "s".into() })
            .observe(3.0);
        let text = m.encode();
        assert!(
            text.contains(
                r#"rowlog_sink_rows_applied_total{sink="s",table="public.t",op="insert"} 3"#
            ),
            "{text}"
        );
        assert!(
            text.contains("rowlog_sink_batch_records_count{sink=\"s\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE rowlog_sink_batch_records histogram"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
