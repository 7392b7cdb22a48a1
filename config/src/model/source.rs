//! `sources:` — the databases rowlog captures changes from.
//!
//! Invariants after loading: source names are unique and match `[a-z0-9_-]+`;
//! every source has exactly one kind; `slot` and `publication` are filled in.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::common::{ColumnRules, KeyOverrides, SnapshotMode, TableFilter, impl_credentials};
use crate::value::conn_url::ConnUrl;
use crate::value::secret::Secret;

/// A source as written in the file: a name and exactly one kind (checked later).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSource {
    pub name: String,
    #[serde(default)]
    pub postgres: Option<PostgresSource>,
    #[serde(default)]
    pub mysql: Option<MysqlSource>,
}

/// The kind names a source may have, for messages.
pub(crate) const SOURCE_KINDS: &[&str] = &["postgres", "mysql"];

/// A database to capture changes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Source {
    /// Unique among sources; `[a-z0-9_-]+`. Used in topic names and positions.
    pub name: String,
    /// What kind of database, and how to reach it.
    #[serde(flatten)]
    pub kind: SourceKind,
}

/// The kind of a source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// PostgreSQL logical replication (pgoutput).
    Postgres(PostgresSource),
    /// MySQL / MariaDB binlog replication.
    Mysql(MysqlSource),
}

/// `sources[].postgres`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PostgresSource {
    /// `postgres://` or `postgresql://` URL of the database to capture.
    pub url: ConnUrl,
    /// Password; alternatively `password_file`. Not both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    /// File holding the password (trailing newline trimmed); read at load time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
    #[serde(skip)]
    pub(crate) password_from_file: Option<Secret>,
    /// Replication slot name; default `rowlog_<name>` (`-` becomes `_`).
    #[serde(default)]
    pub slot: Option<String>,
    /// Publication name; default `rowlog_<name>`.
    #[serde(default)]
    pub publication: Option<String>,
    /// When to snapshot existing rows.
    #[serde(default)]
    pub snapshot: SnapshotMode,
    /// Which tables to capture (`schema.table` patterns).
    #[serde(default)]
    pub tables: TableFilter,
    /// Columns to drop or mask (`schema.table.column` patterns).
    #[serde(default)]
    pub columns: ColumnRules,
    /// Key columns for tables without a primary key.
    #[serde(default)]
    pub keys: KeyOverrides,
}
impl_credentials!(PostgresSource);

/// How a MySQL snapshot gets a consistent view.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SnapshotLocking {
    /// `FLUSH TABLES WITH READ LOCK` for a moment at snapshot start.
    #[default]
    Global,
    /// No lock (for managed servers without the privilege); may be inconsistent
    /// for tables written during the snapshot start.
    None,
}

/// `sources[].mysql` (also MariaDB).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MysqlSource {
    /// `mysql://` or `mariadb://` URL of the server.
    pub url: ConnUrl,
    /// Password; alternatively `password_file`. Not both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    /// File holding the password (trailing newline trimmed); read at load time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
    #[serde(skip)]
    pub(crate) password_from_file: Option<Secret>,
    /// Replica server id, unique among the server's replicas: 1..=4294967295.
    pub server_id: u32,
    /// When to snapshot existing rows.
    #[serde(default)]
    pub snapshot: SnapshotMode,
    /// How the snapshot gets a consistent view.
    #[serde(default)]
    pub snapshot_locking: SnapshotLocking,
    /// Which tables to capture (`database.table` patterns).
    #[serde(default)]
    pub tables: TableFilter,
    /// Columns to drop or mask (`database.table.column` patterns).
    #[serde(default)]
    pub columns: ColumnRules,
    /// Key columns for tables without a primary key.
    #[serde(default)]
    pub keys: KeyOverrides,
}
impl_credentials!(MysqlSource);

impl PostgresSource {
    /// The replication slot name (filled in at load time).
    pub fn slot_name(&self) -> &str {
        self.slot.as_deref().unwrap_or_default()
    }

    /// The publication name (filled in at load time).
    pub fn publication_name(&self) -> &str {
        self.publication.as_deref().unwrap_or_default()
    }
}
