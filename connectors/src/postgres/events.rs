//! Turning decoded pgoutput messages into change events.
//!
//! Invariants:
//! - Transactions arrive whole and in commit order (rowlog does not ask for
//!   pgoutput's in-progress streaming; the server spills large transactions
//!   to disk itself and sends them after commit, so memory here stays at one
//!   message). Every event of a transaction carries the position
//!   (commit LSN from Begin, its own record LSN from the XLogData header)
//!   and an ordinal counting from 1.
//! - A column the server did not send — unchanged TOAST (`u`), or a non-key
//!   column of an old key tuple (`K`) — becomes [`Value::Absent`], never a
//!   placeholder and never NULL.
//! - The schema of a relation is the one its latest Relation message gave
//!   (column names and types in that message are authoritative); the caller
//!   adds what the message lacks (source type text, nullability, decoders).
//! - Changes of relations rowlog does not capture are skipped; anything
//!   unexpected inside a transaction is an error, never silently dropped.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use rowlog_schemas::position::{Lsn, PgPosition};
use rowlog_schemas::{ChangeEvent, Op, Position, Row, TableSchema, TxInfo, Value};

use super::pgoutput::{Column, Message, Oid, OldTuple, Tuple};
use super::types::PgType;
use crate::error::SourceError;

/// What the caller knows about a captured relation.
#[derive(Debug, Clone)]
pub struct CapturedRelation {
    /// Row-log schema (columns in the Relation message's order).
    pub schema: Arc<TableSchema>,
    /// Decoder per column.
    pub types: Vec<PgType>,
}

/// One output of [`Assembler::push`].
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// A row change (or truncate) to write to the log.
    Event(Box<ChangeEvent>, Arc<TableSchema>),
    /// The transaction committed: once every event before this was made
    /// durable, the slot may confirm `end_lsn`.
    Commit {
        /// Transaction id.
        xid: u32,
        /// LSN of the commit record.
        commit_lsn: Lsn,
        /// LSN just past it: what the slot confirms.
        end_lsn: Lsn,
        /// Commit time, µs since 1970.
        commit_time_us: i64,
        /// Events emitted for the transaction, per table (`schema.table`).
        counts: Vec<(String, u64)>,
    },
}

#[derive(Debug)]
struct Tx {
    xid: u32,
    /// `xid` as text, for the events' `TxInfo::id`.
    xid_text: String,
    commit_lsn: Lsn,
    commit_time_us: i64,
    ordinal: u64,
    counts: HashMap<String, u64>,
}

/// Stateful converter from messages to events for one replication session.
#[derive(Debug)]
pub struct Assembler {
    source: String,
    relations: HashMap<Oid, CapturedRelation>,
    /// Per captured relation: its schema version and `schema.table` as text,
    /// computed once per Relation message instead of once per change.
    meta: HashMap<Oid, (u32, String)>,
    ignored: HashSet<Oid>,
    tx: Option<Tx>,
    warned: HashSet<(Oid, usize)>,
}

impl Assembler {
    /// An assembler for source `source` (the configured name).
    pub fn new(source: impl Into<String>) -> Assembler {
        Assembler {
            source: source.into(),
            relations: HashMap::new(),
            meta: HashMap::new(),
            ignored: HashSet::new(),
            tx: None,
            warned: HashSet::new(),
        }
    }

    /// Installs (or replaces, after a schema change) relation `oid`.
    pub fn set_relation(&mut self, oid: Oid, rel: CapturedRelation) {
        self.ignored.remove(&oid);
        self.meta
            .insert(oid, (rel.schema.version(), rel.schema.table.to_string()));
        self.relations.insert(oid, rel);
    }

    /// Marks relation `oid` as not captured: its changes are skipped.
    pub fn ignore_relation(&mut self, oid: Oid) {
        self.relations.remove(&oid);
        self.meta.remove(&oid);
        self.ignored.insert(oid);
    }

    /// The relation installed for `oid`.
    pub fn relation(&self, oid: Oid) -> Option<&CapturedRelation> {
        self.relations.get(&oid)
    }

