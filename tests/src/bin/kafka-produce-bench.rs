//! The plain-producer reference of `scripts/bench`: how fast a bare rdkafka
//! producer, configured like rowlog's, gets N records acked by a broker.
//!
//! Usage:
//!
//! ```text
//! kafka-produce-bench --brokers HOST:PORT --topic TOPIC [--partitions 1]
//!     [--messages 1000000] --sample-topic TOPIC [--sample 1000]
//! ```
//!
//! It first reads `--sample` non-tombstone records from the start of
//! `--sample-topic` (a topic rowlog wrote), so the keys and values it sends
//! have exactly the sizes and the compressibility of rowlog's records; then it
//! creates `--topic` with `--partitions` partitions and sends `--messages`
//! records cycling through the sample, counting delivery reports (it never
//! reads the topic back: tansu's Fetch and ListOffsets are slow enough to
//! distort the figure). The clock runs from the first send to the last
//! delivery report. Stdout gets one line:
//!
//! `PRODUCE messages=N seconds=S per_s=R key_bytes=K value_bytes=V`
//!
//! (K and V: mean sizes sent). Any failed delivery exits non-zero.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::DeliveryResult;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer, ProducerContext};
use rdkafka::{ClientConfig, ClientContext, Message, Offset, TopicPartitionList};

#[derive(Debug)]
struct Args {
    brokers: String,
    topic: String,
    partitions: i32,
    messages: u64,
    sample_topic: String,
    sample: usize,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        brokers: String::new(),
        topic: String::new(),
        partitions: 1,
        messages: 1_000_000,
        sample_topic: String::new(),
        sample: 1000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| anyhow!("{flag} needs a value"));
        match flag.as_str() {
            "--brokers" => args.brokers = value()?,
            "--topic" => args.topic = value()?,
            "--partitions" => args.partitions = value()?.parse().context("--partitions")?,
            "--messages" => args.messages = value()?.parse().context("--messages")?,
            "--sample-topic" => args.sample_topic = value()?,
            "--sample" => args.sample = value()?.parse().context("--sample")?,
            "-h" | "--help" => {
                eprintln!(
                    "usage: kafka-produce-bench --brokers HOST:PORT --topic TOPIC [--partitions N] \
                     [--messages N] --sample-topic TOPIC [--sample N]"
                );
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?} (try --help)"),
        }
    }
    for (name, v) in [
        ("--brokers", &args.brokers),
        ("--topic", &args.topic),
        ("--sample-topic", &args.sample_topic),
    ] {
        if v.is_empty() {
            bail!("{name} is required (try --help)");
        }
    }
    if args.sample == 0 || args.messages == 0 || args.partitions < 1 {
        bail!("--sample, --messages and --partitions must be at least 1");
    }
    Ok(args)
}

/// Counts delivery reports.
#[derive(Debug, Default)]
struct Counts {
    acked: AtomicU64,
    failed: AtomicU64,
}

#[derive(Debug, Clone)]
struct Reports(Arc<Counts>);

impl ClientContext for Reports {}

impl ProducerContext for Reports {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => self.0.acked.fetch_add(1, Ordering::Relaxed),
            Err((e, _)) => {
                if self.0.failed.fetch_add(1, Ordering::Relaxed) == 0 {
                    eprintln!("kafka-produce-bench: first failed delivery: {e}");
                }
                0
            }
        };
    }
}

/// `n` non-tombstone records (key, value) from the start of `topic`.
fn read_sample(brokers: &str, topic: &str, n: usize) -> anyhow::Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "kafka-produce-bench-sample")
        .set("enable.auto.commit", "false")
        .create()
        .context("creating the sample consumer")?;
    let md = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .with_context(|| format!("metadata of {topic}"))?;
    let partitions = md
        .topics()
        .first()
        .map(|t| t.partitions().len())
        .filter(|n| *n > 0)
        .ok_or_else(|| anyhow!("sample topic {topic} not found"))?;
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, i32::try_from(p)?, Offset::Beginning)?;
    }
    consumer.assign(&tpl)?;
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        if Instant::now() > deadline {
            bail!(
                "only {} of {n} sample records in {topic} after 60 s",
                out.len()
            );
        }
        let Some(msg) = consumer.poll(Duration::from_millis(500)) else {
            continue;
        };
        let msg = msg.with_context(|| format!("reading {topic}"))?;
        if let Some(value) = msg.payload() {
            out.push((msg.key().unwrap_or_default().to_vec(), value.to_vec()));
        }
    }
    Ok(out)
}

fn create_topic(brokers: &str, topic: &str, partitions: i32) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()?;
    let new = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
    let results = runtime.block_on(admin.create_topics(
        [&new],
        &AdminOptions::new().operation_timeout(Some(Duration::from_secs(30))),
    ))?;
    for r in results {
        match r {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((t, code)) => bail!("creating {t}: {code}"),
        }
    }
    Ok(())
}

/// rowlog's producer settings (pipeline/src/log/kafka/config.rs): the forced
/// options, the defaults, and the queue limits for its default in-flight
/// bounds (100,000 records, 64 MiB).
fn producer_config(brokers: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("partitioner", "murmur2_random")
        .set("linger.ms", "10")
        .set("batch.size", "1000000")
        .set("compression.type", "lz4")
        .set("message.timeout.ms", "600000")
        .set("queue.buffering.max.messages", "200000")
        .set("queue.buffering.max.kbytes", "1048576");
    c
}

fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let sample = read_sample(&args.brokers, &args.sample_topic, args.sample)?;
    create_topic(&args.brokers, &args.topic, args.partitions)?;
    let counts = Arc::new(Counts::default());
    let producer: BaseProducer<Reports> = producer_config(&args.brokers)
        .create_with_context(Reports(counts.clone()))
        .context("creating the producer")?;
    // Wait until the topic is in the producer's metadata, outside the clock.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let md = producer
            .client()
            .fetch_metadata(Some(&args.topic), Duration::from_secs(5))?;
        if md.topics().first().is_some_and(|t| {
            t.error().is_none() && t.partitions().len() == args.partitions as usize
        }) {
            break;
        }
        if Instant::now() > deadline {
            bail!("topic {} not ready after 30 s", args.topic);
        }
        std::thread::sleep(Duration::from_millis(100));
    }

    let (mut key_bytes, mut value_bytes) = (0u64, 0u64);
    let started = Instant::now();
    for i in 0..args.messages {
        let (key, value) = &sample[(i % sample.len() as u64) as usize];
        key_bytes += key.len() as u64;
        value_bytes += value.len() as u64;
        let mut record = BaseRecord::to(&args.topic)
            .key(&key[..])
            .payload(&value[..]);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    record = r;
                    producer.poll(Duration::from_millis(5));
                }
                Err((e, _)) => bail!("send {i}: {e}"),
            }
        }
        if i % 1024 == 0 {
            producer.poll(Duration::ZERO);
        }
    }
    producer
        .flush(Duration::from_secs(600))
        .context("waiting for the last delivery reports")?;
    let seconds = started.elapsed().as_secs_f64();
    let acked = counts.acked.load(Ordering::Relaxed);
    let failed = counts.failed.load(Ordering::Relaxed);
    if acked != args.messages || failed != 0 {
        bail!("{acked} of {} acked, {failed} failed", args.messages);
    }
    let n = args.messages as f64;
    println!(
        "PRODUCE messages={} seconds={seconds:.3} per_s={:.0} key_bytes={:.1} value_bytes={:.1}",
        args.messages,
        n / seconds,
        key_bytes as f64 / n,
        value_bytes as f64 / n
    );
    Ok(())
}
