//! A private Redis without persistence.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, anyhow};
use nix::sys::signal::Signal;
use tempfile::TempDir;

use crate::process::{START_TIMEOUT, ServerProcess, StartFailure, with_port_retries};

/// A throwaway Redis on 127.0.0.1 (`--save '' --appendonly no`). Dropping it
/// kills the server.
#[derive(Debug)]
pub struct RedisServer {
    // Field order matters: the process stops before its directory goes.
    process: ServerProcess,
    port: u16,
    dir: TempDir,
}

impl RedisServer {
    /// Start a server.
    pub async fn start() -> anyhow::Result<Self> {
        let bin = crate::bins::redis_server()?;
        let dir = crate::process::server_temp_dir("redis")?;
        let log = dir.path().join("redis.log");
        let (process, port) = with_port_retries("redis-server", async |port| {
            let mut cmd = Command::new(&bin);
            cmd.current_dir(dir.path())
                .arg("--port")
                .arg(port.to_string())
                .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
                .arg("--dir")
                .arg(dir.path());
            let mut process =
                ServerProcess::spawn("redis-server", cmd, port, &log, Signal::SIGKILL)?;
            let pid = process.pid().unwrap_or_default();
            process
                .wait_ready(START_TIMEOUT, async || probe(port, pid).await)
                .await?;
            Ok::<_, StartFailure>((process, port))
        })
        .await?;
        Ok(RedisServer { process, port, dir })
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:PORT/`
    pub fn url(&self) -> String {
        url(self.port)
    }

    /// A client for [`RedisServer::url`].
    pub fn client(&self) -> anyhow::Result<redis::Client> {
        redis::Client::open(self.url()).context("creating redis client")
    }

    /// The server's temp dir (its working directory).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The server process (pause with SIGSTOP, kill, ...).
    pub fn process(&mut self) -> &mut ServerProcess {
        &mut self.process
    }
}

fn url(port: u16) -> String {
    format!("redis://127.0.0.1:{port}/")
}

/// PING, and INFO's `process_id` is our child.
async fn probe(port: u16, pid: u32) -> anyhow::Result<()> {
    let check = async {
        let client = redis::Client::open(url(port))?;
        let mut con = client.get_multiplexed_async_connection().await?;
        let pong: String = redis::cmd("PING").query_async(&mut con).await?;
        if pong != "PONG" {
            anyhow::bail!("PING answered {pong:?}");
        }
        let info: String = redis::cmd("INFO")
            .arg("server")
            .query_async(&mut con)
            .await?;
        let theirs = info
            .lines()
            .find_map(|l| l.strip_prefix("process_id:"))
            .map(str::trim);
        if theirs != Some(pid.to_string().as_str()) {
            anyhow::bail!("port answered by another redis (process_id {theirs:?})");
        }
        Ok(())
    };
    tokio::time::timeout(Duration::from_secs(5), check)
        .await
        .map_err(|_| anyhow!("probe timed out"))?
}
