//! Which schema the rows of each binlog table map follow, and the schema
//! history kept in the log's state topic.
//!
//! Invariants:
//! - Rows are decoded with the shape the binlog's TABLE_MAP event describes
//!   (column count and storage types are always there). Names, nullability,
//!   the key and MariaDB's JSON alias come from the *catalog* — the table's
//!   definition as information_schema gave it, or as the schema history
//!   recorded it — but only when the catalog has exactly that shape (and,
//!   with `binlog_row_metadata=FULL`, the same column names). Otherwise the
//!   catalog describes a different point in the table's history than these
//!   rows, and the names come from the binlog's FULL metadata; without it
//!   the source stops with the way out, never guessing.
//! - A DDL statement that names a captured table marks its catalog entry
//!   stale; the next TABLE_MAP for it re-reads information_schema. Matching
//!   is by the table name appearing in the statement text, which can only
//!   over-match (a needless re-read), never miss a statement that names it.
//! - Every schema the source starts using is saved in the state topic under
//!   `schema/<db>.<table>` (in order with the rows, so never ahead of
//!   them), and a DDL saves a stale marker there. A restart loads these
//!   records as the catalog, so rows written before a DDL that the restart
//!   replays decode with the schema they were written with.
//! - information_schema is reached through the [`Catalog`] trait, which a
//!   `mysql_async::Conn` implements; the unit tests of the source feed
//!   binlog events through a fixed in-memory catalog instead.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use mysql_async::Conn;
use mysql_async::binlog::events::TableMapEvent;
use rowlog_config::{KeyOverrides, TableFilter};
use rowlog_schemas::{TableId, TableSchema};
use serde_json::json;

use super::catalog;
use super::columns::{MyColumn, MyTable};
use super::tablemap::{columns_from_table_map, merge_with_catalog};
use crate::error::SourceError;

/// State-topic key prefix of schema history records.
pub const HISTORY_PREFIX: &str = "schema/";

/// What the binlog reader asks the server's catalog (information_schema)
/// while streaming: a table's current definition, and whether it exists.
pub trait Catalog: Send {
    /// The current definition of `id` (columns in table order, storage
    /// types, key; `keys` overrides the PRIMARY KEY), or `None` when
    /// information_schema has no columns for it. An error for a table that
    /// cannot be captured as it is (no key...).
    fn describe(
        &mut self,
        id: &TableId,
        keys: &KeyOverrides,
    ) -> impl Future<Output = Result<Option<MyTable>, SourceError>> + Send;

    /// Whether the table `id` exists now.
    fn exists(&mut self, id: &TableId) -> impl Future<Output = Result<bool, SourceError>> + Send;
}

impl Catalog for Conn {
    async fn describe(
        &mut self,
        id: &TableId,
        keys: &KeyOverrides,
    ) -> Result<Option<MyTable>, SourceError> {
        let found = catalog::describe_tables(self, std::slice::from_ref(id), keys).await?;
        Ok(found.into_iter().next())
    }

    async fn exists(&mut self, id: &TableId) -> Result<bool, SourceError> {
        use mysql_async::prelude::Queryable;
        let n: Option<u64> = self
            .exec_first(
                "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
                (id.namespace.as_str(), id.name.as_str()),
            )
            .await?;
        Ok(n.unwrap_or(0) > 0)
    }
}

/// A table as its rows are decoded.
#[derive(Debug)]
pub struct Decoded {
    /// Columns and key.
    pub table: MyTable,
    /// The row-log schema.
    pub schema: Arc<TableSchema>,
}

/// What the source must do after a TABLE_MAP event.
#[derive(Debug)]
pub enum MapOutcome {
    /// Rows of this table id are not captured.
    Ignored,
    /// Captured with a schema already in use.
    Known,
    /// Captured with a schema new to this run: save it under `key`.
    NewSchema {
        /// State-topic key.
        key: String,
        /// State-topic value.
        value: String,
    },
}

/// The source's view of captured tables.
#[derive(Debug)]
pub struct Tables {
    filter: TableFilter,
    keys: KeyOverrides,
    catalog: HashMap<TableId, MyTable>,
    /// Tables changed by a DDL since their catalog entry was read, with
    /// the statement (for errors).
    stale: HashMap<TableId, String>,
    /// The last DDL statement seen per table, kept for error messages.
    last_ddl: HashMap<TableId, String>,
    by_id: HashMap<u64, Option<Arc<Decoded>>>,
    by_shape: HashMap<(TableId, u64), Arc<Decoded>>,
    saved: HashMap<TableId, MyTable>,
}

