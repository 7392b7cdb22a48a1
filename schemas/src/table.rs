//! Tables and their schemas.
//!
//! Invariants: column names are unique and non-empty; key columns exist and
//! are listed in key order; the schema version is a fingerprint of the
//! columns (name, kind, source type, nullability, order) and the key, so it
//! changes whenever they change and is the same on every machine and run
//! without any state to keep.

use std::fmt;

use crate::error::ValueError;
use crate::value::ValueKind;

/// A table: PostgreSQL `schema.table` or MySQL `database.table`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TableId {
    /// PostgreSQL schema or MySQL database.
    pub namespace: String,
    /// Table name.
    pub name: String,
}

impl TableId {
    /// A table id.
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> TableId {
        TableId {
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

impl fmt::Display for TableId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.namespace, self.name)
    }
}

/// One column.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ColumnSchema {
    /// Column name as the source spells it.
    pub name: String,
    /// Kind of its values.
    pub kind: ValueKind,
    /// The source's own type, e.g. `numeric(10,2)`, `varchar(255)`,
    /// `bigint unsigned`, `mood` (an enum) — what sinks use to create tables.
    pub source_type: String,
    /// Whether NULL is allowed.
    pub nullable: bool,
}

/// The shape of a table at one point in its history.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TableSchema {
    /// Which table.
    pub table: TableId,
    /// Columns in source order.
    pub columns: Vec<ColumnSchema>,
    /// Key column names in key order (primary key, replica identity or a
    /// configured override). Empty only for tables without any key, whose
    /// changes sinks cannot apply by key.
    pub key: Vec<String>,
}

impl TableSchema {
    /// Builds and checks a schema.
    pub fn new(
        table: TableId,
        columns: Vec<ColumnSchema>,
        key: Vec<String>,
    ) -> Result<TableSchema, ValueError> {
        let schema = TableSchema {
            table,
            columns,
            key,
        };
        schema.validate()?;
        Ok(schema)
    }

    /// Checks the invariants in the module doc.
    pub fn validate(&self) -> Result<(), ValueError> {
        for (i, c) in self.columns.iter().enumerate() {
            if c.name.is_empty() {
                return Err(ValueError::new(format!(
                    "{}: column {i} has an empty name",
                    self.table
                )));
            }
            if self.columns[..i].iter().any(|d| d.name == c.name) {
                return Err(ValueError::new(format!(
                    "{}: column `{}` appears twice",
                    self.table, c.name
                )));
            }
        }
        for (i, k) in self.key.iter().enumerate() {
            if self.column(k).is_none() {
                return Err(ValueError::new(format!(
                    "{}: key column `{k}` is not a column of the table",
                    self.table
                )));
            }
            if self.key[..i].contains(k) {
                return Err(ValueError::new(format!(
                    "{}: key column `{k}` appears twice",
                    self.table
                )));
            }
        }
        Ok(())
    }

    /// The column called `name`.
    pub fn column(&self, name: &str) -> Option<&ColumnSchema> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The schema version: a 32-bit FNV-1a fingerprint (see the module doc).
    /// 32 bits so it is a safe integer in every JSON reader and an Avro `int`.
    pub fn version(&self) -> u32 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut feed = |bytes: &[u8]| {
            for &b in bytes {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
            h ^= 0xff;
            h = h.wrapping_mul(0x0100_0000_01b3);
        };
        for c in &self.columns {
            feed(c.name.as_bytes());
            feed(c.kind.to_string().as_bytes());
            feed(c.source_type.as_bytes());
            feed(if c.nullable { b"null" } else { b"not null" });
        }
        feed(b"key");
        for k in &self.key {
            feed(k.as_bytes());
        }
        (h >> 32) as u32 ^ h as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(name: &str, kind: &str) -> ColumnSchema {
        ColumnSchema {
            name: name.into(),
            kind: kind.parse().unwrap(),
            source_type: kind.into(),
            nullable: true,
        }
    }

    #[test]
    fn version_changes_with_columns_and_is_stable() {
        let t = TableId::new("public", "t");
        let a = TableSchema::new(
            t.clone(),
            vec![col("id", "int"), col("v", "text")],
            vec!["id".into()],
        )
        .unwrap();
        assert_eq!(a.version(), a.clone().version());
        let mut b = a.clone();
        b.columns.push(col("w", "int"));
        assert_ne!(a.version(), b.version());
        let mut c = a.clone();
        c.columns[1].nullable = false;
        assert_ne!(a.version(), c.version());
        let mut d = a.clone();
        d.columns.swap(0, 1);
        assert_ne!(a.version(), d.version());
        // Pinned: the fingerprint is part of the contract and must not drift.
        assert_eq!(a.version(), 0x786b_a778, "got {:#x}", a.version());
    }

    #[test]
    fn rejects_bad_schemas() {
        let t = TableId::new("s", "t");
        assert!(
            TableSchema::new(t.clone(), vec![col("a", "int"), col("a", "int")], vec![]).is_err()
        );
        assert!(TableSchema::new(t.clone(), vec![col("a", "int")], vec!["b".into()]).is_err());
        assert!(TableSchema::new(t, vec![col("", "int")], vec![]).is_err());
    }
}
