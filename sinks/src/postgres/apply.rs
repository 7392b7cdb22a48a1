//! One batch: prepare (DDL, values to text), then one transaction.
//!
//! Invariants (see also the module doc of [`super`]):
//! - Values are converted to text before `BEGIN`; a row whose value the
//!   target cannot hold is rejected there and never sent.
//! - The first attempt is set-based; if the server refuses a statement with
//!   a data error, the whole transaction is rolled back (nothing of it
//!   remains) and the batch is redone row by row under savepoints, so the
//!   committed result is "every row but the rejected ones" either way.
//! - The offsets are the transaction's first statement, a compare-and-set
//!   against what this sink last read or wrote ([`crate::fence`]): a batch
//!   whose partitions another worker moved fails as fenced before any row
//!   is written. Then the rows, then `COMMIT`.

use std::collections::HashMap;

use rowlog_schemas::{Op, SourceKind, Value};
use tokio_postgres::Client;
use tokio_postgres::types::ToSql;

use super::PgSink;
use super::ddl::{self, Policy, TableInfo};
use super::errors::{self, Class};
use super::sql::{self, Col, Target};
use super::types::value_to_pg_text;
use crate::collapse::{Action, Segment, TableActions, collapse};
use crate::contract::{Applied, Change, LogOffset, Rejected, SinkError};
use crate::fence;

/// One ordered step of the transaction.
enum Step {
    /// `TRUNCATE` (skipped when the target does not exist).
    Truncate(Target),
    /// Deletes and upserts of one table.
    Rows(Rows),
}

struct Rows {
    target: Target,
    /// (name, cast type) per column of the change's schema.
    cols: Vec<(String, String)>,
    /// Positions of the key columns in `cols`.
    key: Vec<usize>,
    /// Apply unit by unit in order (table with a secondary unique index).
    one_by_one: bool,
    units: Vec<Unit>,
}

/// One final action (or one change, in log-order mode), as text.
struct Unit {
    delete: bool,
    /// Positions in `Rows::cols` of the values in `texts` (the key for a
    /// delete; the present columns for an upsert).
    present: Vec<usize>,
    texts: Vec<Option<String>>,
    indices: Vec<usize>,
    /// `id=1, b="x"`, for messages.
    key: String,
}

enum RunError {
    /// A data/constraint error in set mode: redo row by row.
    Data(String),
    Sink(SinkError),
}

/// Where rows of `table` go (see [`PgSink::target`]).
pub(super) fn target_of(
    map: &std::collections::BTreeMap<String, String>,
    table: &rowlog_schemas::TableId,
) -> Target {
    match map.get(&table.to_string()) {
        Some(t) => Target::parse(t),
        None => Target {
            schema: table.namespace.clone(),
            name: table.name.clone(),
        },
    }
}

fn source_of(ta: &TableActions, changes: &[Change]) -> SourceKind {
    ta.finals
        .first()
        .and_then(|f| f.indices.first())
        .and_then(|&i| changes.get(i))
        .map_or(SourceKind::Postgres, |c| c.event.position.kind())
}

/// A single change as an action (log-order mode).
fn change_action(change: &Change) -> Result<Action, SinkError> {
    let event = &change.event;
    let schema = &change.schema;
    let missing = || {
        SinkError::permanent(format!(
            "{:?} at {} of table {} has no row image or key",
            event.op, event.position, event.table
        ))
    };
    Ok(match event.op {
        Op::Delete => {
            let key = event.key().ok_or_else(missing)?;
            Action::Delete(
                schema
                    .key
                    .iter()
                    .map(|k| key.get(k).cloned().unwrap_or(Value::Absent))
                    .collect(),
            )
        }
        _ => {
            let after = event.after.as_ref().ok_or_else(missing)?;
            Action::Upsert(
                schema
                    .columns
                    .iter()
                    .map(|c| after.get(&c.name).cloned().unwrap_or(Value::Absent))
                    .collect(),
            )
        }
    })
}

