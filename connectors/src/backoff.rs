//! Waiting between retries of transient errors, the same way everywhere:
//! 1 s doubling to 30 s, back to 1 s after an attempt that ran for more
//! than a minute (it got somewhere before failing), and cut short when
//! shutdown is requested.

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

    /// Sleeps [`Backoff::next_delay`]; `false` when `shutdown` changed
    /// meanwhile (stop retrying).
    pub async fn wait(&mut self, shutdown: &mut watch::Receiver<bool>) -> bool {
        let delay = self.next_delay();
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = shutdown.changed() => return false,
        }
        self.delay = (delay * 2).min(MAX);
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
            seen.push(b.next_delay().as_secs());
            assert!(b.wait(&mut rx).await);
        }
        assert_eq!(seen, vec![1, 2, 4, 8, 16, 30, 30]);
        tx.send(true).unwrap();
        b.attempt();
        assert!(!b.wait(&mut rx).await);
    }
}
