//! `MysqlSource::on_event` without a server: hand-built binlog event bytes
//! (19-byte v4 header + body, no checksum), framed by mysql_common's
//! `EventStreamReader` exactly as a binlog stream frames them, go through
//! the source into an in-memory [`Emitter`], with a fixed [`Catalog`] in
//! place of information_schema.
//!
//! This is where the MySQL-only paths are tested (MySQL GTID events and
//! GTID sets, the group rules of MySQL DDL, partial JSON updates): only
//! MariaDB can be run here.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mysql_common::binlog::EventStreamReader;
use mysql_common::binlog::consts::BinlogVersion;
use rowlog_config::KeyOverrides;
use rowlog_schemas::position::{BinlogPos, Gtid, MariadbGtid, MysqlGtid, MysqlPosition};
use rowlog_schemas::{ChangeEvent, Op, Position, Row, TableId, TableSchema, Value};

use super::{Cursor, MysqlSource};
use crate::emit::{Emitter, TransactionEnd};
use crate::error::SourceError;
use crate::mysql::columns::{Charset, MyColumn, MyTable, MyType};
use crate::mysql::mariadb_events::flags2;
use crate::mysql::offset::{GtidState, MysqlOffset};
use crate::mysql::tables::{Catalog, Tables};

const UUID: &str = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
const FILE: &str = "binlog.000003";
const SERVER_ID: u32 = 1;
/// Header timestamp of every event (seconds).
const TS: u32 = 1_700_000_000;
/// Table id of `shop.t` in the table maps.
const T_ID: u64 = 71;

// Event type codes.
const ROTATE: u8 = 4;
const QUERY: u8 = 2;
const XID: u8 = 16;
const TABLE_MAP: u8 = 19;
const WRITE_ROWS: u8 = 30;
const UPDATE_ROWS: u8 = 31;
const DELETE_ROWS: u8 = 32;
const MYSQL_GTID: u8 = 33;
const ANONYMOUS_GTID: u8 = 34;
const PARTIAL_UPDATE_ROWS: u8 = 39;
const TRANSACTION_PAYLOAD: u8 = 40;
const GTID_TAGGED: u8 = 42;
const MARIADB_GTID: u8 = 162;
const MARIADB_WRITE_ROWS_COMPRESSED: u8 = 169;

// ---------------------------------------------------------------------------
// Byte builders (layouts as the server writes them; integers little-endian).

fn lenenc(n: u64) -> Vec<u8> {
    match n {
        0..=250 => vec![n as u8],
        251..=0xFFFF => [&[0xFC][..], &(n as u16).to_le_bytes()].concat(),
        0x1_0000..=0xFF_FFFF => [&[0xFD][..], &(n as u32).to_le_bytes()[..3]].concat(),
        _ => [&[0xFE][..], &n.to_le_bytes()[..]].concat(),
    }
}

fn uuid_bytes() -> [u8; 16] {
    *uuid::Uuid::parse_str(UUID).unwrap().as_bytes()
}

/// 19-byte v4 common header + body.
fn frame(ty: u8, server_id: u32, flags: u16, start: u32, body: &[u8]) -> Vec<u8> {
    let size = 19 + body.len() as u32;
    let mut out = Vec::with_capacity(size as usize);
    out.extend_from_slice(&TS.to_le_bytes());
    out.push(ty);
    out.extend_from_slice(&server_id.to_le_bytes());
    out.extend_from_slice(&size.to_le_bytes());
    out.extend_from_slice(&(start + size).to_le_bytes()); // log_pos: the next event
    out.extend_from_slice(&flags.to_le_bytes());
    out.extend_from_slice(body);
    out
}

/// MySQL GTID_EVENT (33) / ANONYMOUS_GTID_EVENT (34) body
/// (`Gtid_event::write_data_header` + `write_data_body`): flags, SID, GNO,
/// then (5.7.5+) the logical-clock typecode 2, last_committed,
/// sequence_number, and (8.0.1+) the commit timestamps, the transaction
/// length and the server versions.
fn mysql_gtid_body(gno: u64, trailing: bool) -> Vec<u8> {
    let mut b = vec![0x01]; // flags: may have SBR
    b.extend_from_slice(&uuid_bytes());
    b.extend_from_slice(&gno.to_le_bytes());
    b.push(2); // LOGICAL_TIMESTAMP_TYPECODE
    b.extend_from_slice(&41u64.to_le_bytes()); // last_committed
    b.extend_from_slice(&42u64.to_le_bytes()); // sequence_number
    if trailing {
        // immediate_commit_timestamp (µs, 7 bytes) with the high bit set:
        // an original_commit_timestamp follows.
        let us: u64 = u64::from(TS) * 1_000_000 + 123_456;
        b.extend_from_slice(&(us | (1 << 55)).to_le_bytes()[..7]);
        b.extend_from_slice(&us.to_le_bytes()[..7]);
        b.extend(lenenc(1234)); // transaction_length
        b.extend_from_slice(&80036u32.to_le_bytes()); // immediate_server_version
    }
    b
}

