//! What the MySQL/MariaDB source checks on the server before it reads the
//! binlog, over an ordinary SQL connection.
//!
//! Invariants: nothing here changes the server; every check that fails is a
//! permanent [`SourceError`] that names the setting, its value and the exact
//! fix — the `SET GLOBAL` to run now and the line for the `[mysqld]`
//! section of the server's config file so it survives a restart.
//!
//! Supported servers: MariaDB 10.6+ and MySQL 8.0+. `binlog_row_image`
//! must be `FULL`: `MINIMAL` and `NOBLOB` are not supported yet (updates and
//! deletes would carry only some columns, so rows in the log would be
//! incomplete). `binlog_row_metadata=FULL` is preferred but not required:
//! without it column names come from `information_schema`.
//! Privileges are read from `SHOW GRANTS` for the current user; privileges
//! that only come through a role that is not active are not seen.

use mysql_async::Conn;
use mysql_async::prelude::Queryable;

use crate::error::SourceError;

/// Server facts the source depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerInfo {
    /// `@@version`, e.g. `10.11.6-MariaDB-0+deb12u1-log`.
    pub version: String,
    /// MariaDB (else MySQL).
    pub mariadb: bool,
    /// Major and minor version, e.g. (10, 11).
    pub version_num: (u32, u32),
    /// `@@server_id`.
    pub server_id: u32,
    /// `@@binlog_format` (always `ROW` once the checks pass).
    pub binlog_format: String,
    /// `@@binlog_row_image` (always `FULL` once the checks pass).
    pub binlog_row_image: String,
    /// `@@binlog_row_metadata` (`MINIMAL`, `FULL`, `NO_LOG`); `None` when the
    /// server has no such variable.
    pub binlog_row_metadata: Option<String>,
    /// MySQL `@@gtid_mode` (`ON`, `OFF`, ...); `None` on MariaDB.
    pub gtid_mode: Option<String>,
    /// MariaDB `@@gtid_binlog_pos`; `None` on MySQL.
    pub gtid_binlog_pos: Option<String>,
}

impl ServerInfo {
    /// Whether column names and types come with every TABLE_MAP event.
    pub fn has_full_row_metadata(&self) -> bool {
        self.binlog_row_metadata
            .as_deref()
            .is_some_and(|m| m.eq_ignore_ascii_case("FULL"))
    }
}

const VARIABLES: &[&str] = &[
    "version",
    "log_bin",
    "binlog_format",
    "binlog_row_image",
    "binlog_row_metadata",
    "log_bin_compress",
    "server_id",
    "gtid_mode",
    "gtid_binlog_pos",
];

