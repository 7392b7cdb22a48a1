//! A private MariaDB with a row-based binlog and GTIDs.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, anyhow};
use mysql_async::prelude::Queryable;
use nix::sys::signal::Signal;
use nix::unistd::Uid;
use tempfile::TempDir;

use crate::process::{
    START_TIMEOUT, ServerProcess, StartFailure, run_to_completion, with_port_retries,
};

/// A throwaway MariaDB (user `root`, empty password) on 127.0.0.1 with
/// `binlog_format=ROW`, full row images and metadata, `server_id=1` and
/// `gtid_strict_mode`. Dropping it kills the server and deletes its data.
#[derive(Debug)]
pub struct MariaDbServer {
    // Field order matters: the process stops before its directory goes.
    process: ServerProcess,
    port: u16,
    data_dir: PathBuf,
    extra: Vec<String>,
    dir: TempDir,
}

impl MariaDbServer {
    /// Start with the default settings (see the type docs).
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with_args(&[]).await
    }

    /// Start with extra `mariadbd` arguments (e.g. `--binlog-row-image=MINIMAL`);
    /// later arguments override the defaults.
    pub async fn start_with_args(extra: &[&str]) -> anyhow::Result<Self> {
        let mariadbd = crate::bins::mariadbd()?;
        let install_db = crate::bins::mariadb_install_db()?;
        let dir = crate::process::server_temp_dir("mariadb")?;
        let data_dir = dir.path().join("data");
        // A private tmpdir: servers bootstrapping in parallel must not share
        // (and clean up) each other's temporary tables in /tmp.
        let tmp = dir.path().join("tmp");
        std::fs::create_dir_all(&tmp).context("creating the server's tmpdir")?;
        let log = dir.path().join("mariadb.log");
        let root = Uid::effective().is_root();

        let mut install = Command::new(&install_db);
        install
            .current_dir(dir.path())
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data_dir.display()))
            .arg(format!("--tmpdir={}", tmp.display()))
            .args(["--auth-root-authentication-method=normal", "--skip-test-db"]);
        if root {
            install.arg("--user=root");
        }
        run_to_completion("mariadb-install-db", install, &log, START_TIMEOUT).await?;

        let extra: Vec<String> = extra.iter().map(|a| a.to_string()).collect();
        let (process, port) = with_port_retries("mariadbd", async |port| {
            let process =
                spawn_server(&mariadbd, dir.path(), &data_dir, port, &extra, &log).await?;
            Ok::<_, StartFailure>((process, port))
        })
        .await?;
        Ok(MariaDbServer {
            process,
            port,
            data_dir,
            extra,
            dir,
        })
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `mysql://root@127.0.0.1:PORT/` (no database selected).
    pub fn url(&self) -> String {
        format!("mysql://root@127.0.0.1:{}/", self.port)
    }

    /// `mysql://root@127.0.0.1:PORT/DB`
    pub fn url_for(&self, db: &str) -> String {
        format!("mysql://root@127.0.0.1:{}/{db}", self.port)
    }

    /// Connection options for [`mysql_async`] (no database selected).
    pub fn opts(&self) -> mysql_async::Opts {
        opts(self.port)
    }

    /// The server's Unix socket.
    pub fn socket_path(&self) -> PathBuf {
        self.dir.path().join("mysqld.sock")
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The server log (stdout and stderr of mariadbd).
    pub fn log_path(&self) -> &Path {
        self.process.log_path()
    }

    /// Freeze the server (SIGSTOP): connections hang as on a network drop.
    pub fn pause(&self) -> anyhow::Result<()> {
        self.process.signal(Signal::SIGSTOP)
    }

    /// Undo [`MariaDbServer::pause`] (SIGCONT).
    pub fn resume(&self) -> anyhow::Result<()> {
        self.process.signal(Signal::SIGCONT)
    }

    /// Crash the server (SIGKILL) and start it again on the same port with
    /// the same data and settings; returns once it answers queries.
    pub async fn crash_and_restart(&mut self) -> anyhow::Result<()> {
        self.kill();
        self.start_again().await
    }

    /// Crash the server (SIGKILL); [`MariaDbServer::start_again`] brings it
    /// back.
    pub fn kill(&mut self) {
        self.process.kill();
    }

    /// Start the server again after [`MariaDbServer::kill`], on the same port
    /// with the same data; returns once it answers queries.
    pub async fn start_again(&mut self) -> anyhow::Result<()> {
        let mariadbd = crate::bins::mariadbd()?;
        let log = self.process.log_path().to_path_buf();
        self.process = spawn_server(
            &mariadbd,
            self.dir.path(),
            &self.data_dir,
            self.port,
            &self.extra,
            &log,
        )
        .await
        .map_err(|e| anyhow!("restarting mariadbd on port {}: {e:?}", self.port))?;
        Ok(())
    }

    /// The server process (pause with SIGSTOP, kill, ...).
    pub fn process(&mut self) -> &mut ServerProcess {
        &mut self.process
    }

    /// A new connection as root (call `disconnect().await` when done).
    pub async fn connect(&self) -> anyhow::Result<mysql_async::Conn> {
        mysql_async::Conn::new(self.opts())
            .await
            .with_context(|| format!("connecting to MariaDB on 127.0.0.1:{}", self.port))
    }

    /// `CREATE DATABASE name`; returns its URL.
    pub async fn create_database(&self, name: &str) -> anyhow::Result<String> {
        let mut conn = self.connect().await?;
        conn.query_drop(format!("CREATE DATABASE `{}`", name.replace('`', "``")))
            .await
            .with_context(|| format!("CREATE DATABASE {name} on 127.0.0.1:{}", self.port))?;
        conn.disconnect().await.context("disconnecting")?;
        Ok(self.url_for(name))
    }
}