/// QUERY_EVENT body: thread id, exec time, schema length, error code,
/// status vars (with a Q_FLAGS2 entry), schema, NUL, query.
fn query_body(schema: &str, query: &str) -> Vec<u8> {
    let status: Vec<u8> = [&[0u8][..], &0u32.to_le_bytes()[..]].concat(); // Q_FLAGS2_CODE
    let mut b = Vec::new();
    b.extend_from_slice(&9u32.to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes());
    b.push(schema.len() as u8);
    b.extend_from_slice(&0u16.to_le_bytes());
    b.extend_from_slice(&(status.len() as u16).to_le_bytes());
    b.extend(status);
    b.extend_from_slice(schema.as_bytes());
    b.push(0);
    b.extend_from_slice(query.as_bytes());
    b
}

fn xid_body(xid: u64) -> Vec<u8> {
    xid.to_le_bytes().to_vec()
}

fn rotate_body(file: &str) -> Vec<u8> {
    [&4u64.to_le_bytes()[..], file.as_bytes()].concat()
}

fn table_id(id: u64) -> Vec<u8> {
    id.to_le_bytes()[..6].to_vec()
}

/// TABLE_MAP_EVENT body of `db.table (id INT UNSIGNED NOT NULL PRIMARY KEY,
/// name VARCHAR(20) utf8mb4, n INT)`; with `full`, the optional metadata of
/// `binlog_row_metadata=FULL`: SIGNEDNESS, DEFAULT_CHARSET, COLUMN_NAME and
/// SIMPLE_PRIMARY_KEY.
fn table_map_body(id: u64, db: &str, table: &str, full: bool) -> Vec<u8> {
    let mut b = table_id(id);
    b.extend_from_slice(&1u16.to_le_bytes()); // flags
    b.push(db.len() as u8);
    b.extend_from_slice(db.as_bytes());
    b.push(0);
    b.push(table.len() as u8);
    b.extend_from_slice(table.as_bytes());
    b.push(0);
    b.extend(lenenc(3));
    b.extend_from_slice(&[3, 15, 3]); // LONG, VARCHAR, LONG
    let meta = 80u16.to_le_bytes(); // VARCHAR: max byte length (20 × 4)
    b.extend(lenenc(meta.len() as u64));
    b.extend_from_slice(&meta);
    b.push(0b110); // nullable: name, n
    if full {
        let tlv = |b: &mut Vec<u8>, ty: u8, v: &[u8]| {
            b.push(ty);
            b.extend(lenenc(v.len() as u64));
            b.extend_from_slice(v);
        };
        tlv(&mut b, 1, &[0b1000_0000]); // SIGNEDNESS: id unsigned, n signed
        tlv(&mut b, 2, &lenenc(45)); // DEFAULT_CHARSET: utf8mb4_general_ci
        let mut names = Vec::new();
        for n in ["id", "name", "n"] {
            names.extend(lenenc(n.len() as u64));
            names.extend_from_slice(n.as_bytes());
        }
        tlv(&mut b, 4, &names); // COLUMN_NAME
        tlv(&mut b, 8, &lenenc(0)); // SIMPLE_PRIMARY_KEY: column 0
    }
    b
}

/// One image of a `shop.t` row: NULL bitmap of the 3 present columns,
/// then the non-NULL values.
fn image(id: u32, name: Option<&str>, n: Option<i32>) -> Vec<u8> {
    let nulls = (u8::from(name.is_none()) << 1) | (u8::from(n.is_none()) << 2);
    let mut b = vec![nulls];
    b.extend_from_slice(&id.to_le_bytes());
    if let Some(s) = name {
        b.push(s.len() as u8);
        b.extend_from_slice(s.as_bytes());
    }
    if let Some(n) = n {
        b.extend_from_slice(&n.to_le_bytes());
    }
    b
}

/// Rows event v2 body (WRITE 30 / UPDATE 31 / DELETE 32 / PARTIAL_UPDATE
/// 39): table id, flags (STMT_END), extra data length 2 (none), column
/// count, the column bitmap(s), then the row images.
fn rows_body(ty: u8, id: u64, images: &[Vec<u8>]) -> Vec<u8> {
    let mut b = table_id(id);
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&2u16.to_le_bytes());
    b.extend(lenenc(3));
    b.push(0b111);
    if ty == UPDATE_ROWS || ty == PARTIAL_UPDATE_ROWS {
        b.push(0b111);
    }
    if ty == PARTIAL_UPDATE_ROWS {
        // The shared-image part of a partial update: value_options (0 =
        // none) for the before image, then the images.
        for (i, im) in images.iter().enumerate() {
            if i % 2 == 1 {
                b.push(0);
            }
            b.extend_from_slice(im);
        }
        return b;
    }
    for im in images {
        b.extend_from_slice(im);
    }
    b
}

/// MariaDB GTID (162) body: seq_no, domain, flags2, 6 bytes of padding.
fn mariadb_gtid_body(seq: u64, domain: u32, flags: u8) -> Vec<u8> {
    let mut b = seq.to_le_bytes().to_vec();
    b.extend_from_slice(&domain.to_le_bytes());
    b.push(flags);
    b.extend_from_slice(&[0; 6]);
    b
}

// ---------------------------------------------------------------------------
// The emitter and catalog.

