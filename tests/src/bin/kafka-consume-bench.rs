//! The bare-consumer reference of `scripts/bench`'s follower scenarios (not a
//! test): how fast a plain rdkafka consumer, configured like rowlog's sink
//! worker (same prefetch bounds, manual assignment, no group join), reads a
//! topic from its beginning. A sink can apply no faster than this reads.
//!
//! Usage:
//!
//! ```text
//! kafka-consume-bench --brokers HOST:PORT --topic TOPIC --count N [--set NAME=VALUE]...
//! ```
//!
//! `--set` overrides a librdkafka option (to try fetch settings).
//!
//! Reads every partition of `--topic` from its beginning until `--count`
//! records arrived (tombstones included), touching each record's bytes.
//! Stdout gets one line: `records=N seconds=S per_s=R bytes=B`.

use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};

fn main() -> anyhow::Result<()> {
    let (mut brokers, mut topic, mut count) = (String::new(), String::new(), 0u64);
    let mut sets: Vec<(String, String)> = Vec::new();
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| anyhow!("{flag} needs a value"));
        match flag.as_str() {
            "--brokers" => brokers = value()?,
            "--topic" => topic = value()?,
            "--count" => count = value()?.parse().context("--count")?,
            "--set" => {
                let v = value()?;
                let (name, val) = v
                    .split_once('=')
                    .ok_or_else(|| anyhow!("--set takes NAME=VALUE"))?;
                sets.push((name.to_string(), val.to_string()));
            }
            "-h" | "--help" => {
                eprintln!(
                    "usage: kafka-consume-bench --brokers HOST:PORT --topic TOPIC --count N [--set NAME=VALUE]..."
                );
                return Ok(());
            }
            other => bail!("unknown argument {other:?} (try --help)"),
        }
    }
    if brokers.is_empty() || topic.is_empty() || count == 0 {
        bail!("--brokers, --topic and --count are required (try --help)");
    }
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &brokers)
        .set("group.id", "kafka-consume-bench")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        // As rowlog's sink worker (pipeline/src/runtime/sink_worker.rs).
        .set("queued.max.messages.kbytes", "2048")
        .set("fetch.max.bytes", "1048576")
        .set("fetch.queue.backoff.ms", "10");
    for (name, val) in &sets {
        config.set(name, val);
    }
    let consumer: BaseConsumer = config.create().context("creating the consumer")?;
    let start = Instant::now();
    let metadata = consumer
        .fetch_metadata(Some(&topic), Duration::from_secs(10))
        .context("reading the topic's metadata")?;
    let partitions = metadata
        .topics()
        .first()
        .map(|t| t.partitions().len())
        .filter(|&n| n > 0)
        .ok_or_else(|| anyhow!("topic {topic} has no partitions"))?;
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(&topic, i32::try_from(p)?, Offset::Beginning)?;
    }
    consumer.assign(&tpl).context("assigning the partitions")?;
    let (mut seen, mut bytes) = (0u64, 0u64);
    while seen < count {
        match consumer.poll(Duration::from_secs(30)) {
            Some(Ok(m)) => {
                seen += 1;
                bytes +=
                    (m.key().map_or(0, <[u8]>::len) + m.payload().map_or(0, <[u8]>::len)) as u64;
            }
            Some(Err(e)) => eprintln!("kafka-consume-bench: {e}"),
            None => bail!("no record for 30 s after {seen} of {count}"),
        }
    }
    let secs = start.elapsed().as_secs_f64();
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )]
    let rate = (seen as f64 / secs) as u64;
    println!("records={seen} seconds={secs:.2} per_s={rate} bytes={bytes}");
    Ok(())
}
