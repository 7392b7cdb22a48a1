//! A sink's lag and its thresholds (`warn_lag`, `critical_lag`).
//!
//! The lag is the age — now minus its source commit time (a snapshot row's:
//! its read time) — of the oldest change the sink has read but not yet
//! applied, and 0 while it holds none. So an idle sink has no lag, a sink
//! whose target is down lags by as long as its batch has been waiting, and
//! a sink that cannot keep up lags by how old the changes it is applying
//! are. (Changes still in the broker are not counted until read; the
//! consumer-lag gauge counts those.)
//!
//! The same task reports the sink's Kafka consumer reaching no broker as
//! `retrying` ([`report_brokers`]).
//!
//! Invariants: [`Pending`] is set when a batch is handed to the target and
//! cleared when it lands; [`watch`] samples it once a second, sets the
//! gauges and the component's lag in `/status` and `/readyz`, and logs
//! only when the level changes (warn or error on the way up, info on the
//! way back), never once per sample.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use tokio::sync::watch as tokio_watch;

use crate::metrics::SinkLabels;
use crate::status::{LagLevel, Registry};

/// The source commit time (Unix ms) of the oldest change a sink holds
/// unapplied; 0 when none.
#[derive(Debug, Clone, Default)]
pub struct Pending(Arc<AtomicI64>);

impl Pending {
    /// A batch whose oldest change committed at `oldest_ms` is applying.
    pub fn hold(&self, oldest_ms: Option<i64>) {
        self.0
            .store(oldest_ms.unwrap_or(0).max(0), Ordering::Relaxed);
    }

    /// Nothing is applying.
    pub fn clear(&self) {
        self.0.store(0, Ordering::Relaxed);
    }

    /// The lag at `now_ms`.
    pub fn lag(&self, now_ms: i64) -> Duration {
        match self.0.load(Ordering::Relaxed) {
            0 => Duration::ZERO,
            t => Duration::from_millis(u64::try_from(now_ms - t).unwrap_or(0)),
        }
    }
}

/// A sink's thresholds.
#[derive(Debug, Clone, Copy, Default)]
pub struct Thresholds {
    /// `warn_lag`.
    pub warn: Option<Duration>,
    /// `critical_lag`.
    pub critical: Option<Duration>,
}

impl Thresholds {
    /// Where `lag` stands.
    pub fn level(&self, lag: Duration) -> LagLevel {
        if self.critical.is_some_and(|c| lag >= c) {
            LagLevel::Critical
        } else if self.warn.is_some_and(|w| lag >= w) {
            LagLevel::Warn
        } else {
            LagLevel::Ok
        }
    }
}

/// How often the lag is sampled.
const SAMPLE: Duration = Duration::from_secs(1);

/// Samples `pending` for sink `sink` until `stop` turns true (see the
/// module doc).
pub async fn watch(
    sink: String,
    pending: Pending,
    thresholds: Thresholds,
    registry: Option<Registry>,
    brokers: crate::log::brokers::BrokerHealth,
    mut stop: tokio_watch::Receiver<bool>,
) {
    let mut brokers_down = false;
    let labels = SinkLabels { sink: sink.clone() };
    let m = &crate::metrics::global().sink;
    let mut last = LagLevel::Ok;
    let mut tick = tokio::time::interval(SAMPLE);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        let lag = pending.lag(rowlog_connectors::emit::now_ms());
        let level = thresholds.level(lag);
        m.lag_seconds.get_or_create(&labels).set(lag.as_secs_f64());
        m.lag_level.get_or_create(&labels).set(match level {
            LagLevel::Ok => 0,
            LagLevel::Warn => 1,
            LagLevel::Critical => 2,
        });
        if let Some(r) = &registry {
            r.set_lag(
                &sink,
                u64::try_from(lag.as_millis()).unwrap_or(u64::MAX),
                level,
            );
            report_brokers(r, &sink, brokers.down(), &mut brokers_down);
        }
        if level != last {
            log_change(&sink, last, level, lag, thresholds);
            last = level;
        }
    }
}

/// Marks component `name` retrying while its Kafka client reaches no
/// broker, and running again once it does (only on changes, so other
/// states set meanwhile stand).
pub fn report_brokers(registry: &Registry, name: &str, down: bool, was_down: &mut bool) {
    if down == *was_down {
        return;
    }
    *was_down = down;
    if down {
        tracing::warn!(
            component = name,
            "the row log's brokers are all unreachable; retrying"
        );
        registry.set(
            name,
            crate::status::State::Retrying {
                error: "row log: all brokers are down (librdkafka keeps retrying)".into(),
            },
        );
    } else {
        tracing::info!(component = name, "a row log broker is reachable again");
        registry.set(name, crate::status::State::Running);
    }
}

fn log_change(sink: &str, from: LagLevel, to: LagLevel, lag: Duration, t: Thresholds) {
    let lag_s = format!("{:.1}s", lag.as_secs_f64());
    let show = |d: Option<Duration>| d.map_or("-".to_string(), |d| format!("{d:?}"));
    match to {
        LagLevel::Critical => tracing::error!(
            sink, lag = %lag_s, critical_lag = %show(t.critical),
            "sink lag reached critical_lag; /readyz answers 503 until it recovers"
        ),
        LagLevel::Warn if from < LagLevel::Warn => tracing::warn!(
            sink, lag = %lag_s, warn_lag = %show(t.warn),
            "sink lag reached warn_lag"
        ),
        LagLevel::Warn => tracing::warn!(
            sink, lag = %lag_s, critical_lag = %show(t.critical),
            "sink lag back below critical_lag (still at or above warn_lag)"
        ),
        LagLevel::Ok => tracing::info!(
            sink, lag = %lag_s, warn_lag = %show(t.warn),
            "sink lag recovered"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_is_the_age_of_the_oldest_held_change() {
        let p = Pending::default();
        assert_eq!(p.lag(10_000), Duration::ZERO);
        p.hold(Some(7_000));
        assert_eq!(p.lag(10_000), Duration::from_secs(3));
        p.hold(None);
        assert_eq!(p.lag(10_000), Duration::ZERO);
        p.hold(Some(12_000)); // a commit clock ahead of ours
        assert_eq!(p.lag(10_000), Duration::ZERO);
        p.clear();
        assert_eq!(p.lag(10_000), Duration::ZERO);
    }

    #[test]
    fn levels() {
        let t = Thresholds {
            warn: Some(Duration::from_secs(5)),
            critical: Some(Duration::from_secs(30)),
        };
        assert_eq!(t.level(Duration::from_secs(4)), LagLevel::Ok);
        assert_eq!(t.level(Duration::from_secs(5)), LagLevel::Warn);
        assert_eq!(t.level(Duration::from_secs(30)), LagLevel::Critical);
        assert_eq!(
            Thresholds::default().level(Duration::from_secs(3600)),
            LagLevel::Ok
        );
        let only_critical = Thresholds {
            warn: None,
            critical: Some(Duration::from_secs(1)),
        };
        assert_eq!(
            only_critical.level(Duration::from_secs(2)),
            LagLevel::Critical
        );
    }
}
