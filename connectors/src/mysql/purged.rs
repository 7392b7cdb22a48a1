//! Whether a saved offset can still be resumed from: the server must still
//! have every transaction after it — its file and position
//! ([`check_file_pos`]), or its GTID state ([`check_gtid_available`]).
//!
//! Invariants:
//! - MariaDB: the oldest binlog file starts with a GTID_LIST event, the
//!   state before its first transaction. A saved state is resumable only if,
//!   for every domain in that list, the saved state has reached at least
//!   that sequence number (gtid_strict_mode keeps a domain's sequence
//!   numbers increasing across servers). A domain the saved state never saw
//!   but the purged files held means changes of that domain are gone.
//! - MySQL: every transaction in `@@gtid_purged` must be in the saved set.
//!   Not yet tested against a MySQL server.
//! - The check runs before streaming, so the purged-position error comes
//!   before anything is emitted; the server's own refusal (error 1236) is
//!   mapped to the same error as a second line of defence.

use mysql_async::Conn;
use mysql_async::prelude::Queryable;
use rowlog_schemas::position::{MariadbGtidList, MysqlGtidSet};

use super::offset::{GtidState, MysqlOffset};
use crate::error::SourceError;

/// The message of every "position is gone" error.
pub fn purged_message(what: &str) -> String {
    format!(
        "the saved position {what} is no longer on the server (binlogs purged, or a different server); nothing after it can be read without a gap. Re-snapshot: restart once with `snapshot: always` (it reads the tables again and streams from the new snapshot's position)"
    )
}

/// Checks that `file:pos` is still on the server.
pub async fn check_file_pos(conn: &mut Conn, offset: &MysqlOffset) -> Result<(), SourceError> {
    let logs: Vec<(String, u64)> = conn
        .query_map("SHOW BINARY LOGS", |row: mysql_async::Row| {
            let name: String = row.get(0).unwrap_or_default();
            let size: u64 = row.get(1).unwrap_or_default();
            (name, size)
        })
        .await?;
    match logs.iter().find(|(name, _)| *name == offset.binlog.file) {
        Some((_, size)) if offset.binlog.pos <= *size => Ok(()),
        Some((_, size)) => Err(SourceError::permanent(purged_message(&format!(
            "{} (the file is only {size} bytes)",
            offset.binlog
        )))),
        None => Err(SourceError::permanent(purged_message(&format!(
            "{} (the server's binlogs are {})",
            offset.binlog,
            logs.first()
                .zip(logs.last())
                .map(|(a, b)| format!("{} … {}", a.0, b.0))
                .unwrap_or_else(|| "none".into())
        )))),
    }
}

/// Errors with the purged-position message when `state` is no longer on the
/// server.
pub async fn check_gtid_available(conn: &mut Conn, state: &GtidState) -> Result<(), SourceError> {
    match state {
        GtidState::Mariadb(saved) => {
            let Some(oldest) = oldest_gtid_list(conn).await? else {
                return Ok(());
            };
            match missing_mariadb(saved, &oldest) {
                None => Ok(()),
                Some(why) => Err(SourceError::permanent(purged_message(&format!(
                    "GTID {saved} ({why})"
                )))),
            }
        }
        GtidState::Mysql(saved) => {
            let purged: Option<String> = conn.query_first("SELECT @@GLOBAL.gtid_purged").await?;
            let purged: MysqlGtidSet = purged
                .unwrap_or_default()
                .parse()
                .map_err(|e| SourceError::permanent(format!("server gtid_purged: {e}")))?;
            if contains_all(saved, &purged) {
                Ok(())
            } else {
                Err(SourceError::permanent(purged_message(&format!(
                    "GTID set {saved} (the server purged {purged})"
                ))))
            }
        }
    }
}

