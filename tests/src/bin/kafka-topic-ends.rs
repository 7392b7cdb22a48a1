//! Prints the watermarks of every partition of every topic on a broker, for
//! `scripts/bench` (the follower scenarios need how many records a sink has
//! to consume).
//!
//! Usage:
//!
//! ```text
//! kafka-topic-ends --brokers HOST:PORT
//! ```
//!
//! Stdout gets one `TOPIC PARTITION LOW END` line per partition (internal
//! topics starting with `__` left out), sorted by topic and partition. END
//! is the offset after the partition's last record: the high watermark is
//! not trusted (tansu can report one inside the last record batch), so the
//! partition is read from one before the high watermark until nothing
//! arrives for a second, and END is the larger of the high watermark and
//! the last offset read + 1.

use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};

fn main() -> anyhow::Result<()> {
    let mut brokers = String::new();
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--brokers" => {
                brokers = it
                    .next()
                    .ok_or_else(|| anyhow!("--brokers needs a value"))?
            }
            "-h" | "--help" => {
                eprintln!("usage: kafka-topic-ends --brokers HOST:PORT");
                return Ok(());
            }
            other => bail!("unknown argument {other:?} (try --help)"),
        }
    }
    if brokers.is_empty() {
        bail!("--brokers is required (try --help)");
    }
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("group.id", "kafka-topic-ends")
        .set("enable.auto.commit", "false")
        .create()
        .context("creating the consumer")?;
    let timeout = Duration::from_secs(10);
    let metadata = consumer
        .fetch_metadata(None, timeout)
        .context("fetching metadata")?;
    let mut lines = Vec::new();
    for topic in metadata.topics() {
        if topic.name().starts_with("__") {
            continue;
        }
        for p in topic.partitions() {
            let (low, high) = consumer
                .fetch_watermarks(topic.name(), p.id(), timeout)
                .with_context(|| format!("watermarks of {}/{}", topic.name(), p.id()))?;
            let end = if high > low {
                end_offset(&brokers, topic.name(), p.id(), high - 1)?.max(high)
            } else {
                high
            };
            lines.push((topic.name().to_owned(), p.id(), low, end));
        }
    }
    lines.sort();
    for (t, p, low, high) in lines {
        println!("{t} {p} {low} {high}");
    }
    Ok(())
}

/// The offset after the last record read from `from` on (until idle for 1 s).
fn end_offset(brokers: &str, topic: &str, partition: i32, from: i64) -> anyhow::Result<i64> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "kafka-topic-ends")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .create()
        .context("creating the consumer")?;
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, partition, Offset::Offset(from))?;
    consumer.assign(&tpl).context("assigning the partition")?;
    // The record at `from` exists: wait up to 10 s for it (connecting), then
    // read on until idle.
    let mut end = None;
    let mut wait = Duration::from_secs(10);
    while let Some(msg) = consumer.poll(wait) {
        let m = msg.with_context(|| format!("reading {topic}/{partition}"))?;
        end = Some(end.unwrap_or(0).max(m.offset() + 1));
        wait = Duration::from_secs(1);
    }
    end.ok_or_else(|| anyhow!("{topic}/{partition}: no record at offset {from} within 10 s"))
}