/// Reads and checks the server settings and the current user's privileges.
pub async fn check_server(conn: &mut Conn) -> Result<ServerInfo, SourceError> {
    let query = format!(
        "SHOW GLOBAL VARIABLES WHERE Variable_name IN ({})",
        VARIABLES
            .iter()
            .map(|v| format!("'{v}'"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let rows: Vec<(String, Option<String>)> = conn.query(query).await?;
    let var = |name: &str| -> Option<String> {
        rows.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone().unwrap_or_default())
    };
    let version = var("version").unwrap_or_default();
    let info = check_settings(
        &version,
        var("log_bin"),
        var("binlog_format"),
        var("binlog_row_image"),
        var("binlog_row_metadata"),
        var("log_bin_compress"),
        var("server_id"),
        var("gtid_mode"),
        var("gtid_binlog_pos"),
    )?;
    let user: Option<String> = conn.query_first("SELECT CURRENT_USER()").await?;
    let grants: Vec<String> = conn.query("SHOW GRANTS").await?;
    check_grants(&grants, &user.unwrap_or_default(), info.mariadb)?;
    Ok(info)
}

fn is_on(v: &str) -> bool {
    v.eq_ignore_ascii_case("ON") || v == "1"
}

/// `10.11.6-MariaDB-log` → (10, 11).
fn version_num(version: &str) -> Option<(u32, u32)> {
    let mut it = version.split(['.', '-']);
    let major = it.next()?.parse().ok()?;
    let minor = it.next()?.parse().ok()?;
    Some((major, minor))
}

#[allow(clippy::too_many_arguments)]
fn check_settings(
    version: &str,
    log_bin: Option<String>,
    binlog_format: Option<String>,
    binlog_row_image: Option<String>,
    binlog_row_metadata: Option<String>,
    log_bin_compress: Option<String>,
    server_id: Option<String>,
    gtid_mode: Option<String>,
    gtid_binlog_pos: Option<String>,
) -> Result<ServerInfo, SourceError> {
    let mariadb = version.contains("MariaDB");
    let num = version_num(version).ok_or_else(|| {
        SourceError::permanent(format!(
            "cannot read the server version from @@version = `{version}`; rowlog supports MariaDB 10.6+ and MySQL 8.0+"
        ))
    })?;
    let (product, min) = if mariadb {
        ("MariaDB", (10, 6))
    } else {
        ("MySQL", (8, 0))
    };
    if num < min {
        return Err(SourceError::permanent(format!(
            "{product} {version} is too old; rowlog needs {product} {}.{} or newer",
            min.0, min.1
        )));
    }
    let log_bin = log_bin.unwrap_or_default();
    if !is_on(&log_bin) {
        return Err(SourceError::permanent(format!(
            "log_bin is `{log_bin}`: the binary log is off, so there are no row changes to read; \
             it cannot be turned on at runtime: add `log_bin = mysql-bin` (and `server_id = 1`, \
             `binlog_format = ROW`) to the [mysqld] section of the server's config file and restart the server"
        )));
    }
    let format = binlog_format.unwrap_or_default();
    if !format.eq_ignore_ascii_case("ROW") {
        return Err(SourceError::permanent(format!(
            "binlog_format is `{format}`, rowlog needs `ROW` (statement events carry no rows); \
             run SET GLOBAL binlog_format = 'ROW' (sessions already open keep their format: reconnect them) \
             and add `binlog_format = ROW` to the [mysqld] section of the server's config file"
        )));
    }
    let image = binlog_row_image.unwrap_or_default();
    if !image.eq_ignore_ascii_case("FULL") {
        return Err(SourceError::permanent(format!(
            "binlog_row_image is `{image}`, rowlog needs `FULL` (MINIMAL and NOBLOB are not supported yet: \
             updates and deletes would carry only some columns); run SET GLOBAL binlog_row_image = 'FULL' \
             (sessions already open keep their setting: reconnect them) and add `binlog_row_image = FULL` \
             to the [mysqld] section of the server's config file"
        )));
    }
    if let Some(c) = &log_bin_compress
        && is_on(c)
    {
        return Err(SourceError::permanent(format!(
            "log_bin_compress is `{c}`: compressed row events are not supported; \
             run SET GLOBAL log_bin_compress = OFF and add `log_bin_compress = OFF` to the [mysqld] section \
             of the server's config file (events already written compressed still cannot be read: \
             start rowlog from a position after the change, e.g. after FLUSH BINARY LOGS)"
        )));
    }
    let server_id_text = server_id.unwrap_or_default();
    let server_id: u32 = server_id_text.parse().unwrap_or(0);
    if server_id == 0 {
        return Err(SourceError::permanent(format!(
            "server_id is `{server_id_text}`: a server with server_id 0 refuses replicas; \
             run SET GLOBAL server_id = 1 (any number not used by another server or by rowlog) \
             and add `server_id = 1` to the [mysqld] section of the server's config file"
        )));
    }
    Ok(ServerInfo {
        version: version.to_string(),
        mariadb,
        version_num: num,
        server_id,
        binlog_format: format,
        binlog_row_image: image,
        binlog_row_metadata,
        gtid_mode: if mariadb { None } else { gtid_mode },
        gtid_binlog_pos: if mariadb { gtid_binlog_pos } else { None },
    })
}

/// The privileges of one `SHOW GRANTS` line and what they are on:
/// `GRANT SELECT, REPLICATION SLAVE ON *.* TO ...` → (["SELECT",
/// "REPLICATION SLAVE"], "*.*"). Column lists (`SELECT (a, b)`) are dropped.
fn parse_grant(line: &str) -> Option<(Vec<String>, String)> {
    let rest = line.trim().strip_prefix("GRANT ")?;
    let on = rest.find(" ON ")?;
    let (privs, target) = (&rest[..on], &rest[on + 4..]);
    let target = target.split(" TO ").next().unwrap_or("").trim().to_string();
    let mut flat = String::new();
    let mut depth = 0u32;
    for ch in privs.chars() {
        match ch {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ if depth == 0 => flat.push(ch),
            _ => {}
        }
    }
    let privs = flat
        .split(',')
        .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
        .map(|p| p.to_ascii_uppercase())
        .filter(|p| !p.is_empty())
        .collect();
    Some((privs, target))
}

fn check_grants(grants: &[String], user: &str, mariadb: bool) -> Result<(), SourceError> {
    let mut global: Vec<String> = Vec::new();
    let mut any_select = false;
    for line in grants {
        let Some((privs, target)) = parse_grant(line) else {
            continue;
        };
        let all = privs.iter().any(|p| p == "ALL PRIVILEGES" || p == "ALL");
        if all || privs.iter().any(|p| p == "SELECT") {
            any_select = true;
        }
        if target == "*.*" {
            global.extend(privs);
        }
    }
    let has = |names: &[&str]| {
        global
            .iter()
            .any(|p| p == "ALL PRIVILEGES" || p == "ALL" || names.contains(&p.as_str()))
    };
    let mut missing = Vec::new();
    if !has(&["REPLICATION SLAVE", "REPLICATION REPLICA"]) {
        missing.push("REPLICATION SLAVE (to read the binlog)");
    }
    let client: &[&str] = if mariadb {
        &["REPLICATION CLIENT", "BINLOG MONITOR", "SUPER"]
    } else {
        &["REPLICATION CLIENT", "SUPER"]
    };
    if !has(client) {
        missing.push(if mariadb {
            "REPLICATION CLIENT / BINLOG MONITOR (to read binlog positions)"
        } else {
            "REPLICATION CLIENT (to read binlog positions)"
        });
    }
    if !any_select {
        missing.push("SELECT (for the snapshot and column metadata)");
    }
    if missing.is_empty() {
        return Ok(());
    }
    let user = if user.is_empty() {
        "'rowlog'@'%'".to_string()
    } else {
        // CURRENT_USER() is `name@host`; quote both parts.
        match user.rsplit_once('@') {
            Some((n, h)) => format!("'{n}'@'{h}'"),
            None => format!("'{user}'"),
        }
    };
    Err(SourceError::permanent(format!(
        "user {user} lacks privilege {}; run GRANT REPLICATION SLAVE, REPLICATION CLIENT, SELECT ON *.* TO {user} \
         (SELECT may be narrowed to the captured databases: GRANT SELECT ON db.* TO {user})",
        missing.join(", ")
    )))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn s(v: &str) -> Option<String> {
        Some(v.to_string())
    }

    fn settings(
        format: &str,
        image: &str,
        compress: Option<&str>,
    ) -> Result<ServerInfo, SourceError> {
        check_settings(
            "10.11.6-MariaDB-0+deb12u1-log",
            s("ON"),
            s(format),
            s(image),
            s("FULL"),
            compress.map(str::to_string),
            s("1"),
            None,
            s("0-1-5"),
        )
    }

    #[test]
    fn good_settings_pass() {
        let info = settings("ROW", "FULL", Some("OFF")).unwrap();
        assert!(info.mariadb);
        assert_eq!(info.version_num, (10, 11));
        assert!(info.has_full_row_metadata());
        assert_eq!(info.gtid_binlog_pos.as_deref(), Some("0-1-5"));
    }

    #[test]
    fn each_bad_setting_names_value_and_fix() {
        let e = settings("MIXED", "FULL", None).unwrap_err();
        assert!(!e.transient);
        assert!(e.message.contains("`MIXED`"), "{e}");
        assert!(
            e.message.contains("SET GLOBAL binlog_format = 'ROW'"),
            "{e}"
        );
        assert!(e.message.contains("binlog_format = ROW"), "{e}");
        let e = settings("ROW", "NOBLOB", None).unwrap_err();
        assert!(
            e.message.contains("SET GLOBAL binlog_row_image = 'FULL'"),
            "{e}"
        );
        let e = settings("ROW", "FULL", Some("ON")).unwrap_err();
        assert!(
            e.message.contains("SET GLOBAL log_bin_compress = OFF"),
            "{e}"
        );
        let e = check_settings(
            "5.7.40-log",
            s("ON"),
            s("ROW"),
            s("FULL"),
            None,
            None,
            s("1"),
            s("ON"),
            None,
        )
        .unwrap_err();
        assert!(e.message.contains("MySQL 8.0 or newer"), "{e}");
        let e = check_settings(
            "10.5.1-MariaDB",
            s("ON"),
            s("ROW"),
            s("FULL"),
            None,
            None,
            s("1"),
            None,
            None,
        )
        .unwrap_err();
        assert!(e.message.contains("MariaDB 10.6 or newer"), "{e}");
        let e = check_settings(
            "8.0.36",
            s("OFF"),
            s("ROW"),
            s("FULL"),
            None,
            None,
            s("1"),
            s("ON"),
            None,
        )
        .unwrap_err();
        assert!(e.message.contains("log_bin = mysql-bin"), "{e}");
        let e = check_settings(
            "8.0.36",
            s("ON"),
            s("ROW"),
            s("FULL"),
            None,
            None,
            s("0"),
            s("ON"),
            None,
        )
        .unwrap_err();
        assert!(e.message.contains("SET GLOBAL server_id"), "{e}");
        // MySQL: no log_bin_compress variable is fine; gtid_mode is kept.
        let info = check_settings(
            "8.0.36",
            s("1"),
            s("ROW"),
            s("FULL"),
            s("FULL"),
            None,
            s("7"),
            s("ON"),
            None,
        )
        .unwrap();
        assert!(!info.mariadb);
        assert_eq!(info.gtid_mode.as_deref(), Some("ON"));
    }

    #[test]
    fn grants() {
        let ok = vec![
            "GRANT USAGE ON *.* TO `u`@`%`".to_string(),
            "GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO `u`@`%` IDENTIFIED BY PASSWORD '*X'"
                .to_string(),
            "GRANT SELECT (`a`, `b`), INSERT ON `db`.`t` TO `u`@`%`".to_string(),
        ];
        check_grants(&ok, "u@%", true).unwrap();
        // BINLOG MONITOR is MariaDB-only.
        let e = check_grants(&ok, "u@%", false).unwrap_err();
        assert!(e.message.contains("REPLICATION CLIENT"), "{e}");
        let all =
            vec!["GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` WITH GRANT OPTION".to_string()];
        check_grants(&all, "root@localhost", false).unwrap();
        let none = vec!["GRANT SELECT ON *.* TO `u`@`%`".to_string()];
        let e = check_grants(&none, "u@%", true).unwrap_err();
        assert!(e.message.contains("REPLICATION SLAVE"), "{e}");
        assert!(
            e.message
                .contains("GRANT REPLICATION SLAVE, REPLICATION CLIENT, SELECT ON *.* TO 'u'@'%'"),
            "{e}"
        );
        assert!(!e.message.contains("lacks privilege SELECT"), "{e}");
        // Replication privileges on a database do not count.
        let db = vec!["GRANT REPLICATION SLAVE, SELECT ON `db`.* TO `u`@`%`".to_string()];
        assert!(check_grants(&db, "u@%", true).is_err());
    }
}
