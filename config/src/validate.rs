//! Semantic checks after deserialization, and filling in derived defaults.
//!
//! Invariants: every check runs (all problems are collected, not just the first);
//! every problem names the key path it is about and is located through
//! [`crate::locate`]; the only I/O is reading `password_file`s (local files, so
//! `rowlog check` stays offline); a [`Config`] is returned only when no problem
//! was found.

use std::collections::HashMap;
use std::path::Path;

use crate::error::{KeyPath, Pos, Problem};
use crate::locate;
use crate::model::Config;
use crate::model::common::{ColumnRules, Credentials, KeyOverrides, TableFilter};
use crate::model::http::Http;
use crate::model::log::{Format, Log, MANAGED_KAFKA_OPTIONS};
use crate::model::sink::{RawSink, SINK_KINDS, Sink, SinkKind, SqlSink};
use crate::model::source::{RawSource, SOURCE_KINDS, Source, SourceKind};
use crate::suggest;
use crate::tree::Node;
use crate::value::conn_url::ConnUrl;
use crate::value::duration::Duration;
use crate::value::secret::Secret;
use crate::value::template::{TABLE_PLACEHOLDERS, parse_template, placeholders};

/// Largest accepted password file.
const MAX_PASSWORD_FILE_BYTES: u64 = 64 * 1024;

/// The sections as deserialized, before semantic checks.
pub(crate) struct RawConfig {
    pub sources: Vec<RawSource>,
    pub log: Log,
    pub sinks: Vec<RawSink>,
    pub http: Http,
}

struct Ctx<'a> {
    root: &'a Node,
    base_dir: &'a Path,
    problems: Vec<Problem>,
}

impl Ctx<'_> {
    /// A problem with the value at `path`.
    fn value(&mut self, path: &KeyPath, message: impl Into<String>, hint: Option<String>) {
        let pos = locate::value_pos(self.root, path);
        self.push(pos, path, message, hint);
    }

    /// A problem with the key at the end of `path` (e.g. a key that must not be there).
    fn key(&mut self, path: &KeyPath, message: impl Into<String>, hint: Option<String>) {
        let pos = locate::key_pos(self.root, path);
        self.push(pos, path, message, hint);
    }

    fn push(&mut self, pos: Pos, path: &KeyPath, message: impl Into<String>, hint: Option<String>) {
        let mut p = Problem::at(pos, message).with_path(path.clone());
        p.hint = hint;
        self.problems.push(p);
    }
}

fn hint(s: impl Into<String>) -> Option<String> {
    Some(s.into())
}

/// Check everything; fill in derived defaults; return the typed config.
pub(crate) fn validate(
    raw: RawConfig,
    root: &Node,
    base_dir: &Path,
) -> Result<Config, Vec<Problem>> {
    let mut cx = Ctx {
        root,
        base_dir,
        problems: Vec::new(),
    };
    let top = KeyPath::root();
    // Names as written, so a source with another problem does not also make every
    // sink that refers to it fail.
    let names: Vec<String> = raw.sources.iter().map(|s| s.name.clone()).collect();
    let source_names: Vec<&str> = names.iter().map(String::as_str).collect();
    let sources = check_sources(&mut cx, &top.key("sources"), raw.sources);
    let mut log = raw.log;
    check_log(&mut cx, &top.key("log"), &mut log);
    let sinks = check_sinks(&mut cx, &top.key("sinks"), raw.sinks, &source_names);
    // Port 0 asks the OS for a free port (logged when the listener starts).
    check_host_port(
        &mut cx,
        &top.key("http").key("listen"),
        &raw.http.listen,
        true,
    );
    if cx.problems.is_empty() {
        Ok(Config {
            sources,
            log,
            sinks,
            http: raw.http,
        })
    } else {
        Err(cx.problems)
    }
}

// ---------------------------------------------------------------- names

const NAME_HINT: &str = "use 1 to 63 characters from a-z, 0-9, `_` and `-`";

