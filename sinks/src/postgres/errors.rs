//! Classifying PostgreSQL errors by SQLSTATE.
//!
//! Invariants: the class decides what the sink does and nothing else does.
//! - [`Class::Data`] (22 data exception, 23 integrity constraint, 21
//!   cardinality): the row is at fault; the batch is redone row by row so
//!   only the failing rows are rejected.
//! - [`Class::Transient`] (08 connection, 40001 serialization, 40P01
//!   deadlock, 53 resources, 55P03 lock not available, 57014 canceled,
//!   57P01..57P03 shutdown, and every error without SQLSTATE — I/O, closed
//!   connection, timeout): the transaction rolled back; retry the batch.
//! - [`Class::Permanent`]: everything else (42 undefined table/column or
//!   insufficient privilege, 28 authentication, ...): a person must act.

use tokio_postgres::error::DbError;

/// What an error means for the batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// The row's data is at fault.
    Data,
    /// Retrying may succeed.
    Transient,
    /// Retrying cannot succeed.
    Permanent,
}

/// The class of a SQLSTATE.
pub fn class_of_code(code: &str) -> Class {
    match code {
        "40001" | "40P01" | "55P03" | "57014" | "57P01" | "57P02" | "57P03" => Class::Transient,
        c if c.starts_with("08") || c.starts_with("53") => Class::Transient,
        c if c.starts_with("22") || c.starts_with("23") || c.starts_with("21") => Class::Data,
        _ => Class::Permanent,
    }
}

/// The class of an error from tokio-postgres.
pub fn classify(e: &tokio_postgres::Error) -> Class {
    match e.as_db_error() {
        Some(db) => class_of_code(db.code().code()),
        None => Class::Transient,
    }
}

/// The server's message with SQLSTATE, column, constraint and detail.
pub fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => describe_db(db),
        None => e.to_string(),
    }
}

fn describe_db(db: &DbError) -> String {
    let mut s = format!("{} (SQLSTATE {}", db.message(), db.code().code());
    if let Some(c) = db.column() {
        s.push_str(&format!(", column `{c}`"));
    }
    if let Some(c) = db.constraint() {
        s.push_str(&format!(", constraint `{c}`"));
    }
    s.push(')');
    if let Some(d) = db.detail() {
        s.push_str(&format!("; {d}"));
    }
    s
}

/// A transient or permanent [`SinkError`](crate::SinkError) for a failed
/// statement on `table`, with the fix for the common permanent cases.
pub fn sink_error(e: &tokio_postgres::Error, table: &str) -> crate::SinkError {
    let what = describe(e);
    let code = e.as_db_error().map(|d| d.code().code().to_string());
    match (classify(e), code.as_deref()) {
        (Class::Transient, _) => {
            crate::SinkError::transient(format!("{table}: {what}; the batch will be retried"))
        }
        (_, Some("42P01")) => crate::SinkError::permanent(format!(
            "{table}: {what}; create the table or set `auto_create: true`"
        )),
        (_, Some("42703")) => crate::SinkError::permanent(format!(
            "{table}: {what}; add the column to the target table or set `auto_evolve: true`"
        )),
        (_, Some("42501")) => crate::SinkError::permanent(format!(
            "{table}: {what}; GRANT the sink's user INSERT, UPDATE, DELETE, TRUNCATE on it (and CREATE on the schema for auto_create)"
        )),
        (_, Some("42P10")) => crate::SinkError::permanent(format!(
            "{table}: {what}; the target table needs a PRIMARY KEY or UNIQUE index on exactly the source's key columns"
        )),
        (_, Some("28P01" | "28000")) => crate::SinkError::permanent(format!(
            "{table}: {what}; check the user/password in the sink's url, password or password_file"
        )),
        _ => crate::SinkError::permanent(format!("{table}: {what}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        assert_eq!(class_of_code("22001"), Class::Data);
        assert_eq!(class_of_code("23505"), Class::Data);
        assert_eq!(class_of_code("40P01"), Class::Transient);
        assert_eq!(class_of_code("08006"), Class::Transient);
        assert_eq!(class_of_code("53300"), Class::Transient);
        assert_eq!(class_of_code("57P01"), Class::Transient);
        assert_eq!(class_of_code("42703"), Class::Permanent);
        assert_eq!(class_of_code("28P01"), Class::Permanent);
    }
}