    /// Whether a transaction is open (Begin seen, Commit not yet).
    pub fn in_transaction(&self) -> bool {
        self.tx.is_some()
    }

    /// Handles one message whose XLogData started at `wal_start`. Relation
    /// and Type messages are the caller's (it must call
    /// [`Assembler::set_relation`] before the next change); here they are
    /// accepted and produce nothing.
    pub fn push(
        &mut self,
        msg: Message,
        wal_start: Lsn,
        now_ms: i64,
    ) -> Result<Vec<Output>, SourceError> {
        match msg {
            Message::Begin(b) => {
                if let Some(open) = &self.tx {
                    return Err(SourceError::permanent(format!(
                        "Begin of transaction {} at {wal_start} while transaction {} is still open; the stream is out of order",
                        b.xid, open.xid
                    )));
                }
                self.tx = Some(Tx {
                    xid: b.xid,
                    xid_text: b.xid.to_string(),
                    commit_lsn: b.final_lsn,
                    commit_time_us: b.commit_time.unix_micros(),
                    ordinal: 0,
                    counts: HashMap::new(),
                });
                Ok(vec![])
            }
            Message::Commit(c) => {
                let tx = self.tx.take().ok_or_else(|| {
                    SourceError::permanent(format!("Commit at {} without a Begin", c.commit_lsn))
                })?;
                let mut counts: Vec<(String, u64)> = tx.counts.into_iter().collect();
                counts.sort();
                Ok(vec![Output::Commit {
                    xid: tx.xid,
                    commit_lsn: c.commit_lsn,
                    end_lsn: c.end_lsn,
                    commit_time_us: c.commit_time.unix_micros(),
                    counts,
                }])
            }
            Message::Relation(_) | Message::Type(_) | Message::Origin(_) | Message::Message(_) => {
                Ok(vec![])
            }
            Message::Insert(m) => {
                self.change(m.relation, Op::Insert, None, Some(m.new), wal_start, now_ms)
            }
            Message::Update(m) => self.change(
                m.relation,
                Op::Update,
                m.old,
                Some(m.new),
                wal_start,
                now_ms,
            ),
            Message::Delete(m) => {
                self.change(m.relation, Op::Delete, Some(m.old), None, wal_start, now_ms)
            }
            Message::Truncate(t) => {
                let mut out = Vec::new();
                for oid in t.relations {
                    out.extend(self.change(oid, Op::Truncate, None, None, wal_start, now_ms)?);
                }
                Ok(out)
            }
            other => Err(SourceError::permanent(format!(
                "unexpected pgoutput {} message at {wal_start}: rowlog does not request streamed or two-phase transactions",
                other.kind()
            ))),
        }
    }

