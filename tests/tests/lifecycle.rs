//! A test process that is killed (SIGKILL, no destructors) leaves no server
//! running: every child has PR_SET_PDEATHSIG(SIGKILL). Checked with the
//! `rowlog-services` binary, which starts one of each server.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use rowlog_tests::ports::wait_closed;

#[test]
fn killed_parent_takes_its_servers_along() -> anyhow::Result<()> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rowlog-services"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let stdout = child.stdout.take().expect("piped stdout");
    let mut ports = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        if line == "ready" {
            break;
        }
        // ROWLOG_<NAME>_URL=<scheme://>127.0.0.1:PORT<path>
        let (_, url) = line.split_once('=').expect("KEY=URL line");
        let after_host = url.split("127.0.0.1:").nth(1).expect("URL on 127.0.0.1");
        let port: u16 = after_host
            .chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse()?;
        ports.push((line.clone(), port));
    }
    assert_eq!(ports.len(), 5, "one line per server: {ports:?}");

    child.kill()?; // SIGKILL: no Drop runs in the child
    child.wait()?;
    for (line, port) in &ports {
        assert!(
            wait_closed(*port, Duration::from_secs(10)),
            "{line}: still listening after its parent was killed"
        );
    }
    Ok(())
}
