//! `rowlog wait --sink NAME --position POS [--timeout 10s] [--url URL]`:
//! `/wait` for scripts. Exit 0 once the sink has applied every change up
//! to POS, 1 when the timeout passed first, 2 when the request was wrong
//! (malformed position, unknown sink, nothing listening) — the message says
//! which.

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use super::client;

/// Arguments of `rowlog wait`.
#[derive(Debug, Args)]
pub struct WaitArgs {
    /// The sink that must have applied the change.
    #[arg(long)]
    pub sink: String,
    /// A source position as the source database prints it: an LSN
    /// (`pg_current_wal_insert_lsn()`), a MariaDB `@@gtid_binlog_pos`, a
    /// MySQL `@@gtid_executed`, or FILE:OFFSET.
    #[arg(long)]
    pub position: String,
    /// How long to wait (at most 5m).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Where `rowlog run` listens (its `http.listen`).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    s.parse::<rowlog_config::Duration>()
        .map(|d| d.get())
        .map_err(|e| e.to_string())
}

/// Runs the command; returns the exit code.
pub fn run(args: &WaitArgs) -> ExitCode {
    let path = format!(
        "/wait?sink={}&position={}&timeout_ms={}",
        client::query_value(&args.sink),
        client::query_value(&args.position),
        args.timeout.as_millis()
    );
    let answer = client::get(&args.url, &path, args.timeout + Duration::from_secs(10));
    let (code, body) = match answer {
        Ok(a) => a,
        Err(e) => {
            eprintln!("rowlog wait: {e}");
            return ExitCode::from(2);
        }
    };
    let doc: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    let error = doc["error"].as_str().unwrap_or(body.trim());
    match code {
        200 => {
            println!(
                "sink {} has applied {} (waited {} ms)",
                args.sink,
                args.position,
                doc["waited_ms"].as_u64().unwrap_or(0)
            );
            ExitCode::SUCCESS
        }
        408 => {
            eprintln!("rowlog wait: timed out: {error}");
            ExitCode::FAILURE
        }
        _ => {
            eprintln!("rowlog wait: {code}: {error}");
            ExitCode::from(2)
        }
    }
}
