//! Creating the topics rowlog writes to.
//!
//! Brokers are not trusted to auto-create topics (tansu does not, and a Kafka
//! that does would use its own defaults): each topic is created explicitly with
//! `log.partitions` and `log.replication_factor`. "Already exists" is success,
//! whatever the existing topic's partition count (a warning says when it
//! differs: keys are spread by partition count, so rowlog never changes it).
//! Afterwards every topic must show up in the metadata with all its partitions
//! before `ensure_topics` returns, so the first append does not race the
//! topic's creation. Creating is idempotent: a crash in the middle leaves some
//! topics created, and the next start accepts them.

use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::producer::{Producer, ThreadedProducer};

use super::classify;
use super::delivery::DeliveryContext;
use crate::log::EnsuredTopic;
use crate::log::error::{ErrorKind, LogError};
use crate::log::topic::TopicName;

/// How long creation and the metadata check may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// Create missing topics, then wait until all of them are in the metadata.
pub(crate) async fn ensure_topics(
    admin_config: &ClientConfig,
    producer: &ThreadedProducer<DeliveryContext>,
    topics: &[TopicName],
    partitions: u32,
    replication_factor: u16,
    configs: &[(&str, &str)],
) -> Result<Vec<EnsuredTopic>, LogError> {
    let mut unique: Vec<TopicName> = Vec::with_capacity(topics.len());
    for t in topics {
        if !unique.contains(t) {
            unique.push(t.clone());
        }
    }
    let topics = &unique[..];
    if topics.is_empty() {
        return Ok(Vec::new());
    }
    let all = topics
        .iter()
        .map(TopicName::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    let partitions_i32 = i32::try_from(partitions).map_err(|_| LogError::Topic {
        topic: all.clone(),
        kind: ErrorKind::Permanent,
        message: format!("log.partitions {partitions} is out of range"),
    })?;
    let admin: AdminClient<DefaultClientContext> =
        admin_config.create().map_err(|e| LogError::Client {
            brokers: admin_config
                .get("bootstrap.servers")
                .unwrap_or("")
                .to_owned(),
            message: e.to_string(),
        })?;
    let new_topics: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|t| {
            configs.iter().fold(
                NewTopic::new(
                    t.as_str(),
                    partitions_i32,
                    TopicReplication::Fixed(i32::from(replication_factor)),
                ),
                |topic, (k, v)| topic.set(k, v),
            )
        })
        .collect();
    let options = AdminOptions::new()
        .operation_timeout(Some(TIMEOUT))
        .request_timeout(Some(TIMEOUT));
    let results = admin
        .create_topics(&new_topics, &options)
        .await
        .map_err(|e| classify::request_error(&all, &e, "creating topics"))?;
    let mut created = Vec::with_capacity(topics.len());
    for result in results {
        match result {
            Ok(name) => created.push(name),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => {
                return Err(classify::topic_error(&name, code, "creating the topic"));
            }
        }
    }

    let producer = producer.clone();
    let names: Vec<TopicName> = topics.to_vec();
    let found = tokio::task::spawn_blocking(move || {
        wait_for_metadata(&producer, &names, partitions_i32, &created)
    })
    .await
    .map_err(|e| LogError::Topic {
        topic: all.clone(),
        kind: ErrorKind::Transient,
        message: format!("metadata check task: {e}"),
    })??;
    for t in &found {
        if !t.created && t.partitions != partitions as usize {
            tracing::warn!(
                topic = %t.name,
                partitions = t.partitions,
                configured = partitions,
                "topic exists with a different partition count than log.partitions; \
                 rowlog keeps it as it is"
            );
        }
    }
    Ok(found)
}

/// Poll metadata until every topic is there without error (and a topic this
/// call created has all its partitions), or the deadline passes.
fn wait_for_metadata(
    producer: &ThreadedProducer<DeliveryContext>,
    topics: &[TopicName],
    partitions: i32,
    created: &[String],
) -> Result<Vec<EnsuredTopic>, LogError> {
    let deadline = Instant::now() + TIMEOUT;
    let mut found = Vec::with_capacity(topics.len());
    for topic in topics {
        let was_created = created.iter().any(|c| c == topic.as_str());
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let state = match producer
                .client()
                .fetch_metadata(Some(topic.as_str()), left.min(Duration::from_secs(5)))
            {
                Ok(md) => match md.topics().iter().find(|t| t.name() == topic.as_str()) {
                    Some(t) if t.error().is_none() && !t.partitions().is_empty() => {
                        let n = t.partitions().len();
                        if !was_created || n >= partitions as usize {
                            found.push(EnsuredTopic {
                                name: topic.clone(),
                                created: was_created,
                                partitions: n,
                            });
                            break;
                        }
                        format!("{n} of {partitions} partitions")
                    }
                    Some(t) => match t.error() {
                        Some(e) => {
                            let code = RDKafkaErrorCode::from(e);
                            if classify::kind_of(code) == ErrorKind::Permanent
                                && code != RDKafkaErrorCode::UnknownTopicOrPartition
                            {
                                return Err(classify::topic_error(
                                    topic.as_str(),
                                    code,
                                    "checking the topic",
                                ));
                            }
                            code.to_string()
                        }
                        None => "no partitions yet".to_owned(),
                    },
                    None => "not in the metadata".to_owned(),
                },
                Err(e) => e.to_string(),
            };
            if Instant::now() >= deadline {
                return Err(LogError::Topic {
                    topic: topic.to_string(),
                    kind: ErrorKind::Transient,
                    message: format!("not usable {TIMEOUT:?} after creating it: {state}"),
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    Ok(found)
}
