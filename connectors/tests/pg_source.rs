//! The PostgreSQL source end to end against a real server, writing into an
//! in-memory emitter (the Kafka emitter is tested in the pipeline crate).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rowlog_config::{ConnUrl, PostgresSource};
use rowlog_connectors::emit::{Emitter, TransactionEnd};
use rowlog_connectors::error::SourceError;
use rowlog_connectors::postgres::source::{PgSource, RunEnd};
use rowlog_schemas::position::Lsn;
use rowlog_schemas::{ChangeEvent, Op, TableSchema, Value};
use rowlog_tests::postgres::PostgresServer;
use tokio::sync::watch;

/// Everything emitted, and which marks were made durable.
#[derive(Default)]
struct Shared {
    events: Vec<ChangeEvent>,
    ends: Vec<TransactionEnd<Lsn>>,
    /// The durable state records (survive a restart of the source).
    state: std::collections::BTreeMap<String, String>,
}

struct MemEmitter {
    shared: Arc<Mutex<Shared>>,
    /// When false, nothing ever becomes durable (a log that never acks).
    acks: bool,
    /// Fail (like a crash) on this state save, counting from 1.
    fail_on_save: Option<usize>,
    saves: usize,
    last_mark: Option<Lsn>,
}

impl Emitter<Lsn> for MemEmitter {
    async fn emit(
        &mut self,
        event: ChangeEvent,
        _schema: &Arc<TableSchema>,
    ) -> Result<(), SourceError> {
        self.shared.lock().unwrap().events.push(event);
        Ok(())
    }
    async fn end_transaction(&mut self, end: TransactionEnd<Lsn>) -> Result<(), SourceError> {
        self.last_mark = Some(end.mark);
        self.shared.lock().unwrap().ends.push(end);
        Ok(())
    }
    fn checkpoint(&mut self, mark: Lsn) {
        self.last_mark = Some(mark);
    }
    fn durable(&mut self) -> Result<Option<Lsn>, SourceError> {
        Ok(if self.acks { self.last_mark } else { None })
    }
    fn idle(&self) -> bool {
        self.acks
    }
    async fn flush(&mut self, _timeout: Duration) -> Result<Option<Lsn>, SourceError> {
        self.durable()
    }
    async fn load_state(
        &mut self,
    ) -> Result<std::collections::BTreeMap<String, String>, SourceError> {
        Ok(self.shared.lock().unwrap().state.clone())
    }
    async fn save_state(&mut self, key: &str, value: Option<String>) -> Result<(), SourceError> {
        self.saves += 1;
        if self.fail_on_save == Some(self.saves) {
            return Err(SourceError::permanent("simulated crash"));
        }
        // Like the log: a state record is only kept if it became durable.
        if self.acks {
            let mut s = self.shared.lock().unwrap();
            match value {
                Some(v) => s.state.insert(key.to_string(), v),
                None => s.state.remove(key),
            };
        }
        Ok(())
    }
}

fn config(pg: &PostgresServer, db: &str, snapshot: &str) -> PostgresSource {
    let yaml = format!(
        "sources:\n  - name: app\n    postgres:\n      url: {}\n      snapshot: {snapshot}\n      tables: {{ include: [\"public.*\"] }}\nlog:\n  kafka: {{ brokers: [\"127.0.0.1:9092\"] }}\n",
        pg.url(db)
    );
    let cfg = rowlog_config::load_str(&yaml, "test.yaml", &rowlog_config::ProcessEnv).unwrap();
    match cfg.sources.into_iter().next().unwrap().kind {
        rowlog_config::SourceKind::Postgres(p) => p,
        _ => unreachable!(),
    }
}

struct Running {
    shared: Arc<Mutex<Shared>>,
    progress: watch::Receiver<rowlog_connectors::postgres::source::Progress>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<Result<RunEnd, SourceError>>,
}

fn start(cfg: PostgresSource, acks: bool) -> Running {
    start_with(cfg, acks, Arc::new(Mutex::new(Shared::default())), None)
}

fn start_with(
    cfg: PostgresSource,
    acks: bool,
    shared: Arc<Mutex<Shared>>,
    fail_on_save: Option<usize>,
) -> Running {
    let (stop, mut rx) = watch::channel(false);
    let mut emitter = MemEmitter {
        shared: shared.clone(),
        acks,
        fail_on_save,
        saves: 0,
        last_mark: None,
    };
    let source = PgSource::new("app", cfg);
    let progress = source.progress();
    let task = tokio::spawn(async move { source.run_once(&mut emitter, &mut rx).await });
    Running {
        shared,
        progress,
        stop,
        task,
    }
}

