//! `rowlog status [--url URL]`: a running `rowlog run`'s `/status` as a
//! table (one line per source and sink: name, kind, state, durable source
//! position, sink lag, last error).
//!
//! Invariant: read-only; exit 0 when the endpoint answered, 1 when it could
//! not be reached or did not answer with the expected JSON (the message
//! says which and how to point `--url` elsewhere).

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

/// Arguments of `rowlog status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Where `rowlog run` listens (its `http.listen`).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
}

/// Runs the command; returns the exit code.
pub fn run(args: &StatusArgs) -> ExitCode {
    match fetch(&args.url).and_then(|body| table(&body)) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("rowlog status: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `GET /status` on `url` (`http://host:port`), the body.
fn fetch(url: &str) -> Result<String, String> {
    let (code, body) = super::client::get(url, "/status", Duration::from_secs(10))?;
    if code != 200 {
        return Err(format!("{url}/status answered {code}"));
    }
    Ok(body)
}

/// The components as aligned columns.
fn table(body: &str) -> Result<String, String> {
    let doc: serde_json::Value =
        serde_json::from_str(body).map_err(|e| format!("/status is not the expected JSON: {e}"))?;
    let components = doc["components"]
        .as_array()
        .ok_or("/status has no `components` list")?;
    let rows: Vec<Vec<String>> = components
        .iter()
        .map(|c| {
            let s = |k: &str| c[k].as_str().unwrap_or("-").to_string();
            let lag = match (c["lag_ms"].as_u64(), c["lag_level"].as_str()) {
                (Some(ms), Some(level)) => format!("{:.1}s ({level})", ms as f64 / 1000.0),
                (Some(ms), None) => format!("{:.1}s", ms as f64 / 1000.0),
                (None, _) => "-".to_string(),
            };
            vec![
                s("name"),
                s("kind"),
                s("state"),
                s("position"),
                lag,
                s("error"),
            ]
        })
        .collect();
    let header: Vec<String> = ["NAME", "KIND", "STATE", "POSITION", "LAG", "LAST ERROR"]
        .map(String::from)
        .to_vec();
    let columns = header.len();
    let widths: Vec<usize> = (0..columns - 1)
        .map(|i| {
            rows.iter()
                .chain(std::iter::once(&header))
                .map(|r| r[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (i, cell) in r.iter().enumerate() {
            match widths.get(i) {
                Some(w) => line.push_str(&format!("{cell:w$}  ", w = *w)),
                None => line.push_str(cell),
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_print_as_aligned_columns() {
        let body = r#"{"components":[
            {"name":"app","kind":"source","state":"running","position":"0/16B3748"},
            {"name":"replica","kind":"sink","state":"retrying","error":"connection refused","lag_ms":2500,"lag_level":"warn"}]}"#;
        assert_eq!(
            table(body).unwrap_or_default(),
            "NAME     KIND    STATE     POSITION   LAG          LAST ERROR\n\
             app      source  running   0/16B3748  -            -\n\
             replica  sink    retrying  -          2.5s (warn)  connection refused\n"
        );
        assert!(table("[]").is_err());
        assert!(fetch("ftp://x").is_err());
        assert!(
            fetch("http://127.0.0.1:1")
                .unwrap_err()
                .contains("is `rowlog run` running")
        );
    }
}
