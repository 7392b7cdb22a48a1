//! SQL text of the sink's statements. Pure: no I/O, unit-tested.
//!
//! Invariants:
//! - Every identifier is quoted ([`ident`]), so any source name is safe and
//!   keeps its case.
//! - Every value is a bind parameter: a `text[]` per column, unnested and
//!   cast to the target column's type, so one statement writes any number
//!   of rows and no value is ever spliced into SQL text.
//! - Upserts are idempotent (`ON CONFLICT (key) DO UPDATE`), so a replayed
//!   batch leaves the same rows.

/// A quoted identifier: `"a""b"` for `a"b`.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A target table.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    /// Schema.
    pub schema: String,
    /// Table name.
    pub name: String,
}

impl Target {
    /// `schema.table` (or `table`, which means `public.table`).
    pub fn parse(s: &str) -> Target {
        match s.split_once('.') {
            Some((schema, name)) => Target {
                schema: schema.to_string(),
                name: name.to_string(),
            },
            None => Target {
                schema: "public".to_string(),
                name: s.to_string(),
            },
        }
    }

    /// `"schema"."table"`.
    pub fn sql(&self) -> String {
        format!("{}.{}", ident(&self.schema), ident(&self.name))
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.schema, self.name)
    }
}

/// A column a statement writes: its name and the type to cast text to.
#[derive(Debug, Clone, Copy)]
pub struct Col<'a> {
    /// Column name.
    pub name: &'a str,
    /// Cast type.
    pub cast: &'a str,
}

