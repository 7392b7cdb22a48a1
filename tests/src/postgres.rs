//! A private PostgreSQL 15 with `wal_level=logical`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, anyhow};
use nix::sys::signal::Signal;
use nix::unistd::{Uid, User};
use tempfile::TempDir;

use crate::process::{
    START_TIMEOUT, ServerProcess, StartFailure, run_to_completion, with_port_retries,
};

/// A throwaway PostgreSQL cluster (superuser `postgres`, trust auth, no
/// password) on 127.0.0.1, with logical decoding enabled. Dropping it stops
/// the server (SIGQUIT: immediate shutdown) and deletes its data.
#[derive(Debug)]
pub struct PostgresServer {
    // Field order matters: the process stops before its directory goes.
    process: ServerProcess,
    port: u16,
    data_dir: PathBuf,
    bindir: PathBuf,
    owner: Option<(u32, u32)>,
    settings: Vec<(String, String)>,
    dir: TempDir,
}

/// How [`PostgresServer::stop_server`] shuts PostgreSQL down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shutdown {
    /// SIGINT: "fast" shutdown — sessions are terminated, walsenders send
    /// what is flushed, a shutdown checkpoint is written.
    Fast,
    /// SIGQUIT: "immediate" shutdown, like a crash; the next start runs
    /// crash recovery.
    Immediate,
}

