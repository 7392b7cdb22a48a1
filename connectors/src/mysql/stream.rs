//! Opening a binlog stream: register as a replica and ask for the binlog from
//! a saved offset, by GTID or by file/position.
//!
//! Invariants:
//! - MariaDB gets `@mariadb_slave_capability=4` first, so it sends its own
//!   GTID events (which the source decodes itself) instead of rewriting
//!   them into fake events; resuming by GTID sets `@slave_connect_state`
//!   and lets the server find the position.
//! - MySQL resumes by GTID with `COM_BINLOG_DUMP_GTID` and the executed set
//!   (half-open intervals on the wire, see [`gtid_set_sids`]). Not yet
//!   tested against a MySQL server; the conversion is unit-tested.
//! - A heartbeat is requested, so a silent network drop shows up as a read
//!   timeout (see [`HEARTBEAT`]) rather than a hang.
//! - Whether the offset is still on the server is checked before (see
//!   [`super::purged`]); a refusal by the server (1236) maps to the same
//!   error. Never skip ahead.

use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{BinlogStream, BinlogStreamRequest, Conn, GnoInterval, Sid};

use rowlog_schemas::position::MysqlGtidSet;

use super::offset::{GtidState, MysqlOffset};
use super::purged::purged_message;
use crate::error::SourceError;

/// How often the server sends a heartbeat when it has nothing else.
pub const HEARTBEAT: Duration = Duration::from_secs(2);

/// A MySQL GTID set as `COM_BINLOG_DUMP_GTID` carries it: one [`Sid`] per
/// server UUID, each interval half-open (`uuid:1-5:7` is `[1, 6)` and
/// `[7, 8)`), where the set itself holds closed ranges.
pub fn gtid_set_sids(set: &MysqlGtidSet) -> Vec<Sid<'static>> {
    set.intervals()
        .map(|(uuid, ivs)| {
            Sid::new(*uuid.as_bytes()).with_intervals(
                ivs.iter()
                    .map(|&(a, b)| GnoInterval::new(a, b.saturating_add(1)))
                    .collect(),
            )
        })
        .collect()
}

/// Turns `conn` into a binlog stream starting at `offset`.
pub async fn open(
    mut conn: Conn,
    mariadb: bool,
    server_id: u32,
    offset: &MysqlOffset,
    by_gtid: bool,
) -> Result<BinlogStream, SourceError> {
    let period_ns = HEARTBEAT.as_nanos();
    conn.query_drop(format!("SET @master_heartbeat_period = {period_ns}"))
        .await?;
    if mariadb {
        conn.query_drop("SET @mariadb_slave_capability = 4").await?;
    }
    let request = BinlogStreamRequest::new(server_id);
    let request = match (&offset.gtid, by_gtid) {
        (Some(GtidState::Mariadb(list)), true) => {
            conn.exec_drop("SET @slave_connect_state = ?", (list.to_string(),))
                .await?;
            conn.query_drop("SET @slave_gtid_strict_mode = 1").await?;
            // The server ignores file/position when a GTID state is set.
            request
        }
        (Some(GtidState::Mysql(set)), true) => request
            .with_gtid()
            .with_gtid_set(gtid_set_sids(set))
            .with_filename(b"")
            .with_pos(4u64),
        _ => request
            .with_filename(offset.binlog.file.as_bytes())
            .with_pos(offset.binlog.pos),
    };
    Ok(conn.get_binlog_stream(request).await?)
}

/// Maps an error the server sent on the binlog stream: 1236 (the
/// position is not in its binlogs) becomes the purged-position error.
pub fn stream_error(e: mysql_async::Error, offset: &MysqlOffset, by_gtid: bool) -> SourceError {
    if let mysql_async::Error::Server(s) = &e
        && s.code == 1236
    {
        let what = match (&offset.gtid, by_gtid) {
            (Some(g), true) => format!("GTID {g}"),
            _ => offset.binlog.to_string(),
        };
        return SourceError::permanent(format!(
            "{} [server: {} (MySQL error 1236)]",
            purged_message(&what),
            s.message
        ));
    }
    SourceError::from(e)
}

#[cfg(test)]
mod tests {
    use mysql_common::proto::MySerialize;

    use super::*;

    #[test]
    fn gtid_sets_go_on_the_wire_as_half_open_intervals() {
        let uuid = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
        let set: MysqlGtidSet = format!("{uuid}:1-5:7").parse().unwrap();
        let sids = gtid_set_sids(&set);
        assert_eq!(sids.len(), 1);
        let sid = &sids[0];
        assert_eq!(uuid::Uuid::from_bytes(sid.uuid()).to_string(), uuid);
        let ivs: Vec<(u64, u64)> = sid
            .intervals()
            .iter()
            .map(|i| (i.start(), i.end()))
            .collect();
        assert_eq!(ivs, vec![(1, 6), (7, 8)]);

        // The bytes COM_BINLOG_DUMP_GTID carries for it: the UUID, the
        // interval count, then (start, end) pairs, little-endian.
        let mut wire = Vec::new();
        sid.serialize(&mut wire);
        let mut want = uuid::Uuid::parse_str(uuid).unwrap().as_bytes().to_vec();
        for n in [2u64, 1, 6, 7, 8] {
            want.extend_from_slice(&n.to_le_bytes());
        }
        assert_eq!(wire, want);
    }

    #[test]
    fn every_server_uuid_gets_its_own_sid() {
        let set: MysqlGtidSet = "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-3,\
                                 4e11fa47-71ca-11e1-9e33-c80aa9429562:10"
            .parse()
            .unwrap();
        let sids = gtid_set_sids(&set);
        let got: Vec<(String, Vec<(u64, u64)>)> = sids
            .iter()
            .map(|s| {
                (
                    uuid::Uuid::from_bytes(s.uuid()).to_string(),
                    s.intervals().iter().map(|i| (i.start(), i.end())).collect(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("3e11fa47-71ca-11e1-9e33-c80aa9429562".into(), vec![(1, 4)]),
                (
                    "4e11fa47-71ca-11e1-9e33-c80aa9429562".into(),
                    vec![(10, 11)]
                ),
            ]
        );
        assert!(gtid_set_sids(&MysqlGtidSet::default()).is_empty());
    }
}