fn opts(port: u16) -> mysql_async::Opts {
    mysql_async::OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
        .tcp_port(port)
        .user(Some("root"))
        .prefer_socket(false)
        .into()
}

/// Starts `mariadbd` on `port` with the testkit's settings and `extra`.
async fn spawn_server(
    mariadbd: &Path,
    dir: &Path,
    data_dir: &Path,
    port: u16,
    extra: &[String],
    log: &Path,
) -> Result<ServerProcess, StartFailure> {
    let root = Uid::effective().is_root();
    let d = dir.display();
    let mut cmd = Command::new(mariadbd);
    cmd.current_dir(dir)
        .arg("--no-defaults")
        .arg(format!("--datadir={}", data_dir.display()))
        .arg(format!("--port={port}"))
        .arg("--bind-address=127.0.0.1")
        .arg(format!("--socket={d}/mysqld.sock"))
        .arg(format!("--pid-file={d}/mysqld.pid"))
        .arg(format!("--tmpdir={d}/tmp"))
        .arg(format!("--log-bin={d}/binlog"))
        .args([
            "--binlog-format=ROW",
            "--binlog-row-image=FULL",
            "--binlog-row-metadata=FULL",
            "--server-id=1",
            "--gtid-strict-mode=1",
            "--log-slave-updates",
            "--skip-name-resolve",
            "--innodb-buffer-pool-size=64M",
            "--innodb-log-file-size=16M",
            "--innodb-flush-log-at-trx-commit=2",
            "--sync-binlog=0",
        ])
        .args(extra);
    if root {
        cmd.arg("--user=root");
    }
    let mut process = ServerProcess::spawn("mariadbd", cmd, port, log, Signal::SIGKILL)?;
    let expected = data_dir.to_path_buf();
    process
        .wait_ready(START_TIMEOUT, async || probe(port, &expected).await)
        .await?;
    Ok(process)
}

/// A real query, answered by the server on our data dir.
async fn probe(port: u16, expected_data_dir: &Path) -> anyhow::Result<()> {
    let check = async {
        let mut conn = mysql_async::Conn::new(opts(port)).await?;
        let dir: Option<String> = conn.query_first("SELECT @@datadir").await?;
        conn.disconnect().await?;
        let dir = dir.unwrap_or_default();
        if Path::new(dir.trim_end_matches('/')) != expected_data_dir {
            anyhow::bail!("port answered by another server (datadir {dir})");
        }
        Ok(())
    };
    tokio::time::timeout(Duration::from_secs(5), check)
        .await
        .map_err(|_| anyhow!("probe timed out"))?
}