/// Everything the source did to its emitter.
#[derive(Default)]
struct MemEmitter {
    events: Vec<ChangeEvent>,
    ends: Vec<TransactionEnd<MysqlOffset>>,
    checkpoints: Vec<MysqlOffset>,
    state: BTreeMap<String, String>,
    /// Every call in order (`emit`, `end`, `checkpoint`, `save <key>`).
    calls: Vec<String>,
}

impl Emitter<MysqlOffset> for MemEmitter {
    async fn emit(
        &mut self,
        event: ChangeEvent,
        schema: &Arc<TableSchema>,
    ) -> Result<(), SourceError> {
        assert_eq!(event.schema_version, schema.version());
        self.calls.push("emit".into());
        self.events.push(event);
        Ok(())
    }
    async fn end_transaction(
        &mut self,
        end: TransactionEnd<MysqlOffset>,
    ) -> Result<(), SourceError> {
        self.calls.push("end".into());
        self.ends.push(end);
        Ok(())
    }
    fn checkpoint(&mut self, mark: MysqlOffset) {
        self.calls.push("checkpoint".into());
        self.checkpoints.push(mark);
    }
    fn durable(&mut self) -> Result<Option<MysqlOffset>, SourceError> {
        Ok(None)
    }
    fn idle(&self) -> bool {
        true
    }
    async fn flush(&mut self, _timeout: Duration) -> Result<Option<MysqlOffset>, SourceError> {
        Ok(None)
    }
    async fn load_state(&mut self) -> Result<BTreeMap<String, String>, SourceError> {
        Ok(self.state.clone())
    }
    async fn save_state(&mut self, key: &str, value: Option<String>) -> Result<(), SourceError> {
        self.calls.push(format!("save {key}"));
        match value {
            Some(v) => self.state.insert(key.to_string(), v),
            None => self.state.remove(key),
        };
        Ok(())
    }
}

/// information_schema as a fixed map; records what it was asked.
#[derive(Default)]
struct FixedCatalog {
    tables: BTreeMap<TableId, MyTable>,
    described: Vec<TableId>,
}

impl Catalog for FixedCatalog {
    async fn describe(
        &mut self,
        id: &TableId,
        _keys: &KeyOverrides,
    ) -> Result<Option<MyTable>, SourceError> {
        self.described.push(id.clone());
        Ok(self.tables.get(id).cloned())
    }
    async fn exists(&mut self, id: &TableId) -> Result<bool, SourceError> {
        Ok(self.tables.contains_key(id))
    }
}

fn column(name: &str, ty: MyType, unsigned: bool, charset: Charset, nullable: bool) -> MyColumn {
    MyColumn {
        name: name.into(),
        ty,
        unsigned,
        charset,
        nullable,
        json_text: false,
        source_type: String::new(),
    }
}

/// `shop.t` as information_schema describes it.
fn shop_t() -> MyTable {
    let mut id = column("id", MyType::Int, true, Charset::Binary, false);
    id.source_type = "int(10) unsigned".into();
    let mut name = column(
        "name",
        MyType::VarChar { max_bytes: 80 },
        false,
        Charset::Utf8,
        true,
    );
    name.source_type = "varchar(20)".into();
    let mut n = column("n", MyType::Int, false, Charset::Binary, true);
    n.source_type = "int(11)".into();
    MyTable {
        id: TableId::new("shop", "t"),
        columns: vec![id, name, n],
        key: vec!["id".into()],
    }
}

fn config() -> rowlog_config::MysqlSource {
    let yaml = "sources:\n  - name: shop\n    mysql:\n      url: mysql://rowlog:pw@127.0.0.1:3306\n      server_id: 5701\n      tables: { include: [\"shop.*\"], exclude: [\"shop.skip\"] }\nlog:\n  kafka: { brokers: [\"127.0.0.1:9092\"] }\n";
    let cfg = rowlog_config::load_str(yaml, "test.yaml", &rowlog_config::ProcessEnv).unwrap();
    match cfg.sources.into_iter().next().unwrap().kind {
        rowlog_config::SourceKind::Mysql(m) => m,
        _ => unreachable!(),
    }
}

// ---------------------------------------------------------------------------
// The harness: a source reading one binlog file from position 4.

struct Harness {
    source: MysqlSource,
    reader: EventStreamReader,
    cur: Cursor,
    tables: Tables,
    catalog: FixedCatalog,
    emitter: MemEmitter,
    /// Where the next event starts.
    pos: u32,
}

impl Harness {
    /// A source resuming at `FILE:4` with GTID state `gtid`, knowing
    /// `shop.t` from its startup catalog.
    fn new(gtid: Option<GtidState>) -> Harness {
        let cfg = config();
        let table = shop_t();
        let tables = Tables::new(cfg.tables.clone(), cfg.keys.clone(), vec![table.clone()]);
        let mut catalog = FixedCatalog::default();
        catalog.tables.insert(table.id.clone(), table);
        Harness {
            source: MysqlSource::new("shop", cfg),
            reader: EventStreamReader::new(BinlogVersion::Version4),
            cur: Cursor {
                file: FILE.into(),
                epoch: 0,
                server_id: SERVER_ID,
                gtid,
                tx: None,
                checksums: false,
                seen_fde: false,
            },
            tables,
            catalog,
            emitter: MemEmitter::default(),
            pos: 4,
        }
    }

