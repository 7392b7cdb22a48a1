//! The appender against rdkafka's in-process `MockCluster`: acks, backpressure
//! while the broker is down, and the ways a record fails. (The mock has no
//! CreateTopics, so `ensure_topics` is tested against tansu in
//! `pipeline/tests/kafka_log.rs`.)

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
use rowlog_config::model::log::{Format, Kafka, KafkaOptions, KafkaValue, Log};

use super::{AppenderOptions, KafkaAppender};
use crate::log::{ErrorKind, LogError, LogWriter, Seq, TopicName};

const WAIT: Duration = Duration::from_secs(30);

fn log_for(mock: &MockCluster<'static, DefaultProducerContext>, options: &[(&str, &str)]) -> Log {
    let all: BTreeMap<String, KafkaValue> = [("reconnect.backoff.max.ms", "500")]
        .iter()
        .chain(options)
        .map(|(k, v)| ((*k).to_owned(), KafkaValue::Plain((*v).to_owned())))
        .collect();
    Log {
        kafka: Kafka {
            brokers: mock
                .bootstrap_servers()
                .split(',')
                .map(str::to_owned)
                .collect(),
            options: KafkaOptions(all),
        },
        topic_prefix: "rowlog".to_owned(),
        partitions: 1,
        replication_factor: 1,
        format: Format::Json,
        schema_registry: None,
        tombstones: true,
        transaction_topic: false,
    }
}

fn mock(
    brokers: i32,
    topic: &str,
    partitions: i32,
) -> MockCluster<'static, DefaultProducerContext> {
    let mock = MockCluster::new(brokers).unwrap();
    mock.create_topic(topic, partitions, 1).unwrap();
    mock
}

fn topic(name: &str) -> TopicName {
    TopicName::new(name).unwrap()
}

fn small(max_in_flight: usize) -> AppenderOptions {
    AppenderOptions {
        max_in_flight,
        ..AppenderOptions::default()
    }
}

async fn append_n(a: &KafkaAppender, t: &TopicName, n: usize) -> Seq {
    let mut last = Seq::ZERO;
    for i in 0..n {
        let key = format!("k{}", i % 100).into_bytes();
        let value = format!("v{i}").into_bytes();
        last = a.append(t, Some(key), Some(value)).await.unwrap();
    }
    last
}

#[tokio::test]
async fn acks_from_several_brokers_bring_the_watermark_to_the_last_seq() {
    let mock = mock(3, "t", 6);
    let a = KafkaAppender::new(&log_for(&mock, &[]), small(64)).unwrap();
    let t = topic("t");
    let last = append_n(&a, &t, 5000).await;
    assert_eq!(last, Seq::new(5000));
    assert_eq!(a.last_appended(), last);
    a.flush(WAIT).await.unwrap();
    assert_eq!(a.durability().borrow().watermark, last);
    assert!(!a.durability().borrow().is_failed());
    let c = a.counters();
    assert_eq!(
        (c.appended, c.acked, c.failed, c.in_flight),
        (5000, 5000, 0, 0)
    );
    assert_eq!(c.in_flight_bytes, 0);
    assert!(c.bytes > 5000 * 4, "{c:?}");
}

#[tokio::test]
async fn tombstones_and_keyless_records_are_appended() {
    let mock = mock(1, "t", 2);
    let a = KafkaAppender::new(&log_for(&mock, &[]), small(8)).unwrap();
    let t = topic("t");
    a.append(&t, Some(b"k".to_vec()), None).await.unwrap();
    a.append(&t, None, Some(b"v".to_vec())).await.unwrap();
    let s = a.append(&t, None, None).await.unwrap();
    a.wait_durable(s).await.unwrap();
    assert_eq!(a.counters().bytes, 2);
}

#[tokio::test]
async fn appends_wait_for_room_while_the_broker_is_down_and_resume_after() {
    let mock = mock(1, "t", 1);
    let a = KafkaAppender::new(&log_for(&mock, &[]), small(10)).unwrap();
    let t = topic("t");
    append_n(&a, &t, 1).await;
    a.flush(WAIT).await.unwrap();

    mock.broker_down(1).unwrap();
    append_n(&a, &t, 10).await;
    let blocked = tokio::time::timeout(
        Duration::from_millis(500),
        a.append(&t, Some(b"k".to_vec()), Some(b"late".to_vec())),
    )
    .await;
    assert!(blocked.is_err(), "append did not wait: {blocked:?}");
    assert_eq!(a.counters().in_flight, 10);
    assert_eq!(a.durability().borrow().watermark, Seq::new(1));

    mock.broker_up(1).unwrap();
    let seq = tokio::time::timeout(
        WAIT,
        a.append(&t, Some(b"k".to_vec()), Some(b"late".to_vec())),
    )
    .await
    .unwrap()
    .unwrap();
    // The cancelled append above took no seq.
    assert_eq!(seq, Seq::new(12));
    a.flush(WAIT).await.unwrap();
    assert_eq!(a.durability().borrow().watermark, Seq::new(12));
    assert_eq!(a.counters().failed, 0);
}