fn key_text(names: &[&str], values: &[&Value]) -> String {
    names
        .iter()
        .zip(values)
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn prepare_rows(
    ta: &TableActions,
    target: Target,
    info: &TableInfo,
    changes: &[Change],
    rejected: &mut Vec<Rejected>,
) -> Result<Rows, SinkError> {
    let schema = &ta.schema;
    let mut cols = Vec::with_capacity(schema.columns.len());
    let mut types = Vec::with_capacity(schema.columns.len());
    for c in &schema.columns {
        let col = info.columns.get(&c.name).ok_or_else(|| {
            SinkError::permanent(format!(
                "target table {target} lacks column `{}`; add it or set `auto_evolve: true`",
                c.name
            ))
        })?;
        cols.push((c.name.clone(), col.cast.clone()));
        types.push(col.ty.clone());
    }
    let key: Vec<usize> = schema
        .key
        .iter()
        .filter_map(|k| schema.columns.iter().position(|c| &c.name == k))
        .collect();
    let key_names: Vec<&str> = schema.key.iter().map(String::as_str).collect();
    let one_by_one = info.unique_secondary;
    let actions: Vec<(Action, Vec<usize>)> = if one_by_one {
        let mut indices: Vec<usize> = ta.finals.iter().flat_map(|f| f.indices.clone()).collect();
        indices.sort_unstable();
        indices
            .into_iter()
            .filter_map(|i| changes.get(i).map(|c| (i, c)))
            .map(|(i, c)| change_action(c).map(|a| (a, vec![i])))
            .collect::<Result<_, _>>()?
    } else {
        ta.finals
            .iter()
            .map(|f| (f.action.clone(), f.indices.clone()))
            .collect()
    };
    let mut units = Vec::with_capacity(actions.len());
    for (action, indices) in actions {
        let (delete, present, values): (bool, Vec<usize>, Vec<&Value>) = match &action {
            Action::Delete(k) => (true, key.clone(), k.iter().collect()),
            Action::Upsert(vals) => {
                let present: Vec<usize> =
                    (0..vals.len()).filter(|&i| !vals[i].is_absent()).collect();
                let values = present.iter().map(|&i| &vals[i]).collect();
                (false, present, values)
            }
        };
        let key_desc = match &action {
            Action::Delete(k) => key_text(&key_names, &k.iter().collect::<Vec<_>>()),
            Action::Upsert(vals) => key_text(
                &key_names,
                &key.iter().filter_map(|&i| vals.get(i)).collect::<Vec<_>>(),
            ),
        };
        let mut texts = Vec::with_capacity(values.len());
        let mut failure = None;
        for (&pos, v) in present.iter().zip(&values) {
            match value_to_pg_text(v, &types[pos]) {
                Ok(t) => texts.push(t),
                Err(reason) => {
                    failure = Some(format!(
                        "{target}: column `{}` of the row with key ({key_desc}): {reason}",
                        cols[pos].0
                    ));
                    break;
                }
            }
        }
        match failure {
            Some(reason) => rejected.extend(indices.iter().map(|&index| Rejected {
                index,
                reason: reason.clone(),
            })),
            None => units.push(Unit {
                delete,
                present,
                texts,
                indices,
                key: key_desc,
            }),
        }
    }
    Ok(Rows {
        target,
        cols,
        key,
        one_by_one,
        units,
    })
}

async fn exec(
    client: &Client,
    stmt: &str,
    params: &[Vec<Option<String>>],
) -> Result<u64, tokio_postgres::Error> {
    let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
    client.execute(stmt, &refs).await
}

/// Runs `units` of `rows` set-based: deletes, then upserts grouped by their
/// present columns.
async fn exec_units(
    client: &Client,
    rows: &Rows,
    units: &[&Unit],
) -> Result<(), tokio_postgres::Error> {
    let col = |i: usize| Col {
        name: &rows.cols[i].0,
        cast: &rows.cols[i].1,
    };
    let deletes: Vec<&&Unit> = units.iter().filter(|u| u.delete).collect();
    if !deletes.is_empty() {
        let key: Vec<Col<'_>> = rows.key.iter().map(|&i| col(i)).collect();
        let params: Vec<Vec<Option<String>>> = (0..key.len())
            .map(|k| {
                deletes
                    .iter()
                    .map(|u| u.texts.get(k).cloned().flatten())
                    .collect()
            })
            .collect();
        exec(client, &sql::delete(&rows.target, &key), &params).await?;
    }
    let mut groups: Vec<(&[usize], Vec<&Unit>)> = Vec::new();
    let mut by_mask: HashMap<&[usize], usize> = HashMap::new();
    for u in units.iter().filter(|u| !u.delete) {
        match by_mask.get(u.present.as_slice()) {
            Some(&g) => groups[g].1.push(u),
            None => {
                by_mask.insert(&u.present, groups.len());
                groups.push((&u.present, vec![u]));
            }
        }
    }
    let key_names: Vec<&str> = rows.key.iter().map(|&i| rows.cols[i].0.as_str()).collect();
    for (present, members) in groups {
        let cols: Vec<Col<'_>> = present.iter().map(|&i| col(i)).collect();
        let params: Vec<Vec<Option<String>>> = (0..cols.len())
            .map(|j| {
                members
                    .iter()
                    .map(|u| u.texts.get(j).cloned().flatten())
                    .collect()
            })
            .collect();
        exec(
            client,
            &sql::upsert(&rows.target, &cols, &key_names),
            &params,
        )
        .await?;
    }
    Ok(())
}

fn fail(e: &tokio_postgres::Error, place: &str) -> RunError {
    RunError::Sink(errors::sink_error(e, place))
}

/// The transaction body; `row_mode` isolates every unit in a savepoint.
async fn body(
    client: &Client,
    steps: &[Step],
    row_mode: bool,
    rejected: &mut Vec<Rejected>,
) -> Result<(), RunError> {
    for step in steps {
        match step {
            Step::Truncate(target) => {
                let place = target.to_string();
                client
                    .batch_execute(&format!("TRUNCATE {}", target.sql()))
                    .await
                    .map_err(|e| fail(&e, &place))?;
            }
            Step::Rows(rows) => {
                let place = rows.target.to_string();
                if !row_mode && !rows.one_by_one {
                    let all: Vec<&Unit> = rows.units.iter().collect();
                    exec_units(client, rows, &all)
                        .await
                        .map_err(|e| set_error(&e, &place))?;
                    continue;
                }
                for unit in &rows.units {
                    if !row_mode {
                        exec_units(client, rows, &[unit])
                            .await
                            .map_err(|e| set_error(&e, &place))?;
                        continue;
                    }
                    client
                        .batch_execute("SAVEPOINT rowlog_row")
                        .await
                        .map_err(|e| fail(&e, &place))?;
                    match exec_units(client, rows, &[unit]).await {
                        Ok(()) => client
                            .batch_execute("RELEASE SAVEPOINT rowlog_row")
                            .await
                            .map_err(|e| fail(&e, &place))?,
                        Err(e) if errors::classify(&e) == Class::Data => {
                            client
                                .batch_execute("ROLLBACK TO SAVEPOINT rowlog_row")
                                .await
                                .map_err(|e| fail(&e, &place))?;
                            let reason = format!(
                                "{place}: PostgreSQL rejected the row with key ({}): {}",
                                unit.key,
                                errors::describe(&e)
                            );
                            rejected.extend(unit.indices.iter().map(|&index| Rejected {
                                index,
                                reason: reason.clone(),
                            }));
                        }
                        Err(e) => return Err(fail(&e, &place)),
                    }
                }
            }
        }
    }
    Ok(())
}

fn set_error(e: &tokio_postgres::Error, place: &str) -> RunError {
    if errors::classify(e) == Class::Data {
        RunError::Data(format!("{place}: {}", errors::describe(e)))
    } else {
        fail(e, place)
    }
}

impl PgSink {
    pub(super) async fn apply_batch(
        &mut self,
        changes: &[Change],
        offsets: &[LogOffset],
    ) -> Result<Applied, SinkError> {
        let plan = collapse(changes)?;
        let expected: Vec<Option<i64>> = offsets.iter().map(|o| self.fence.expected(o)).collect();
        self.ensure_client().await?;
        let client = self
            .client
            .as_ref()
            .ok_or_else(|| SinkError::transient("not connected"))?;
        let policy = Policy {
            auto_create: self.cfg.auto_create,
            auto_evolve: self.cfg.auto_evolve,
        };
        // DDL first, outside the data transaction (see `ddl`).
        for seg in &plan.segments {
            if let Segment::Rows(tables) = seg {
                for ta in tables {
                    let target = target_of(&self.cfg.table_map, &ta.table);
                    let source = source_of(ta, changes);
                    ddl::ensure(
                        client,
                        &target,
                        &ta.schema,
                        source,
                        policy,
                        &mut self.tables,
                    )
                    .await?;
                }
            }
        }
        let mut rejected = Vec::new();
        let mut steps = Vec::with_capacity(plan.segments.len());
        for seg in &plan.segments {
            match seg {
                Segment::Truncate(table, _) => {
                    let target = target_of(&self.cfg.table_map, table);
                    let exists = self.tables.contains_key(&target)
                        || ddl::load(client, &target).await?.is_some();
                    if exists {
                        steps.push(Step::Truncate(target));
                    }
                }
                Segment::Rows(tables) => {
                    for ta in tables {
                        let target = target_of(&self.cfg.table_map, &ta.table);
                        let info = self.tables.get(&target).ok_or_else(|| {
                            SinkError::transient(format!("{target}: catalog cache lost"))
                        })?;
                        steps.push(Step::Rows(prepare_rows(
                            ta,
                            target,
                            info,
                            changes,
                            &mut rejected,
                        )?));
                    }
                }
            }
        }
        match run(
            client,
            &self.name,
            &self.offsets,
            &steps,
            offsets,
            &expected,
            false,
            self.allow_rejects,
            &mut rejected,
        )
        .await
        {
            Ok(()) => {}
            Err(RunError::Data(why)) => {
                tracing::warn!(sink = %self.name, "a row was refused ({why}); redoing the batch row by row");
                run(
                    client,
                    &self.name,
                    &self.offsets,
                    &steps,
                    offsets,
                    &expected,
                    true,
                    self.allow_rejects,
                    &mut rejected,
                )
                .await
                .map_err(|e| match e {
                    RunError::Data(m) => SinkError::permanent(m),
                    RunError::Sink(s) => s,
                })?;
            }
            Err(RunError::Sink(e)) => return Err(e),
        }
        self.fence.committed(offsets);
        rejected.sort_by_key(|r| r.index);
        Ok(Applied {
            changes: changes.len().saturating_sub(rejected.len()),
            rejected,
        })
    }
}

/// `BEGIN`, the offsets (compare-and-set), the steps, `COMMIT`; `ROLLBACK`
/// on any error.
#[allow(clippy::too_many_arguments)]
async fn run(
    client: &Client,
    sink: &str,
    offsets_table: &Target,
    steps: &[Step],
    offsets: &[LogOffset],
    expected: &[Option<i64>],
    row_mode: bool,
    allow_rejects: bool,
    rejected: &mut Vec<Rejected>,
) -> Result<(), RunError> {
    client
        .batch_execute("BEGIN")
        .await
        .map_err(|e| fail(&e, "BEGIN"))?;
    let before = rejected.len();
    let result = async {
        // The offsets first: the compare-and-set fences off another worker
        // before any row is written, and holds the partitions' row locks.
        if !offsets.is_empty() {
            let place = offsets_table.to_string();
            let topics: Vec<&str> = offsets.iter().map(|o| o.topic.as_str()).collect();
            let partitions: Vec<i32> = offsets.iter().map(|o| o.partition).collect();
            let nexts: Vec<i64> = offsets.iter().map(|o| o.next).collect();
            let stored = client
                .query(
                    &sql::cas_offsets(offsets_table),
                    &[&sink, &topics, &partitions, &nexts, &expected],
                )
                .await
                .map_err(|e| fail(&e, &place))?;
            if stored.len() != offsets.len() {
                let done: Vec<(String, i32)> = stored
                    .iter()
                    .filter_map(|r| Some((r.try_get(0).ok()?, r.try_get(1).ok()?)))
                    .collect();
                let moved: Vec<&LogOffset> = offsets
                    .iter()
                    .filter(|o| !done.iter().any(|(t, p)| *t == o.topic && *p == o.partition))
                    .collect();
                return Err(RunError::Sink(SinkError::fenced(format!(
                    "{place}: the stored offsets of {} are not the ones this worker read: another worker applied them; nothing of this batch was applied",
                    fence::describe(&moved)
                ))));
            }
        }
        body(client, steps, row_mode, rejected).await?;
        if let (false, Some(first)) = (allow_rejects, rejected.first()) {
            return Err(RunError::Sink(SinkError::permanent(format!(
                "{} (on_error: stop: nothing of this batch was applied)",
                first.reason
            ))));
        }
        client.batch_execute("COMMIT").await.map_err(|e| {
            if row_mode {
                fail(&e, "COMMIT")
            } else {
                set_error(&e, "COMMIT")
            }
        })
    }
    .await;
    if result.is_err() {
        rejected.truncate(before);
        // Best effort: after a lost connection there is nothing to roll back.
        let _ = client.batch_execute("ROLLBACK").await;
    }
    result
}