    fn change(
        &mut self,
        oid: Oid,
        op: Op,
        old: Option<OldTuple>,
        new: Option<Tuple>,
        wal_start: Lsn,
        now_ms: i64,
    ) -> Result<Vec<Output>, SourceError> {
        if self.ignored.contains(&oid) {
            return Ok(vec![]);
        }
        let tx = self.tx.as_mut().ok_or_else(|| {
            SourceError::permanent(format!("a change at {wal_start} outside any transaction"))
        })?;
        let rel = self.relations.get(&oid).ok_or_else(|| {
            SourceError::permanent(format!(
                "a change at {wal_start} for relation {oid}, which no Relation message described"
            ))
        })?;
        let (version, table_text) = self.meta.get(&oid).ok_or_else(|| {
            SourceError::permanent(format!(
                "a change at {wal_start} for relation {oid}, which no Relation message described"
            ))
        })?;
        let schema = rel.schema.clone();
        let position = Position::Postgres(PgPosition::new(tx.commit_lsn, wal_start));
        let table = schema.table.clone();
        let mut warn = Vec::new();
        let decode = |tuple: Tuple,
                      key_only: bool,
                      warn: &mut Vec<usize>|
         -> Result<Row, SourceError> {
            if tuple.len() != schema.columns.len() {
                return Err(SourceError::permanent(format!(
                    "{table} at {position}: a tuple with {} columns where the relation has {}",
                    tuple.len(),
                    schema.columns.len()
                )));
            }
            let mut row = Row::new();
            for (i, (col, cell)) in schema.columns.iter().zip(tuple).enumerate() {
                let is_key = schema.key.contains(&col.name);
                let v = match cell {
                    _ if key_only && !is_key => Value::Absent,
                    Column::Null => Value::Null,
                    Column::UnchangedToast => Value::Absent,
                    Column::Text(bytes) => {
                        let text = std::str::from_utf8(&bytes).map_err(|_| {
                            SourceError::permanent(format!(
                                "{table}.{} at {position}: value is not UTF-8",
                                col.name
                            ))
                        })?;
                        if rel.types[i].is_other() {
                            warn.push(i);
                        }
                        rel.types[i].decode_text(text).map_err(|e| {
                            SourceError::permanent(format!(
                                "{table}.{} at {position}: {e}",
                                col.name
                            ))
                        })?
                    }
                    Column::Binary(_) => {
                        return Err(SourceError::permanent(format!(
                            "{table}.{} at {position}: a binary-format value; rowlog requests text format",
                            col.name
                        )));
                    }
                };
                row.push(col.name.clone(), v);
            }
            Ok(row)
        };
        let before = match old {
            Some(OldTuple::Key(t)) => Some(decode(t, true, &mut warn)?),
            Some(OldTuple::Full(t)) => Some(decode(t, false, &mut warn)?),
            None => None,
        };
        let after = new.map(|t| decode(t, false, &mut warn)).transpose()?;
        for i in warn {
            if self.warned.insert((oid, i)) {
                tracing::warn!(
                    table = %schema.table,
                    column = %schema.columns[i].name,
                    source_type = %schema.columns[i].source_type,
                    "column type is not known to rowlog; values are carried as their text form"
                );
            }
        }
        // An update that changes the key becomes a delete of the old key and
        // an insert of the new one (as Debezium does): the old key's record
        // then gets its tombstone on compacted topics, and each key's events
        // stay on that key's partition, in order.
        let key_changed = match (op, &before, &after) {
            (Op::Update, Some(b), Some(a)) if !schema.key.is_empty() => {
                let pick = |r: &Row| -> Vec<Value> {
                    schema
                        .key
                        .iter()
                        .map(|k| r.get(k).cloned().unwrap_or(Value::Absent))
                        .collect()
                };
                let (kb, ka) = (pick(b), pick(a));
                !kb.iter().any(Value::is_absent) && kb != ka
            }
            _ => false,
        };
        let parts = if key_changed {
            vec![(Op::Delete, before, None), (Op::Insert, None, after)]
        } else {
            vec![(op, before, after)]
        };
        let mut out = Vec::with_capacity(parts.len());
        for (op, before, after) in parts {
            tx.ordinal += 1;
            count(&mut tx.counts, table_text);
            let event = ChangeEvent {
                source: self.source.clone(),
                table: schema.table.clone(),
                op,
                key_columns: schema.key.clone(),
                before,
                after,
                position: position.clone(),
                transaction: Some(TxInfo {
                    id: tx.xid_text.clone(),
                    commit_time_us: tx.commit_time_us,
                    ordinal: tx.ordinal,
                }),
                schema_version: *version,
                ts_ms: now_ms,
            };
            if op != Op::Truncate
                && let Some(key) = event.key()
                && let Some((k, _)) = key.iter().find(|(_, v)| v.is_absent())
            {
                return Err(SourceError::permanent(format!(
                    "{} at {}: key column `{k}` was not sent; give the table a primary key or REPLICA IDENTITY that includes it",
                    event.table, event.position
                )));
            }
            out.push(Output::Event(Box::new(event), schema.clone()));
        }
        Ok(out)
    }
}