fn check_name(cx: &mut Ctx<'_>, path: &KeyPath, name: &str) {
    let ok = (1..=63).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if !ok {
        cx.value(path, format!("invalid name `{name}`"), hint(NAME_HINT));
    }
}

/// Report the second and later uses of a name.
fn check_unique<'n>(cx: &mut Ctx<'_>, what: &str, names: impl Iterator<Item = (&'n str, KeyPath)>) {
    let mut seen: HashMap<&str, Pos> = HashMap::new();
    for (name, path) in names {
        let pos = locate::value_pos(cx.root, &path);
        match seen.get(name) {
            Some(first) => cx.push(
                pos,
                &path,
                format!("duplicate {what} name `{name}` (first used at {first})"),
                hint(format!("each {what} needs its own name")),
            ),
            None => {
                seen.insert(name, pos);
            }
        }
    }
}

fn check_sql_ident(cx: &mut Ctx<'_>, path: &KeyPath, value: &str, what: &str) {
    let ok = !value.is_empty()
        && value.split('.').count() <= 2
        && value.split('.').all(|part| {
            let mut c = part.chars();
            (1..=63).contains(&part.len())
                && matches!(c.next(), Some(f) if f == '_' || f.is_ascii_alphabetic())
                && c.all(|c| c == '_' || c.is_ascii_alphanumeric())
        });
    if !ok {
        cx.value(
            path,
            format!("invalid {what} `{value}`"),
            hint("use a SQL identifier (letters, digits, `_`; optionally `schema.`-qualified)"),
        );
    }
}

fn check_slot_like(cx: &mut Ctx<'_>, path: &KeyPath, value: &str, what: &str) {
    let ok = (1..=63).contains(&value.len())
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !ok {
        cx.value(
            path,
            format!("invalid {what} `{value}`"),
            hint("use 1 to 63 characters from a-z, 0-9 and `_`"),
        );
    }
}

// ------------------------------------------------------------ patterns

/// `parts` dot-separated names, with `*`/`?` wildcards when `wild`.
fn check_pattern(cx: &mut Ctx<'_>, path: &KeyPath, pat: &str, parts: usize, wild: bool) {
    let what = if parts == 2 {
        "schema.table"
    } else {
        "schema.table.column"
    };
    let split: Vec<&str> = pat.split('.').collect();
    let ok = split.len() == parts
        && split.iter().all(|p| {
            !p.is_empty()
                && p.chars().all(|c| {
                    c.is_alphanumeric()
                        || matches!(c, '_' | '$' | '-')
                        || (wild && matches!(c, '*' | '?'))
                })
        });
    if !ok {
        let example = match (parts, wild) {
            (2, true) => "e.g. public.users or public.*",
            (2, false) => "e.g. public.users",
            _ => "e.g. public.users.email or *.*.password",
        };
        let wild_note = if wild { "" } else { " without wildcards" };
        cx.value(
            path,
            format!("invalid table pattern `{pat}`"),
            hint(format!("write {what}{wild_note}, {example}")),
        );
    }
}

fn check_table_filter(cx: &mut Ctx<'_>, path: &KeyPath, f: &TableFilter) {
    for (i, p) in f.include.iter().enumerate() {
        check_pattern(cx, &path.key("include").index(i), p, 2, true);
    }
    for (i, p) in f.exclude.iter().enumerate() {
        check_pattern(cx, &path.key("exclude").index(i), p, 2, true);
    }
}

fn check_columns(cx: &mut Ctx<'_>, path: &KeyPath, c: &ColumnRules) {
    for (i, p) in c.exclude.iter().enumerate() {
        check_pattern(cx, &path.key("exclude").index(i), p, 3, true);
    }
    for (i, p) in c.mask.iter().enumerate() {
        check_pattern(cx, &path.key("mask").index(i), p, 3, true);
    }
}

