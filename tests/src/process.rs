//! Child processes for test servers: spawn with a log file and a parent-death
//! signal, wait until ready, stop on drop.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// How long a server may take from spawn to answering real requests.
pub const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Lines of a server log quoted in errors.
const LOG_TAIL_LINES: usize = 40;

type SpawnJob = (Command, mpsc::Sender<std::io::Result<Child>>);

static SPAWNER: Mutex<Option<mpsc::Sender<SpawnJob>>> = Mutex::new(None);

/// Spawn `cmd` with `PR_SET_PDEATHSIG(SIGKILL)`.
///
/// The parent-death signal fires when the spawning *thread* exits, so all
/// children are spawned by one thread that lives as long as the process
/// (a test thread or a tokio blocking thread would kill its servers when it
/// ends, even though the handle is still alive elsewhere).
///
/// The child gets its own process group, so a Ctrl-C in the terminal
/// reaches only the parent, which stops its children in order (rowlog
/// before the servers it talks to); the parent's death still kills them.
pub fn spawn_tied_to_process(mut cmd: Command) -> anyhow::Result<Child> {
    crate::pdeathsig::kill_child_with_parent(&mut cmd);
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let program = cmd.get_program().to_string_lossy().into_owned();
    let (reply_tx, reply_rx) = mpsc::channel();
    {
        let mut spawner = SPAWNER
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if spawner.is_none() {
            let (tx, rx) = mpsc::channel::<SpawnJob>();
            std::thread::Builder::new()
                .name("rowlog-spawner".into())
                .spawn(move || {
                    for (mut cmd, reply) in rx {
                        // The requester may have gone away; nothing to do then.
                        let _ = reply.send(cmd.spawn());
                    }
                })
                .context("starting the process-spawner thread")?;
            *spawner = Some(tx);
        }
        spawner
            .as_ref()
            .ok_or_else(|| anyhow!("spawner thread missing"))?
            .send((cmd, reply_tx))
            .map_err(|_| anyhow!("the process-spawner thread is gone"))?;
    }
    reply_rx
        .recv()
        .map_err(|_| anyhow!("the process-spawner thread is gone"))?
        .with_context(|| format!("spawning {program}"))
}

/// Why one attempt to start a server failed.
#[derive(Debug)]
pub enum StartFailure {
    /// The server could not bind its port (taken meanwhile): try another.
    PortInUse(anyhow::Error),
    /// Anything else: give up.
    Fatal(anyhow::Error),
}

impl From<anyhow::Error> for StartFailure {
    fn from(e: anyhow::Error) -> Self {
        StartFailure::Fatal(e)
    }
}

/// Run `attempt(port)` with fresh free ports until it does not fail with
/// [`StartFailure::PortInUse`] (at most 5 times).
pub async fn with_port_retries<T>(
    what: &str,
    mut attempt: impl AsyncFnMut(u16) -> Result<T, StartFailure>,
) -> anyhow::Result<T> {
    const ATTEMPTS: usize = 5;
    let mut last = None;
    for _ in 0..ATTEMPTS {
        let port = crate::ports::free_port()?;
        match attempt(port).await {
            Ok(v) => return Ok(v),
            Err(StartFailure::PortInUse(e)) => last = Some(e),
            Err(StartFailure::Fatal(e)) => return Err(e),
        }
    }
    Err(last
        .unwrap_or_else(|| anyhow!("no attempt made"))
        .context(format!("{what}: port taken on each of {ATTEMPTS} attempts")))
}

/// A running server process. Dropping it stops the process.
#[derive(Debug)]
pub struct ServerProcess {
    name: String,
    program: PathBuf,
    port: u16,
    child: Option<Child>,
    log_path: PathBuf,
    log_offset: u64,
    stop_signal: Signal,
}