/// Counts one event of `table` (no allocation once the table is known).
fn count(counts: &mut HashMap<String, u64>, table: &str) {
    match counts.get_mut(table) {
        Some(n) => *n += 1,
        None => {
            counts.insert(table.to_string(), 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use rowlog_schemas::{ColumnSchema, TableId, ValueKind};

    use super::*;
    use crate::postgres::pgoutput::{Begin, Commit, Delete, Insert, PgTimestamp, Truncate, Update};

    fn rel() -> CapturedRelation {
        let col = |name: &str, kind: ValueKind| ColumnSchema {
            name: name.into(),
            kind,
            source_type: String::new(),
            nullable: true,
        };
        CapturedRelation {
            schema: Arc::new(
                TableSchema::new(
                    TableId::new("public", "t"),
                    vec![
                        col("id", ValueKind::Int),
                        col("big", ValueKind::Text),
                        col("n", ValueKind::Decimal),
                    ],
                    vec!["id".into()],
                )
                .unwrap(),
            ),
            types: vec![PgType::Int, PgType::Text, PgType::Numeric],
        }
    }

    fn t(s: &str) -> Column {
        Column::Text(Bytes::copy_from_slice(s.as_bytes()))
    }

    fn events(out: Vec<Output>) -> Vec<ChangeEvent> {
        out.into_iter()
            .filter_map(|o| match o {
                Output::Event(e, _) => Some(*e),
                Output::Commit { .. } => None,
            })
            .collect()
    }

    #[test]
    fn a_transaction_becomes_ordered_events_with_absent_columns() {
        let mut a = Assembler::new("app");
        a.set_relation(16384, rel());
        a.ignore_relation(99);
        let begin = Begin {
            final_lsn: Lsn(0x500),
            commit_time: PgTimestamp(0),
            xid: 771,
        };
        assert!(
            a.push(Message::Begin(begin), Lsn(0x100), 1)
                .unwrap()
                .is_empty()
        );
        let ins = a
            .push(
                Message::Insert(Insert {
                    xid: None,
                    relation: 16384,
                    new: vec![t("1"), t("long"), Column::Null],
                }),
                Lsn(0x110),
                1,
            )
            .unwrap();
        let upd = a
            .push(
                Message::Update(Update {
                    xid: None,
                    relation: 16384,
                    old: None,
                    new: vec![t("1"), Column::UnchangedToast, t("2.50")],
                }),
                Lsn(0x120),
                1,
            )
            .unwrap();
        let del = a
            .push(
                Message::Delete(Delete {
                    xid: None,
                    relation: 16384,
                    old: OldTuple::Key(vec![t("1"), Column::Null, Column::Null]),
                }),
                Lsn(0x130),
                1,
            )
            .unwrap();
        let skipped = a
            .push(
                Message::Insert(Insert {
                    xid: None,
                    relation: 99,
                    new: vec![],
                }),
                Lsn(0x140),
                1,
            )
            .unwrap();
        assert!(skipped.is_empty());
        let commit = a
            .push(
                Message::Commit(Commit {
                    flags: 0,
                    commit_lsn: Lsn(0x500),
                    end_lsn: Lsn(0x530),
                    commit_time: PgTimestamp(0),
                }),
                Lsn(0x530),
                1,
            )
            .unwrap();

        let ins = &events(ins)[0];
        assert_eq!(ins.op, Op::Insert);
        assert_eq!(ins.position.to_string(), "0/500@0/110");
        assert_eq!(ins.transaction.as_ref().unwrap().ordinal, 1);
        assert_eq!(ins.after.as_ref().unwrap().get("n"), Some(&Value::Null));
        let upd = &events(upd)[0];
        assert_eq!(upd.after.as_ref().unwrap().get("big"), Some(&Value::Absent));
        assert_eq!(
            upd.after.as_ref().unwrap().get("n"),
            Some(&Value::Decimal("2.50".parse().unwrap()))
        );
        assert!(upd.before.is_none());
        let del = &events(del)[0];
        let before = del.before.as_ref().unwrap();
        assert_eq!(before.get("id"), Some(&Value::Int(1)));
        assert_eq!(
            before.get("big"),
            Some(&Value::Absent),
            "non-key columns of a key tuple are absent, not NULL"
        );
        assert_eq!(del.transaction.as_ref().unwrap().ordinal, 3);
        assert_eq!(del.key().unwrap().get("id"), Some(&Value::Int(1)));
        match &commit[0] {
            Output::Commit {
                end_lsn,
                counts,
                xid,
                ..
            } => {
                assert_eq!(*end_lsn, Lsn(0x530));
                assert_eq!(*xid, 771);
                assert_eq!(counts, &vec![("public.t".to_string(), 3)]);
            }
            other => panic!("{other:?}"),
        }
        assert!(!a.in_transaction());
    }

    #[test]
    fn a_key_change_becomes_delete_then_insert() {
        let mut a = Assembler::new("app");
        a.set_relation(1, rel());
        a.push(
            Message::Begin(Begin {
                final_lsn: Lsn(0x900),
                commit_time: PgTimestamp(0),
                xid: 5,
            }),
            Lsn(0x800),
            0,
        )
        .unwrap();
        let out = events(
            a.push(
                Message::Update(Update {
                    xid: None,
                    relation: 1,
                    old: Some(OldTuple::Key(vec![t("1"), Column::Null, Column::Null])),
                    new: vec![t("2"), t("x"), t("3")],
                }),
                Lsn(0x810),
                0,
            )
            .unwrap(),
        );
        assert_eq!(out.len(), 2);
        assert_eq!((out[0].op, out[1].op), (Op::Delete, Op::Insert));
        assert_eq!(out[0].key().unwrap().get("id"), Some(&Value::Int(1)));
        assert!(out[0].after.is_none() && out[1].before.is_none());
        assert_eq!(out[1].key().unwrap().get("id"), Some(&Value::Int(2)));
        let ordinals: Vec<u64> = out
            .iter()
            .map(|e| e.transaction.as_ref().unwrap().ordinal)
            .collect();
        assert_eq!(ordinals, vec![1, 2]);
        // The same key in the old tuple (a FULL identity update) stays an update.
        let same = events(
            a.push(
                Message::Update(Update {
                    xid: None,
                    relation: 1,
                    old: Some(OldTuple::Full(vec![t("2"), t("x"), t("3")])),
                    new: vec![t("2"), t("y"), t("3")],
                }),
                Lsn(0x820),
                0,
            )
            .unwrap(),
        );
        assert_eq!(same[0].op, Op::Update);
    }

    #[test]
    fn truncate_and_errors() {
        let mut a = Assembler::new("app");
        a.set_relation(1, rel());
        let change = |rel| {
            Message::Insert(Insert {
                xid: None,
                relation: rel,
                new: vec![t("1"), t("x"), t("1")],
            })
        };
        // Outside a transaction.
        assert!(a.push(change(1), Lsn(1), 0).is_err());
        let begin = || {
            Message::Begin(Begin {
                final_lsn: Lsn(9),
                commit_time: PgTimestamp(0),
                xid: 1,
            })
        };
        a.push(begin(), Lsn(1), 0).unwrap();
        assert!(a.push(begin(), Lsn(1), 0).is_err(), "nested Begin");
        // Unknown relation.
        let err = a.push(change(2), Lsn(2), 0).unwrap_err();
        assert!(err.message.contains("relation 2"), "{err}");
        // Bad value names table, column and position.
        let err = a
            .push(
                Message::Insert(Insert {
                    xid: None,
                    relation: 1,
                    new: vec![t("x"), t("x"), t("1")],
                }),
                Lsn(3),
                0,
            )
            .unwrap_err();
        assert!(err.message.contains("public.t.id at 0/9@0/3"), "{err}");
        // Missing key in an old tuple.
        let err = a
            .push(
                Message::Delete(Delete {
                    xid: None,
                    relation: 1,
                    old: OldTuple::Key(vec![Column::UnchangedToast, Column::Null, Column::Null]),
                }),
                Lsn(4),
                0,
            )
            .unwrap_err();
        assert!(
            err.message.contains("key column `id` was not sent"),
            "{err}"
        );
        let out = a
            .push(
                Message::Truncate(Truncate {
                    xid: None,
                    options: 0,
                    relations: vec![1],
                }),
                Lsn(5),
                0,
            )
            .unwrap();
        let e = &events(out)[0];
        assert_eq!(
            (e.op, e.before.is_none(), e.after.is_none()),
            (Op::Truncate, true, true)
        );
        let err = a.push(Message::StreamStop, Lsn(6), 0).unwrap_err();
        assert!(err.message.contains("Stream Stop"), "{err}");
    }
}
