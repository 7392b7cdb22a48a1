//! Source state in the row log: a compacted, single-partition topic per
//! source (`<prefix>.<source>.state`) holding key → value records (snapshot
//! progress now; MySQL positions and schema history later).
//!
//! Invariants: a state record is appended in order with the events, so it
//! is durable only once every event before it is — a saved snapshot chunk
//! key never runs ahead of the rows it stands for. Reading is exact despite
//! brokers whose high watermark is unreliable (tansu): the reader first
//! appends a unique marker, waits until it is durable, then reads from the
//! beginning until it meets that marker, so it has seen every record written
//! before. The last value per key wins; a null value deletes the key.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::Message;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::{Offset, TopicPartitionList};

use crate::log::{LogError, LogWriter, TopicName};

/// Key of the marker records.
pub const MARKER_KEY: &str = "__rowlog_marker";
/// How long reading the state may take.
const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// Reads every state record of `topic` (see the module doc).
pub async fn load<W: LogWriter>(
    writer: &W,
    topic: &TopicName,
) -> Result<BTreeMap<String, String>, String> {
    writer
        .ensure_state_topic(topic)
        .await
        .map_err(|e| e.to_string())?;
    let marker = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    );
    let seq = writer
        .append(
            topic,
            Some(MARKER_KEY.as_bytes().to_vec()),
            Some(marker.as_bytes().to_vec()),
        )
        .await
        .map_err(|e: LogError| e.to_string())?;
    writer.wait_durable(seq).await.map_err(|e| e.to_string())?;

    let consumer: StreamConsumer = writer
        .client_config()
        .set("group.id", format!("rowlog-state-reader-{marker}"))
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .create()
        .map_err(|e| format!("state reader for {}: {e}", topic.as_str()))?;
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic.as_str(), 0, Offset::Beginning)
        .map_err(|e| e.to_string())?;
    consumer.assign(&tpl).map_err(|e| e.to_string())?;
    let deadline = Instant::now() + READ_TIMEOUT;
    let mut state = BTreeMap::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let msg = tokio::time::timeout(left, consumer.recv())
            .await
            .map_err(|_| {
                format!(
                    "reading state topic {} timed out after {READ_TIMEOUT:?} before its own marker came back",
                    topic.as_str()
                )
            })?
            .map_err(|e| format!("reading state topic {}: {e}", topic.as_str()))?;
        let key = msg
            .key()
            .map(|k| String::from_utf8_lossy(k).into_owned())
            .unwrap_or_default();
        let value = msg
            .payload()
            .map(|v| String::from_utf8_lossy(v).into_owned());
        if key == MARKER_KEY {
            if value.as_deref() == Some(marker.as_str()) {
                return Ok(state);
            }
            continue;
        }
        match value {
            Some(v) => {
                state.insert(key, v);
            }
            None => {
                state.remove(&key);
            }
        }
    }
}
