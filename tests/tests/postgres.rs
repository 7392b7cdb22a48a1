//! PostgreSQL smoke tests: logical decoding with pgoutput works on the
//! private server, and dropping the handle stops it.

use anyhow::{anyhow, bail};

use rowlog_tests::PostgresServer;
use rowlog_tests::ports::check_drop_cleans_up;

/// One decoded pgoutput message (the parts the smoke test checks).
#[derive(Debug, PartialEq)]
enum Msg {
    Relation {
        id: u32,
        namespace: String,
        name: String,
    },
    Insert {
        relation: u32,
        values: Vec<Option<String>>,
    },
    Other(u8),
}

fn cstr(buf: &[u8], pos: &mut usize) -> anyhow::Result<String> {
    let len = buf
        .get(*pos..)
        .and_then(|rest| rest.iter().position(|&b| b == 0))
        .ok_or_else(|| anyhow!("unterminated string at {pos}"))?;
    let s = String::from_utf8(buf[*pos..*pos + len].to_vec())?;
    *pos += len + 1;
    Ok(s)
}

fn take<'a>(buf: &'a [u8], pos: &mut usize, n: usize) -> anyhow::Result<&'a [u8]> {
    let bytes = buf
        .get(*pos..*pos + n)
        .ok_or_else(|| anyhow!("message ends before byte {}", *pos + n))?;
    *pos += n;
    Ok(bytes)
}

fn u32_at(buf: &[u8], pos: &mut usize) -> anyhow::Result<u32> {
    Ok(u32::from_be_bytes(take(buf, pos, 4)?.try_into()?))
}

/// Decode the pgoutput (proto_version 1) messages the test looks at.
fn decode(buf: &[u8]) -> anyhow::Result<Msg> {
    let mut pos = 1;
    match buf.first() {
        Some(b'R') => {
            let id = u32_at(buf, &mut pos)?;
            let namespace = cstr(buf, &mut pos)?;
            let name = cstr(buf, &mut pos)?;
            Ok(Msg::Relation {
                id,
                namespace,
                name,
            })
        }
        Some(b'I') => {
            let relation = u32_at(buf, &mut pos)?;
            if take(buf, &mut pos, 1)? != b"N" {
                bail!("insert without a new tuple");
            }
            let ncols = u16::from_be_bytes(take(buf, &mut pos, 2)?.try_into()?);
            let mut values = Vec::new();
            for _ in 0..ncols {
                match take(buf, &mut pos, 1)? {
                    b"n" | b"u" => values.push(None),
                    b"t" => {
                        let len = u32_at(buf, &mut pos)? as usize;
                        values.push(Some(String::from_utf8(take(buf, &mut pos, len)?.to_vec())?));
                    }
                    other => bail!("unexpected column kind {other:?}"),
                }
            }
            Ok(Msg::Insert { relation, values })
        }
        Some(other) => Ok(Msg::Other(*other)),
        None => bail!("empty message"),
    }
}

#[tokio::test]
async fn pgoutput_slot_sees_insert() -> anyhow::Result<()> {
    let pg = PostgresServer::start().await?;
    pg.create_database("app").await?;
    let client = pg.connect("app").await?;

    let wal_level: String = client.query_one("SHOW wal_level", &[]).await?.get(0);
    assert_eq!(wal_level, "logical");

    client
        .batch_execute(
            "CREATE TABLE items (id int PRIMARY KEY, name text);
             CREATE PUBLICATION pub FOR TABLE items;",
        )
        .await?;
    client
        .query_one(
            "SELECT lsn::text FROM pg_create_logical_replication_slot('slot', 'pgoutput')",
            &[],
        )
        .await?;
    client
        .execute("INSERT INTO items VALUES (1, 'one')", &[])
        .await?;

    let rows = client
        .query(
            "SELECT data FROM pg_logical_slot_peek_binary_changes('slot', NULL, NULL,
                 'proto_version', '1', 'publication_names', 'pub')",
            &[],
        )
        .await?;
    let msgs = rows
        .iter()
        .map(|r| decode(r.get::<_, &[u8]>(0)))
        .collect::<anyhow::Result<Vec<Msg>>>()?;

    let tags: Vec<u8> = rows.iter().map(|r| r.get::<_, &[u8]>(0)[0]).collect();
    assert_eq!(tags, b"BRIC", "Begin, Relation, Insert, Commit: {msgs:?}");
    let rel_id = msgs
        .iter()
        .find_map(|m| match m {
            Msg::Relation {
                id,
                namespace,
                name,
            } if namespace == "public" && name == "items" => Some(*id),
            _ => None,
        })
        .expect("a Relation message for public.items");
    assert!(
        msgs.contains(&Msg::Insert {
            relation: rel_id,
            values: vec![Some("1".into()), Some("one".into())],
        }),
        "an Insert for public.items: {msgs:?}"
    );
    Ok(())
}

#[tokio::test]
async fn drop_stops_server_and_removes_dir() -> anyhow::Result<()> {
    let pg = PostgresServer::start().await?;
    let (port, dir) = (pg.port(), pg.socket_dir().to_owned());
    check_drop_cleans_up(pg, port, &dir)
}

#[tokio::test]
async fn restart_keeps_port_data_and_slots() -> anyhow::Result<()> {
    use rowlog_tests::postgres::Shutdown;
    let mut pg = PostgresServer::start().await?;
    let port = pg.port();
    {
        let c = pg.connect("postgres").await?;
        c.batch_execute(
            "CREATE TABLE kept (id int PRIMARY KEY); INSERT INTO kept VALUES (1), (2);",
        )
        .await?;
        c.batch_execute("SELECT pg_create_logical_replication_slot('kept_slot', 'pgoutput')")
            .await?;
    }
    for how in [Shutdown::Fast, Shutdown::Immediate] {
        pg.stop_server(how)?;
        if pg.connect("postgres").await.is_ok() {
            bail!("connected while the server was stopped ({how:?})");
        }
        pg.start_again().await?;
        assert_eq!(pg.port(), port);
        let c = pg.connect("postgres").await?;
        let n: i64 = c.query_one("SELECT count(*) FROM kept", &[]).await?.get(0);
        assert_eq!(n, 2, "rows after {how:?} restart");
        let slots: i64 = c
            .query_one(
                "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'kept_slot'",
                &[],
            )
            .await?
            .get(0);
        assert_eq!(slots, 1, "slot after {how:?} restart");
    }
    pg.restart(Shutdown::Fast).await?;
    pg.connect("postgres").await?;
    Ok(())
}
