//! `sinks:` — where the row log is applied: SQL followers, Redis, search indexes.
//!
//! Invariants after loading: sink names are unique and match `[a-z0-9_-]+`; each
//! sink's `source` names a source; every sink has exactly one kind; batch limits
//! are in range; templates are well-formed.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::common::impl_credentials;
use crate::value::conn_url::ConnUrl;
use crate::value::duration::Duration;
use crate::value::secret::Secret;

/// A sink as written in the file: exactly one kind (checked later).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSink {
    pub name: String,
    pub source: String,
    #[serde(default)]
    pub tables: Vec<String>,
    #[serde(default)]
    pub batch: Batch,
    #[serde(default)]
    pub on_error: OnError,
    #[serde(default)]
    pub warn_lag: Option<Duration>,
    #[serde(default)]
    pub critical_lag: Option<Duration>,
    #[serde(default)]
    pub postgres: Option<SqlSink>,
    #[serde(default)]
    pub mysql: Option<SqlSink>,
    #[serde(default)]
    pub redis: Option<RedisSink>,
    #[serde(default)]
    pub search: Option<SearchSink>,
}

/// The kind names a sink may have, for messages.
pub(crate) const SINK_KINDS: &[&str] = &["postgres", "mysql", "redis", "search"];

/// A consumer of the row log that applies it somewhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sink {
    /// Unique among sinks; `[a-z0-9_-]+`. Also the Kafka consumer group suffix.
    pub name: String,
    /// The source whose tables this sink applies.
    pub source: String,
    /// `schema.table` patterns to apply; empty means every table of the source.
    pub tables: Vec<String>,
    /// How many rows to apply at once.
    pub batch: Batch,
    /// What to do with a row the target rejects permanently.
    pub on_error: OnError,
    /// Log a warning when the sink's lag (the age of the oldest change it
    /// has read but not applied) reaches this, and again when it recovers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warn_lag: Option<Duration>,
    /// Like `warn_lag`, and `/readyz` answers 503 while the lag is at or
    /// above it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub critical_lag: Option<Duration>,
    /// The target.
    #[serde(flatten)]
    pub kind: SinkKind,
}

/// The kind of a sink.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SinkKind {
    /// A PostgreSQL follower.
    Postgres(SqlSink),
    /// A MySQL / MariaDB follower.
    Mysql(SqlSink),
    /// A Redis cache.
    Redis(RedisSink),
    /// An OpenSearch / Elasticsearch index.
    Search(SearchSink),
}

/// `sinks[].batch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Batch {
    /// Most rows per batch: 1..=1000000.
    #[serde(default = "default_max_rows")]
    pub max_rows: u32,
    /// Longest a batch keeps filling while the previous one applies: 1ms..=1h.
    /// With nothing applying, a batch goes as soon as nothing more is queued.
    #[serde(default = "default_max_wait")]
    pub max_wait: Duration,
}

fn default_max_rows() -> u32 {
    1000
}
fn default_max_wait() -> Duration {
    Duration::from_millis(200)
}

impl Default for Batch {
    fn default() -> Self {
        Batch {
            max_rows: default_max_rows(),
            max_wait: default_max_wait(),
        }
    }
}

/// What to do with a row the target rejects permanently.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OnError {
    /// Write it to the dead-letter topic with the reason and go on.
    #[default]
    DeadLetter,
    /// Stop the sink.
    Stop,
}

/// `sinks[].postgres` and `sinks[].mysql`: a SQL follower.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SqlSink {
    /// `postgres://`/`postgresql://` or `mysql://`/`mariadb://` URL of the target.
    pub url: ConnUrl,
    /// Password; alternatively `password_file`. Not both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    /// File holding the password; read at load time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
    #[serde(skip)]
    pub(crate) password_from_file: Option<Secret>,
    /// Table holding consumed offsets, written in the same transaction as the rows.
    #[serde(default = "default_offsets_table")]
    pub offsets_table: String,
    /// Create missing target tables from the source schema.
    #[serde(default = "default_true")]
    pub auto_create: bool,
    /// Add columns that appear in the source to the target table.
    #[serde(default)]
    pub auto_evolve: bool,
    /// Source `schema.table` → target `schema.table`; unmapped tables keep their name.
    #[serde(default)]
    pub table_map: BTreeMap<String, String>,
}
impl_credentials!(SqlSink);

fn default_offsets_table() -> String {
    "rowlog_offsets".to_owned()
}
fn default_true() -> bool {
    true
}

/// How a row is stored in Redis.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RedisValue {
    /// The row as a JSON string.
    #[default]
    Json,
    /// The row as a hash, one field per column.
    Hash,
}

/// `sinks[].redis`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RedisSink {
    /// `redis://` or `rediss://` URL, e.g. `redis://127.0.0.1:6379/0`.
    pub url: ConnUrl,
    /// Password; alternatively `password_file`. Not both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    /// File holding the password; read at load time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
    #[serde(skip)]
    pub(crate) password_from_file: Option<Secret>,
    /// Key of each row: `{source}`, `{database}`, `{schema}`, `{table}`, `{key}` (all
    /// key columns joined by `:`), or a key column name such as `{id}`.
    #[serde(default = "default_key_template")]
    pub key_template: String,
    /// How a row is stored.
    #[serde(default)]
    pub value: RedisValue,
    /// Expire keys this long after their last write; none by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<Duration>,
}
impl_credentials!(RedisSink);

fn default_key_template() -> String {
    "{schema}.{table}:{key}".to_owned()
}

/// `sinks[].search`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SearchSink {
    /// `http://` or `https://` URL of the cluster.
    pub url: ConnUrl,
    /// Index per table: `{source}`, `{database}`, `{schema}`, `{table}`.
    #[serde(default = "default_index_template")]
    pub index_template: String,
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
impl_credentials!(SearchSink);

fn default_index_template() -> String {
    "{schema}_{table}".to_owned()
}
