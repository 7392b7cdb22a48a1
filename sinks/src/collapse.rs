//! Collapsing a batch of changes into one final action per key, for
//! set-based apply.
//!
//! Invariants:
//! - Applying a [`Plan`] leaves every key exactly as applying the changes one
//!   by one in order would: per key, changes fold in order (an insert or
//!   snapshot read sets the whole row; an update overlays the columns it
//!   carries on what the batch already set, and leaves absent columns to the
//!   target; a delete removes the row; a delete then an insert is the
//!   insert's row).
//! - Different keys are independent, so within a segment all deletes and
//!   upserts of a table may run as a few set-based statements in any order.
//! - Segments keep what must stay ordered: a truncate, and a change of a
//!   table's schema version (the target table may have to evolve first),
//!   end the current segment; segments apply in order.
//! - Every final action remembers the batch indices of the changes folded
//!   into it, so a target's rejection can name them all (none of them took
//!   effect).

use std::collections::HashMap;
use std::sync::Arc;

use rowlog_schemas::encode::json;
use rowlog_schemas::{Op, TableId, TableSchema, Value};

use crate::contract::{Change, SinkError};

/// The final state of one key in a segment.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Insert or update the row: values in schema column order;
    /// [`Value::Absent`] means "leave the target's value as it is".
    Upsert(Vec<Value>),
    /// Delete the row with these key values (in key order).
    Delete(Vec<Value>),
}

/// One key's final action and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Final {
    /// What to do.
    pub action: Action,
    /// Batch indices of the changes folded into it, in order.
    pub indices: Vec<usize>,
}

/// The final actions of one table in one segment.
#[derive(Debug, Clone)]
pub struct TableActions {
    /// Which table.
    pub table: TableId,
    /// The schema of every row in `finals`.
    pub schema: Arc<TableSchema>,
    /// One entry per key, in the order keys first appeared.
    pub finals: Vec<Final>,
}

/// One ordered step of a plan.
#[derive(Debug, Clone)]
pub enum Segment {
    /// Final actions per table (tables in first-appearance order).
    Rows(Vec<TableActions>),
    /// Empty the table (batch index of the truncate).
    Truncate(TableId, usize),
}

/// A batch, collapsed.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Steps to apply in order.
    pub segments: Vec<Segment>,
}

#[derive(Default)]
struct Open {
    tables: Vec<TableActions>,
    /// table index → (encoded key → index into finals)
    keys: Vec<HashMap<Vec<u8>, usize>>,
    by_table: HashMap<TableId, usize>,
}

impl Open {
    fn close(self, plan: &mut Plan) {
        if !self.tables.is_empty() {
            plan.segments.push(Segment::Rows(self.tables));
        }
    }
}

fn position(schema: &TableSchema, name: &str) -> Option<usize> {
    schema.columns.iter().position(|c| c.name == name)
}

/// The row's values in schema order (absent where the image has no value).
fn values(schema: &TableSchema, row: &rowlog_schemas::Row) -> Vec<Value> {
    schema
        .columns
        .iter()
        .map(|c| row.get(&c.name).cloned().unwrap_or(Value::Absent))
        .collect()
}

