//! SQL text for the MySQL/MariaDB sink. Pure: no I/O.
//!
//! Invariants:
//! - Every identifier goes through [`ident`] (backticks, inner backticks
//!   doubled), so any table or column name is safe; values are never
//!   spliced into SQL text, they travel as `?` parameters of prepared
//!   statements.
//! - A statement never has more than [`MAX_PLACEHOLDERS`] parameters (the
//!   protocol's limit is 65535), so [`rows_per_statement`] bounds how many
//!   rows one multi-row statement carries.
//! - Nothing here commits implicitly: truncation is `DELETE FROM` (MySQL's
//!   `TRUNCATE` is DDL and would commit the batch transaction half-way).

/// Most `?` parameters in one statement.
pub const MAX_PLACEHOLDERS: usize = 60_000;
/// Most rows in one multi-row statement.
pub const MAX_ROWS: usize = 1_000;
/// Most parameter bytes (roughly) in one statement; well under MariaDB's and
/// MySQL's default `max_allowed_packet` (16 MiB / 64 MiB).
pub const MAX_BYTES: usize = 4 << 20;

/// `name` quoted as a MySQL identifier.
pub fn ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// `` `db`.`table` ``
pub fn table(db: &str, name: &str) -> String {
    format!("{}.{}", ident(db), ident(name))
}

/// How many rows of `params_per_row` parameters one statement may carry.
pub fn rows_per_statement(params_per_row: usize) -> usize {
    (MAX_PLACEHOLDERS / params_per_row.max(1)).clamp(1, MAX_ROWS)
}

fn list(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| ident(n))
        .collect::<Vec<_>>()
        .join(", ")
}

fn tuple(n: usize) -> String {
    format!("({})", vec!["?"; n].join(","))
}

fn tuples(width: usize, rows: usize) -> String {
    vec![tuple(width); rows].join(",")
}

/// Multi-row upsert: `INSERT INTO t (cols) VALUES (…),… ON DUPLICATE KEY
/// UPDATE c = VALUES(c), …` for the `update` columns (or a no-op assignment
/// of `cols[0]` when there are none, so a replayed insert of a key-only row
/// is not an error). Only safe when the primary key is the table's only
/// unique index.
pub fn upsert(table: &str, cols: &[&str], update: &[&str], rows: usize) -> String {
    let set = if update.is_empty() {
        cols.iter().take(1).copied().collect::<Vec<_>>()
    } else {
        update.to_vec()
    };
    let set = set
        .iter()
        .map(|c| format!("{0} = VALUES({0})", ident(c)))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "INSERT INTO {table} ({}) VALUES {} ON DUPLICATE KEY UPDATE {set}",
        list(cols),
        tuples(cols.len(), rows)
    )
}

/// `INSERT INTO t (cols) VALUES (?,…)`: one row, no upsert.
pub fn insert(table: &str, cols: &[&str]) -> String {
    format!(
        "INSERT INTO {table} ({}) VALUES {}",
        list(cols),
        tuple(cols.len())
    )
}

