//! `http:` — the status/metrics listener of `rowlog run`.
//!
//! Invariant after loading: `listen` is `host:port` with a port in
//! 0..=65535 (0: the OS picks a free port; `rowlog run` logs which).

use serde::{Deserialize, Serialize};

/// `http:`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Http {
    /// Address to listen on for `/healthz`, `/readyz`, `/metrics`, `/status`, `/wait`.
    #[serde(default = "default_listen")]
    pub listen: String,
}

fn default_listen() -> String {
    "127.0.0.1:8080".to_owned()
}

impl Default for Http {
    fn default() -> Self {
        Http {
            listen: default_listen(),
        }
    }
}