    fn mysql(set: &str) -> Harness {
        Harness::new(Some(GtidState::Mysql(set.parse().unwrap())))
    }

    fn mariadb(list: &str) -> Harness {
        Harness::new(Some(GtidState::Mariadb(list.parse().unwrap())))
    }

    /// Feeds one event; returns the position it started at.
    async fn feed_flags(&mut self, ty: u8, flags: u16, body: &[u8]) -> Result<u64, SourceError> {
        let start = self.pos;
        let bytes = frame(ty, SERVER_ID, flags, start, body);
        self.pos += bytes.len() as u32;
        let event = self.reader.read(&bytes[..]).unwrap().expect("one event");
        assert_eq!(event.header().log_pos(), self.pos);
        // Long enough ago that a commit without rows checkpoints.
        let mut last_checkpoint = Instant::now()
            .checked_sub(Duration::from_secs(1))
            .unwrap_or_else(Instant::now);
        self.source
            .on_event(
                &event,
                &mut self.cur,
                &mut self.tables,
                &mut self.catalog,
                &mut self.emitter,
                &mut last_checkpoint,
            )
            .await?;
        Ok(u64::from(start))
    }

    async fn feed(&mut self, ty: u8, body: &[u8]) -> Result<u64, SourceError> {
        self.feed_flags(ty, 0, body).await
    }

    async fn ok(&mut self, ty: u8, body: &[u8]) -> u64 {
        match self.feed(ty, body).await {
            Ok(at) => at,
            Err(e) => panic!("event type {ty}: {e}"),
        }
    }

    async fn err(&mut self, ty: u8, body: &[u8]) -> SourceError {
        match self.feed(ty, body).await {
            Ok(at) => panic!("event type {ty} at {at} was accepted"),
            Err(e) => e,
        }
    }

    /// GTID(uuid:gno) → BEGIN → TABLE_MAP of shop.t.
    async fn begin_mysql(&mut self, gno: u64) {
        self.ok(MYSQL_GTID, &mysql_gtid_body(gno, true)).await;
        self.ok(QUERY, &query_body("shop", "BEGIN")).await;
        self.ok(TABLE_MAP, &table_map_body(T_ID, "shop", "t", true))
            .await;
    }

    fn end(&self) -> u64 {
        u64::from(self.pos)
    }
}

fn mysql_gtid(seq: u64) -> Gtid {
    Gtid::Mysql(MysqlGtid {
        uuid: uuid::Uuid::parse_str(UUID).unwrap(),
        seq,
    })
}

fn mysql_state(set: &str) -> Option<GtidState> {
    Some(GtidState::Mysql(set.parse().unwrap()))
}

/// An emitted change: op, before, after, position, ordinal.
type Emitted = (Op, Option<Row>, Option<Row>, Position, u64);

fn row(id: u32, name: Option<&str>, n: Option<i32>) -> Row {
    Row::new()
        .with("id", Value::UInt(u64::from(id)))
        .with("name", name.map_or(Value::Null, |s| Value::Text(s.into())))
        .with("n", n.map_or(Value::Null, |n| Value::Int(i64::from(n))))
}

fn position(pos: u64, row: u32, gtid: Option<Gtid>) -> Position {
    Position::Mysql(MysqlPosition {
        epoch: 0,
        binlog: BinlogPos {
            file: FILE.into(),
            pos,
        },
        row,
        gtid,
    })
}

fn offset(pos: u64, gtid: Option<GtidState>) -> MysqlOffset {
    MysqlOffset {
        epoch: 0,
        server_id: SERVER_ID,
        binlog: BinlogPos {
            file: FILE.into(),
            pos,
        },
        gtid,
    }
}

// ---------------------------------------------------------------------------
// MySQL.

