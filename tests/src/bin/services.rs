//! Start rowlog's private test servers by hand, print their URLs, stop them
//! on Ctrl-C (or SIGTERM). `scripts/services` runs this.
//!
//! Usage: `rowlog-services [postgres] [mariadb] [redis] [kafka] [search]`
//! (no arguments: all of them). Stdout gets one `ROWLOG_<NAME>_URL=...` line
//! per server, then `ready`; everything else goes to stderr.

use std::io::Write;

use anyhow::Context;
use rowlog_tests::{KafkaServer, MariaDbServer, PostgresServer, RedisServer, SearchServer};
use tokio::signal::unix::{SignalKind, signal};

const ALL: [&str; 5] = ["postgres", "mariadb", "redis", "kafka", "search"];

#[derive(Debug, Default)]
struct Servers {
    postgres: Option<PostgresServer>,
    mariadb: Option<MariaDbServer>,
    redis: Option<RedisServer>,
    kafka: Option<KafkaServer>,
    search: Option<SearchServer>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut wanted: Vec<String> = std::env::args().skip(1).collect();
    if wanted.iter().any(|a| a == "-h" || a == "--help") {
        eprintln!("usage: rowlog-services [{}]...", ALL.join("|"));
        return Ok(());
    }
    if wanted.is_empty() {
        wanted = ALL.iter().map(|s| (*s).to_owned()).collect();
    }
    let mut servers = Servers::default();
    let mut out = std::io::stdout().lock();
    for name in &wanted {
        let (key, url, log) = match name.as_str() {
            "postgres" => {
                let s = PostgresServer::start().await?;
                let line = (s.url("postgres"), s.log_path().display().to_string());
                servers.postgres = Some(s);
                ("POSTGRES", line.0, line.1)
            }
            "mariadb" => {
                let s = MariaDbServer::start().await?;
                let line = (s.url(), s.log_path().display().to_string());
                servers.mariadb = Some(s);
                ("MARIADB", line.0, line.1)
            }
            "redis" => {
                let s = RedisServer::start().await?;
                let line = (s.url(), s.dir().join("redis.log").display().to_string());
                servers.redis = Some(s);
                ("REDIS", line.0, line.1)
            }
            "kafka" => {
                let s = KafkaServer::start().await?;
                let line = (
                    s.bootstrap_servers(),
                    s.dir().join("tansu.log").display().to_string(),
                );
                servers.kafka = Some(s);
                ("KAFKA", line.0, line.1)
            }
            "search" => {
                let s = SearchServer::start().await?;
                let line = (s.url(), s.dir().join("osmem.log").display().to_string());
                servers.search = Some(s);
                ("SEARCH", line.0, line.1)
            }
            other => anyhow::bail!("unknown server {other:?}; known: {}", ALL.join(", ")),
        };
        writeln!(out, "ROWLOG_{key}_URL={url}").context("writing stdout")?;
        out.flush().context("writing stdout")?;
        eprintln!("  {name}: {url}  (log: {log})");
    }
    writeln!(out, "ready").context("writing stdout")?;
    out.flush().context("writing stdout")?;
    drop(out);
    eprintln!("all up; Ctrl-C stops them");

    let mut term = signal(SignalKind::terminate()).context("installing SIGTERM handler")?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.context("waiting for Ctrl-C")?,
        _ = term.recv() => {}
    }
    eprintln!("stopping");
    drop(servers);
    Ok(())
}
