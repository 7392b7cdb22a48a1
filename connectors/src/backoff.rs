//! Waiting between retries of transient errors, the same way everywhere:
//! 1 s doubling to 30 s, back to 1 s after an attempt that ran for more
//! than a minute (it got somewhere before failing), and cut short when
//! shutdown is requested. Each wait is jittered to 75–125% of its step, so
//! many components (or processes) that lost the same server do not all
//! come back in the same instant.
//!
//! Written by hand rather than with `backon`: the reset after a long
//! attempt and the shutdown-aware wait are most of these few lines, and
//! they would have to be written around `backon` anyway.

use std::time::{Duration, Instant};

use tokio::sync::watch;

const FIRST: Duration = Duration::from_secs(1);
const MAX: Duration = Duration::from_secs(30);
const PROGRESS: Duration = Duration::from_secs(60);

/// Backoff state of one retry loop.
#[derive(Debug)]
pub struct Backoff {
    delay: Duration,
    started: Instant,
    retries: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::new()
    }
}

impl Backoff {
    /// A fresh loop: the first wait is 1 s.
    pub fn new() -> Backoff {
        Backoff {
            delay: FIRST,
            started: Instant::now(),
            retries: 0,
        }
    }

    /// Marks the start of an attempt.
    pub fn attempt(&mut self) {
        self.started = Instant::now();
    }

    /// How long [`Backoff::wait`] will sleep after the attempt that just
    /// failed (for the log line before it).
    pub fn next_delay(&mut self) -> Duration {
        if self.started.elapsed() > PROGRESS {
            self.delay = FIRST;
        }
        self.delay
    }

    /// Waits done so far: 0 until the first failure has been waited out
    /// (log the first failure loudly, the rest quietly).
    pub fn retries(&self) -> u32 {
        self.retries
    }

    /// Sleeps [`Backoff::next_delay`]; `false` when `shutdown` changed
    /// meanwhile (stop retrying).
    pub async fn wait(&mut self, shutdown: &mut watch::Receiver<bool>) -> bool {
        let delay = self.next_delay();
        tokio::select! {
            _ = tokio::time::sleep(delay.mul_f64(0.75 + fastrand::f64() / 2.0)) => {}
            _ = shutdown.changed() => return false,
        }
        self.delay = (delay * 2).min(MAX);
        self.retries = self.retries.saturating_add(1);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn doubles_to_thirty_seconds_and_stops_on_shutdown() {
        let (tx, mut rx) = watch::channel(false);
        let mut b = Backoff::new();
        let mut seen = Vec::new();
        for _ in 0..7 {
            b.attempt();
            let step = b.next_delay();
            seen.push(step.as_secs());
            let started = tokio::time::Instant::now();
            assert!(b.wait(&mut rx).await);
            // Jittered to 75–125% of the step.
            let waited = started.elapsed();
            assert!(
                waited >= step.mul_f64(0.75) && waited <= step.mul_f64(1.25),
                "{waited:?} for a {step:?} step"
            );
        }
        assert_eq!(seen, vec![1, 2, 4, 8, 16, 30, 30]);
        assert_eq!(b.retries(), 7);
        tx.send(true).unwrap();
        b.attempt();
        assert!(!b.wait(&mut rx).await);
    }
}