/// Collapses `changes` (in log order) into a [`Plan`].
pub fn collapse(changes: &[Change]) -> Result<Plan, SinkError> {
    let mut plan = Plan::default();
    let mut open = Open::default();
    for (index, change) in changes.iter().enumerate() {
        let event = &change.event;
        let schema = &change.schema;
        if event.op == Op::Truncate {
            std::mem::take(&mut open).close(&mut plan);
            plan.segments
                .push(Segment::Truncate(event.table.clone(), index));
            continue;
        }
        let t = match open.by_table.get(&event.table) {
            // Records of one table version share one schema (the decoder's
            // cache), so the pointer answers without hashing the schema.
            Some(&t)
                if Arc::ptr_eq(&open.tables[t].schema, schema)
                    || open.tables[t].schema.version() == schema.version() =>
            {
                t
            }
            Some(_) => {
                // The table's schema changed inside the batch: apply what
                // came before under the old schema first.
                std::mem::take(&mut open).close(&mut plan);
                new_table(&mut open, event.table.clone(), schema.clone())
            }
            None => new_table(&mut open, event.table.clone(), schema.clone()),
        };
        let key_row = event.key().ok_or_else(|| {
            SinkError::permanent(format!(
                "change at {} of table {} has no key (the table has no key columns or the image lacks them); a follower can only apply keyed changes",
                event.position, event.table
            ))
        })?;
        let key_bytes = json::encode_key(&key_row).map_err(|e| {
            SinkError::permanent(format!("key of the change at {}: {e}", event.position))
        })?;
        let key_values: Vec<Value> = schema
            .key
            .iter()
            .map(|k| key_row.get(k).cloned().unwrap_or(Value::Absent))
            .collect();
        let image = |row: &Option<rowlog_schemas::Row>| -> Result<Vec<Value>, SinkError> {
            row.as_ref().map(|r| values(schema, r)).ok_or_else(|| {
                SinkError::permanent(format!(
                    "{:?} at {} of table {} has no row image",
                    event.op, event.position, event.table
                ))
            })
        };
        let next = match event.op {
            Op::Insert | Op::Read => Action::Upsert(image(&event.after)?),
            Op::Update => Action::Upsert(image(&event.after)?),
            Op::Delete => Action::Delete(key_values),
            Op::Truncate => continue,
        };
        let slot = open.keys[t].get(&key_bytes).copied();
        match slot {
            None => {
                let finals = &mut open.tables[t].finals;
                open.keys[t].insert(key_bytes, finals.len());
                finals.push(Final {
                    action: next,
                    indices: vec![index],
                });
            }
            Some(i) => {
                let f = &mut open.tables[t].finals[i];
                f.indices.push(index);
                f.action = match (
                    std::mem::replace(&mut f.action, Action::Delete(Vec::new())),
                    next,
                ) {
                    // An update overlays what the batch already set.
                    (Action::Upsert(mut prev), Action::Upsert(after)) if event.op == Op::Update => {
                        for (p, a) in prev.iter_mut().zip(after) {
                            if a != Value::Absent {
                                *p = a;
                            }
                        }
                        Action::Upsert(prev)
                    }
                    (_, next) => next,
                };
            }
        }
    }
    open.close(&mut plan);
    Ok(plan)
}

fn new_table(open: &mut Open, table: TableId, schema: Arc<TableSchema>) -> usize {
    let t = open.tables.len();
    open.by_table.insert(table.clone(), t);
    open.keys.push(HashMap::new());
    open.tables.push(TableActions {
        table,
        schema,
        finals: Vec::new(),
    });
    t
}

/// Index of column `name` in `schema` (for sinks building statements).
pub fn column_index(schema: &TableSchema, name: &str) -> Option<usize> {
    position(schema, name)
}

#[cfg(test)]
mod tests {
    use rowlog_schemas::position::{Lsn, PgPosition};
    use rowlog_schemas::{ColumnSchema, Position, Row, ValueKind};

    use super::*;

    fn schema(cols: &[&str]) -> Arc<TableSchema> {
        Arc::new(
            TableSchema::new(
                TableId::new("public", "t"),
                cols.iter()
                    .map(|c| ColumnSchema {
                        name: (*c).into(),
                        kind: ValueKind::Int,
                        source_type: "int".into(),
                        nullable: *c != "id",
                    })
                    .collect(),
                vec!["id".into()],
            )
            .unwrap(),
        )
    }

    fn row(vals: &[(&str, Value)]) -> Row {
        vals.iter()
            .map(|(n, v)| ((*n).to_string(), v.clone()))
            .collect()
    }

    fn change(s: &Arc<TableSchema>, op: Op, before: Option<Row>, after: Option<Row>) -> Change {
        Change {
            event: rowlog_schemas::ChangeEvent {
                source: "app".into(),
                table: s.table.clone(),
                op,
                key_columns: s.key.clone(),
                before,
                after,
                position: Position::Postgres(PgPosition::new(Lsn(1), Lsn(1))),
                transaction: None,
                schema_version: s.version(),
                ts_ms: 0,
            },
            schema: s.clone(),
        }
    }

    fn finals(plan: &Plan) -> Vec<(Action, Vec<usize>)> {
        plan.segments
            .iter()
            .flat_map(|s| match s {
                Segment::Rows(t) => t
                    .iter()
                    .flat_map(|t| {
                        t.finals
                            .iter()
                            .map(|f| (f.action.clone(), f.indices.clone()))
                    })
                    .collect::<Vec<_>>(),
                Segment::Truncate(..) => vec![],
            })
            .collect()
    }

