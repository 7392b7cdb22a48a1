//! Typed rowlog configuration: YAML in, a validated [`Config`] or located errors out.
//!
//! # Pipeline
//! 1. **Pre-checks** on the raw bytes ([`precheck`]): at most 1 MiB, UTF-8, no tabs
//!    in indentation. Each failure is located (`line:column`).
//! 2. **Parse** into a positioned tree ([`tree`]) with `granit-parser`.
//! 3. **Interpolate** `${VAR}` / `${VAR:-default}` inside scalar values only
//!    ([`interpolate`]), from an injected [`Env`].
//! 4. **Deserialize** each top-level section (and each list item) separately with a
//!    serde deserializer over the tree ([`de`]), so one bad sink does not hide the
//!    errors of the next; every error carries its key path and position.
//! 5. **Validate** semantics ([`validate`]): names, references, ranges, URL schemes,
//!    exactly-one-of kinds, secrets files — collecting all problems.
//!
//! # Why this YAML parser
//! `serde_yaml` is unmaintained (archived 2024) and its forks are either unmaintained
//! or carry a C library. `saphyr`/`saphyr-parser` is the maintained pure-Rust
//! YAML 1.2 parser, but has an open infinite-loop bug found by fuzzing (`{---`).
//! `granit-parser` is a maintained fork of `saphyr-parser` (it is what `serde-saphyr`
//! builds on) that is fuzzed in CI, has no `unsafe`, limits nesting depth, and reports
//! a span for every event. We use its event stream directly rather than
//! `serde-saphyr`'s deserializer because we need the tree in between: interpolation
//! must happen inside scalars before types are decided, and semantic checks need a
//! key path → position map. `serde-saphyr`'s serializer (only) renders `--print`.
//!
//! # Secrets
//! Passwords, `password_file` contents, passwords inside URLs and sensitive Kafka
//! options are [`Secret`]s (or [`ConnUrl`]s) whose `Debug`, `Display` and
//! `Serialize` print `***`.

#![forbid(unsafe_code)]

mod de;
pub mod error;
pub mod interpolate;
mod locate;
pub mod model;
pub mod precheck;
mod scalar;
pub mod suggest;
mod tree;
mod validate;
pub mod value;

use std::io::Read;
use std::path::Path;

use crate::error::{KeyPath, Pos, Problem};
use crate::model::TOP_KEYS;
use crate::model::http::Http;
use crate::model::log::Log;
use crate::model::sink::RawSink;
use crate::model::source::RawSource;
use crate::tree::{Node, NodeKind};

pub use crate::error::{ConfigError, ConfigErrors};
pub use crate::interpolate::{Env, ProcessEnv};
pub use crate::model::Config;
pub use crate::model::common::{ColumnRules, KeyOverrides, SnapshotMode, TableFilter};
pub use crate::model::http::Http as HttpConfig;
pub use crate::model::log::{
    Format, Kafka, KafkaOptions, KafkaValue, Log as LogConfig, SchemaRegistry,
};
pub use crate::model::sink::{
    Batch, OnError, RedisSink, RedisValue, SearchSink, Sink, SinkKind, SqlSink,
};
pub use crate::model::source::{MysqlSource, PostgresSource, SnapshotLocking, Source, SourceKind};
pub use crate::precheck::MAX_CONFIG_BYTES;
pub use crate::value::conn_url::ConnUrl;
pub use crate::value::duration::Duration;
pub use crate::value::secret::Secret;

/// Load and validate a config file, interpolating from the process environment.
///
/// Relative `password_file` paths are resolved against the file's directory.
pub fn load(path: impl AsRef<Path>) -> Result<Config, ConfigErrors> {
    load_with_env(path, &ProcessEnv)
}

/// Like [`load`], with variables taken from `env`.
pub fn load_with_env(path: impl AsRef<Path>, env: &dyn Env) -> Result<Config, ConfigErrors> {
    let path = path.as_ref();
    let origin = path.display().to_string();
    let fail = |message: String, pos: Option<Pos>| {
        ConfigErrors(vec![ConfigError {
            origin: origin.clone(),
            pos,
            path: KeyPath::root(),
            message,
            hint: None,
        }])
    };
    let file = std::fs::File::open(path).map_err(|e| fail(format!("cannot open: {e}"), None))?;
    let meta = file
        .metadata()
        .map_err(|e| fail(format!("cannot read: {e}"), None))?;
    if meta.is_dir() {
        return Err(fail("is a directory, not a config file".to_owned(), None));
    }
    precheck::check_size(meta.len()).map_err(|p| ConfigErrors(vec![p.into_error(&origin)]))?;
    // Read one byte past the limit so a file that grew (or a special file) is caught.
    let mut bytes = Vec::new();
    file.take(MAX_CONFIG_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| fail(format!("cannot read: {e}"), None))?;
    load_bytes(&bytes, &origin, env)
}