impl Tables {
    /// Tables matching `filter`, with `catalog` as the initially known
    /// definitions (from information_schema at startup).
    pub fn new(filter: TableFilter, keys: KeyOverrides, catalog: Vec<MyTable>) -> Tables {
        Tables {
            filter,
            keys,
            catalog: catalog.into_iter().map(|t| (t.id.clone(), t)).collect(),
            stale: HashMap::new(),
            last_ddl: HashMap::new(),
            by_id: HashMap::new(),
            by_shape: HashMap::new(),
            saved: HashMap::new(),
        }
    }

    /// Loads the schema history from the state topic's records; history
    /// entries override the startup catalog (they describe the tables as of
    /// the saved position, which is where streaming resumes).
    pub fn load_history<'a>(
        &mut self,
        records: impl Iterator<Item = (&'a String, &'a String)>,
    ) -> Result<(), SourceError> {
        for (key, value) in records {
            let Some(name) = key.strip_prefix(HISTORY_PREFIX) else {
                continue;
            };
            let v: serde_json::Value = serde_json::from_str(value).map_err(|e| {
                SourceError::permanent(format!(
                    "schema history record `{key}` is unreadable ({e}); re-snapshot the source (restart once with `snapshot: always`)"
                ))
            })?;
            let Some((db, table)) = name.split_once('.') else {
                continue;
            };
            let id = TableId::new(db, table);
            if v.get("stale").and_then(|s| s.as_bool()) == Some(true) {
                let ddl = v["ddl"].as_str().unwrap_or("a DDL statement").to_string();
                self.last_ddl.insert(id.clone(), ddl.clone());
                self.stale.insert(id, ddl);
                continue;
            }
            let columns: Vec<MyColumn> = serde_json::from_value(v["columns"].clone())
                .map_err(|e| {
                    SourceError::permanent(format!(
                        "schema history record `{key}` is unreadable ({e}); re-snapshot the source (restart once with `snapshot: always`)"
                    ))
                })?;
            let key_cols: Vec<String> =
                serde_json::from_value(v["key"].clone()).unwrap_or_default();
            let t = MyTable {
                id: id.clone(),
                columns,
                key: key_cols,
            };
            self.stale.remove(&id);
            self.saved.insert(id.clone(), t.clone());
            self.catalog.insert(id, t);
        }
        Ok(())
    }

    /// Whether rows of `table` are captured.
    pub fn captured(&self, table: &TableId) -> bool {
        crate::pattern::selected(
            &self.filter.include,
            &self.filter.exclude,
            &table.to_string(),
        )
    }

    /// A DDL statement was read (`default_db` is the session's database).
    /// Returns the history records to save (stale markers).
    pub fn on_ddl(&mut self, default_db: &str, query: &str, at: &str) -> Vec<(String, String)> {
        let lower = query.to_ascii_lowercase();
        let mut marks = Vec::new();
        let known: Vec<TableId> = self
            .catalog
            .keys()
            .chain(self.saved.keys())
            .cloned()
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        for id in known {
            if lower.contains(&id.name.to_ascii_lowercase())
                && (lower.contains(&id.namespace.to_ascii_lowercase())
                    || default_db.eq_ignore_ascii_case(&id.namespace))
            {
                let short: String = query.chars().take(300).collect();
                let ddl = format!("`{short}` at {at}");
                self.last_ddl.insert(id.clone(), ddl.clone());
                self.stale.insert(id.clone(), ddl.clone());
                self.saved.remove(&id);
                marks.push((
                    format!("{HISTORY_PREFIX}{id}"),
                    json!({"stale": true, "ddl": ddl}).to_string(),
                ));
            }
        }
        // Cached shapes may now carry stale names; table ids are remapped
        // by the next TABLE_MAP anyway.
        if !marks.is_empty() {
            self.by_shape.clear();
        }
        marks
    }

    /// Handles a TABLE_MAP event whose body (after the table id) is `body`;
    /// `catalog` is asked for the table's definition when it is unknown or
    /// stale.
    pub async fn on_table_map<C: Catalog>(
        &mut self,
        tme: &TableMapEvent<'_>,
        body: &[u8],
        catalog: &mut C,
        at: &str,
    ) -> Result<MapOutcome, SourceError> {
        let id = TableId::new(tme.database_name(), tme.table_name());
        if !self.captured(&id) {
            self.by_id.insert(tme.table_id(), None);
            return Ok(MapOutcome::Ignored);
        }
        let mut h = DefaultHasher::new();
        body.hash(&mut h);
        let shape = (id.clone(), h.finish());
        if let Some(d) = self.by_shape.get(&shape) {
            self.by_id.insert(tme.table_id(), Some(d.clone()));
            return Ok(MapOutcome::Known);
        }
        let info = columns_from_table_map(tme)?;
        if self.stale.contains_key(&id) || !self.catalog.contains_key(&id) {
            match catalog.describe(&id, &self.keys).await {
                Ok(Some(found)) => {
                    self.catalog.insert(id.clone(), found);
                }
                Ok(None) => {
                    self.catalog.remove(&id);
                }
                // A table dropped or renamed since is described by the
                // binlog alone; other errors (no key...) stop the source.
                Err(e) if e.transient => return Err(e),
                Err(e) => {
                    if catalog.exists(&id).await? {
                        return Err(e.context(format!("table {id} (at {at})")));
                    }
                    self.catalog.remove(&id);
                }
            }
            self.stale.remove(&id);
        }
        let from_catalog = self.catalog.get(&id).and_then(|cat| {
            let merged = merge_with_catalog(&cat.columns, &info.columns)?;
            let names_agree = !info.has_names
                || merged
                    .iter()
                    .zip(&info.columns)
                    .all(|(a, b)| a.name.eq_ignore_ascii_case(&b.name));
            names_agree.then(|| MyTable {
                id: id.clone(),
                columns: merged,
                key: cat.key.clone(),
            })
        });
        let table = match from_catalog {
            Some(t) => t,
            None if info.has_names => {
                let key = match self.keys.get(&id.to_string()) {
                    Some(k) => k.clone(),
                    None => info.key.clone().unwrap_or_default(),
                };
                if key.is_empty() {
                    return Err(SourceError::permanent(format!(
                        "table {id} (at {at}) has no primary key: add one, or set `keys: {{{id}: [column, ...]}}` in the source config"
                    )));
                }
                MyTable {
                    id: id.clone(),
                    columns: info.columns,
                    key,
                }
            }
            None => {
                let ddl = self
                    .last_ddl
                    .get(&id)
                    .map(|d| format!(" (last DDL on it: {d})"))
                    .unwrap_or_default();
                return Err(SourceError::permanent(format!(
                    "table {id}: the rows at {at} have a different shape than the table's current definition in information_schema{ddl}: a later DDL changed it again before rowlog read this far, and the server does not log column names (binlog_row_metadata is not FULL), so the rows cannot be decoded safely. Set binlog_row_metadata=FULL on the server (MariaDB 10.5+, MySQL 8.0.1+) and re-snapshot the source (restart once with `snapshot: always`)"
                )));
            }
        };
        if let Some(c) = table.columns.iter().find(|c| !c.labels_known()) {
            return Err(SourceError::permanent(format!(
                "table {id}: the labels of ENUM/SET column `{}` are unknown at {at}; set binlog_row_metadata=FULL on the server",
                c.name
            )));
        }
        let schema = Arc::new(table.schema()?);
        let outcome = if self.saved.get(&id) == Some(&table) {
            MapOutcome::Known
        } else {
            self.saved.insert(id.clone(), table.clone());
            MapOutcome::NewSchema {
                key: format!("{HISTORY_PREFIX}{id}"),
                value: json!({"columns": table.columns, "key": table.key, "at": at}).to_string(),
            }
        };
        let d = Arc::new(Decoded { table, schema });
        self.by_shape.insert(shape, d.clone());
        self.by_id.insert(tme.table_id(), Some(d));
        Ok(outcome)
    }

    /// The decoding of a table id: `Ok(None)` when not captured, an error
    /// when no TABLE_MAP announced it.
    pub fn get(&self, table_id: u64, at: &str) -> Result<Option<Arc<Decoded>>, SourceError> {
        match self.by_id.get(&table_id) {
            Some(d) => Ok(d.clone()),
            None => Err(SourceError::permanent(format!(
                "rows event at {at} refers to table id {table_id} that no TABLE_MAP event announced; the binlog is damaged or was read from the middle of a transaction"
            ))),
        }
    }

    /// Forgets table ids (the server reuses them after a ROTATE).
    pub fn forget_ids(&mut self) {
        self.by_id.clear();
    }
}
