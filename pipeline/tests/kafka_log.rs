//! The Kafka row log against a real broker (tansu): topics are created with the
//! configured partitions, 20k records arrive exactly once on the partition the
//! Java client's murmur2 partitioner picks, a paused broker blocks appends
//! (backpressure) without losing anything, and a record that times out stops
//! the appender with the watermark below it.
//!
//! tansu's high watermark is inexact, so every check reads the records back
//! until it has all it expects.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer, StreamConsumer};
use rdkafka::{Message, Offset, TopicPartitionList};
use rowlog::log::kafka::{AppenderOptions, KafkaAppender};
use rowlog::log::{LogWriter, Seq, TopicName, TopicRegistry};
use rowlog_config::model::log::{Format, Kafka, KafkaOptions, KafkaValue, Log};
use rowlog_tests::KafkaServer;

const WAIT: Duration = Duration::from_secs(60);

fn log_for(kafka: &KafkaServer, partitions: u32, options: &[(&str, &str)]) -> Log {
    Log {
        kafka: Kafka {
            brokers: vec![kafka.bootstrap_servers()],
            options: KafkaOptions(
                options
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), KafkaValue::Plain((*v).to_owned())))
                    .collect(),
            ),
        },
        topic_prefix: "rowlog".to_owned(),
        partitions,
        replication_factor: 1,
        format: Format::Json,
        schema_registry: None,
        tombstones: true,
        transaction_topic: false,
    }
}

fn small(max_in_flight: usize) -> AppenderOptions {
    AppenderOptions {
        max_in_flight,
        ..AppenderOptions::default()
    }
}

/// One record as read back.
#[derive(Debug)]
struct Read {
    partition: i32,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
}

/// Read `topic` from the beginning of all `partitions` until `n` records came.
async fn read_back(kafka: &KafkaServer, topic: &TopicName, partitions: i32, n: usize) -> Vec<Read> {
    let consumer: StreamConsumer = kafka
        .client_config()
        .set("group.id", "rowlog-test-reader")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic.as_str(), p, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&tpl).unwrap();
    let deadline = Instant::now() + WAIT;
    let mut got = Vec::with_capacity(n);
    while got.len() < n {
        let left = deadline.saturating_duration_since(Instant::now());
        let msg = tokio::time::timeout(left, consumer.recv())
            .await
            .unwrap_or_else(|_| panic!("only {} of {n} records after {WAIT:?}", got.len()))
            .unwrap();
        got.push(Read {
            partition: msg.partition(),
            key: msg.key().map(<[u8]>::to_vec),
            value: msg.payload().map(<[u8]>::to_vec),
        });
    }
    got
}