impl PostgresServer {
    /// Start with the default settings (see the module docs).
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with_settings(&[]).await
    }

    /// Start with extra `-c name=value` settings (they come after, and so
    /// override, the defaults).
    pub async fn start_with_settings(settings: &[(&str, &str)]) -> anyhow::Result<Self> {
        let bindir = crate::bins::pg_bindir()?;
        let dir = crate::process::server_temp_dir("pg")?;
        // PostgreSQL refuses to run as root: run it as `postgres` then.
        let owner = if Uid::effective().is_root() {
            let user = User::from_name("postgres")
                .context("looking up user postgres")?
                .ok_or_else(|| {
                    anyhow!("running as root but there is no user `postgres` to run PostgreSQL as (is postgresql-15 installed?)")
                })?;
            std::os::unix::fs::chown(dir.path(), Some(user.uid.as_raw()), Some(user.gid.as_raw()))
                .with_context(|| format!("chown {} to postgres", dir.path().display()))?;
            Some((user.uid.as_raw(), user.gid.as_raw()))
        } else {
            None
        };
        let data_dir = dir.path().join("data");
        let log = dir.path().join("postgres.log");

        let mut initdb = command(&bindir.join("initdb"), dir.path(), owner);
        initdb
            .arg("-D")
            .arg(&data_dir)
            .args([
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
            ])
            .args(["--no-sync", "--no-instructions"]);
        run_to_completion("initdb", initdb, &log, START_TIMEOUT).await?;

        let settings: Vec<(String, String)> = settings
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let (process, port) = with_port_retries("postgres", async |port| {
            let process =
                spawn_ready(&bindir, dir.path(), &data_dir, owner, &settings, port).await?;
            Ok::<_, StartFailure>((process, port))
        })
        .await?;
        Ok(PostgresServer {
            process,
            port,
            data_dir,
            bindir,
            owner,
            settings,
            dir,
        })
    }

    /// Shut the server down (see [`Shutdown`]) and wait until it is gone;
    /// the data directory stays. [`PostgresServer::start_again`] brings it
    /// back on the same port.
    pub fn stop_server(&mut self, how: Shutdown) -> anyhow::Result<()> {
        let signal = match how {
            Shutdown::Fast => Signal::SIGINT,
            Shutdown::Immediate => Signal::SIGQUIT,
        };
        self.process.signal(signal)?;
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while self.process.exit_status().is_none() {
            if std::time::Instant::now() > deadline {
                self.process.kill();
                anyhow::bail!(
                    "postgres did not stop within 30 s after {signal}; killed it\n--- log (tail) ---\n{}",
                    self.process.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// Start the server again on the same port and data directory, with the
    /// same settings, after [`PostgresServer::stop_server`] (or a crash).
    pub async fn start_again(&mut self) -> anyhow::Result<()> {
        if self.process.exit_status().is_none() && self.process.pid().is_some() {
            anyhow::bail!("postgres on port {} is still running", self.port);
        }
        let process = spawn_ready(
            &self.bindir,
            self.dir.path(),
            &self.data_dir,
            self.owner,
            &self.settings,
            self.port,
        )
        .await
        .map_err(|e| match e {
            StartFailure::PortInUse(e) | StartFailure::Fatal(e) => e,
        })
        .with_context(|| format!("restarting postgres on port {}", self.port))?;
        self.process = process;
        Ok(())
    }

    /// [`PostgresServer::stop_server`] then [`PostgresServer::start_again`].
    pub async fn restart(&mut self, how: Shutdown) -> anyhow::Result<()> {
        self.stop_server(how)?;
        self.start_again().await
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `postgres://postgres@127.0.0.1:PORT/DB`
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// `host=127.0.0.1 port=PORT user=postgres dbname=DB` (libpq key/value form).
    pub fn conn_string(&self, db: &str) -> String {
        conn_string(self.port, db)
    }

    /// The directory holding the Unix socket (`.s.PGSQL.PORT`).
    pub fn socket_dir(&self) -> &Path {
        self.dir.path()
    }

    /// The cluster's data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The server log (stdout and stderr of the postmaster).
    pub fn log_path(&self) -> &Path {
        self.process.log_path()
    }

    /// The server process (pause with SIGSTOP, kill, ...).
    pub fn process(&mut self) -> &mut ServerProcess {
        &mut self.process
    }

    /// Connect as `postgres` to `db`; the connection task runs on the current
    /// tokio runtime.
    pub async fn connect(&self, db: &str) -> anyhow::Result<tokio_postgres::Client> {
        connect(&self.conn_string(db)).await
    }

    /// `CREATE DATABASE name`; returns its URL.
    pub async fn create_database(&self, name: &str) -> anyhow::Result<String> {
        let client = self.connect("postgres").await?;
        client
            .batch_execute(&format!(
                "CREATE DATABASE \"{}\"",
                name.replace('"', "\"\"")
            ))
            .await
            .with_context(|| format!("CREATE DATABASE {name} on 127.0.0.1:{}", self.port))?;
        Ok(self.url(name))
    }
}

/// Spawns `postgres` on `port` over `data_dir` and waits until it answers.
async fn spawn_ready(
    bindir: &Path,
    dir: &Path,
    data_dir: &Path,
    owner: Option<(u32, u32)>,
    settings: &[(String, String)],
    port: u16,
) -> Result<ServerProcess, StartFailure> {
    let log = dir.join("postgres.log");
    let mut cmd = command(&bindir.join("postgres"), dir, owner);
    cmd.arg("-D").arg(data_dir).arg("-p").arg(port.to_string());
    let defaults = [
        ("listen_addresses", "127.0.0.1".to_owned()),
        ("unix_socket_directories", dir.display().to_string()),
        ("wal_level", "logical".to_owned()),
        ("max_wal_senders", "10".to_owned()),
        ("max_replication_slots", "10".to_owned()),
        ("fsync", "off".to_owned()),
    ];
    for (k, v) in defaults
        .iter()
        .map(|(k, v)| (*k, v.as_str()))
        .chain(settings.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    {
        cmd.arg("-c").arg(format!("{k}={v}"));
    }
    let mut process = ServerProcess::spawn("postgres", cmd, port, &log, Signal::SIGQUIT)?;
    let conn = conn_string(port, "postgres");
    let expected = data_dir.display().to_string();
    process
        .wait_ready(START_TIMEOUT, async || probe(&conn, &expected).await)
        .await?;
    Ok(process)
}

fn conn_string(port: u16, db: &str) -> String {
    format!("host=127.0.0.1 port={port} user=postgres dbname={db} connect_timeout=5")
}

fn command(program: &Path, cwd: &Path, owner: Option<(u32, u32)>) -> Command {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(program);
    // A cwd the postgres user can read (not /root/...), and no PG* variables
    // from the caller's environment steering the server.
    cmd.current_dir(cwd).env("LC_ALL", "C");
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("PG") {
            cmd.env_remove(k);
        }
    }
    if let Some((uid, gid)) = owner {
        cmd.uid(uid).gid(gid);
    }
    cmd
}

async fn connect(conn: &str) -> anyhow::Result<tokio_postgres::Client> {
    let (client, connection) = tokio_postgres::connect(conn, tokio_postgres::NoTls)
        .await
        .with_context(|| format!("connecting to PostgreSQL ({conn})"))?;
    tokio::spawn(async move {
        // The error (if any) shows up on the next query made with the client.
        let _ = connection.await;
    });
    Ok(client)
}

/// A real query, answered by the cluster in our data dir.
async fn probe(conn: &str, expected_data_dir: &str) -> anyhow::Result<()> {
    let check = async {
        let client = connect(conn).await?;
        let row = client.query_one("SHOW data_directory", &[]).await?;
        let dir: String = row.get(0);
        if dir != expected_data_dir {
            anyhow::bail!("port answered by another cluster (data_directory {dir})");
        }
        Ok(())
    };
    tokio::time::timeout(Duration::from_secs(5), check)
        .await
        .map_err(|_| anyhow!("probe timed out"))?
}