async fn wait_for(shared: &Arc<Mutex<Shared>>, what: &str, f: impl Fn(&Shared) -> bool) {
    for _ in 0..300 {
        if f(&shared.lock().unwrap()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn confirmed_flush(c: &tokio_postgres::Client) -> Lsn {
    let s: String = c
        .query_one("SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = 'rowlog_app'", &[])
        .await
        .unwrap()
        .get(0);
    s.parse().unwrap()
}

#[tokio::test]
async fn snapshot_then_stream_then_clean_shutdown() -> anyhow::Result<()> {
    let pg = PostgresServer::start().await?;
    pg.create_database("app").await?;
    let c = pg.connect("app").await?;
    c.batch_execute(
        "CREATE TABLE items (id int8 PRIMARY KEY, name text, price numeric(10,2), big text);
         ALTER TABLE items ALTER COLUMN big SET STORAGE EXTERNAL;
         INSERT INTO items SELECT i, 'item ' || i, i * 1.25, NULL FROM generate_series(1, 12000) i;
         CREATE TABLE quiet_other (id int PRIMARY KEY);",
    )
    .await?;
    let run = start(config(&pg, "app", "initial"), true);
    wait_for(&run.shared, "12000 snapshot rows", |s| {
        s.events.iter().filter(|e| e.op == Op::Read).count() == 12000
    })
    .await;

    // Changes after the snapshot arrive in commit order with positions.
    c.batch_execute(
        "BEGIN; INSERT INTO items VALUES (20000, 'new', 9.99, repeat('x', 100000)); UPDATE items SET price = 1.00 WHERE id = 1; COMMIT;
         UPDATE items SET name = 'renamed' WHERE id = 20000;
         DELETE FROM items WHERE id = 2;
         TRUNCATE quiet_other;",
    )
    .await?;
    wait_for(&run.shared, "streamed changes", |s| {
        s.events.len() >= 12000 + 5
    })
    .await;
    {
        let s = run.shared.lock().unwrap();
        let streamed: Vec<&ChangeEvent> = s.events.iter().filter(|e| e.op != Op::Read).collect();
        let ops: Vec<Op> = streamed.iter().map(|e| e.op).collect();
        assert_eq!(
            ops,
            vec![Op::Insert, Op::Update, Op::Update, Op::Delete, Op::Truncate]
        );
        // Unchanged TOAST: the big column was not sent by the update.
        let renamed = streamed[2].after.as_ref().unwrap();
        assert_eq!(renamed.get("name"), Some(&Value::Text("renamed".into())));
        assert!(
            renamed.get("big").unwrap().is_absent(),
            "unchanged TOAST must be absent"
        );
        assert_eq!(
            streamed[1].after.as_ref().unwrap().get("price"),
            Some(&Value::Decimal("1.00".parse()?))
        );
        let deleted = streamed[3].before.as_ref().unwrap();
        assert_eq!(deleted.get("id"), Some(&Value::Int(2)));
        assert_eq!(deleted.get("name"), Some(&Value::Absent));
        // Positions: commit order, and record LSNs rising inside a transaction.
        for w in streamed[..4].windows(2) {
            assert!(
                w[0].position < w[1].position,
                "{} then {}",
                w[0].position,
                w[1].position
            );
        }
        let v0 = streamed[0].position.row_version()?;
        let v1 = streamed[1].position.row_version()?;
        assert!(v0 > 0 && v0 < v1, "{v0} {v1}");
        let snap_version = s.events[0].position.row_version()?;
        assert!(
            snap_version <= v0,
            "snapshot rows must not outrank streamed changes"
        );
        assert_eq!(streamed[0].transaction.as_ref().unwrap().ordinal, 1);
        assert_eq!(streamed[1].transaction.as_ref().unwrap().ordinal, 2);
        // One explicit transaction, then one implicit one for the rest of the batch.
        assert_eq!(s.ends.len(), 2);
        assert_eq!(
            s.ends[1].counts,
            vec![
                ("public.items".to_string(), 2),
                ("public.quiet_other".to_string(), 1)
            ]
        );
    }
    // The slot follows the durable marks.
    let last_end = run.shared.lock().unwrap().ends.last().unwrap().mark;
    for _ in 0..100 {
        if confirmed_flush(&c).await >= last_end {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(confirmed_flush(&c).await >= last_end);
    let lag = run.progress.borrow().lag_seconds(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_micros() as i64,
    );
    assert!(lag.is_some_and(|s| (0.0..600.0).contains(&s)), "{lag:?}");

    run.stop.send(true)?;
    assert_eq!(run.task.await??, RunEnd::Shutdown);
    Ok(())
}

#[tokio::test]
async fn nothing_durable_means_the_slot_does_not_move_and_changes_come_again() -> anyhow::Result<()>
{
    let pg = PostgresServer::start().await?;
    pg.create_database("app").await?;
    let c = pg.connect("app").await?;
    c.batch_execute("CREATE TABLE t (id int PRIMARY KEY, v text);")
        .await?;
    let run = start(config(&pg, "app", "never"), false);
    wait_for(&run.shared, "slot", |_| true).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = confirmed_flush(&c).await;
    c.batch_execute("INSERT INTO t VALUES (1, 'a'); INSERT INTO t VALUES (2, 'b');")
        .await?;
    wait_for(&run.shared, "2 events", |s| s.events.len() == 2).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        confirmed_flush(&c).await,
        before,
        "slot moved although nothing was durable"
    );
    run.task.abort(); // a crash
    let _ = run.task.await;

    // Restarted with a log that acks: the same two changes come again.
    let run = start(config(&pg, "app", "never"), true);
    wait_for(&run.shared, "2 events again", |s| s.events.len() == 2).await;
    let ids: Vec<Value> = run
        .shared
        .lock()
        .unwrap()
        .events
        .iter()
        .map(|e| e.after.as_ref().unwrap().get("id").unwrap().clone())
        .collect();
    assert_eq!(ids, vec![Value::Int(1), Value::Int(2)]);
    run.stop.send(true)?;
    run.task.await??;
    Ok(())
}

#[tokio::test]
async fn a_quiet_slot_advances_while_other_tables_are_written() -> anyhow::Result<()> {
    let pg = PostgresServer::start_with_settings(&[("wal_sender_timeout", "2s")]).await?;
    pg.create_database("app").await?;
    let c = pg.connect("app").await?;
    c.batch_execute("CREATE TABLE captured (id int PRIMARY KEY); CREATE SCHEMA other; CREATE TABLE other.busy (id serial PRIMARY KEY, pad text);")
        .await?;
    let run = start(config(&pg, "app", "never"), true);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let first = confirmed_flush(&c).await;
    for _ in 0..20 {
        c.batch_execute(
            "INSERT INTO other.busy (pad) SELECT repeat('p', 500) FROM generate_series(1, 200)",
        )
        .await?;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let current: String = c
        .query_one("SELECT pg_current_wal_lsn()::text", &[])
        .await?
        .get(0);
    let current: Lsn = current.parse()?;
    let mut confirmed = first;
    for _ in 0..100 {
        confirmed = confirmed_flush(&c).await;
        if current.0 - confirmed.0 < 64 * 1024 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(confirmed > first, "the slot never moved");
    assert!(
        current.0 - confirmed.0 < 64 * 1024,
        "slot holds {} bytes of WAL behind {current}",
        current.0 - confirmed.0
    );
    assert!(run.shared.lock().unwrap().events.is_empty());
    // The retained-WAL figure is reported (sampled every 10 s, first at start).
    let figure = run.progress.borrow().retained_wal_bytes;
    assert!(figure.is_some_and(|b| b >= 0), "{figure:?}");
    run.stop.send(true)?;
    run.task.await??;
    Ok(())
}

#[tokio::test]
async fn permanent_errors_name_the_fix() -> anyhow::Result<()> {
    let pg = PostgresServer::start().await?;
    pg.create_database("app").await?;
    let c = pg.connect("app").await?;
    c.batch_execute("CREATE TABLE nokey (v text);").await?;
    let run = start(config(&pg, "app", "never"), true);
    let err = run.task.await?.unwrap_err();
    assert!(!err.transient);
    assert!(
        err.message.contains("source `app`")
            && err.message.contains("public.nokey has no primary key"),
        "{err}"
    );
    let _ = ConnUrl::parse("postgres://x@y/z");
    Ok(())
}

#[tokio::test]
async fn an_interrupted_snapshot_resumes_after_the_last_saved_chunk() -> anyhow::Result<()> {
    let pg = PostgresServer::start().await?;
    pg.create_database("app").await?;
    let c = pg.connect("app").await?;
    c.batch_execute(
        "CREATE TABLE a (id int PRIMARY KEY, v text);
         INSERT INTO a SELECT i, 'v' || i FROM generate_series(1, 12000) i;
         CREATE TABLE b (id int PRIMARY KEY);
         INSERT INTO b SELECT generate_series(1, 100);",
    )
    .await?;
    // First run: "crash" on the third state save — after the snapshot record
    // and the first chunk of `a` (ids 1..=5000) were saved, and while the
    // second chunk's rows were already emitted.
    let shared = Arc::new(Mutex::new(Shared::default()));
    let run = start_with(config(&pg, "app", "initial"), true, shared.clone(), Some(3));
    let err = run.task.await?.unwrap_err();
    assert!(err.message.contains("simulated crash"), "{err}");
    let first_run_events = {
        let s = shared.lock().unwrap();
        assert!(s.state["snapshot"].contains("running"));
        assert_eq!(
            s.state["snapshot/public.a"],
            r#"{"after":["5000"],"done":false}"#
        );
        s.events.len()
    };
    assert_eq!(first_run_events, 10_000);
    // Changes while rowlog is down, to rows not yet saved as read.
    c.batch_execute("UPDATE a SET v = 'changed' WHERE id = 12000; DELETE FROM a WHERE id = 11999;")
        .await?;

    let run = start_with(config(&pg, "app", "initial"), true, shared.clone(), None);
    wait_for(&run.shared, "snapshot done", |s| {
        s.state.get("snapshot").is_some_and(|r| r.contains("done"))
    })
    .await;
    wait_for(&run.shared, "the replayed update and delete", |s| {
        s.events
            .iter()
            .filter(|e| e.op == Op::Update || e.op == Op::Delete)
            .count()
            == 2
    })
    .await;
    {
        let s = shared.lock().unwrap();
        // The second run reads `a` from just after the saved key, as it is now.
        let resumed: Vec<&ChangeEvent> = s.events[first_run_events..]
            .iter()
            .filter(|e| e.op == Op::Read && e.table.name == "a")
            .collect();
        let ids: Vec<i64> = resumed
            .iter()
            .map(|e| match e.after.as_ref().unwrap().get("id") {
                Some(Value::Int(i)) => *i,
                other => panic!("{other:?}"),
            })
            .collect();
        let expected: Vec<i64> = (5001..=12000).filter(|i| *i != 11999).collect();
        assert_eq!(ids, expected);
        assert_eq!(
            resumed.last().unwrap().after.as_ref().unwrap().get("v"),
            Some(&Value::Text("changed".into()))
        );
        // And the changes made while down still come from the slot.
        let changes: Vec<Op> = s
            .events
            .iter()
            .filter(|e| e.op != Op::Read)
            .map(|e| e.op)
            .collect();
        assert_eq!(changes, vec![Op::Update, Op::Delete]);
        assert_eq!(
            s.events
                .iter()
                .filter(|e| e.op == Op::Read && e.table.name == "b")
                .count(),
            100
        );
    }
    run.stop.send(true)?;
    run.task.await??;
    Ok(())
}

#[tokio::test]
async fn an_existing_slot_without_snapshot_record_is_refused_with_the_way_out() -> anyhow::Result<()>
{
    let pg = PostgresServer::start().await?;
    pg.create_database("app").await?;
    let c = pg.connect("app").await?;
    c.batch_execute("CREATE TABLE t (id int PRIMARY KEY)")
        .await?;
    c.batch_execute("SELECT pg_create_logical_replication_slot('rowlog_app', 'pgoutput')")
        .await?;
    let run = start(config(&pg, "app", "initial"), true);
    let err = run.task.await?.unwrap_err();
    assert!(!err.transient);
    assert!(
        err.message.contains("no record of its snapshot")
            && err.message.contains("snapshot: never"),
        "{err}"
    );
    // With snapshot: never it streams.
    let run = start(config(&pg, "app", "never"), true);
    c.batch_execute("INSERT INTO t VALUES (1)").await?;
    wait_for(&run.shared, "the insert", |s| s.events.len() == 1).await;
    run.stop.send(true)?;
    run.task.await??;
    Ok(())
}
