//! `log:` — the Kafka row log between sources and sinks.
//!
//! Invariants after loading: at least one broker, each `host:port`; option names
//! are librdkafka-style (`[a-z0-9._]+`) and none of those rowlog sets itself;
//! options whose name contains `password`, `secret`, `sasl` or `token` are held as
//! [`Secret`]s; `format: avro` has a `schema_registry`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::common::impl_credentials;
use crate::value::conn_url::ConnUrl;
use crate::value::secret::Secret;

/// `log:`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Log {
    /// The Kafka cluster (any Kafka-protocol broker).
    pub kafka: Kafka,
    /// Topics are named `<topic_prefix>.<source>.<schema>.<table>`.
    #[serde(default = "default_topic_prefix")]
    pub topic_prefix: String,
    /// Partitions of each topic rowlog creates: 1..=10000.
    #[serde(default = "default_partitions")]
    pub partitions: u32,
    /// Replication factor of each topic rowlog creates: 1..=32767.
    #[serde(default = "default_replication_factor")]
    pub replication_factor: u16,
    /// Record encoding.
    #[serde(default)]
    pub format: Format,
    /// Confluent-compatible schema registry; required with `format: avro`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_registry: Option<SchemaRegistry>,
    /// Write a tombstone (null value) after each delete, for compacted topics.
    #[serde(default = "default_true")]
    pub tombstones: bool,
    /// Also write transaction begin/end markers to `<topic_prefix>.<source>.transactions`.
    #[serde(default)]
    pub transaction_topic: bool,
}

fn default_topic_prefix() -> String {
    "rowlog".to_owned()
}
fn default_partitions() -> u32 {
    1
}
fn default_replication_factor() -> u16 {
    1
}
fn default_true() -> bool {
    true
}

/// `log.kafka`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Kafka {
    /// Bootstrap brokers, `host:port` each; at least one.
    pub brokers: Vec<String>,
    /// librdkafka properties passed through as is (values are read as text).
    #[serde(default)]
    pub options: KafkaOptions,
}

/// Option names that rowlog sets itself and a config may not override.
pub const MANAGED_KAFKA_OPTIONS: &[&str] = &[
    "bootstrap.servers",
    "enable.idempotence",
    "transactional.id",
    "group.id",
    "enable.auto.commit",
];

/// True for option names whose values are secrets.
pub fn is_sensitive_option(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["password", "secret", "sasl", "token"]
        .iter()
        .any(|w| n.contains(w))
}

/// One librdkafka option value.
#[derive(Clone, PartialEq, Eq)]
pub enum KafkaValue {
    /// An ordinary value.
    Plain(String),
    /// A value that must not be shown (see [`is_sensitive_option`]).
    Secret(Secret),
}

impl KafkaValue {
    /// The real value, for handing to librdkafka.
    pub fn expose(&self) -> &str {
        match self {
            KafkaValue::Plain(s) => s,
            KafkaValue::Secret(s) => s.expose(),
        }
    }
}

impl fmt::Debug for KafkaValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KafkaValue::Plain(s) => write!(f, "{s:?}"),
            KafkaValue::Secret(s) => write!(f, "{s:?}"),
        }
    }
}

impl Serialize for KafkaValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            KafkaValue::Plain(v) => s.serialize_str(v),
            KafkaValue::Secret(v) => v.serialize(s),
        }
    }
}

/// `log.kafka.options`: librdkafka properties, name → value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct KafkaOptions(pub BTreeMap<String, KafkaValue>);

impl<'de> Deserialize<'de> for KafkaOptions {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = BTreeMap::<String, String>::deserialize(d)?;
        Ok(KafkaOptions(
            raw.into_iter()
                .map(|(k, v)| {
                    let v = if is_sensitive_option(&k) {
                        KafkaValue::Secret(Secret::new(v))
                    } else {
                        KafkaValue::Plain(v)
                    };
                    (k, v)
                })
                .collect(),
        ))
    }
}

/// How records are encoded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// Debezium-style JSON envelope.
    #[default]
    Json,
    /// Avro with the Confluent wire format (needs `schema_registry`).
    Avro,
}

/// `log.schema_registry`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SchemaRegistry {
    /// `http://` or `https://` URL of the registry.
    pub url: ConnUrl,
    /// Basic-auth user name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Basic-auth password; alternatively `password_file`. Not both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    /// File holding the password; read at load time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
    #[serde(skip)]
    pub(crate) password_from_file: Option<Secret>,
}
impl_credentials!(SchemaRegistry);
