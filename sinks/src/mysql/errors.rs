//! Classifying MySQL/MariaDB errors for the sink.
//!
//! Invariants:
//! - Every `mysql_async` error falls in exactly one [`Class`]: **transient**
//!   (the connection or the transaction was lost; the server rolled the
//!   transaction back, so nothing of the batch is applied and a retry of the
//!   same batch may succeed), **data** (the target refused one row's values
//!   or a constraint: only the statement failed, the transaction is still
//!   open, and the row can be rejected on its own), or **permanent**
//!   (configuration, privileges, a missing table or column: retrying cannot
//!   help).
//! - Messages keep the server's text and code and add where it happened and,
//!   for permanent errors, how to fix it.

use mysql_async::{DriverError, Error};

use crate::contract::SinkError;

/// What an error means for the batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Retry the batch (connection lost, deadlock, lock wait timeout...).
    Transient,
    /// A row's values or a constraint: reject the row, keep the rest.
    Data,
    /// Stop the sink.
    Permanent,
}

/// Server codes a retry may get past: 1040 too many connections, 1053
/// shutdown in progress, 1152/1158–1161 network errors, 1205 lock wait
/// timeout, 1213 deadlock, 1927 connection killed, 2006/2013 server gone
/// away / lost connection (client codes some servers relay), 4031 idle
/// session disconnected (MySQL 8), 1317 query interrupted.
const TRANSIENT: &[u16] = &[
    1040, 1053, 1152, 1158, 1159, 1160, 1161, 1205, 1213, 1317, 1927, 2006, 2013, 4031,
];

/// Server codes that blame one row's values or a constraint.
const DATA: &[u16] = &[
    1048, // column cannot be null
    1062, // duplicate entry
    1138, // invalid use of NULL
    1263, // NULL supplied to NOT NULL column
    1264, // out of range value
    1265, // data truncated (e.g. not an ENUM label)
    1292, // incorrect date/time/number value
    1300, // invalid character string
    1364, // field has no default value (an update of a row the target lacks)
    1366, // incorrect string/integer value (e.g. emoji in a utf8mb3 column)
    1367, // illegal value
    1406, // data too long
    1411, // incorrect value for function
    1416, // cannot get geometry object
    1451, // foreign key: row is referenced
    1452, // foreign key: parent row missing
    1586, // duplicate entry (partitioned)
    1690, // value out of range
    1859, // duplicate key
    3037, // invalid GIS data
    3140, // invalid JSON text (MySQL)
    3819, // check constraint violated (MySQL)
    4025, // CONSTRAINT failed (MariaDB; JSON columns check JSON_VALID)
];

/// The server error code, if the server sent one.
pub fn code(e: &Error) -> Option<u16> {
    match e {
        Error::Server(s) => Some(s.code),
        _ => None,
    }
}

/// Which [`Class`] `e` belongs to.
pub fn classify(e: &Error) -> Class {
    match e {
        Error::Io(_) => Class::Transient,
        Error::Driver(DriverError::ConnectionClosed | DriverError::PoolDisconnected) => {
            Class::Transient
        }
        Error::Server(s) if TRANSIENT.contains(&s.code) => Class::Transient,
        Error::Server(s) if DATA.contains(&s.code) => Class::Data,
        _ => Class::Permanent,
    }
}

/// The server's message with its code, or the client error.
pub fn describe(e: &Error) -> String {
    match e {
        Error::Server(s) => format!(
            "{} (MySQL error {}, SQLSTATE {})",
            s.message, s.code, s.state
        ),
        Error::Io(io) => format!("MySQL connection: {io}"),
        other => other.to_string(),
    }
}

/// How to fix a permanent error, when the code says.
pub fn fix(code: Option<u16>) -> &'static str {
    match code {
        Some(1045) => {
            "; check the user and password of the sink URL (or `password`/`password_file`)"
        }
        Some(1044 | 1142 | 1143 | 1227) => {
            "; grant the sink's user SELECT, INSERT, UPDATE, DELETE (and CREATE, ALTER for auto_create/auto_evolve) on the target database"
        }
        Some(1049) => "; create the database, or set `auto_create: true`",
        Some(1146) => {
            "; create the target table, or set `auto_create: true` (and check `table_map`)"
        }
        Some(1054) => {
            "; add the column to the target table, or set `auto_evolve: true` to add columns the source gains"
        }
        Some(1118) => {
            "; the row is too large for InnoDB: create the target table yourself with narrower or TEXT columns"
        }
        Some(1071) => {
            "; the key is too long for an index: create the target table yourself with shorter key columns"
        }
        _ => "",
    }
}

/// `e` as a [`SinkError`] of its class (data errors count as permanent here:
/// callers that can reject a row look at [`classify`] first).
pub fn to_sink(e: &Error, place: &str) -> SinkError {
    match classify(e) {
        Class::Transient => SinkError::transient(format!("{place}: {}", describe(e))),
        Class::Data | Class::Permanent => {
            SinkError::permanent(format!("{place}: {}{}", describe(e), fix(code(e))))
        }
    }
}

#[cfg(test)]
mod tests {
    use mysql_async::ServerError;

    use super::*;

    fn server(code: u16) -> Error {
        Error::Server(ServerError {
            code,
            message: "m".into(),
            state: "HY000".into(),
        })
    }

    #[test]
    fn codes_fall_in_their_class() {
        for c in [1205, 1213, 1927, 2006, 2013, 1040, 1053] {
            assert_eq!(classify(&server(c)), Class::Transient, "{c}");
        }
        for c in [1406, 1264, 1292, 1366, 1062, 1048, 1452, 3140, 4025] {
            assert_eq!(classify(&server(c)), Class::Data, "{c}");
        }
        for c in [1146, 1054, 1142, 1045] {
            assert_eq!(classify(&server(c)), Class::Permanent, "{c}");
        }
        let io = Error::Io(mysql_async::IoError::Io(std::io::Error::other("reset")));
        assert_eq!(classify(&io), Class::Transient);
        assert_eq!(
            classify(&Error::Driver(DriverError::ConnectionClosed)),
            Class::Transient
        );
    }

    #[test]
    fn permanent_errors_say_how_to_fix_them() {
        let e = to_sink(&server(1146), "`db`.`t`");
        assert!(!e.transient);
        assert!(e.message.contains("`db`.`t`"), "{e}");
        assert!(e.message.contains("auto_create"), "{e}");
        assert!(to_sink(&server(1213), "x").transient);
    }
}