/// The Java client's murmur2 (`org.apache.kafka.common.utils.Utils.murmur2`).
fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let mut h = SEED ^ data.len() as u32;
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = chunks.remainder();
    if tail.len() >= 3 {
        h ^= u32::from(tail[2]) << 16;
    }
    if tail.len() >= 2 {
        h ^= u32::from(tail[1]) << 8;
    }
    if !tail.is_empty() {
        h ^= u32::from(tail[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// The Java client's default partition for a key.
fn java_partition(key: &[u8], partitions: i32) -> i32 {
    (murmur2(key) & 0x7fff_ffff) % partitions
}

fn partitions_in_metadata(kafka: &KafkaServer, topic: &str) -> usize {
    let consumer: BaseConsumer = kafka.client_config().create().unwrap();
    let md = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .unwrap();
    let t = md.topics().iter().find(|t| t.name() == topic).unwrap();
    assert!(t.error().is_none(), "{topic}: {:?}", t.error());
    t.partitions().len()
}

#[test]
fn murmur2_matches_the_java_client() {
    // Values from librdkafka's unit test, which checks them against Java.
    for (key, want) in [
        (&b"kafka"[..], 0xd067_cf64_u32),
        (b"giberish123456789", 0x8f55_2b0c),
        (b"1234", 0x9fc9_7b14),
        (b"234", 0xe7c0_09ca),
        (b"", 0x106e_08d9),
    ] {
        assert_eq!(
            murmur2(key),
            want as i32,
            "{:?}",
            String::from_utf8_lossy(key)
        );
    }
}

#[tokio::test]
async fn ensure_topics_creates_missing_topics_with_the_configured_partitions() {
    let kafka = KafkaServer::start().await.unwrap();
    let appender = KafkaAppender::new(&log_for(&kafka, 3, &[]), small(100)).unwrap();
    let mut registry = TopicRegistry::new("rowlog");
    let topics = vec![
        registry.table("pg", "public", "orders").unwrap(),
        registry.table("pg", "public", "order items").unwrap(),
        registry.transactions("pg").unwrap(),
    ];
    // One exists already, with another partition count: it is kept.
    kafka
        .create_topic("rowlog.pg.transactions", 1)
        .await
        .unwrap();

    let ensured = appender.ensure_topics(&topics).await.unwrap();
    let summary: Vec<(&str, bool, usize)> = ensured
        .iter()
        .map(|t| (t.name.as_str(), t.created, t.partitions))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("rowlog.pg.public.orders", true, 3),
            ("rowlog.pg.public.order_items", true, 3),
            ("rowlog.pg.transactions", false, 1),
        ]
    );
    assert_eq!(partitions_in_metadata(&kafka, "rowlog.pg.public.orders"), 3);
    assert_eq!(
        partitions_in_metadata(&kafka, "rowlog.pg.public.order_items"),
        3
    );

    // A repeated name is ensured once.
    let twice = [topics.clone(), vec![topics[0].clone()]].concat();
    let again = appender.ensure_topics(&twice).await.unwrap();
    assert_eq!(again.len(), 3, "{again:?}");
    assert!(again.iter().all(|t| !t.created), "{again:?}");
    assert!(appender.ensure_topics(&[]).await.unwrap().is_empty());
}

#[tokio::test]
async fn twenty_thousand_records_arrive_once_on_the_java_murmur2_partition() {
    const N: usize = 20_000;
    const KEYS: usize = 500;
    const PARTITIONS: i32 = 4;
    let kafka = KafkaServer::start().await.unwrap();
    let appender =
        KafkaAppender::new(&log_for(&kafka, PARTITIONS as u32, &[]), small(256)).unwrap();
    let topic = TopicRegistry::new("rowlog")
        .table("pg", "public", "items")
        .unwrap();
    appender
        .ensure_topics(std::slice::from_ref(&topic))
        .await
        .unwrap();

    let mut last = Seq::ZERO;
    for i in 0..N {
        let key = format!("key-{}", i % KEYS).into_bytes();
        // Every 1000th record is a tombstone.
        let value = (i % 1000 != 999).then(|| format!("{i}").into_bytes());
        let seq = appender.append(&topic, Some(key), value).await.unwrap();
        assert_eq!(seq, Seq::new(i as u64 + 1));
        last = seq;
    }
    appender.flush(WAIT).await.unwrap();
    assert_eq!(appender.durability().borrow().watermark, last);
    let c = appender.counters();
    assert_eq!(
        (c.appended, c.acked, c.failed, c.in_flight),
        (N as u64, N as u64, 0, 0)
    );

    let read = read_back(&kafka, &topic, PARTITIONS, N).await;
    let mut per_key: HashMap<Vec<u8>, Vec<usize>> = HashMap::new();
    let mut tombstones = 0;
    let mut partitions_used = BTreeMap::new();
    for r in &read {
        let key = r.key.clone().unwrap();
        assert_eq!(
            r.partition,
            java_partition(&key, PARTITIONS),
            "key {}",
            String::from_utf8_lossy(&key)
        );
        *partitions_used.entry(r.partition).or_insert(0) += 1;
        match &r.value {
            Some(v) => per_key
                .entry(key)
                .or_default()
                .push(String::from_utf8(v.clone()).unwrap().parse().unwrap()),
            None => tombstones += 1,
        }
    }
    assert_eq!(tombstones, N / 1000);
    assert_eq!(
        partitions_used.len(),
        PARTITIONS as usize,
        "{partitions_used:?}"
    );
    let mut all: Vec<usize> = Vec::new();
    for (key, values) in &per_key {
        assert!(
            values.windows(2).all(|w| w[0] < w[1]),
            "key {} out of order",
            String::from_utf8_lossy(key)
        );
        all.extend(values);
    }
    all.sort_unstable();
    let want: Vec<usize> = (0..N).filter(|i| i % 1000 != 999).collect();
    assert_eq!(all, want, "every record exactly once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_block_while_the_broker_is_paused_and_resume_without_loss() {
    const N: usize = 2_000;
    const MAX_IN_FLIGHT: usize = 100;
    let kafka = KafkaServer::start().await.unwrap();
    let appender =
        Arc::new(KafkaAppender::new(&log_for(&kafka, 2, &[]), small(MAX_IN_FLIGHT)).unwrap());
    let topic = TopicName::new("rowlog.pg.public.paused").unwrap();
    appender
        .ensure_topics(std::slice::from_ref(&topic))
        .await
        .unwrap();
    let first = appender
        .append(&topic, Some(b"k".to_vec()), Some(b"0".to_vec()))
        .await
        .unwrap();
    appender.flush(WAIT).await.unwrap();

    kafka.pause().unwrap();
    let writer = {
        let appender = appender.clone();
        let topic = topic.clone();
        tokio::spawn(async move {
            for i in 1..=N {
                let key = format!("k{}", i % 37).into_bytes();
                appender
                    .append(&topic, Some(key), Some(i.to_string().into_bytes()))
                    .await
                    .unwrap();
            }
        })
    };
    tokio::time::sleep(Duration::from_secs(3)).await;
    let c = appender.counters();
    assert!(!writer.is_finished(), "appends did not wait: {c:?}");
    assert_eq!(c.appended, 1 + MAX_IN_FLIGHT as u64, "{c:?}");
    assert_eq!(c.in_flight, MAX_IN_FLIGHT as u64, "{c:?}");
    assert_eq!(appender.durability().borrow().watermark, first);

    kafka.resume().unwrap();
    tokio::time::timeout(WAIT, writer).await.unwrap().unwrap();
    appender.flush(WAIT).await.unwrap();
    assert_eq!(
        appender.durability().borrow().watermark,
        Seq::new(N as u64 + 1)
    );
    assert_eq!(appender.counters().failed, 0);

    let read = read_back(&kafka, &topic, 2, N + 1).await;
    let mut values: Vec<usize> = read
        .iter()
        .map(|r| {
            String::from_utf8(r.value.clone().unwrap())
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    values.sort_unstable();
    assert_eq!(
        values,
        (0..=N).collect::<Vec<_>>(),
        "nothing lost, nothing twice"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_timing_out_while_paused_stops_the_appender_below_it() {
    let kafka = KafkaServer::start().await.unwrap();
    let log = log_for(&kafka, 1, &[("message.timeout.ms", "2000")]);
    let appender = KafkaAppender::new(&log, small(1000)).unwrap();
    let topic = TopicName::new("rowlog.pg.public.timeouts").unwrap();
    appender
        .ensure_topics(std::slice::from_ref(&topic))
        .await
        .unwrap();
    let mut durable = Seq::ZERO;
    for i in 0..10 {
        durable = appender
            .append(
                &topic,
                Some(b"k".to_vec()),
                Some(format!("{i}").into_bytes()),
            )
            .await
            .unwrap();
    }
    appender.flush(WAIT).await.unwrap();

    kafka.pause().unwrap();
    let mut lost = Seq::ZERO;
    for i in 10..15 {
        lost = appender
            .append(
                &topic,
                Some(b"k".to_vec()),
                Some(format!("{i}").into_bytes()),
            )
            .await
            .unwrap();
    }
    let err = tokio::time::timeout(WAIT, appender.wait_durable(lost))
        .await
        .unwrap()
        .unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert!(
        err.to_string().contains("rowlog.pg.public.timeouts"),
        "{err}"
    );
    let now = *appender.durability().borrow();
    assert_eq!(now.watermark, durable);
    assert!(
        now.failed_at.is_some_and(|f| f > durable && f <= lost),
        "{now:?}"
    );

    let again = appender.append(&topic, None, Some(b"x".to_vec())).await;
    assert_eq!(again.unwrap_err(), err);
    assert_eq!(appender.flush(WAIT).await.unwrap_err(), err);

    kafka.resume().unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(appender.durability().borrow().watermark, durable);
    assert!(appender.failure().is_some());
    // What was durable is there (the failed ones may be too: the caller's
    // restart writes them again, the only duplicates this design allows).
    let read = read_back(&kafka, &topic, 1, 10).await;
    let first_ten: Vec<Vec<u8>> = read.into_iter().map(|r| r.value.unwrap()).collect();
    let want: Vec<Vec<u8>> = (0..10).map(|i: i32| i.to_string().into_bytes()).collect();
    assert_eq!(first_ten, want);
}