fn key_match(key: &[&str]) -> String {
    key.iter()
        .map(|k| format!("{} = ?", ident(k)))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// `UPDATE t SET a = ?, … WHERE k = ? AND …` (parameters: the set values,
/// then the key). With nothing to set it assigns the first key column to
/// itself, so the matched-rows count still says whether the row exists.
pub fn update(table: &str, set: &[&str], key: &[&str]) -> String {
    let assignments = if set.is_empty() {
        key.iter()
            .take(1)
            .map(|k| format!("{0} = {0}", ident(k)))
            .collect::<Vec<_>>()
            .join(", ")
    } else {
        set.iter()
            .map(|c| format!("{} = ?", ident(c)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!("UPDATE {table} SET {assignments} WHERE {}", key_match(key))
}

/// `DELETE FROM t WHERE k IN (?,…)` or `WHERE (k1,k2) IN ((?,?),…)`.
pub fn delete_in(table: &str, key: &[&str], rows: usize) -> String {
    if let [k] = key {
        return format!("DELETE FROM {table} WHERE {} IN {}", ident(k), tuple(rows));
    }
    format!(
        "DELETE FROM {table} WHERE ({}) IN ({})",
        list(key),
        tuples(key.len(), rows)
    )
}

/// `DELETE FROM t` (a truncate that stays inside the transaction).
pub fn delete_all(table: &str) -> String {
    format!("DELETE FROM {table}")
}

/// The offsets table.
pub fn create_offsets(table: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {table} (\
         sink VARCHAR(190) NOT NULL, \
         topic VARCHAR(190) NOT NULL, \
         `partition` INT NOT NULL, \
         next_offset BIGINT NOT NULL, \
         updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6), \
         PRIMARY KEY (sink, topic, `partition`)\
         ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"
    )
}

/// This sink's offsets (parameter: the sink name).
pub fn load_offsets(table: &str) -> String {
    format!(
        "SELECT topic, `partition`, next_offset FROM {table} WHERE sink = ? ORDER BY topic, `partition`"
    )
}

/// Locks one offset row and reads it (parameters: sink, topic, partition).
pub fn lock_offset(table: &str) -> String {
    format!(
        "SELECT next_offset FROM {table} WHERE sink = ? AND topic = ? AND `partition` = ? FOR UPDATE"
    )
}

/// Upsert of `rows` offsets (parameters per row: sink, topic, partition, next).
pub fn store_offsets(table: &str, rows: usize) -> String {
    format!(
        "INSERT INTO {table} (sink, topic, `partition`, next_offset) VALUES {} \
         ON DUPLICATE KEY UPDATE next_offset = VALUES(next_offset)",
        tuples(4, rows)
    )
}

/// `CREATE DATABASE IF NOT EXISTS`.
pub fn create_database(db: &str) -> String {
    format!(
        "CREATE DATABASE IF NOT EXISTS {} DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
        ident(db)
    )
}

/// One column of [`create_table`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnDef {
    /// Name.
    pub name: String,
    /// SQL type.
    pub sql_type: String,
    /// `NOT NULL` (key columns always are).
    pub not_null: bool,
}

/// `CREATE TABLE IF NOT EXISTS` with a primary key on `key`.
pub fn create_table(table: &str, columns: &[ColumnDef], key: &[&str]) -> String {
    let mut parts: Vec<String> = columns
        .iter()
        .map(|c| {
            format!(
                "{} {}{}",
                ident(&c.name),
                c.sql_type,
                if c.not_null { " NOT NULL" } else { " NULL" }
            )
        })
        .collect();
    parts.push(format!("PRIMARY KEY ({})", list(key)));
    format!(
        "CREATE TABLE IF NOT EXISTS {table} ({}) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
        parts.join(", ")
    )
}

/// `ALTER TABLE t ADD COLUMN c type NULL`.
pub fn add_column(table: &str, name: &str, sql_type: &str) -> String {
    format!(
        "ALTER TABLE {table} ADD COLUMN {} {sql_type} NULL",
        ident(name)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(ident("a`b"), "`a``b`");
        assert_eq!(table("db", "t"), "`db`.`t`");
    }

    #[test]
    fn upserts_and_deletes() {
        let t = table("d", "t");
        assert_eq!(
            upsert(&t, &["id", "a"], &["a"], 2),
            "INSERT INTO `d`.`t` (`id`, `a`) VALUES (?,?),(?,?) ON DUPLICATE KEY UPDATE `a` = VALUES(`a`)"
        );
        assert_eq!(
            upsert(&t, &["id"], &[], 1),
            "INSERT INTO `d`.`t` (`id`) VALUES (?) ON DUPLICATE KEY UPDATE `id` = VALUES(`id`)"
        );
        assert_eq!(
            delete_in(&t, &["id"], 3),
            "DELETE FROM `d`.`t` WHERE `id` IN (?,?,?)"
        );
        assert_eq!(
            delete_in(&t, &["a", "b"], 2),
            "DELETE FROM `d`.`t` WHERE (`a`, `b`) IN ((?,?),(?,?))"
        );
        assert_eq!(
            update(&t, &["a", "b"], &["id"]),
            "UPDATE `d`.`t` SET `a` = ?, `b` = ? WHERE `id` = ?"
        );
        assert_eq!(
            update(&t, &[], &["k1", "k2"]),
            "UPDATE `d`.`t` SET `k1` = `k1` WHERE `k1` = ? AND `k2` = ?"
        );
        assert_eq!(
            insert(&t, &["id", "a"]),
            "INSERT INTO `d`.`t` (`id`, `a`) VALUES (?,?)"
        );
        assert_eq!(delete_all(&t), "DELETE FROM `d`.`t`");
    }

    #[test]
    fn statements_stay_under_the_placeholder_limit() {
        assert_eq!(rows_per_statement(1), MAX_ROWS);
        assert_eq!(rows_per_statement(0), MAX_ROWS);
        assert_eq!(rows_per_statement(100), 600);
        assert_eq!(rows_per_statement(100_000), 1);
        for w in 1..500 {
            assert!(rows_per_statement(w) * w <= MAX_PLACEHOLDERS || rows_per_statement(w) == 1);
        }
    }

    #[test]
    fn ddl() {
        let t = table("d", "t");
        let cols = vec![
            ColumnDef {
                name: "id".into(),
                sql_type: "BIGINT".into(),
                not_null: true,
            },
            ColumnDef {
                name: "v".into(),
                sql_type: "LONGTEXT".into(),
                not_null: false,
            },
        ];
        assert_eq!(
            create_table(&t, &cols, &["id"]),
            "CREATE TABLE IF NOT EXISTS `d`.`t` (`id` BIGINT NOT NULL, `v` LONGTEXT NULL, PRIMARY KEY (`id`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"
        );
        assert_eq!(
            add_column(&t, "w", "DATE"),
            "ALTER TABLE `d`.`t` ADD COLUMN `w` DATE NULL"
        );
        assert!(create_offsets("`o`").contains("PRIMARY KEY (sink, topic, `partition`)"));
        assert_eq!(
            store_offsets("`o`", 2),
            "INSERT INTO `o` (sink, topic, `partition`, next_offset) VALUES (?,?,?,?),(?,?,?,?) ON DUPLICATE KEY UPDATE next_offset = VALUES(next_offset)"
        );
    }
}
