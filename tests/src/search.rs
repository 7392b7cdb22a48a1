//! A private in-memory OpenSearch-API server (osmem).
//!
//! No real OpenSearch or Elasticsearch can be installed on the project's
//! machines; `osmem-server` implements `_bulk`, `version_type=external`
//! (a stale version gets 409), index/delete/create/update, `_search`,
//! `_refresh`.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::anyhow;
use nix::sys::signal::Signal;
use tempfile::TempDir;

use crate::process::{START_TIMEOUT, ServerProcess, StartFailure, with_port_retries};

/// A throwaway osmem-server on 127.0.0.1. Dropping it kills the server.
#[derive(Debug)]
pub struct SearchServer {
    // Field order matters: the process stops before its directory goes.
    process: ServerProcess,
    port: u16,
    dir: TempDir,
}

impl SearchServer {
    /// Start a server.
    pub async fn start() -> anyhow::Result<Self> {
        let bin = crate::bins::osmem_server()?;
        let dir = crate::process::server_temp_dir("osmem")?;
        let log = dir.path().join("osmem.log");
        let (process, port) = with_port_retries("osmem-server", async |port| {
            let mut cmd = Command::new(&bin);
            cmd.current_dir(dir.path())
                .arg("-addr")
                .arg(format!("127.0.0.1:{port}"))
                // Without this it exits when stdin closes; -parent-pid is a
                // second guard beside the parent-death signal.
                .arg("-no-stdin-watch")
                .arg("-parent-pid")
                .arg(std::process::id().to_string());
            let mut process =
                ServerProcess::spawn("osmem-server", cmd, port, &log, Signal::SIGKILL)?;
            let pid = process.pid().unwrap_or_default();
            process
                .wait_ready(START_TIMEOUT, async || probe(port, pid).await)
                .await?;
            Ok::<_, StartFailure>((process, port))
        })
        .await?;
        Ok(SearchServer { process, port, dir })
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The server's temp dir.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The server process (pause with SIGSTOP, kill, ...).
    pub fn process(&mut self) -> &mut ServerProcess {
        &mut self.process
    }
}

/// `GET /` answers with the cluster info of our child (its `pid`).
async fn probe(port: u16, pid: u32) -> anyhow::Result<()> {
    let resp = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/"))
        .timeout(Duration::from_secs(5))
        .send()
        .await?
        .error_for_status()?;
    let info: serde_json::Value = resp.json().await?;
    if info.get("version").is_none() {
        anyhow::bail!("GET / answered without a version: {info}");
    }
    match info.get("pid").and_then(serde_json::Value::as_u64) {
        Some(p) if p == u64::from(pid) => Ok(()),
        Some(p) => Err(anyhow!("port answered by another osmem (pid {p})")),
        None => Ok(()),
    }
}
