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
}

struct MemEmitter {
    shared: Arc<Mutex<Shared>>,
    /// When false, nothing ever becomes durable (a log that never acks).
    acks: bool,
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
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<Result<RunEnd, SourceError>>,
}

fn start(cfg: PostgresSource, acks: bool) -> Running {
    let shared = Arc::new(Mutex::new(Shared::default()));
    let (stop, mut rx) = watch::channel(false);
    let mut emitter = MemEmitter {
        shared: shared.clone(),
        acks,
        last_mark: None,
    };
    let source = PgSource::new("app", cfg);
    let task = tokio::spawn(async move { source.run_once(&mut emitter, &mut rx).await });
    Running { shared, stop, task }
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