#[tokio::test]
async fn mysql_transaction_emits_rows_with_gtid_positions_and_ordinals() {
    let mut h = Harness::mysql(&format!("{UUID}:1-6"));
    h.begin_mysql(7).await;
    let write = h
        .ok(
            WRITE_ROWS,
            &rows_body(
                WRITE_ROWS,
                T_ID,
                &[image(1, Some("ann"), Some(-10)), image(2, None, None)],
            ),
        )
        .await;
    let update = h
        .ok(
            UPDATE_ROWS,
            &rows_body(
                UPDATE_ROWS,
                T_ID,
                &[
                    image(1, Some("ann"), Some(-10)),
                    image(1, Some("bob"), Some(11)),
                ],
            ),
        )
        .await;
    let delete = h
        .ok(
            DELETE_ROWS,
            &rows_body(DELETE_ROWS, T_ID, &[image(2, None, None)]),
        )
        .await;
    assert!(h.emitter.ends.is_empty(), "nothing ends before the XID");
    h.ok(XID, &xid_body(99)).await;

    let ev = &h.emitter.events;
    let got: Vec<Emitted> = ev
        .iter()
        .map(|e| {
            let tx = e.transaction.as_ref().unwrap();
            assert_eq!(tx.id, format!("{UUID}:7"));
            assert_eq!(tx.commit_time_us, i64::from(TS) * 1_000_000);
            assert_eq!(e.table, TableId::new("shop", "t"));
            assert_eq!(e.key_columns, vec!["id".to_string()]);
            assert_eq!(e.source, "shop");
            (
                e.op,
                e.before.clone(),
                e.after.clone(),
                e.position.clone(),
                tx.ordinal,
            )
        })
        .collect();
    let g = Some(mysql_gtid(7));
    assert_eq!(
        got,
        vec![
            (
                Op::Insert,
                None,
                Some(row(1, Some("ann"), Some(-10))),
                position(write, 0, g),
                1
            ),
            (
                Op::Insert,
                None,
                Some(row(2, None, None)),
                position(write, 1, g),
                2
            ),
            (
                Op::Update,
                Some(row(1, Some("ann"), Some(-10))),
                Some(row(1, Some("bob"), Some(11))),
                position(update, 0, g),
                3
            ),
            (
                Op::Delete,
                Some(row(2, None, None)),
                None,
                position(delete, 0, g),
                4
            ),
        ]
    );
    assert_eq!(
        h.emitter.ends,
        vec![TransactionEnd {
            mark: offset(h.end(), mysql_state(&format!("{UUID}:1-7"))),
            id: format!("{UUID}:7"),
            commit_time_us: i64::from(TS) * 1_000_000,
            counts: vec![("shop.t".into(), 4)],
        }]
    );
    assert_eq!(h.cur.gtid, mysql_state(&format!("{UUID}:1-7")));
    assert!(h.cur.tx.is_none());
    // The schema is saved before the first row that uses it, and the
    // startup catalog was enough (no information_schema query).
    assert_eq!(
        h.emitter.calls,
        ["save schema/shop.t", "emit", "emit", "emit", "emit", "end"]
    );
    let saved: serde_json::Value = serde_json::from_str(&h.emitter.state["schema/shop.t"]).unwrap();
    assert_eq!(saved["key"], serde_json::json!(["id"]));
    assert_eq!(saved["columns"][1]["name"], "name");
    assert!(h.catalog.described.is_empty());

    // The next transaction with the same table map: no new schema record.
    h.begin_mysql(8).await;
    h.ok(
        WRITE_ROWS,
        &rows_body(WRITE_ROWS, T_ID, &[image(3, Some("cy"), None)]),
    )
    .await;
    h.ok(XID, &xid_body(100)).await;
    assert_eq!(h.emitter.state.len(), 1);
    assert_eq!(h.emitter.events[4].transaction.as_ref().unwrap().ordinal, 1);
    assert_eq!(
        h.emitter.ends[1].mark,
        offset(h.end(), mysql_state(&format!("{UUID}:1-8")))
    );
}

#[tokio::test]
async fn mysql_gtid_events_without_the_8_0_trailer_parse_too() {
    let mut h = Harness::mysql(&format!("{UUID}:1-6"));
    h.ok(MYSQL_GTID, &mysql_gtid_body(7, false)).await;
    h.ok(QUERY, &query_body("shop", "BEGIN")).await;
    h.ok(TABLE_MAP, &table_map_body(T_ID, "shop", "t", true))
        .await;
    h.ok(
        WRITE_ROWS,
        &rows_body(WRITE_ROWS, T_ID, &[image(1, None, Some(1))]),
    )
    .await;
    h.ok(XID, &xid_body(1)).await;
    assert_eq!(
        h.emitter.events[0].transaction.as_ref().unwrap().id,
        format!("{UUID}:7")
    );
    assert_eq!(
        h.emitter.ends[0].mark.gtid,
        mysql_state(&format!("{UUID}:1-7"))
    );
}

#[tokio::test]
async fn gtids_outside_the_start_set_are_added_as_new_intervals() {
    let mut h = Harness::mysql(&format!("{UUID}:1-3"));
    h.begin_mysql(9).await;
    h.ok(
        WRITE_ROWS,
        &rows_body(WRITE_ROWS, T_ID, &[image(1, None, None)]),
    )
    .await;
    h.ok(XID, &xid_body(1)).await;
    assert_eq!(h.cur.gtid, mysql_state(&format!("{UUID}:1-3:9")));

    // No GTID state yet (gtid_executed was empty): the first one starts it.
    let mut h = Harness::new(None);
    h.begin_mysql(1).await;
    h.ok(
        WRITE_ROWS,
        &rows_body(WRITE_ROWS, T_ID, &[image(1, None, None)]),
    )
    .await;
    h.ok(XID, &xid_body(1)).await;
    assert_eq!(
        h.emitter.ends[0].mark.gtid,
        mysql_state(&format!("{UUID}:1"))
    );
}