impl ServerProcess {
    /// Spawn `cmd` (stdin closed, stdout+stderr appended to `log_path`).
    /// `name` and `port` are only used in messages; `stop_signal` is sent by
    /// [`ServerProcess::stop`] before falling back to SIGKILL.
    pub fn spawn(
        name: &str,
        mut cmd: Command,
        port: u16,
        log_path: &Path,
        stop_signal: Signal,
    ) -> anyhow::Result<Self> {
        let program = PathBuf::from(cmd.get_program());
        let (log, log_offset) = open_log(log_path)?;
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone().context("cloning log file handle")?)
            .stderr(log);
        let child = spawn_tied_to_process(cmd)
            .with_context(|| format!("{name}: starting {}", program.display()))?;
        Ok(ServerProcess {
            name: name.to_owned(),
            program,
            port,
            child: Some(child),
            log_path: log_path.to_owned(),
            log_offset,
            stop_signal,
        })
    }

    /// Process id, while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The log file that receives the server's stdout and stderr.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The last lines this process wrote to its log.
    pub fn log_tail(&self) -> String {
        read_tail(&self.log_path, self.log_offset)
    }

    /// `Some(status)` once the process has exited.
    pub fn exit_status(&mut self) -> Option<ExitStatus> {
        match self.child.as_mut() {
            None => None,
            Some(c) => c.try_wait().ok().flatten(),
        }
    }

    /// Wait until `probe` succeeds while the process is still running.
    ///
    /// The probe should make a real request and check that the answer comes
    /// from *this* process (data dir, pid, cluster id), not from something
    /// else that took the port. Fails with [`StartFailure::PortInUse`] when
    /// the process exits saying its address was in use.
    pub async fn wait_ready(
        &mut self,
        timeout: Duration,
        mut probe: impl AsyncFnMut() -> anyhow::Result<()>,
    ) -> Result<(), StartFailure> {
        let deadline = Instant::now() + timeout;
        let mut last_err = anyhow!("not probed yet");
        loop {
            if let Some(status) = self.exit_status() {
                return Err(self.exited_error(status));
            }
            if crate::ports::is_listening(self.port) {
                // Whoever holds the port may accept and never answer: stop
                // probing as soon as our child exits.
                let outcome = {
                    let exited = async {
                        loop {
                            if let Some(status) = self.exit_status() {
                                return status;
                            }
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    };
                    tokio::select! {
                        result = probe() => Ok(result),
                        status = exited => Err(status),
                    }
                };
                let result = match outcome {
                    Ok(result) => result,
                    Err(status) => return Err(self.exited_error(status)),
                };
                match result {
                    Ok(()) => {
                        if let Some(status) = self.exit_status() {
                            return Err(self.exited_error(status));
                        }
                        return Ok(());
                    }
                    Err(e) => last_err = e,
                }
            } else {
                last_err = anyhow!("nothing listens on 127.0.0.1:{} yet", self.port);
            }
            if Instant::now() >= deadline {
                let err = anyhow!(
                    "{} ({}) did not answer on 127.0.0.1:{} within {:?}; last probe error: {:#}\n--- {} (tail) ---\n{}",
                    self.name,
                    self.program.display(),
                    self.port,
                    timeout,
                    last_err,
                    self.log_path.display(),
                    self.log_tail()
                );
                self.stop();
                return Err(StartFailure::Fatal(err));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn exited_error(&mut self, status: ExitStatus) -> StartFailure {
        let tail = self.log_tail();
        let err = anyhow!(
            "{} ({}) exited with {} before answering on 127.0.0.1:{}\n--- {} (tail) ---\n{}",
            self.name,
            self.program.display(),
            status,
            self.port,
            self.log_path.display(),
            tail
        );
        self.child = None;
        if crate::ports::log_says_port_in_use(&tail) {
            StartFailure::PortInUse(err)
        } else {
            StartFailure::Fatal(err)
        }
    }

    /// Send a signal to the process (e.g. SIGSTOP/SIGCONT to make a server
    /// unreachable without losing its state).
    pub fn signal(&self, signal: Signal) -> anyhow::Result<()> {
        let pid = self
            .pid()
            .ok_or_else(|| anyhow!("{} is not running", self.name))?;
        kill(Pid::from_raw(pid as i32), signal)
            .with_context(|| format!("sending {signal} to {} (pid {pid})", self.name))
    }

    /// Stop the process: its stop signal, up to 10 s, then SIGKILL. Waits
    /// until it is gone. Idempotent.
    pub fn stop(&mut self) {
        self.stop_with(self.stop_signal);
    }

    /// Kill the process with SIGKILL (a crash) and wait until it is gone.
    pub fn kill(&mut self) {
        self.stop_with(Signal::SIGKILL);
    }

    fn stop_with(&mut self, signal: Signal) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if matches!(child.try_wait(), Ok(Some(_))) {
            return;
        }
        let pid = Pid::from_raw(child.id() as i32);
        // A stopped (SIGSTOP) process must be continued to handle the signal.
        let _ = kill(pid, Signal::SIGCONT);
        let _ = kill(pid, signal);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if !matches!(child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Run a setup command (initdb, mariadb-install-db) to completion, output
/// appended to `log_path`; an error quotes the log tail.
pub async fn run_to_completion(
    name: &str,
    mut cmd: Command,
    log_path: &Path,
    timeout: Duration,
) -> anyhow::Result<()> {
    let program = PathBuf::from(cmd.get_program());
    let (log, offset) = open_log(log_path)?;
    cmd.stdin(Stdio::null())
        .stdout(log.try_clone().context("cloning log file handle")?)
        .stderr(log);
    let mut child = spawn_tied_to_process(cmd)
        .with_context(|| format!("{name}: starting {}", program.display()))?;
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().context("waiting for child")? {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            anyhow::bail!(
                "{name} ({}) did not finish within {timeout:?}\n--- {} (tail) ---\n{}",
                program.display(),
                log_path.display(),
                read_tail(log_path, offset)
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    if !status.success() {
        anyhow::bail!(
            "{name} ({}) failed with {status}\n--- {} (tail) ---\n{}",
            program.display(),
            log_path.display(),
            read_tail(log_path, offset)
        );
    }
    Ok(())
}

fn open_log(path: &Path) -> anyhow::Result<(File, u64)> {
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening log file {}", path.display()))?;
    let offset = log
        .metadata()
        .with_context(|| format!("stat {}", path.display()))?
        .len();
    Ok((log, offset))
}

fn read_tail(path: &Path, offset: u64) -> String {
    let mut buf = Vec::new();
    let read = File::open(path).and_then(|mut f| {
        f.seek(SeekFrom::Start(offset))?;
        f.read_to_end(&mut buf)
    });
    if let Err(e) = read {
        return format!("(could not read {}: {e})", path.display());
    }
    let text = String::from_utf8_lossy(&buf);
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(LOG_TAIL_LINES);
    if lines.is_empty() {
        "(empty)".to_owned()
    } else {
        lines[start..].join("\n")
    }
}

/// A temp dir `$TMPDIR/rowlog-<kind>-<pid>-XXXXXX` for one server.
///
/// A test process killed with SIGKILL takes its servers with it (parent-death
/// signal) but cannot remove their dirs; the first call in each process
/// removes such leftovers: `rowlog-*-<pid>-*` dirs whose pid is gone.
pub fn server_temp_dir(kind: &str) -> anyhow::Result<tempfile::TempDir> {
    static SWEPT: std::sync::Once = std::sync::Once::new();
    SWEPT.call_once(sweep_stale_temp_dirs);
    tempfile::Builder::new()
        .prefix(&format!("rowlog-{kind}-{}-", std::process::id()))
        .tempdir()
        .with_context(|| format!("creating temp dir for {kind}"))
}

fn sweep_stale_temp_dirs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix("rowlog-")) else {
            continue;
        };
        // rest = "<kind>-<pid>-<random>"
        let mut parts = rest.split('-');
        let pid = parts.nth(1).and_then(|p| p.parse::<i32>().ok());
        let Some(pid) = pid else { continue };
        if pid <= 0 || pid as u32 == std::process::id() {
            continue;
        }
        let alive = !matches!(
            kill(Pid::from_raw(pid), None),
            Err(nix::errno::Errno::ESRCH)
        );
        if !alive {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}