/// The GTID_LIST at the start of the oldest binlog file (`None` when the
/// server shows none, e.g. a fresh server's first file).
async fn oldest_gtid_list(conn: &mut Conn) -> Result<Option<MariadbGtidList>, SourceError> {
    let files: Vec<String> = conn
        .query_map("SHOW BINARY LOGS", |row: mysql_async::Row| {
            row.get::<String, _>(0).unwrap_or_default()
        })
        .await?;
    let Some(first) = files.first() else {
        return Ok(None);
    };
    let events: Vec<(String, String)> = conn
        .exec_map(
            format!(
                "SHOW BINLOG EVENTS IN '{}' LIMIT 4",
                first.replace('\\', "\\\\").replace('\'', "''")
            ),
            (),
            |row: mysql_async::Row| {
                (
                    row.get::<String, _>(2).unwrap_or_default(),
                    row.get::<String, _>(5).unwrap_or_default(),
                )
            },
        )
        .await?;
    for (kind, info) in events {
        if kind == "Gtid_list" {
            let inner = info.trim().trim_start_matches('[').trim_end_matches(']');
            let list = inner.parse().map_err(|e| {
                SourceError::permanent(format!(
                    "the GTID_LIST of binlog {first} (`{info}`) is unreadable: {e}"
                ))
            })?;
            return Ok(Some(list));
        }
    }
    Ok(None)
}

/// Why `saved` cannot resume given the oldest file's GTID_LIST, if it cannot.
fn missing_mariadb(saved: &MariadbGtidList, oldest: &MariadbGtidList) -> Option<String> {
    for need in oldest.gtids() {
        let have = saved.gtids().iter().find(|g| g.domain == need.domain);
        match have {
            Some(h) if h.seq >= need.seq => {}
            Some(h) => {
                return Some(format!(
                    "domain {} is at {} but the oldest binlog starts after {}",
                    need.domain, h, need
                ));
            }
            None => {
                return Some(format!(
                    "the purged binlogs held domain {} up to {need}, which the saved position never saw",
                    need.domain
                ));
            }
        }
    }
    None
}

/// Whether every transaction of `purged` is in `saved`.
fn contains_all(saved: &MysqlGtidSet, purged: &MysqlGtidSet) -> bool {
    let have: std::collections::HashMap<_, _> = saved.intervals().collect();
    purged.intervals().all(|(uuid, ivs)| {
        let Some(mine) = have.get(uuid) else {
            return false;
        };
        ivs.iter()
            .all(|&(a, b)| mine.iter().any(|&(x, y)| x <= a && b <= y))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(s: &str) -> MariadbGtidList {
        s.parse().unwrap()
    }

    #[test]
    fn mariadb_state_must_reach_every_purged_domain() {
        assert_eq!(missing_mariadb(&list("0-1-5"), &list("0-1-5")), None);
        assert_eq!(missing_mariadb(&list("0-1-9,1-2-3"), &list("0-1-5")), None);
        // Another server in the same domain (after a failover) counts by seq.
        assert_eq!(missing_mariadb(&list("0-2-7"), &list("0-1-5")), None);
        let why = missing_mariadb(&list("0-1-3"), &list("0-1-5")).unwrap();
        assert!(why.contains("0-1-3") && why.contains("0-1-5"), "{why}");
        let why = missing_mariadb(&list("0-1-9"), &list("0-1-5,1-2-1")).unwrap();
        assert!(why.contains("domain 1"), "{why}");
        assert_eq!(missing_mariadb(&list("0-1-1"), &list("")), None);
    }

    #[test]
    fn mysql_sets_must_contain_the_purged_set() {
        let u = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
        let set = |s: &str| -> MysqlGtidSet { s.parse().unwrap() };
        assert!(contains_all(
            &set(&format!("{u}:1-10")),
            &set(&format!("{u}:1-5"))
        ));
        assert!(contains_all(&set(&format!("{u}:1-10")), &set("")));
        assert!(!contains_all(
            &set(&format!("{u}:1-3")),
            &set(&format!("{u}:1-5"))
        ));
        assert!(!contains_all(
            &set(&format!("{u}:1-3:5-9")),
            &set(&format!("{u}:1-5"))
        ));
        let v = "4e11fa47-71ca-11e1-9e33-c80aa9429562";
        assert!(!contains_all(
            &set(&format!("{u}:1-10")),
            &set(&format!("{v}:1"))
        ));
    }
}