#[tokio::test]
async fn an_update_that_changes_the_key_is_a_delete_and_an_insert() {
    let mut h = Harness::mysql(&format!("{UUID}:1-6"));
    h.begin_mysql(7).await;
    let at = h
        .ok(
            UPDATE_ROWS,
            &rows_body(
                UPDATE_ROWS,
                T_ID,
                &[
                    image(1, Some("a"), None),
                    image(5, Some("a"), None),
                    // A second row whose key stays: a plain update.
                    image(2, None, Some(1)),
                    image(2, None, Some(2)),
                ],
            ),
        )
        .await;
    h.ok(XID, &xid_body(1)).await;
    let got: Vec<Emitted> = h
        .emitter
        .events
        .iter()
        .map(|e| {
            (
                e.op,
                e.before.clone(),
                e.after.clone(),
                e.position.clone(),
                e.transaction.as_ref().unwrap().ordinal,
            )
        })
        .collect();
    let g = Some(mysql_gtid(7));
    assert_eq!(
        got,
        vec![
            (
                Op::Delete,
                Some(row(1, Some("a"), None)),
                None,
                position(at, 0, g),
                1
            ),
            (
                Op::Insert,
                None,
                Some(row(5, Some("a"), None)),
                position(at, 0, g),
                2
            ),
            (
                Op::Update,
                Some(row(2, None, Some(1))),
                Some(row(2, None, Some(2))),
                position(at, 1, g),
                3
            ),
        ]
    );
    assert_eq!(h.emitter.ends[0].counts, vec![("shop.t".into(), 3)]);
}

#[tokio::test]
async fn mysql_ddl_group_ends_after_its_query() {
    let mut h = Harness::mysql(&format!("{UUID}:1-7"));
    h.ok(MYSQL_GTID, &mysql_gtid_body(8, true)).await;
    assert!(h.cur.tx.as_ref().is_some_and(|t| t.awaiting_begin));
    h.ok(
        QUERY,
        &query_body("shop", "ALTER TABLE shop.t ADD COLUMN x INT"),
    )
    .await;
    assert!(h.cur.tx.is_none(), "the DDL ended its group");
    assert!(h.emitter.events.is_empty());
    assert!(h.emitter.ends.is_empty(), "no rows: no transaction end");
    assert_eq!(h.cur.gtid, mysql_state(&format!("{UUID}:1-8")));
    assert_eq!(
        h.emitter.checkpoints,
        vec![offset(h.end(), mysql_state(&format!("{UUID}:1-8")))]
    );
    // The stale marker is saved before the checkpoint past the DDL.
    assert_eq!(h.emitter.calls, ["save schema/shop.t", "checkpoint"]);
    let mark: serde_json::Value = serde_json::from_str(&h.emitter.state["schema/shop.t"]).unwrap();
    assert_eq!(mark["stale"], true);
    assert!(
        mark["ddl"]
            .as_str()
            .unwrap()
            .contains("ALTER TABLE shop.t ADD COLUMN x INT"),
        "{mark}"
    );

    // The next table map of shop.t re-reads information_schema.
    h.begin_mysql(9).await;
    assert_eq!(h.catalog.described, vec![TableId::new("shop", "t")]);
}

#[tokio::test]
async fn anonymous_gtid_ddl_group_ends_after_its_query() {
    let mut h = Harness::new(None);
    h.ok(ANONYMOUS_GTID, &mysql_gtid_body(0, true)).await;
    h.ok(QUERY, &query_body("shop", "CREATE TABLE shop.u (a INT)"))
        .await;
    assert!(h.cur.tx.is_none());
    assert_eq!(h.emitter.checkpoints, vec![offset(h.end(), None)]);
}

#[tokio::test]
async fn a_commit_query_ends_a_non_transactional_group() {
    let mut h = Harness::mysql(&format!("{UUID}:1-6"));
    h.begin_mysql(7).await;
    h.ok(
        WRITE_ROWS,
        &rows_body(WRITE_ROWS, T_ID, &[image(1, None, None)]),
    )
    .await;
    h.ok(QUERY, &query_body("shop", "COMMIT")).await;
    assert!(h.cur.tx.is_none());
    assert_eq!(h.emitter.ends.len(), 1);
    assert_eq!(
        h.emitter.ends[0].mark,
        offset(h.end(), mysql_state(&format!("{UUID}:1-7")))
    );
    assert_eq!(h.emitter.ends[0].id, format!("{UUID}:7"));
}

#[tokio::test]
async fn rows_of_tables_not_captured_are_ignored() {
    let mut h = Harness::mysql(&format!("{UUID}:1-6"));
    h.ok(MYSQL_GTID, &mysql_gtid_body(7, true)).await;
    h.ok(QUERY, &query_body("shop", "BEGIN")).await;
    h.ok(TABLE_MAP, &table_map_body(99, "shop", "skip", false))
        .await;
    h.ok(TABLE_MAP, &table_map_body(98, "other", "t", false))
        .await;
    h.ok(
        WRITE_ROWS,
        &rows_body(WRITE_ROWS, 99, &[image(1, None, None)]),
    )
    .await;
    h.ok(
        DELETE_ROWS,
        &rows_body(DELETE_ROWS, 98, &[image(1, None, None)]),
    )
    .await;
    h.ok(XID, &xid_body(1)).await;
    assert!(h.emitter.events.is_empty());
    assert!(h.emitter.ends.is_empty());
    assert!(h.emitter.state.is_empty());
    assert!(h.catalog.described.is_empty());
    // The GTID set still moves past the transaction.
    assert_eq!(
        h.emitter.checkpoints,
        vec![offset(h.end(), mysql_state(&format!("{UUID}:1-7")))]
    );
}

