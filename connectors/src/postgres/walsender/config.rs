//! Where and how to connect: parsed from a `postgres://` URL.
//!
//! Invariants: parsing never touches the network; the password is never
//! printed (`Debug` redacts it, errors never quote the URL's userinfo);
//! defaults follow libpq (port 5432, database = user name).

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use percent_encoding::percent_decode_str;

use super::error::{ErrorKind, ReplicationError};

/// Session settings the replication connection starts with, so that every
/// text value pgoutput sends has one unambiguous form (UTC, ISO dates,
/// ISO 8601 intervals, round-trip floats, hex bytea).
pub const DEFAULT_SESSION_OPTIONS: &str = "-c TimeZone=UTC -c DateStyle=ISO \
     -c IntervalStyle=iso_8601 -c extra_float_digits=3 -c bytea_output=hex";

/// Where the server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// A host name or address, with the port.
    Tcp(String),
    /// The directory of the Unix socket `.s.PGSQL.<port>`.
    Unix(PathBuf),
}

/// Everything needed to open a replication connection.
#[derive(Clone, PartialEq, Eq)]
pub struct ConnectConfig {
    /// Server host or socket directory.
    pub host: Host,
    /// Server port (also names the Unix socket).
    pub port: u16,
    /// Role name.
    pub user: String,
    /// Password, when the server asks for one.
    pub password: Option<String>,
    /// Database the logical slot decodes.
    pub dbname: String,
    /// `application_name` (shown in `pg_stat_replication`).
    pub application_name: String,
    /// The startup `options` (`-c name=value ...`).
    pub options: String,
    /// Bound on TCP connect plus authentication.
    pub connect_timeout: Duration,
    /// Largest backend message accepted (one row change must fit).
    pub max_message_size: usize,
}

impl fmt::Debug for ConnectConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("dbname", &self.dbname)
            .field("application_name", &self.application_name)
            .field("options", &self.options)
            .field("connect_timeout", &self.connect_timeout)
            .field("max_message_size", &self.max_message_size)
            .finish()
    }
}

impl ConnectConfig {
    /// Parses `postgres://[user[:password]@]host[:port][/dbname][?params]`
    /// (`postgresql://` too). Query parameters: `host` (a socket directory
    /// when it starts with `/`), `port`, `user`, `password`, `dbname`,
    /// `application_name`, `options`, `connect_timeout` (seconds), and
    /// `sslmode` (`disable`, `allow` or `prefer` only, as TLS is not
    /// implemented yet).
    pub fn from_url(url: &str) -> Result<ConnectConfig, ReplicationError> {
        let err = |what: String| ReplicationError::new(ErrorKind::Config, "PostgreSQL URL", what);
        let parsed = url::Url::parse(url).map_err(|e| {
            err(format!(
                "not a URL ({e}); expected postgres://user:password@host:port/dbname"
            ))
        })?;
        if !matches!(parsed.scheme(), "postgres" | "postgresql") {
            return Err(err(format!(
                "scheme `{}` is not postgres:// or postgresql://",
                parsed.scheme()
            )));
        }
        let decode = |s: &str, what: &str| {
            percent_decode_str(s)
                .decode_utf8()
                .map(|c| c.into_owned())
                .map_err(|_| {
                    err(format!(
                        "the {what} is not valid UTF-8 once percent-decoded"
                    ))
                })
        };
        let mut user = decode(parsed.username(), "user name")?;
        let mut password = match parsed.password() {
            Some(p) => Some(decode(p, "password")?),
            None => None,
        };
        let mut host = match parsed.host_str() {
            Some(h) if !h.is_empty() => {
                let h = decode(h, "host")?;
                let h = h.trim_start_matches('[').trim_end_matches(']').to_owned();
                if h.starts_with('/') {
                    Host::Unix(PathBuf::from(h))
                } else {
                    Host::Tcp(h)
                }
            }
            _ => Host::Tcp("localhost".to_owned()),
        };
        let mut port = parsed.port().unwrap_or(5432);
        let mut dbname = decode(parsed.path().trim_start_matches('/'), "database name")?;
        let mut config = ConnectConfig {
            host: Host::Tcp(String::new()),
            port: 0,
            user: String::new(),
            password: None,
            dbname: String::new(),
            application_name: "rowlog".to_owned(),
            options: DEFAULT_SESSION_OPTIONS.to_owned(),
            connect_timeout: Duration::from_secs(10),
            max_message_size: 1 << 30,
        };
        for (key, value) in parsed.query_pairs() {
            let value = value.into_owned();
            match &*key {
                "host" if value.starts_with('/') => host = Host::Unix(PathBuf::from(value)),
                "host" => host = Host::Tcp(value),
                "port" => {
                    port = value
                        .parse()
                        .map_err(|_| err(format!("port `{value}` is not a number 1-65535")))?
                }
                "user" => user = value,
                "password" => password = Some(value),
                "dbname" => dbname = value,
                "application_name" => config.application_name = value,
                "options" => config.options = value,
                "connect_timeout" => {
                    let secs: u64 = value.parse().map_err(|_| {
                        err(format!(
                            "connect_timeout `{value}` is not a number of seconds"
                        ))
                    })?;
                    config.connect_timeout = Duration::from_secs(secs.max(1));
                }
                "sslmode" => match value.as_str() {
                    "disable" | "allow" | "prefer" => {}
                    other => {
                        return Err(err(format!(
                            "sslmode={other} needs TLS, which the replication connection \
                             does not implement yet; use sslmode=disable"
                        )));
                    }
                },
                other => {
                    return Err(err(format!("unknown URL parameter `{other}`")));
                }
            }
        }
        if user.is_empty() {
            return Err(err(
                "no user name; write it in the URL: postgres://USER@host/dbname".to_owned(),
            ));
        }
        if port == 0 {
            return Err(err("port 0 is not a port".to_owned()));
        }
        if dbname.is_empty() {
            dbname = user.clone();
        }
        config.host = host;
        config.port = port;
        config.user = user;
        config.password = password.filter(|p| !p.is_empty());
        config.dbname = dbname;
        Ok(config)
    }