#[tokio::test]
async fn byte_budget_limits_in_flight_records_too() {
    let mock = mock(1, "t", 1);
    let options = AppenderOptions {
        max_in_flight: 1000,
        max_in_flight_bytes: 100,
    };
    let a = KafkaAppender::new(&log_for(&mock, &[]), options).unwrap();
    let t = topic("t");
    mock.broker_down(1).unwrap();
    for _ in 0..2 {
        a.append(&t, None, Some(vec![0; 50])).await.unwrap();
    }
    let blocked = tokio::time::timeout(
        Duration::from_millis(300),
        a.append(&t, None, Some(vec![0; 1])),
    )
    .await;
    assert!(blocked.is_err(), "append did not wait for bytes");
    mock.broker_up(1).unwrap();
    // Larger than the whole budget: goes alone once the others are acked.
    let big = tokio::time::timeout(WAIT, a.append(&t, None, Some(vec![0; 500])))
        .await
        .unwrap()
        .unwrap();
    a.wait_durable(big).await.unwrap();
}

#[tokio::test]
async fn a_permanent_delivery_error_fails_the_appender_and_freezes_the_watermark() {
    let mock = mock(1, "t", 1);
    let a = KafkaAppender::new(&log_for(&mock, &[]), small(100)).unwrap();
    let t = topic("t");
    let first = append_n(&a, &t, 3).await;
    a.flush(WAIT).await.unwrap();

    mock.request_errors(
        RDKafkaApiKey::Produce,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED],
    );
    let failed = a
        .append(&t, Some(b"k".to_vec()), Some(b"v".to_vec()))
        .await
        .unwrap();
    let err = a.wait_durable(failed).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Permanent, "{err}");
    let LogError::Delivery { topic, seq, .. } = &err else {
        panic!("{err:?}");
    };
    assert_eq!((topic.as_str(), *seq), ("t", failed));
    assert!(err.to_string().contains("WRITE"), "{err}");

    let now = *a.durability().borrow();
    assert_eq!(now.failed_at, Some(failed));
    assert_eq!(now.watermark, first);
    let again = a.append(&t, None, Some(b"x".to_vec())).await.unwrap_err();
    assert_eq!(again, err);
    assert_eq!(a.failure(), Some(err.clone()));
    assert_eq!(a.flush(WAIT).await.unwrap_err(), err);
    assert_eq!(a.counters().failed, 1);
}

#[tokio::test]
async fn a_timed_out_record_fails_the_appender_as_transient_and_wakes_waiting_appends() {
    let mock = mock(1, "t", 1);
    let log = log_for(&mock, &[("message.timeout.ms", "3000")]);
    let a = KafkaAppender::new(&log, small(5)).unwrap();
    let t = topic("t");
    let first = append_n(&a, &t, 1).await;
    a.flush(WAIT).await.unwrap();

    mock.broker_down(1).unwrap();
    append_n(&a, &t, 5).await;
    // Blocked on backpressure, woken by the failure.
    let err = tokio::time::timeout(WAIT, a.append(&t, None, Some(b"x".to_vec())))
        .await
        .unwrap()
        .unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert!(err.to_string().contains("message.timeout.ms"), "{err}");
    let now = *a.durability().borrow();
    assert!(now.failed_at.is_some_and(|f| f > first), "{now:?}");
    assert_eq!(now.watermark, first);
    mock.broker_up(1).unwrap();
    assert!(a.append(&t, None, None).await.is_err());
}

#[tokio::test]
async fn a_record_over_message_max_bytes_is_refused_naming_topic_and_size() {
    let mock = mock(1, "big.topic", 1);
    let a = KafkaAppender::new(&log_for(&mock, &[]), small(10)).unwrap();
    let t = topic("big.topic");
    let ok = append_n(&a, &t, 2).await;
    let err = a
        .append(&t, Some(b"key".to_vec()), Some(vec![b'x'; 2_000_000]))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Permanent);
    let text = err.to_string();
    assert!(
        text.contains("big.topic") && text.contains("2000003 bytes"),
        "{text}"
    );
    assert!(
        matches!(err, LogError::TooLarge { seq, .. } if seq == Seq::new(3)),
        "{err:?}"
    );
    // Earlier records still become durable, nothing after the refused one.
    a.wait_durable(ok).await.unwrap();
    assert_eq!(a.durability().borrow().watermark, ok);
    assert_eq!(a.durability().borrow().failed_at, Some(Seq::new(3)));
    assert_eq!(a.append(&t, None, None).await.unwrap_err(), err);
}

#[tokio::test]
async fn bad_options_are_refused_before_connecting() {
    let mock = mock(1, "t", 1);
    let err = KafkaAppender::new(&log_for(&mock, &[("acks", "1")]), small(1)).unwrap_err();
    assert!(
        err.to_string().starts_with("log.kafka.options.acks:"),
        "{err}"
    );
    let err =
        KafkaAppender::new(&log_for(&mock, &[("no.such.option", "1")]), small(1)).unwrap_err();
    assert!(err.to_string().contains("no.such.option"), "{err}");
    let err = KafkaAppender::new(&log_for(&mock, &[]), small(0)).unwrap_err();
    assert!(err.to_string().contains("max_in_flight"), "{err}");
}
