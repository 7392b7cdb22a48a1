//! Located configuration errors.
//!
//! Invariants: every [`ConfigError`] carries the origin (file name) it is
//! about; it carries a position whenever the problem can be pinned to a place
//! in the text (everything except "cannot read the file"), and a key path
//! whenever it is about a key or value. Messages never contain secret values:
//! they describe what was found by kind, not by content, for strings.

use std::fmt;

/// A 1-based line and column (columns count characters, not bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    /// Line, starting at 1.
    pub line: usize,
    /// Column in characters, starting at 1.
    pub col: usize,
}

impl Pos {
    /// The start of a file.
    pub const START: Pos = Pos { line: 1, col: 1 };

    /// Line:column of the character that follows `prefix` (the text before it).
    pub fn after(prefix: &str) -> Pos {
        let line = prefix.matches('\n').count() + 1;
        let last_line = prefix.rsplit('\n').next().unwrap_or(prefix);
        Pos {
            line,
            col: last_line.chars().count() + 1,
        }
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// One step of a [`KeyPath`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    /// A mapping key.
    Key(String),
    /// A sequence index (0-based).
    Index(usize),
}

/// Where a value sits in the document, e.g. `sinks[1].redis.url`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyPath(pub Vec<Seg>);

impl KeyPath {
    /// The document root.
    pub fn root() -> Self {
        KeyPath(Vec::new())
    }

    /// This path extended by a mapping key.
    pub fn key(&self, key: &str) -> Self {
        let mut segs = self.0.clone();
        segs.push(Seg::Key(key.to_owned()));
        KeyPath(segs)
    }

    /// This path extended by a sequence index.
    pub fn index(&self, index: usize) -> Self {
        let mut segs = self.0.clone();
        segs.push(Seg::Index(index));
        KeyPath(segs)
    }

    /// True for the document root.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(k) if i == 0 => write!(f, "{k}")?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// One problem in one configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file (or other origin name) the error is about.
    pub origin: String,
    /// Where in the text; `None` only when the text could not be read at all.
    pub pos: Option<Pos>,
    /// The key the error is about; root for file-level problems.
    pub path: KeyPath,
    /// What is wrong.
    pub message: String,
    /// How to fix it, when there is something useful to say.
    pub hint: Option<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.origin)?;
        if let Some(pos) = self.pos {
            write!(f, ":{pos}")?;
        }
        write!(f, ": ")?;
        if !self.path.is_root() {
            write!(f, "{}: ", self.path)?;
        }
        write!(f, "{}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " (hint: {hint})")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// All problems found in one configuration file, in document order.
///
/// Never empty when returned as an `Err` by the loader.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    /// The errors, sorted by position.
    pub fn iter(&self) -> impl Iterator<Item = &ConfigError> {
        self.0.iter()
    }

    /// How many errors.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for ConfigErrors {
    /// One error per line: `FILE:LINE:COL: key.path: message (hint: ...)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// An error before its origin is known to the caller's formatting: what the
/// internal passes produce, turned into [`ConfigError`] by the loader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    pub pos: Option<Pos>,
    pub path: KeyPath,
    pub message: String,
    pub hint: Option<String>,
}

impl Problem {
    pub(crate) fn at(pos: Pos, message: impl Into<String>) -> Self {
        Problem {
            pos: Some(pos),
            path: KeyPath::root(),
            message: message.into(),
            hint: None,
        }
    }

    pub(crate) fn with_path(mut self, path: KeyPath) -> Self {
        self.path = path;
        self
    }

    pub(crate) fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub(crate) fn into_error(self, origin: &str) -> ConfigError {
        ConfigError {
            origin: origin.to_owned(),
            pos: self.pos,
            path: self.path,
            message: self.message,
            hint: self.hint,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_display() {
        let p = KeyPath::root()
            .key("sinks")
            .index(1)
            .key("redis")
            .key("url");
        assert_eq!(p.to_string(), "sinks[1].redis.url");
        assert_eq!(KeyPath::root().to_string(), "");
    }

    #[test]
    fn error_display_has_all_parts() {
        let e = ConfigError {
            origin: "a.yaml".into(),
            pos: Some(Pos { line: 3, col: 7 }),
            path: KeyPath::root().key("log").key("partitions"),
            message: "must be at least 1".into(),
            hint: Some("use 1 or more".into()),
        };
        assert_eq!(
            e.to_string(),
            "a.yaml:3:7: log.partitions: must be at least 1 (hint: use 1 or more)"
        );
    }

    #[test]
    fn pos_after_counts_chars() {
        assert_eq!(Pos::after(""), Pos { line: 1, col: 1 });
        assert_eq!(Pos::after("ab\ncé"), Pos { line: 2, col: 3 });
    }
}
