//! The typed configuration, one file per top-level section.
//!
//! Invariant: a [`Config`] exists only after every check in `validate` passed, so
//! its consumers may rely on the documented ranges, references and defaults.

pub mod common;
pub mod http;
pub mod log;
pub mod sink;
pub mod source;

use serde::Serialize;

use self::http::Http;
use self::log::Log;
use self::sink::Sink;
use self::source::Source;

/// A validated rowlog configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Config {
    /// Databases to capture; at least one.
    pub sources: Vec<Source>,
    /// The Kafka row log.
    pub log: Log,
    /// Where to apply the log; may be empty.
    pub sinks: Vec<Sink>,
    /// Status and metrics listener.
    pub http: Http,
}

/// Top-level keys, for messages.
pub(crate) const TOP_KEYS: &[&str] = &["sources", "log", "sinks", "http"];

impl Config {
    /// The effective configuration (defaults filled in, variables interpolated) as
    /// YAML, with every secret shown as `***`.
    pub fn redacted_yaml(&self) -> String {
        match serde_saphyr::to_string(self) {
            Ok(s) => s,
            Err(e) => format!("# cannot render the configuration: {e}\n"),
        }
    }

    /// The source named `name`.
    pub fn source(&self, name: &str) -> Option<&Source> {
        self.sources.iter().find(|s| s.name == name)
    }
}
