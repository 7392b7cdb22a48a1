//! README's first command, `scripts/quickstart`, runs to its "changes
//! arrived" point in its non-interactive mode: private servers, the demo
//! table, `rowlog run` with the example config, changes seen in the topic
//! and, after `/wait`, in the follower; then everything stops with exit 0.
//! The binaries are the ones the workspace build made (the script's
//! install-and-build step is skipped with ROWLOG_QUICKSTART_PREBUILT=1).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;

#[test]
fn quickstart_runs_to_changes_arrived() {
    let driver = Path::new(env!("CARGO_BIN_EXE_rowlog-quickstart"));
    let bin_dir = driver.parent().unwrap();
    assert!(
        bin_dir.join("rowlog").is_file(),
        "{} is missing: run the workspace's tests (cargo test --workspace builds it)",
        bin_dir.join("rowlog").display()
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let out = Command::new(root.join("scripts/quickstart"))
        .arg("--non-interactive")
        .current_dir(root)
        .env("ROWLOG_QUICKSTART_PREBUILT", "1")
        .env("CARGO_TARGET_DIR", bin_dir.parent().unwrap())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "exit {:?}\n{stdout}\n{stderr}",
        out.status
    );
    for needle in [
        "ok  config/examples/quickstart.yaml",
        "op=r",
        "op=c",
        "op=u",
        "op=d",
        "/wait?sink=replica&position=",
        "changes arrived: the follower equals the source (4 rows)",
        "/metrics",
        "stopped; every temp dir is removed",
    ] {
        assert!(
            stdout.contains(needle),
            "no {needle:?} in:\n{stdout}\n{stderr}"
        );
    }
}