    /// `host:port/dbname` (or `socket-dir:port/dbname`), for messages.
    pub fn endpoint(&self) -> String {
        match &self.host {
            Host::Tcp(h) if h.contains(':') => format!("[{h}]:{}/{}", self.port, self.dbname),
            Host::Tcp(h) => format!("{h}:{}/{}", self.port, self.dbname),
            Host::Unix(dir) => format!("{}:{}/{}", dir.display(), self.port, self.dbname),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn full_url() {
        let c = ConnectConfig::from_url(
            "postgres://rep%40x:p%3Ass@db.example:6543/app?application_name=a&connect_timeout=3",
        )
        .unwrap();
        assert_eq!(c.host, Host::Tcp("db.example".into()));
        assert_eq!(
            (c.port, c.user.as_str(), c.dbname.as_str()),
            (6543, "rep@x", "app")
        );
        assert_eq!(c.password.as_deref(), Some("p:ss"));
        assert_eq!(c.application_name, "a");
        assert_eq!(c.connect_timeout, Duration::from_secs(3));
        assert!(!format!("{c:?}").contains("p:ss"));
        assert_eq!(c.endpoint(), "db.example:6543/app");
    }

    #[test]
    fn defaults_and_sockets() {
        let c = ConnectConfig::from_url("postgresql://postgres@127.0.0.1").unwrap();
        assert_eq!(
            (c.port, c.dbname.as_str(), c.password),
            (5432, "postgres", None)
        );
        assert_eq!(c.options, DEFAULT_SESSION_OPTIONS);
        let c = ConnectConfig::from_url("postgres:///db?host=/tmp/pg&port=5433&user=u").unwrap();
        assert_eq!(c.host, Host::Unix("/tmp/pg".into()));
        assert_eq!((c.port, c.user.as_str()), (5433, "u"));
        let c = ConnectConfig::from_url("postgres://u@%2Ftmp%2Fpg:5433/db").unwrap();
        assert_eq!(c.host, Host::Unix("/tmp/pg".into()));
        let c = ConnectConfig::from_url("postgres://u@[::1]:5/db").unwrap();
        assert_eq!(c.endpoint(), "[::1]:5/db");
    }

    #[test]
    fn bad_urls_say_why_without_the_password() {
        for (url, needle) in [
            ("mysql://u@h/db", "scheme"),
            ("postgres://h/db", "no user name"),
            (
                "postgres://u:secret@h/db?sslmode=require",
                "sslmode=require",
            ),
            ("postgres://u:secret@h/db?port=x", "port `x`"),
            ("postgres://u:secret@h/db?frobnicate=1", "frobnicate"),
            ("not a url", "not a URL"),
        ] {
            let e = ConnectConfig::from_url(url).unwrap_err();
            let text = e.to_string();
            assert!(text.contains(needle), "{url}: {text}");
            assert!(!text.contains("secret"), "{url}: {text}");
            assert_eq!(e.kind(), ErrorKind::Config);
        }
    }
}