/// Load and validate config bytes. `origin` names the text in errors; relative
/// `password_file` paths are resolved against `origin`'s directory (the current
/// directory when it has none).
pub fn load_bytes(bytes: &[u8], origin: &str, env: &dyn Env) -> Result<Config, ConfigErrors> {
    let wrap = |p: Problem| ConfigErrors(vec![p.into_error(origin)]);
    precheck::check_size(bytes.len() as u64).map_err(wrap)?;
    let text = precheck::check_utf8(bytes).map_err(wrap)?;
    load_str(text, origin, env)
}

/// Load and validate config text (see [`load_bytes`] for `origin`).
pub fn load_str(text: &str, origin: &str, env: &dyn Env) -> Result<Config, ConfigErrors> {
    let base_dir = Path::new(origin).parent().unwrap_or(Path::new(""));
    load_inner(text, base_dir, env).map_err(|mut problems| {
        problems.sort_by_key(|p| p.pos);
        problems.dedup();
        ConfigErrors(problems.into_iter().map(|p| p.into_error(origin)).collect())
    })
}

fn load_inner(text: &str, base_dir: &Path, env: &dyn Env) -> Result<Config, Vec<Problem>> {
    precheck::check_size(text.len() as u64).map_err(|p| vec![p])?;
    let tabs = precheck::check_tabs(text);
    if !tabs.is_empty() {
        return Err(tabs);
    }
    let root = tree::parse(text).map_err(|p| vec![p])?;
    let mut root = match root {
        Some(r) if !r.is_null() => r,
        _ => {
            return Err(vec![
                Problem::at(
                    Pos::START,
                    "config is empty; expected keys sources, log, sinks",
                )
                .with_hint("start from one of the files in config/examples/"),
            ]);
        }
    };
    if !matches!(root.kind, NodeKind::Map(_)) {
        return Err(vec![Problem::at(
            root.pos,
            format!(
                "the config must be a mapping with keys sources, log, sinks, found {}",
                root.describe()
            ),
        )]);
    }
    let mut problems = Vec::new();
    interpolate::interpolate_tree(&mut root, &KeyPath::root(), env, &mut problems);
    if !problems.is_empty() {
        return Err(problems);
    }
    let raw = deserialize_sections(&root)?;
    validate::validate(raw, &root, base_dir)
}

/// Deserialize the top-level sections one by one (and list items one by one) so
/// that errors in several places are all reported.
fn deserialize_sections(root: &Node) -> Result<validate::RawConfig, Vec<Problem>> {
    let NodeKind::Map(entries) = &root.kind else {
        return Err(vec![Problem::at(root.pos, "the config must be a mapping")]);
    };
    let top = KeyPath::root();
    let mut problems = Vec::new();
    let mut sources = None;
    let mut log = None;
    let mut sinks = None;
    let mut http = None;
    for e in entries {
        let path = top.key(&e.key);
        match e.key.as_str() {
            "sources" => sources = list::<RawSource>(&e.value, &path, &mut problems),
            "sinks" => sinks = list::<RawSink>(&e.value, &path, &mut problems),
            "log" => match de::deserialize_at::<Log>(&e.value, &path) {
                Ok(l) => log = Some(l),
                Err(p) => problems.push(p),
            },
            "http" => match de::deserialize_at::<Http>(&e.value, &path) {
                Ok(h) => http = Some(h),
                Err(p) => problems.push(p),
            },
            other => {
                let mut p =
                    Problem::at(e.key_pos, format!("unknown key `{other}`")).with_path(path);
                p.hint = suggest::hint_for(other, TOP_KEYS);
                problems.push(p);
            }
        }
    }
    let present = |k: &str| entries.iter().any(|e| e.key == k);
    for required in ["sources", "log"] {
        if !present(required) {
            problems.push(
                Problem::at(root.pos, format!("required key `{required}` is missing"))
                    .with_path(top.key(required))
                    .with_hint(
                        "the top level needs `sources` and `log`; `sinks` and `http` are optional",
                    ),
            );
        }
    }
    match (sources, log) {
        (Some(sources), Some(log)) if problems.is_empty() => Ok(validate::RawConfig {
            sources,
            log,
            sinks: sinks.unwrap_or_default(),
            http: http.unwrap_or_default(),
        }),
        _ => Err(problems),
    }
}

/// A list section, item by item.
fn list<T>(node: &Node, path: &KeyPath, problems: &mut Vec<Problem>) -> Option<Vec<T>>
where
    T: for<'de> serde::Deserialize<'de>,
{
    if node.is_null() {
        // `sinks:` with nothing after it: an empty list.
        return Some(Vec::new());
    }
    let NodeKind::Seq(items) = &node.kind else {
        problems.push(
            Problem::at(
                node.pos,
                format!("expected a list, found {}", node.describe()),
            )
            .with_path(path.clone())
            .with_hint("write each entry on its own line starting with `- `"),
        );
        return None;
    };
    let mut out = Vec::with_capacity(items.len());
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        match de::deserialize_at::<T>(item, &path.index(i)) {
            Ok(v) => out.push(v),
            Err(p) => {
                ok = false;
                problems.push(p);
            }
        }
    }
    ok.then_some(out)
}
