//! Source positions: where a change sits in its source's stream.
//!
//! Invariants: positions of one source are totally ordered in the order the
//! source committed them; positions of different source kinds are not
//! comparable (`partial_cmp` is `None`). Every position prints and parses
//! back (`Position::parse(kind, text)`), and maps to an `i64` row version
//! that sinks store to refuse stale writes on replay; the module docs of
//! [`pg`] and [`mysql`] say how and why it cannot overflow.

pub mod mysql;
pub mod pg;

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

pub use mysql::{
    BinlogPos, Gtid, MariadbGtid, MariadbGtidList, MysqlGtid, MysqlGtidSet, MysqlPosition,
};
pub use pg::{Lsn, PgPosition};

use crate::error::ValueError;

/// The kind of source database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceKind {
    /// PostgreSQL (pgoutput).
    Postgres,
    /// MySQL or MariaDB (row binlog).
    Mysql,
}

impl SourceKind {
    /// The connector name used in envelopes (Debezium's names).
    pub fn connector_name(self) -> &'static str {
        match self {
            SourceKind::Postgres => "postgresql",
            SourceKind::Mysql => "mysql",
        }
    }
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.connector_name())
    }
}

impl FromStr for SourceKind {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<SourceKind, ValueError> {
        match s {
            "postgresql" => Ok(SourceKind::Postgres),
            "mysql" => Ok(SourceKind::Mysql),
            _ => Err(ValueError::new(format!(
                "unknown connector `{s}`; expected postgresql or mysql"
            ))),
        }
    }
}

/// A position in any source.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Position {
    /// PostgreSQL.
    Postgres(PgPosition),
    /// MySQL / MariaDB.
    Mysql(MysqlPosition),
}

impl Position {
    /// Which kind of source this position belongs to.
    pub fn kind(&self) -> SourceKind {
        match self {
            Position::Postgres(_) => SourceKind::Postgres,
            Position::Mysql(_) => SourceKind::Mysql,
        }
    }

    /// Parses the `Display` form of a position of `kind`.
    pub fn parse(kind: SourceKind, s: &str) -> Result<Position, ValueError> {
        Ok(match kind {
            SourceKind::Postgres => Position::Postgres(s.parse()?),
            SourceKind::Mysql => Position::Mysql(s.parse()?),
        })
    }

    /// The version a sink stores with the row this change wrote.
    pub fn row_version(&self) -> Result<i64, ValueError> {
        match self {
            Position::Postgres(p) => p.row_version(),
            Position::Mysql(p) => p.row_version(),
        }
    }
}

impl PartialOrd for Position {
    fn partial_cmp(&self, other: &Position) -> Option<Ordering> {
        match (self, other) {
            (Position::Postgres(a), Position::Postgres(b)) => Some(a.cmp(b)),
            (Position::Mysql(a), Position::Mysql(b)) => Some(a.cmp(b)),
            _ => None,
        }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Position::Postgres(p) => p.fmt(f),
            Position::Mysql(p) => p.fmt(f),
        }
    }
}