fn unnest(cols: &[Col<'_>]) -> String {
    let params: Vec<String> = (1..=cols.len()).map(|i| format!("${i}::text[]")).collect();
    let aliases: Vec<String> = (0..cols.len()).map(|i| format!("c{i}")).collect();
    format!("unnest({}) AS u({})", params.join(", "), aliases.join(", "))
}

fn casts(cols: &[Col<'_>]) -> String {
    cols.iter()
        .enumerate()
        .map(|(i, c)| format!("u.c{i}::{}", c.cast))
        .collect::<Vec<_>>()
        .join(", ")
}

fn names(cols: &[Col<'_>]) -> String {
    cols.iter()
        .map(|c| ident(c.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Deletes the rows whose key is in the parameters (one `text[]` per key
/// column, in key order).
pub fn delete(table: &Target, key: &[Col<'_>]) -> String {
    format!(
        "DELETE FROM {} WHERE ({}) IN (SELECT {} FROM {})",
        table.sql(),
        names(key),
        casts(key),
        unnest(key)
    )
}

/// Inserts or updates the rows in the parameters (one `text[]` per column
/// of `cols`, which include the key columns `key`).
pub fn upsert(table: &Target, cols: &[Col<'_>], key: &[&str]) -> String {
    let updates: Vec<String> = cols
        .iter()
        .filter(|c| !key.contains(&c.name))
        .map(|c| format!("{0} = EXCLUDED.{0}", ident(c.name)))
        .collect();
    let action = if updates.is_empty() {
        "DO NOTHING".to_string()
    } else {
        format!("DO UPDATE SET {}", updates.join(", "))
    };
    format!(
        "INSERT INTO {} ({}) SELECT {} FROM {} ON CONFLICT ({}) {action}",
        table.sql(),
        names(cols),
        casts(cols),
        unnest(cols),
        key.iter().map(|k| ident(k)).collect::<Vec<_>>().join(", ")
    )
}

/// `CREATE TABLE IF NOT EXISTS` for the offsets table.
pub fn create_offsets(table: &Target) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {} (sink text, topic text, \"partition\" int, \
         next_offset bigint NOT NULL, updated_at timestamptz NOT NULL DEFAULT now(), \
         PRIMARY KEY (sink, topic, \"partition\"))",
        table.sql()
    )
}

/// This sink's offsets (`$1` = sink name).
pub fn select_offsets(table: &Target) -> String {
    format!(
        "SELECT topic, \"partition\", next_offset FROM {} WHERE sink = $1 ORDER BY topic, \"partition\"",
        table.sql()
    )
}

/// Stores offsets as a compare-and-set: `$1` sink, `$2` topics, `$3`
/// partitions, `$4` next offsets, `$5` the offsets expected to be stored
/// now (NULL: no row). Returns a row per partition it stored; a partition
/// whose stored offset differs from the expected one is left alone and
/// missing from the result (fenced). The row lock it takes serializes two
/// workers on a partition: the second re-checks after the first commits.
pub fn cas_offsets(table: &Target) -> String {
    format!(
        "WITH u AS (SELECT * FROM unnest($2::text[], $3::int[], $4::bigint[], $5::bigint[]) AS u(t, p, n, f)) \
         INSERT INTO {} AS o (sink, topic, \"partition\", next_offset) \
         SELECT $1, u.t, u.p, u.n FROM u \
         ON CONFLICT (sink, topic, \"partition\") DO UPDATE \
         SET next_offset = EXCLUDED.next_offset, updated_at = now() \
         WHERE o.next_offset = (SELECT u.f FROM u WHERE u.t = EXCLUDED.topic AND u.p = EXCLUDED.\"partition\") \
         RETURNING o.topic, o.\"partition\"",
        table.sql()
    )
}

/// `CREATE TABLE IF NOT EXISTS` with the columns (name, type), NOT NULL
/// and PRIMARY KEY on `key`.
pub fn create_table(table: &Target, cols: &[(String, String)], key: &[String]) -> String {
    let mut defs: Vec<String> = cols
        .iter()
        .map(|(n, t)| {
            if key.contains(n) {
                format!("{} {t} NOT NULL", ident(n))
            } else {
                format!("{} {t}", ident(n))
            }
        })
        .collect();
    if !key.is_empty() {
        defs.push(format!(
            "PRIMARY KEY ({})",
            key.iter().map(|k| ident(k)).collect::<Vec<_>>().join(", ")
        ));
    }
    format!(
        "CREATE TABLE IF NOT EXISTS {} ({})",
        table.sql(),
        defs.join(", ")
    )
}

/// `ALTER TABLE … ADD COLUMN IF NOT EXISTS` (nullable).
pub fn add_column(table: &Target, name: &str, ty: &str) -> String {
    format!(
        "ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} {ty}",
        table.sql(),
        ident(name)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t() -> Target {
        Target::parse("app.Us\"ers")
    }

    #[test]
    fn quoting_and_targets() {
        assert_eq!(t().sql(), "\"app\".\"Us\"\"ers\"");
        assert_eq!(Target::parse("plain").sql(), "\"public\".\"plain\"");
    }

    #[test]
    fn delete_is_set_based() {
        let key = [
            Col {
                name: "a",
                cast: "integer",
            },
            Col {
                name: "b",
                cast: "text",
            },
        ];
        assert_eq!(
            delete(&t(), &key),
            "DELETE FROM \"app\".\"Us\"\"ers\" WHERE (\"a\", \"b\") IN \
             (SELECT u.c0::integer, u.c1::text FROM unnest($1::text[], $2::text[]) AS u(c0, c1))"
        );
    }

    #[test]
    fn upsert_updates_non_key_columns_or_does_nothing() {
        let cols = [
            Col {
                name: "id",
                cast: "bigint",
            },
            Col {
                name: "v",
                cast: "jsonb",
            },
        ];
        assert_eq!(
            upsert(&t(), &cols, &["id"]),
            "INSERT INTO \"app\".\"Us\"\"ers\" (\"id\", \"v\") SELECT u.c0::bigint, u.c1::jsonb \
             FROM unnest($1::text[], $2::text[]) AS u(c0, c1) ON CONFLICT (\"id\") \
             DO UPDATE SET \"v\" = EXCLUDED.\"v\""
        );
        assert!(upsert(&t(), &cols[..1], &["id"]).ends_with("ON CONFLICT (\"id\") DO NOTHING"));
    }

    #[test]
    fn ddl() {
        assert_eq!(
            create_table(
                &Target::parse("s.t"),
                &[("id".into(), "bigint".into()), ("v".into(), "text".into())],
                &["id".into()]
            ),
            "CREATE TABLE IF NOT EXISTS \"s\".\"t\" (\"id\" bigint NOT NULL, \"v\" text, PRIMARY KEY (\"id\"))"
        );
        assert_eq!(
            add_column(&Target::parse("s.t"), "n", "interval"),
            "ALTER TABLE \"s\".\"t\" ADD COLUMN IF NOT EXISTS \"n\" interval"
        );
        assert!(
            cas_offsets(&Target::parse("rowlog_offsets"))
                .contains("ON CONFLICT (sink, topic, \"partition\")")
        );
    }
}
