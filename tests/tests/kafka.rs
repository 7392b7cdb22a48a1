//! Kafka-protocol (tansu) smoke tests: idempotent produce and a consumer
//! group read back the exact records, and dropping the handle stops the
//! broker.

use std::time::{Duration, Instant};

use rdkafka::Message;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rowlog_tests::KafkaServer;
use rowlog_tests::ports::check_drop_cleans_up;

const N: usize = 100;

#[tokio::test]
async fn idempotent_produce_then_group_consume_in_order() -> anyhow::Result<()> {
    let kafka = KafkaServer::start().await?;
    kafka.create_topic("rows", 1).await?;

    let producer: FutureProducer = kafka
        .client_config()
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("message.timeout.ms", "30000")
        .create()?;
    let expected: Vec<(String, String)> = (0..N)
        .map(|i| (format!("key-{i:03}"), format!("value-{i}")))
        .collect();
    let mut deliveries = Vec::new();
    for (k, v) in &expected {
        let delivery = producer
            .send_result(FutureRecord::to("rows").key(k).payload(v))
            .map_err(|(e, _)| e)?;
        deliveries.push(delivery);
    }
    for (i, delivery) in deliveries.into_iter().enumerate() {
        let delivered = delivery.await?.map_err(|(e, _)| e)?;
        assert_eq!(delivered.offset, i as i64, "record {i} offset");
    }

    let consumer: StreamConsumer = kafka
        .client_config()
        .set("group.id", "smoke")
        .set("session.timeout.ms", "6000")
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()?;
    consumer.subscribe(&["rows"])?;
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut got = Vec::new();
    while got.len() < N {
        let left = deadline.saturating_duration_since(Instant::now());
        let msg = tokio::time::timeout(left, consumer.recv())
            .await
            .map_err(|_| anyhow::anyhow!("only {} of {N} records after 60 s", got.len()))??;
        let key = String::from_utf8(msg.key().unwrap_or_default().to_vec())?;
        let value = String::from_utf8(msg.payload().unwrap_or_default().to_vec())?;
        got.push((key, value));
    }
    assert_eq!(got, expected);
    consumer.commit_consumer_state(CommitMode::Sync)?;
    Ok(())
}

#[tokio::test]
async fn drop_stops_server_and_removes_dir() -> anyhow::Result<()> {
    let kafka = KafkaServer::start().await?;
    let (port, dir) = (kafka.port(), kafka.dir().to_owned());
    check_drop_cleans_up(kafka, port, &dir)
}

#[tokio::test]
async fn restart_comes_back_on_the_same_port() -> anyhow::Result<()> {
    let mut kafka = KafkaServer::start().await?;
    let port = kafka.port();
    kafka.create_topic("before", 1).await?;
    kafka.restart().await?;
    assert_eq!(kafka.port(), port);
    // Memory storage: the broker is back and the topic is gone, so it can be
    // created again (this fails with "already exists" if it survived).
    kafka.create_topic("before", 1).await?;
    Ok(())
}
