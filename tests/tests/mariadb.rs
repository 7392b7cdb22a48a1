//! MariaDB smoke tests: the private server writes a row binlog with GTIDs,
//! and dropping the handle stops it.

use mysql_async::prelude::Queryable;
use rowlog_tests::MariaDbServer;
use rowlog_tests::ports::check_drop_cleans_up;

#[tokio::test]
async fn insert_shows_write_rows_event_and_gtid() -> anyhow::Result<()> {
    let db = MariaDbServer::start().await?;
    db.create_database("app").await?;
    let mut conn = db.connect().await?;

    let (format, strict): (String, u8) = conn
        .query_first("SELECT @@binlog_format, @@gtid_strict_mode")
        .await?
        .expect("one row");
    assert_eq!((format.as_str(), strict), ("ROW", 1));

    conn.query_drop("CREATE TABLE app.items (id INT PRIMARY KEY, name VARCHAR(20))")
        .await?;
    conn.query_drop("INSERT INTO app.items VALUES (1, 'one')")
        .await?;

    let gtid: String = conn
        .query_first("SELECT @@gtid_binlog_pos")
        .await?
        .expect("one row");
    assert!(!gtid.is_empty(), "gtid_binlog_pos is empty");

    let file: String = conn
        .query_first::<mysql_async::Row, _>("SHOW MASTER STATUS")
        .await?
        .and_then(|row| row.get::<String, _>("File"))
        .expect("binary logging is on");
    // (Log_name, Pos, Event_type, Server_id, End_log_pos, Info)
    let events: Vec<(String, String, String, String, String, String)> = conn
        .query(format!("SHOW BINLOG EVENTS IN '{file}'"))
        .await?;
    let map_at = events
        .iter()
        .position(|e| e.2 == "Table_map" && e.5.contains("(app.items)"))
        .unwrap_or_else(|| panic!("no Table_map for app.items in {events:#?}"));
    assert!(
        events[map_at + 1].2.starts_with("Write_rows"),
        "Table_map for app.items is followed by {:?}",
        events[map_at + 1]
    );
    let last_gtid = events
        .iter()
        .rev()
        .find(|e| e.2 == "Gtid")
        .expect("a Gtid event");
    assert!(
        last_gtid.5.ends_with(&gtid),
        "last Gtid event {:?} vs @@gtid_binlog_pos {gtid}",
        last_gtid.5
    );
    conn.disconnect().await?;
    Ok(())
}

#[tokio::test]
async fn drop_stops_server_and_removes_dir() -> anyhow::Result<()> {
    let db = MariaDbServer::start().await?;
    let (port, dir) = (db.port(), db.data_dir().to_owned());
    check_drop_cleans_up(db, port, &dir)
}