    #[test]
    fn per_key_last_write_wins_and_updates_overlay() {
        let s = schema(&["id", "a", "b"]);
        let i = |id, a, b| {
            Some(row(&[
                ("id", Value::Int(id)),
                ("a", Value::Int(a)),
                ("b", Value::Int(b)),
            ]))
        };
        let changes = vec![
            change(&s, Op::Insert, None, i(1, 10, 20)),
            change(&s, Op::Insert, None, i(2, 11, 21)),
            // b absent: keep what the batch set for it.
            change(
                &s,
                Op::Update,
                None,
                Some(row(&[
                    ("id", Value::Int(1)),
                    ("a", Value::Int(12)),
                    ("b", Value::Absent),
                ])),
            ),
            change(&s, Op::Delete, Some(row(&[("id", Value::Int(2))])), None),
        ];
        let plan = collapse(&changes).unwrap();
        assert_eq!(
            finals(&plan),
            vec![
                (
                    Action::Upsert(vec![Value::Int(1), Value::Int(12), Value::Int(20)]),
                    vec![0, 2]
                ),
                (Action::Delete(vec![Value::Int(2)]), vec![1, 3]),
            ]
        );
    }

    #[test]
    fn delete_then_insert_is_the_insert_and_lone_updates_keep_absent() {
        let s = schema(&["id", "a", "b"]);
        let changes = vec![
            change(&s, Op::Delete, Some(row(&[("id", Value::Int(1))])), None),
            change(
                &s,
                Op::Insert,
                None,
                Some(row(&[
                    ("id", Value::Int(1)),
                    ("a", Value::Int(5)),
                    ("b", Value::Null),
                ])),
            ),
            change(
                &s,
                Op::Update,
                None,
                Some(row(&[("id", Value::Int(3)), ("a", Value::Int(7))])),
            ),
        ];
        let plan = collapse(&changes).unwrap();
        assert_eq!(
            finals(&plan),
            vec![
                (
                    Action::Upsert(vec![Value::Int(1), Value::Int(5), Value::Null]),
                    vec![0, 1]
                ),
                (
                    Action::Upsert(vec![Value::Int(3), Value::Int(7), Value::Absent]),
                    vec![2]
                ),
            ]
        );
    }

    #[test]
    fn truncates_and_schema_changes_split_segments() {
        let s1 = schema(&["id", "a"]);
        let s2 = schema(&["id", "a", "c"]);
        let changes = vec![
            change(
                &s1,
                Op::Insert,
                None,
                Some(row(&[("id", Value::Int(1)), ("a", Value::Int(1))])),
            ),
            change(&s1, Op::Truncate, None, None),
            change(
                &s1,
                Op::Insert,
                None,
                Some(row(&[("id", Value::Int(2)), ("a", Value::Int(2))])),
            ),
            change(
                &s2,
                Op::Insert,
                None,
                Some(row(&[
                    ("id", Value::Int(3)),
                    ("a", Value::Int(3)),
                    ("c", Value::Int(3)),
                ])),
            ),
        ];
        let plan = collapse(&changes).unwrap();
        let kinds: Vec<String> = plan
            .segments
            .iter()
            .map(|s| match s {
                Segment::Rows(t) => format!("rows{}", t[0].finals.len()),
                Segment::Truncate(_, i) => format!("truncate@{i}"),
            })
            .collect();
        assert_eq!(kinds, vec!["rows1", "truncate@1", "rows1", "rows1"]);
    }

    #[test]
    fn keyless_changes_are_refused() {
        let s = Arc::new(
            TableSchema::new(
                TableId::new("public", "k"),
                vec![ColumnSchema {
                    name: "a".into(),
                    kind: ValueKind::Int,
                    source_type: "int".into(),
                    nullable: true,
                }],
                vec![],
            )
            .unwrap(),
        );
        let e = collapse(&[change(
            &s,
            Op::Insert,
            None,
            Some(row(&[("a", Value::Int(1))])),
        )])
        .unwrap_err();
        assert!(!e.transient && e.message.contains("no key"), "{e}");
    }
}
