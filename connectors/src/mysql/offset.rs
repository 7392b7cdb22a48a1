//! Where a MySQL/MariaDB source resumes: the saved offset.
//!
//! Invariants:
//! - An offset always points *between* transactions: the binlog file and
//!   position right after a commit (or a snapshot's consistent point), plus
//!   the GTID state at that point (MariaDB: the last GTID per domain; MySQL:
//!   the executed GTID set). Resuming from it never starts inside a
//!   transaction, so no half transaction is ever emitted twice or skipped.
//! - The offset is saved in the log's state topic only once the emitter says
//!   every event before it is durable, so a saved offset never runs ahead of
//!   the events. A lost state record costs only duplicates.
//! - `server_id` and `epoch` say which server the file/position belongs to:
//!   when the source follows another server (a failover to a replica), it
//!   resumes by GTID, because that server's file names and offsets mean
//!   something else, and raises the epoch so row versions keep growing.
//! - The text form is JSON with named fields so a person can read it in the
//!   state topic; parsing rejects anything malformed with the text quoted.

use std::fmt;
use std::str::FromStr;

use rowlog_schemas::position::{BinlogPos, MariadbGtidList, MysqlGtidSet};
use serde_json::json;

use crate::error::SourceError;

/// The GTID state at an offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GtidState {
    /// MariaDB `gtid_binlog_pos` style list (`0-1-42,1-2-7`).
    Mariadb(MariadbGtidList),
    /// MySQL executed GTID set (`uuid:1-42`).
    Mysql(MysqlGtidSet),
}

impl fmt::Display for GtidState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GtidState::Mariadb(l) => write!(f, "{l}"),
            GtidState::Mysql(s) => write!(f, "{s}"),
        }
    }
}

/// A resume point of a MySQL/MariaDB source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MysqlOffset {
    /// Failover generation (see the module doc).
    pub epoch: u8,
    /// `@@server_id` of the server the file/position belongs to.
    pub server_id: u32,
    /// The first byte after the last whole transaction.
    pub binlog: BinlogPos,
    /// GTID state at that point, when the server has GTIDs.
    pub gtid: Option<GtidState>,
}

impl fmt::Display for MysqlOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (flavor, gtid) = match &self.gtid {
            None => (None, None),
            Some(GtidState::Mariadb(l)) => (Some("mariadb"), Some(l.to_string())),
            Some(GtidState::Mysql(s)) => (Some("mysql"), Some(s.to_string())),
        };
        let v = json!({
            "epoch": self.epoch,
            "server_id": self.server_id,
            "file": self.binlog.file,
            "pos": self.binlog.pos,
            "gtid_flavor": flavor,
            "gtid": gtid,
        });
        write!(f, "{v}")
    }
}

impl FromStr for MysqlOffset {
    type Err = SourceError;
    fn from_str(s: &str) -> Result<MysqlOffset, SourceError> {
        let bad = |why: String| {
            SourceError::permanent(format!(
                "saved MySQL offset `{s}` is unreadable ({why}); the state topic was written by something else or damaged: re-snapshot the source (restart once with `snapshot: always`)"
            ))
        };
        let v: serde_json::Value = serde_json::from_str(s).map_err(|e| bad(e.to_string()))?;
        let field = |name: &str| v.get(name).ok_or_else(|| bad(format!("no `{name}`")));
        let num = |name: &str| {
            field(name)?
                .as_u64()
                .ok_or_else(|| bad(format!("`{name}` is not a number")))
        };
        let epoch = u8::try_from(num("epoch")?).map_err(|_| bad("epoch > 255".into()))?;
        let server_id =
            u32::try_from(num("server_id")?).map_err(|_| bad("server_id > 2^32".into()))?;
        let file = field("file")?
            .as_str()
            .ok_or_else(|| bad("`file` is not a string".into()))?
            .to_string();
        let pos = num("pos")?;
        let flavor = v.get("gtid_flavor").and_then(|f| f.as_str());
        let text = v.get("gtid").and_then(|g| g.as_str());
        let gtid = match (flavor, text) {
            (Some("mariadb"), Some(t)) => Some(GtidState::Mariadb(
                t.parse().map_err(|e| bad(format!("gtid: {e}")))?,
            )),
            (Some("mysql"), Some(t)) => Some(GtidState::Mysql(
                t.parse().map_err(|e| bad(format!("gtid: {e}")))?,
            )),
            (None, None) => None,
            _ => return Err(bad("`gtid_flavor` and `gtid` disagree".into())),
        };
        Ok(MysqlOffset {
            epoch,
            server_id,
            binlog: BinlogPos { file, pos },
            gtid,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_round_trip_through_text() {
        for gtid in [
            None,
            Some(GtidState::Mariadb("0-1-42,1-2-7".parse().unwrap())),
            Some(GtidState::Mysql(
                "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-42:50"
                    .parse()
                    .unwrap(),
            )),
        ] {
            let o = MysqlOffset {
                epoch: 2,
                server_id: 7,
                binlog: BinlogPos {
                    file: "binlog.000003".into(),
                    pos: 4711,
                },
                gtid,
            };
            let text = o.to_string();
            assert_eq!(text.parse::<MysqlOffset>().unwrap(), o, "{text}");
        }
    }

    #[test]
    fn damaged_offsets_say_how_to_recover() {
        for bad in [
            "",
            "{}",
            r#"{"epoch":1,"server_id":1,"file":"b.1","pos":"x"}"#,
            r#"{"epoch":1,"server_id":1,"file":"b.1","pos":4,"gtid_flavor":"mariadb"}"#,
        ] {
            let e = bad.parse::<MysqlOffset>().unwrap_err();
            assert!(!e.transient);
            assert!(e.message.contains("snapshot: always"), "{e}");
        }
    }
}