fn check_keys(cx: &mut Ctx<'_>, path: &KeyPath, keys: &KeyOverrides) {
    for (table, cols) in keys {
        let p = path.key(table);
        let split: Vec<&str> = table.split('.').collect();
        if split.len() != 2 || split.iter().any(|s| s.is_empty() || s.contains(['*', '?'])) {
            cx.key(
                &p,
                format!("invalid table `{table}`"),
                hint("write schema.table without wildcards, e.g. public.events"),
            );
        }
        if cols.is_empty() {
            cx.value(
                &p,
                "a key needs at least one column",
                hint("list the columns, e.g. [id, ts]"),
            );
        }
        for (i, c) in cols.iter().enumerate() {
            if c.trim().is_empty() {
                cx.value(&p.index(i), "empty column name", None);
            }
        }
    }
}

// ---------------------------------------------------------- endpoints

fn check_url(cx: &mut Ctx<'_>, path: &KeyPath, url: &ConnUrl, schemes: &[&str], example: &str) {
    if !schemes.contains(&url.scheme()) {
        cx.value(
            path,
            format!("URL scheme `{}` is not accepted here", url.scheme()),
            hint(format!(
                "use {}, e.g. {example}",
                schemes
                    .iter()
                    .map(|s| format!("{s}://"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            )),
        );
    } else if url.host().is_none() {
        cx.value(path, "URL has no host", hint(format!("e.g. {example}")));
    }
}

/// `host:port` or `[v6]:port`, port 1..=65535.
fn check_host_port(cx: &mut Ctx<'_>, path: &KeyPath, value: &str, zero_ok: bool) {
    let h = hint("write host:port, e.g. 127.0.0.1:9092 or [::1]:9092");
    let Some((host, port)) = value.rsplit_once(':') else {
        cx.value(path, format!("`{value}` has no port"), h);
        return;
    };
    let host_ok = if let Some(inner) = host.strip_prefix('[') {
        inner
            .strip_suffix(']')
            .is_some_and(|v6| v6.parse::<std::net::Ipv6Addr>().is_ok())
    } else {
        !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
    };
    if !host_ok {
        cx.value(path, format!("invalid host in `{value}`"), h);
        return;
    }
    match port.parse::<u32>() {
        Ok(p) if (1..=65535).contains(&p) || (zero_ok && p == 0) => {}
        Ok(p) => cx.value(
            path,
            format!("port {p} is out of range"),
            hint("a port is from 1 to 65535"),
        ),
        Err(_) => cx.value(path, format!("invalid port `{port}`"), h),
    }
}

fn read_password_file(base_dir: &Path, file: &Path) -> Result<Secret, String> {
    let full = if file.is_absolute() {
        file.to_path_buf()
    } else {
        base_dir.join(file)
    };
    let meta =
        std::fs::metadata(&full).map_err(|e| format!("cannot read `{}`: {e}", full.display()))?;
    if !meta.is_file() {
        return Err(format!("`{}` is not a regular file", full.display()));
    }
    if meta.len() > MAX_PASSWORD_FILE_BYTES {
        return Err(format!(
            "`{}` is {} bytes, over the limit of {MAX_PASSWORD_FILE_BYTES}",
            full.display(),
            meta.len()
        ));
    }
    let bytes =
        std::fs::read(&full).map_err(|e| format!("cannot read `{}`: {e}", full.display()))?;
    let text =
        String::from_utf8(bytes).map_err(|_| format!("`{}` is not valid UTF-8", full.display()))?;
    let trimmed = text.trim_end_matches(['\n', '\r']);
    if trimmed.is_empty() {
        return Err(format!("`{}` is empty", full.display()));
    }
    Ok(Secret::new(trimmed))
}

fn check_credentials(cx: &mut Ctx<'_>, path: &KeyPath, c: &mut dyn Credentials) {
    let has_pw = c.password_field().is_some();
    let file = c.password_file_field().map(Path::to_path_buf);
    if has_pw && file.is_some() {
        cx.key(
            &path.key("password_file"),
            "both `password` and `password_file` are set",
            hint("keep one of them"),
        );
        return;
    }
    if (has_pw || file.is_some()) && c.url().is_some_and(|u| u.password().is_some()) {
        cx.value(
            &path.key("url"),
            "the URL holds a password and `password`/`password_file` is set too",
            hint("remove the password from the URL"),
        );
    }
    if let Some(file) = file {
        match read_password_file(cx.base_dir, &file) {
            Ok(secret) => c.set_password_from_file(secret),
            Err(why) => cx.value(
                &path.key("password_file"),
                why,
                hint("the file must exist and be readable when the config is loaded"),
            ),
        }
    }
}

// -------------------------------------------------------------- sources

fn check_sources(cx: &mut Ctx<'_>, path: &KeyPath, raw: Vec<RawSource>) -> Vec<Source> {
    if raw.is_empty() {
        cx.value(
            path,
            "at least one source is required",
            hint("add a source with `postgres:` or `mysql:`, see config/examples/"),
        );
    }
    check_unique(
        cx,
        "source",
        raw.iter()
            .enumerate()
            .map(|(i, s)| (s.name.as_str(), path.index(i).key("name"))),
    );
    let mut out = Vec::new();
    for (i, s) in raw.into_iter().enumerate() {
        let sp = path.index(i);
        check_name(cx, &sp.key("name"), &s.name);
        let kind = match (s.postgres, s.mysql) {
            (Some(mut pg), None) => {
                check_postgres_source(cx, &sp.key("postgres"), &s.name, &mut pg);
                Some(SourceKind::Postgres(pg))
            }
            (None, Some(mut my)) => {
                check_mysql_source(cx, &sp.key("mysql"), &mut my);
                Some(SourceKind::Mysql(my))
            }
            (None, None) => {
                cx.value(
                    &sp,
                    "the source has no kind",
                    hint(format!(
                        "add exactly one of {}",
                        suggest::list(SOURCE_KINDS)
                    )),
                );
                None
            }
            (Some(_), Some(_)) => {
                cx.key(
                    &sp.key("mysql"),
                    "a source has exactly one kind, found both `postgres` and `mysql`",
                    hint("split it into two sources with different names"),
                );
                None
            }
        };
        if let Some(kind) = kind {
            out.push(Source { name: s.name, kind });
        }
    }
    out
}

fn derived_name(source: &str) -> String {
    let mut n = format!("rowlog_{}", source.replace('-', "_"));
    n.truncate(63);
    n
}

fn check_postgres_source(
    cx: &mut Ctx<'_>,
    path: &KeyPath,
    name: &str,
    pg: &mut crate::model::source::PostgresSource,
) {
    check_url(
        cx,
        &path.key("url"),
        &pg.url,
        &["postgres", "postgresql"],
        "postgres://rowlog@127.0.0.1:5432/app",
    );
    check_credentials(cx, path, pg);
    match &pg.slot {
        Some(slot) => check_slot_like(cx, &path.key("slot"), slot, "replication slot name"),
        None => pg.slot = Some(derived_name(name)),
    }
    match &pg.publication {
        Some(p) => check_slot_like(cx, &path.key("publication"), p, "publication name"),
        None => pg.publication = Some(derived_name(name)),
    }
    check_table_filter(cx, &path.key("tables"), &pg.tables);
    check_columns(cx, &path.key("columns"), &pg.columns);
    check_keys(cx, &path.key("keys"), &pg.keys);
}

fn check_mysql_source(
    cx: &mut Ctx<'_>,
    path: &KeyPath,
    my: &mut crate::model::source::MysqlSource,
) {
    check_url(
        cx,
        &path.key("url"),
        &my.url,
        &["mysql", "mariadb"],
        "mysql://rowlog@127.0.0.1:3306",
    );
    check_credentials(cx, path, my);
    if my.server_id == 0 {
        cx.value(
            &path.key("server_id"),
            "server_id 0 is not allowed",
            hint("use a number from 1 to 4294967295 that no other replica of the server uses"),
        );
    }
    check_table_filter(cx, &path.key("tables"), &my.tables);
    check_columns(cx, &path.key("columns"), &my.columns);
    check_keys(cx, &path.key("keys"), &my.keys);
}

// ------------------------------------------------------------------ log

fn check_log(cx: &mut Ctx<'_>, path: &KeyPath, log: &mut Log) {
    let kp = path.key("kafka");
    if log.kafka.brokers.is_empty() {
        cx.value(
            &kp.key("brokers"),
            "at least one broker is required",
            hint("e.g. brokers: [\"127.0.0.1:9092\"]"),
        );
    }
    for (i, b) in log.kafka.brokers.iter().enumerate() {
        check_host_port(cx, &kp.key("brokers").index(i), b, false);
    }
    for name in log.kafka.options.0.keys() {
        let op = kp.key("options").key(name);
        if MANAGED_KAFKA_OPTIONS.contains(&name.as_str()) {
            let h = if name == "bootstrap.servers" {
                "list the brokers in log.kafka.brokers instead"
            } else {
                "rowlog sets this option itself for its delivery guarantees; remove it"
            };
            cx.key(&op, format!("option `{name}` cannot be set here"), hint(h));
        } else if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_'))
        {
            cx.key(
                &op,
                format!("invalid librdkafka option name `{name}`"),
                hint("option names are lower-case words joined by dots, e.g. compression.type"),
            );
        }
    }
    let tp = &log.topic_prefix;
    if tp.is_empty()
        || tp.len() > 200
        || !tp
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        cx.value(
            &path.key("topic_prefix"),
            format!("invalid topic prefix `{tp}`"),
            hint("use 1 to 200 characters from a-z, A-Z, 0-9, `.`, `_` and `-`"),
        );
    }
    if !(1..=10_000).contains(&log.partitions) {
        cx.value(
            &path.key("partitions"),
            format!(
                "partitions must be from 1 to 10000, found {}",
                log.partitions
            ),
            None,
        );
    }
    if !(1..=32_767).contains(&log.replication_factor) {
        cx.value(
            &path.key("replication_factor"),
            format!(
                "replication_factor must be from 1 to 32767, found {}",
                log.replication_factor
            ),
            None,
        );
    }
    if log.format == Format::Avro && log.schema_registry.is_none() {
        cx.value(
            &path.key("format"),
            "format `avro` needs a schema registry",
            hint("add log.schema_registry: { url: http://127.0.0.1:8081 }, or use format: json"),
        );
    }
    if let Some(reg) = &mut log.schema_registry {
        let rp = path.key("schema_registry");
        check_url(
            cx,
            &rp.key("url"),
            &reg.url,
            &["http", "https"],
            "http://127.0.0.1:8081",
        );
        check_credentials(cx, &rp, reg);
        if reg.username.is_none() && (reg.password.is_some() || reg.password_file.is_some()) {
            cx.value(
                &rp,
                "a password is set but no `username`",
                hint("add username"),
            );
        }
    }
}

// ---------------------------------------------------------------- sinks

fn check_sinks(
    cx: &mut Ctx<'_>,
    path: &KeyPath,
    raw: Vec<RawSink>,
    source_names: &[&str],
) -> Vec<Sink> {
    check_unique(
        cx,
        "sink",
        raw.iter()
            .enumerate()
            .map(|(i, s)| (s.name.as_str(), path.index(i).key("name"))),
    );
    let mut out = Vec::new();
    for (i, s) in raw.into_iter().enumerate() {
        let sp = path.index(i);
        check_name(cx, &sp.key("name"), &s.name);
        if !source_names.contains(&s.source.as_str()) {
            let h = match suggest::did_you_mean(&s.source, source_names) {
                Some(m) => format!("did you mean `{m}`?"),
                None if source_names.is_empty() => "define the source under `sources:`".to_owned(),
                None => format!("defined sources: {}", suggest::list(source_names)),
            };
            cx.value(
                &sp.key("source"),
                format!("no source named `{}`", s.source),
                hint(h),
            );
        }
        for (j, t) in s.tables.iter().enumerate() {
            check_pattern(cx, &sp.key("tables").index(j), t, 2, true);
        }
        let bp = sp.key("batch");
        if !(1..=1_000_000).contains(&s.batch.max_rows) {
            cx.value(
                &bp.key("max_rows"),
                format!(
                    "max_rows must be from 1 to 1000000, found {}",
                    s.batch.max_rows
                ),
                None,
            );
        }
        check_duration_range(
            cx,
            &bp.key("max_wait"),
            s.batch.max_wait,
            Duration::from_millis(1),
            Duration::from_millis(3_600_000),
        );
        for (key, lag) in [("warn_lag", s.warn_lag), ("critical_lag", s.critical_lag)] {
            if let Some(d) = lag {
                check_duration_range(
                    cx,
                    &sp.key(key),
                    d,
                    Duration::from_millis(1),
                    Duration::from_millis(86_400_000),
                );
            }
        }
        if let (Some(w), Some(c)) = (s.warn_lag, s.critical_lag)
            && w >= c
        {
            cx.value(
                &sp.key("warn_lag"),
                format!("warn_lag {w} is not below critical_lag {c}"),
                hint("warn_lag is the earlier warning: make it smaller than critical_lag"),
            );
        }
        let set: Vec<&str> = [
            s.postgres.as_ref().map(|_| "postgres"),
            s.mysql.as_ref().map(|_| "mysql"),
            s.redis.as_ref().map(|_| "redis"),
            s.search.as_ref().map(|_| "search"),
        ]
        .into_iter()
        .flatten()
        .collect();
        if set.is_empty() {
            cx.value(
                &sp,
                "the sink has no kind",
                hint(format!("add exactly one of {}", suggest::list(SINK_KINDS))),
            );
            continue;
        }
        if set.len() > 1 {
            let names = suggest::list(&set);
            cx.key(
                &sp.key(set[1]),
                format!("a sink has exactly one kind, found {names}"),
                hint("split it into one sink per target, each with its own name"),
            );
            continue;
        }
        let kind = if let Some(mut k) = s.postgres {
            check_sql_sink(
                cx,
                &sp.key("postgres"),
                &mut k,
                &["postgres", "postgresql"],
                "postgres://rowlog@127.0.0.1:5432/replica",
            );
            SinkKind::Postgres(k)
        } else if let Some(mut k) = s.mysql {
            check_sql_sink(
                cx,
                &sp.key("mysql"),
                &mut k,
                &["mysql", "mariadb"],
                "mysql://rowlog@127.0.0.1:3306/replica",
            );
            SinkKind::Mysql(k)
        } else if let Some(mut k) = s.redis {
            let kp = sp.key("redis");
            check_url(
                cx,
                &kp.key("url"),
                &k.url,
                &["redis", "rediss"],
                "redis://127.0.0.1:6379/0",
            );
            check_credentials(cx, &kp, &mut k);
            check_key_template(cx, &kp.key("key_template"), &k.key_template);
            if let Some(ttl) = k.ttl {
                check_duration_range(
                    cx,
                    &kp.key("ttl"),
                    ttl,
                    Duration::from_millis(1_000),
                    Duration::from_millis(365 * 24 * 3_600_000),
                );
            }
            SinkKind::Redis(k)
        } else if let Some(mut k) = s.search {
            let kp = sp.key("search");
            check_url(
                cx,
                &kp.key("url"),
                &k.url,
                &["http", "https"],
                "http://127.0.0.1:9200",
            );
            check_credentials(cx, &kp, &mut k);
            check_index_template(cx, &kp.key("index_template"), &k.index_template);
            if k.username.is_none() && (k.password.is_some() || k.password_file.is_some()) {
                cx.value(
                    &kp,
                    "a password is set but no `username`",
                    hint("add username"),
                );
            }
            SinkKind::Search(k)
        } else {
            continue;
        };
        out.push(Sink {
            name: s.name,
            source: s.source,
            tables: s.tables,
            batch: s.batch,
            on_error: s.on_error,
            warn_lag: s.warn_lag,
            critical_lag: s.critical_lag,
            kind,
        });
    }
    out
}

fn check_duration_range(
    cx: &mut Ctx<'_>,
    path: &KeyPath,
    d: Duration,
    min: Duration,
    max: Duration,
) {
    if d < min || d > max {
        cx.value(
            path,
            format!("duration {d} is out of range"),
            hint(format!("use a duration from {min} to {max}")),
        );
    }
}

fn check_sql_sink(
    cx: &mut Ctx<'_>,
    path: &KeyPath,
    k: &mut SqlSink,
    schemes: &[&str],
    example: &str,
) {
    check_url(cx, &path.key("url"), &k.url, schemes, example);
    check_credentials(cx, path, k);
    check_sql_ident(
        cx,
        &path.key("offsets_table"),
        &k.offsets_table,
        "table name",
    );
    for (from, to) in &k.table_map {
        let p = path.key("table_map").key(from);
        let ok = |t: &str| {
            let parts: Vec<&str> = t.split('.').collect();
            parts.len() == 2
                && parts
                    .iter()
                    .all(|s| !s.is_empty() && !s.contains(['*', '?']))
        };
        if !ok(from) {
            cx.key(
                &p,
                format!("invalid source table `{from}`"),
                hint("write schema.table without wildcards, e.g. public.users"),
            );
        }
        if !ok(to) {
            cx.value(
                &p,
                format!("invalid target table `{to}`"),
                hint("write schema.table without wildcards, e.g. replica.users"),
            );
        }
    }
}

/// Error for a malformed template, pointing inside the string when possible.
fn template_error(cx: &mut Ctx<'_>, path: &KeyPath, offset: usize, why: String, h: &str) {
    let pos = match locate::scalar_start(cx.root, path) {
        Some(p) => Pos {
            line: p.line,
            col: p.col + offset,
        },
        None => locate::value_pos(cx.root, path),
    };
    cx.push(pos, path, why, hint(h));
}

fn check_key_template(cx: &mut Ctx<'_>, path: &KeyPath, t: &str) {
    const H: &str =
        "use {table}, {schema}, {database}, {source}, {key} or key column names like {id}";
    match parse_template(t) {
        Err((offset, why)) => {
            template_error(cx, path, offset, format!("invalid key template: {why}"), H)
        }
        Ok(pieces) => {
            if placeholders(&pieces).all(|p| TABLE_PLACEHOLDERS.contains(&p)) {
                cx.value(
                    path,
                    "the key template does not vary per row",
                    hint("include {key} (all key columns) or key column names like {id}"),
                );
            }
        }
    }
}

fn check_index_template(cx: &mut Ctx<'_>, path: &KeyPath, t: &str) {
    const H: &str = "use {table}, {schema}, {database} and {source}";
    match parse_template(t) {
        Err((offset, why)) => template_error(
            cx,
            path,
            offset,
            format!("invalid index template: {why}"),
            H,
        ),
        Ok(pieces) => {
            for p in placeholders(&pieces) {
                if !TABLE_PLACEHOLDERS.contains(&p) {
                    let h = match suggest::did_you_mean(p, TABLE_PLACEHOLDERS) {
                        Some(m) => format!("did you mean `{{{m}}}`?"),
                        None => H.to_owned(),
                    };
                    cx.value(
                        path,
                        format!("unknown placeholder `{{{p}}}` in index template"),
                        hint(h),
                    );
                }
            }
            let literal: String = pieces
                .iter()
                .filter_map(|p| match p {
                    crate::value::template::Piece::Literal(l) => Some(l.as_str()),
                    crate::value::template::Piece::Placeholder(_) => None,
                })
                .collect();
            if literal.chars().any(|c| {
                c.is_uppercase()
                    || matches!(
                        c,
                        '\\' | '/' | '*' | '?' | '"' | '<' | '>' | '|' | ' ' | ',' | '#' | ':'
                    )
            }) {
                cx.value(
                    path,
                    "index names must be lower case without \\ / * ? \" < > | , # : or spaces",
                    None,
                );
            }
        }
    }
}
