//! Free ports on 127.0.0.1.
//!
//! Ports are drawn at random from 20000..32000, below Linux's ephemeral range
//! (32768..60999) so that they never collide with the local end of an outgoing
//! connection, and checked by binding them once. A port can still be taken
//! between the check and the server's own bind (parallel test processes):
//! servers detect that ("address already in use") and retry with a new port.

use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const RANGE: std::ops::Range<u16> = 20000..32000;

static HANDED_OUT: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

#[cfg(test)]
thread_local! {
    /// Unit tests push ports here that [`free_port`] hands out first (on this
    /// thread), to make a start attempt hit a taken port.
    pub(crate) static FORCED_PORTS: std::cell::RefCell<std::collections::VecDeque<u16>> =
        const { std::cell::RefCell::new(std::collections::VecDeque::new()) };
}

/// A port on 127.0.0.1 that was free a moment ago and that this process has
/// not handed out before.
pub fn free_port() -> anyhow::Result<u16> {
    #[cfg(test)]
    if let Some(port) = FORCED_PORTS.with(|f| f.borrow_mut().pop_front()) {
        return Ok(port);
    }
    for _ in 0..200 {
        let port = fastrand::u16(RANGE);
        if TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_err() {
            continue;
        }
        let mut handed = HANDED_OUT
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if handed.get_or_insert_with(HashSet::new).insert(port) {
            return Ok(port);
        }
    }
    anyhow::bail!("no free port on 127.0.0.1 in {RANGE:?} after 200 tries")
}

/// Whether something accepts TCP connections on 127.0.0.1:`port` right now.
pub fn is_listening(port: u16) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
}

/// Wait until nothing accepts connections on `port`; false on timeout.
pub fn wait_closed(port: u16, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if !is_listening(port) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether a server's log says its listen port was taken.
pub(crate) fn log_says_port_in_use(log: &str) -> bool {
    let log = log.to_ascii_lowercase();
    [
        "address already in use",
        "address in use",
        "addrinuse",
        "eaddrinuse",
    ]
    .iter()
    .any(|needle| log.contains(needle))
}

/// Drops `server`, whose instance listens on `port` and lives in `dir`, and
/// checks that it was listening, that the port closes within 5 s, and that
/// `dir` is removed: the testkit's promise that a dropped handle leaves
/// nothing behind.
pub fn check_drop_cleans_up<S>(server: S, port: u16, dir: &std::path::Path) -> anyhow::Result<()> {
    anyhow::ensure!(is_listening(port), "port {port} was not listening");
    drop(server);
    anyhow::ensure!(
        wait_closed(port, Duration::from_secs(5)),
        "port {port} still open"
    );
    anyhow::ensure!(!dir.exists(), "{} still exists", dir.display());
    Ok(())
}