#[tokio::test]
async fn rows_of_an_unannounced_table_id_are_an_error_naming_the_position() {
    let mut h = Harness::mysql(&format!("{UUID}:1-6"));
    h.begin_mysql(7).await;
    let at = h.pos;
    let e = h
        .err(
            WRITE_ROWS,
            &rows_body(WRITE_ROWS, 55, &[image(1, None, None)]),
        )
        .await;
    assert!(!e.transient);
    assert!(e.message.contains(&format!("{FILE}:{at}")), "{e}");
    assert!(e.message.contains("table id 55"), "{e}");
    assert!(h.emitter.events.is_empty());
}

#[tokio::test]
async fn a_rotate_switches_files_and_forgets_table_ids() {
    let mut h = Harness::mysql(&format!("{UUID}:1-6"));
    h.ok(ROTATE, &rotate_body("binlog.000004")).await;
    assert_eq!(h.cur.file, "binlog.000004");
    h.pos = 4;
    h.begin_mysql(7).await;
    let at = h
        .ok(
            WRITE_ROWS,
            &rows_body(WRITE_ROWS, T_ID, &[image(1, None, None)]),
        )
        .await;
    h.ok(XID, &xid_body(1)).await;
    let Position::Mysql(p) = &h.emitter.events[0].position else {
        panic!("not a MySQL position");
    };
    assert_eq!(p.binlog.to_string(), format!("binlog.000004:{at}"));
    assert_eq!(h.emitter.ends[0].mark.binlog.file, "binlog.000004");

    // The server reuses table ids in the next file: a rows event needs a
    // table map of its own file.
    h.ok(ROTATE, &rotate_body("binlog.000005")).await;
    h.pos = 4;
    h.ok(MYSQL_GTID, &mysql_gtid_body(8, true)).await;
    h.ok(QUERY, &query_body("shop", "BEGIN")).await;
    let e = h
        .err(
            WRITE_ROWS,
            &rows_body(WRITE_ROWS, T_ID, &[image(1, None, None)]),
        )
        .await;
    assert!(e.message.contains("binlog.000005:"), "{e}");
}

#[tokio::test]
async fn a_partial_json_update_is_refused() {
    let mut h = Harness::mysql(&format!("{UUID}:1-6"));
    h.begin_mysql(7).await;
    let at = h.pos;
    let e = h
        .err(
            PARTIAL_UPDATE_ROWS,
            &rows_body(
                PARTIAL_UPDATE_ROWS,
                T_ID,
                &[image(1, None, None), image(1, None, Some(2))],
            ),
        )
        .await;
    assert!(!e.transient);
    assert!(e.message.contains("binlog_row_value_options"), "{e}");
    assert!(e.message.contains(&format!("{FILE}:{at}")), "{e}");
    assert!(h.emitter.events.is_empty());
}

#[tokio::test]
async fn a_compressed_mariadb_rows_event_is_refused() {
    let mut h = Harness::mariadb("0-1-41");
    h.ok(
        MARIADB_GTID,
        &mariadb_gtid_body(42, 0, flags2::TRANSACTIONAL),
    )
    .await;
    h.ok(QUERY, &query_body("shop", "BEGIN")).await;
    h.ok(TABLE_MAP, &table_map_body(T_ID, "shop", "t", true))
        .await;
    let at = h.pos;
    let e = h
        .err(
            MARIADB_WRITE_ROWS_COMPRESSED,
            &[0x80, 0x10, 0x00, 0x01, 0x02],
        )
        .await;
    assert!(!e.transient);
    assert!(e.message.contains("log_bin_compress"), "{e}");
    assert!(e.message.contains(&format!("{FILE}:{at}")), "{e}");
}

#[tokio::test]
async fn a_compressed_mysql_transaction_is_refused() {
    use mysql_common::binlog::consts::TransactionPayloadCompressionType;
    use mysql_common::binlog::events::TransactionPayloadEvent;
    use mysql_common::proto::MySerialize;

    let mut h = Harness::mysql(&format!("{UUID}:1-6"));
    h.ok(MYSQL_GTID, &mysql_gtid_body(7, true)).await;
    let payload = [1u8, 2, 3, 4];
    let mut body = Vec::new();
    TransactionPayloadEvent::new(
        payload.len() as u64,
        TransactionPayloadCompressionType::NONE,
        payload.len() as u64,
        &payload[..],
    )
    .serialize(&mut body);
    let e = h.err(TRANSACTION_PAYLOAD, &body).await;
    assert!(!e.transient);
    assert!(e.message.contains("binlog_transaction_compression"), "{e}");
}

#[tokio::test]
async fn a_tagged_gtid_is_refused() {
    use mysql_common::binlog::events::GtidEvent;
    use mysql_common::packets::Tag;
    use mysql_common::proto::MySerialize;

    let mut h = Harness::mysql(&format!("{UUID}:1-6"));
    let mut body = Vec::new();
    GtidEvent::new_tagged(uuid_bytes(), Tag::new("blue").unwrap(), 7).serialize(&mut body);
    let e = h.err(GTID_TAGGED, &body).await;
    assert!(!e.transient);
    assert!(e.message.contains("tagged GTID"), "{e}");
    assert_eq!(h.cur.gtid, mysql_state(&format!("{UUID}:1-6")));
}

