//! What each component of the process (source, sink) is doing, for
//! `/status` and `/readyz`.
//!
//! Invariants: a component is registered before its task starts and its
//! state only moves forward in the obvious ways (starting → running ⇄
//! retrying → stopped or failed); `failed` and `stopped` are final. The
//! registry is in memory only: it describes this process, not the pipeline.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde::Serialize;

/// A component's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum State {
    /// Connecting, positioning, joining the consumer group.
    Starting,
    /// Doing its work.
    Running,
    /// A transient error; retrying with backoff.
    Retrying {
        /// The last error.
        error: String,
    },
    /// Stopped by a permanent error.
    Failed {
        /// The error.
        error: String,
    },
    /// Stopped on request.
    Stopped,
}

/// One component as `/status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Component {
    /// Its name in the config.
    pub name: String,
    /// `source` or `sink`.
    pub kind: &'static str,
    /// What it is doing.
    #[serde(flatten)]
    pub state: State,
    /// A source's phase: `snapshot` or `streaming`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase: Option<&'static str>,
    /// A source's snapshot, per table (kept once streaming).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub snapshot: Vec<SnapshotTable>,
    /// A source's durable position (what `/wait` compares with), as the
    /// source database prints positions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<String>,
    /// A sink's lag in milliseconds (see [`crate::runtime::lag`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lag_ms: Option<u64>,
    /// Where that lag stands against the sink's thresholds.
    #[serde(skip_serializing_if = "LagLevel::is_ok")]
    pub lag_level: LagLevel,
}

/// One table of a source's snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SnapshotTable {
    /// `schema.table`.
    pub table: String,
    /// Rows read so far.
    pub rows: u64,
    /// The database's estimate of the table's rows (-1: unknown).
    pub estimate: i64,
}

/// A lag against `warn_lag` / `critical_lag`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LagLevel {
    /// Below both (or none set).
    #[default]
    Ok,
    /// At or above `warn_lag`.
    Warn,
    /// At or above `critical_lag`: not ready.
    Critical,
}

impl LagLevel {
    fn is_ok(&self) -> bool {
        *self == LagLevel::Ok
    }
}

impl Component {
    /// Running, and not critically behind.
    pub fn ready(&self) -> bool {
        self.state == State::Running && self.lag_level != LagLevel::Critical
    }
}

/// The components of this process.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    inner: Arc<Mutex<BTreeMap<String, Component>>>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Registry {
        Registry::default()
    }

    /// Adds a component in state `starting`.
    pub fn register(&self, name: &str, kind: &'static str) {
        if let Ok(mut m) = self.inner.lock() {
            m.insert(
                name.to_string(),
                Component {
                    name: name.to_string(),
                    kind,
                    state: State::Starting,
                    phase: None,
                    snapshot: Vec::new(),
                    position: None,
                    lag_ms: None,
                    lag_level: LagLevel::Ok,
                },
            );
        }
    }

    /// Sets a component's state (a final state stays final).
    pub fn set(&self, name: &str, state: State) {
        if let Ok(mut m) = self.inner.lock()
            && let Some(c) = m.get_mut(name)
            && !matches!(c.state, State::Failed { .. } | State::Stopped)
            && c.state != state
        {
            c.state = state;
        }
    }

    /// Records a source's phase and snapshot progress.
    pub fn set_phase(&self, name: &str, phase: &'static str, snapshot: Vec<SnapshotTable>) {
        if let Ok(mut m) = self.inner.lock()
            && let Some(c) = m.get_mut(name)
        {
            c.phase = Some(phase);
            c.snapshot = snapshot;
        }
    }

    /// Records a source's durable position.
    pub fn set_position(&self, name: &str, position: String) {
        if let Ok(mut m) = self.inner.lock()
            && let Some(c) = m.get_mut(name)
        {
            c.position = Some(position);
        }
    }

    /// Records a component's lag and its level.
    pub fn set_lag(&self, name: &str, lag_ms: u64, level: LagLevel) {
        if let Ok(mut m) = self.inner.lock()
            && let Some(c) = m.get_mut(name)
        {
            c.lag_ms = Some(lag_ms);
            c.lag_level = level;
        }
    }

    /// Every component, by name.
    pub fn snapshot(&self) -> Vec<Component> {
        self.inner
            .lock()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Whether every component is running with its lag below
    /// `critical_lag` (and there is at least one).
    pub fn ready(&self) -> bool {
        let all = self.snapshot();
        !all.is_empty() && all.iter().all(Component::ready)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_move_forward_and_final_states_stay() {
        let r = Registry::new();
        assert!(!r.ready(), "nothing registered is not ready");
        r.register("app", "source");
        r.register("replica", "sink");
        assert!(!r.ready());
        r.set("app", State::Running);
        r.set("replica", State::Running);
        assert!(r.ready());
        r.set(
            "replica",
            State::Retrying {
                error: "connection refused".into(),
            },
        );
        assert!(!r.ready());
        r.set(
            "replica",
            State::Failed {
                error: "bad password".into(),
            },
        );
        r.set("replica", State::Running);
        assert_eq!(
            r.snapshot()[1].state,
            State::Failed {
                error: "bad password".into()
            }
        );
        let json = serde_json::to_value(r.snapshot()).unwrap_or_default();
        assert_eq!(json[1]["state"], "failed");
        assert_eq!(json[1]["error"], "bad password");
        assert_eq!(json[0]["kind"], "source");
    }
}
