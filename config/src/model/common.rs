//! Pieces shared by sources and sinks: table filters, column rules, snapshot
//! mode, and the `password` / `password_file` pair.
//!
//! Invariants: after loading, a struct's `password_from_file` holds the contents of
//! its `password_file` (trailing newline trimmed) and `password()` is the one
//! password to use; `password` and `password_file` are never both set.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::value::conn_url::ConnUrl;
use crate::value::secret::Secret;

/// Which tables to capture, as `schema.table` (PostgreSQL) or `database.table`
/// (MySQL) patterns where `*` matches any run of characters and `?` one character.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TableFilter {
    /// Tables to capture; empty means every table the source can see.
    #[serde(default)]
    pub include: Vec<String>,
    /// Tables to leave out even when included.
    #[serde(default)]
    pub exclude: Vec<String>,
}

/// Per-column rules, as `schema.table.column` patterns (`*`/`?` wildcards).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnRules {
    /// Columns never written to the row log.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Columns whose values are replaced by a mask in the row log.
    #[serde(default)]
    pub mask: Vec<String>,
}

/// Key columns for tables without a primary key: `schema.table` → columns.
pub type KeyOverrides = BTreeMap<String, Vec<String>>;

/// When to take a consistent snapshot of existing rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SnapshotMode {
    /// On first start (no stored position), then stream changes.
    #[default]
    Initial,
    /// Never; stream changes from the current position only.
    Never,
    /// On every start, then stream changes.
    Always,
    /// On first start, then stop (no streaming).
    InitialOnly,
}

/// Access to the password fields every connecting struct has.
pub(crate) trait Credentials {
    fn url(&self) -> Option<&ConnUrl>;
    fn password_field(&self) -> Option<&Secret>;
    fn password_file_field(&self) -> Option<&Path>;
    fn set_password_from_file(&mut self, secret: Secret);
}

/// Implements [`Credentials`] and a public `password()` for a struct with the fields
/// `url`, `password`, `password_file` and `password_from_file`.
macro_rules! impl_credentials {
    ($t:ty) => {
        impl $t {
            /// The password to connect with: `password`, else the contents of
            /// `password_file`, else the password embedded in `url`.
            pub fn password(&self) -> Option<$crate::value::secret::Secret> {
                self.password
                    .clone()
                    .or_else(|| self.password_from_file.clone())
                    .or_else(|| self.url.password())
            }
        }

        impl $crate::model::common::Credentials for $t {
            fn url(&self) -> Option<&$crate::value::conn_url::ConnUrl> {
                Some(&self.url)
            }
            fn password_field(&self) -> Option<&$crate::value::secret::Secret> {
                self.password.as_ref()
            }
            fn password_file_field(&self) -> Option<&std::path::Path> {
                self.password_file.as_deref()
            }
            fn set_password_from_file(&mut self, secret: $crate::value::secret::Secret) {
                self.password_from_file = Some(secret);
            }
        }
    };
}
pub(crate) use impl_credentials;