#[tokio::test]
async fn unknown_events_stop_inside_a_transaction_only() {
    let mut h = Harness::mysql(&format!("{UUID}:1-6"));
    // Outside any transaction: skipped.
    h.ok(200, &[1, 2, 3]).await;
    assert!(h.cur.tx.is_none());

    h.begin_mysql(7).await;
    // Marked ignorable by the server: skipped even inside.
    h.feed_flags(200, 0x80, &[1, 2, 3]).await.unwrap();
    let at = h.pos;
    let e = h.err(200, &[1, 2, 3]).await;
    assert!(!e.transient);
    assert!(e.message.contains("unknown binlog event type 200"), "{e}");
    assert!(e.message.contains(&format!("{FILE}:{at}")), "{e}");
}

const XA_PREPARE: u8 = 38;

#[tokio::test]
async fn an_xa_group_ends_at_xa_prepare_and_refuses_captured_rows() {
    let xid = "X'616263',X'7879',7";
    let mut h = Harness::mysql(&format!("{UUID}:1-6"));
    h.ok(MYSQL_GTID, &mysql_gtid_body(7, true)).await;
    h.ok(QUERY, &query_body("shop", &format!("XA START {xid}")))
        .await;
    h.ok(TABLE_MAP, &table_map_body(99, "shop", "skip", false))
        .await;
    h.ok(
        WRITE_ROWS,
        &rows_body(WRITE_ROWS, 99, &[image(1, None, None)]),
    )
    .await;
    h.ok(QUERY, &query_body("shop", &format!("XA END {xid}")))
        .await;
    assert!(h.emitter.checkpoints.is_empty(), "the group is still open");
    h.ok(XA_PREPARE, &[0; 8]).await;
    assert!(h.cur.tx.is_none());
    assert_eq!(
        h.emitter.checkpoints,
        vec![offset(h.end(), mysql_state(&format!("{UUID}:1-7")))]
    );
    // The second phase is a group of its own.
    h.ok(MYSQL_GTID, &mysql_gtid_body(8, true)).await;
    h.ok(QUERY, &query_body("shop", &format!("XA COMMIT {xid}")))
        .await;
    assert!(h.cur.tx.is_none());
    assert_eq!(h.cur.gtid, mysql_state(&format!("{UUID}:1-8")));

    // Rows of a captured table: refused before any is emitted.
    h.ok(MYSQL_GTID, &mysql_gtid_body(9, true)).await;
    h.ok(QUERY, &query_body("shop", &format!("XA START {xid}")))
        .await;
    h.ok(TABLE_MAP, &table_map_body(T_ID, "shop", "t", true))
        .await;
    let at = h.pos;
    let e = h
        .err(
            WRITE_ROWS,
            &rows_body(WRITE_ROWS, T_ID, &[image(1, None, None)]),
        )
        .await;
    assert!(e.message.contains("XA transaction"), "{e}");
    assert!(e.message.contains(&format!("{FILE}:{at}")), "{e}");
    assert!(h.emitter.events.is_empty());
}

// ---------------------------------------------------------------------------
// MariaDB.

#[tokio::test]
async fn mariadb_standalone_ddl_group_ends_and_advances_the_gtid_list() {
    let mut h = Harness::mariadb("0-1-41,1-2-7");
    h.ok(
        MARIADB_GTID,
        &mariadb_gtid_body(42, 0, flags2::STANDALONE | flags2::DDL),
    )
    .await;
    h.ok(QUERY, &query_body("shop", "ALTER TABLE t ADD COLUMN x INT"))
        .await;
    assert!(h.cur.tx.is_none());
    let want = Some(GtidState::Mariadb("0-1-42,1-2-7".parse().unwrap()));
    assert_eq!(h.cur.gtid, want);
    assert!(h.emitter.events.is_empty());
    assert_eq!(h.emitter.checkpoints, vec![offset(h.end(), want)]);
    // `t` in the default database `shop` is shop.t.
    assert_eq!(h.emitter.calls, ["save schema/shop.t", "checkpoint"]);
}

#[tokio::test]
async fn mariadb_transaction_carries_its_gtid() {
    let mut h = Harness::mariadb("0-1-41");
    h.ok(
        MARIADB_GTID,
        &mariadb_gtid_body(42, 0, flags2::TRANSACTIONAL),
    )
    .await;
    h.ok(QUERY, &query_body("shop", "BEGIN")).await;
    h.ok(TABLE_MAP, &table_map_body(T_ID, "shop", "t", false))
        .await;
    let at = h
        .ok(
            WRITE_ROWS,
            &rows_body(WRITE_ROWS, T_ID, &[image(4, Some("é"), None)]),
        )
        .await;
    h.ok(XID, &xid_body(5)).await;
    let g = Gtid::Mariadb(MariadbGtid {
        domain: 0,
        server: SERVER_ID,
        seq: 42,
    });
    let e = &h.emitter.events[0];
    assert_eq!(e.position, position(at, 0, Some(g)));
    assert_eq!(e.transaction.as_ref().unwrap().id, "0-1-42");
    // Minimal metadata: names, signedness and charset from the catalog.
    assert_eq!(e.after, Some(row(4, Some("é"), None)));
    assert_eq!(
        h.emitter.ends[0].mark,
        offset(h.end(), Some(GtidState::Mariadb("0-1-42".parse().unwrap())))
    );
}
