//! `${VAR}` interpolation inside scalar values.
//!
//! Invariants:
//! - interpolation runs on the parsed tree, on scalar *values* only (never keys,
//!   never comments), so a variable's value can never inject YAML structure and all
//!   positions stay those of the file as written;
//! - forms: `${NAME}`, `${NAME:-default}` (default used when NAME is unset *or empty*,
//!   as in the shell), `$${` for a literal `${`; a `$` not followed by `{` is literal;
//!   NAME is `[A-Za-z_][A-Za-z0-9_]*`; a default cannot contain `}` or `${`;
//! - the environment is injected through [`Env`], so tests never touch the process
//!   environment;
//! - a scalar that was changed is marked `interpolated`, and its text is never echoed
//!   in error messages.

use std::collections::{BTreeMap, HashMap};

use crate::error::{KeyPath, Pos, Problem};
use crate::tree::{Node, NodeKind};

/// Where variable values come from.
pub trait Env {
    /// The value of `name`, or `None` when it is not set.
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment (variables that are not valid UTF-8 count as unset).
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl Env for HashMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

impl Env for BTreeMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

impl Env for &[(&str, &str)] {
    fn var(&self, name: &str) -> Option<String> {
        self.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    }
}

/// An interpolation problem at a character offset in the scalar's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InterpError {
    pub offset: usize,
    pub message: String,
    pub hint: Option<String>,
}

const FORMS_HINT: &str = "write ${NAME} or ${NAME:-default}; write $${ for a literal ${";

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// Interpolate one string. Returns the new text (or all problems found in it).
pub(crate) fn interpolate_str(text: &str, env: &dyn Env) -> Result<String, Vec<InterpError>> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut errors = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '$' && next == Some('$') && chars.get(i + 2) == Some(&'{') {
            out.push_str("${");
            i += 3;
            continue;
        }
        if c != '$' || next != Some('{') {
            out.push(c);
            i += 1;
            continue;
        }
        // `${` at i: find the closing brace.
        let body_start = i + 2;
        let Some(close) = chars[body_start..].iter().position(|&c| c == '}') else {
            errors.push(InterpError {
                offset: i,
                message: "unterminated `${`: no closing `}`".to_owned(),
                hint: Some(FORMS_HINT.to_owned()),
            });
            break;
        };
        let body: String = chars[body_start..body_start + close].iter().collect();
        let (name, default) = match body.split_once(":-") {
            Some((n, d)) => (n, Some(d)),
            None => (body.as_str(), None),
        };
        if !valid_name(name) {
            errors.push(InterpError {
                offset: i,
                message: format!("invalid variable reference `${{{body}}}`"),
                hint: Some(format!(
                    "a variable name is letters, digits and `_`, not starting with a digit; {FORMS_HINT}"
                )),
            });
        } else if default.is_some_and(|d| d.contains("${")) {
            errors.push(InterpError {
                offset: i,
                message: format!("nested `${{` in the default of `{name}` is not supported"),
                hint: Some("use a literal default value".to_owned()),
            });
        } else {
            match (env.var(name), default) {
                (Some(v), Some(d)) if v.is_empty() => out.push_str(d),
                (Some(v), _) => out.push_str(&v),
                (None, Some(d)) => out.push_str(d),
                (None, None) => errors.push(InterpError {
                    offset: i,
                    message: format!("environment variable `{name}` is not set"),
                    hint: Some(format!(
                        "set {name}, or give a default with ${{{name}:-default}}"
                    )),
                }),
            }
        }
        i = body_start + close + 1;
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Interpolate every scalar value in the tree, collecting all problems.
pub(crate) fn interpolate_tree(
    node: &mut Node,
    path: &KeyPath,
    env: &dyn Env,
    problems: &mut Vec<Problem>,
) {
    let pos = node.pos;
    match &mut node.kind {
        NodeKind::Scalar(s) => {
            if !s.text.contains('$') {
                return;
            }
            match interpolate_str(&s.text, env) {
                Ok(new) => {
                    if new != s.text {
                        s.text = new;
                        s.interpolated = true;
                        s.exact = None;
                    }
                }
                Err(errs) => {
                    for e in errs {
                        let at = match s.exact {
                            Some(p) => Pos {
                                line: p.line,
                                col: p.col + e.offset,
                            },
                            None => pos,
                        };
                        let mut p = Problem::at(at, e.message).with_path(path.clone());
                        p.hint = e.hint;
                        problems.push(p);
                    }
                }
            }
        }
        NodeKind::Seq(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                interpolate_tree(item, &path.index(i), env, problems);
            }
        }
        NodeKind::Map(entries) => {
            for e in entries.iter_mut() {
                let p = path.key(&e.key);
                interpolate_tree(&mut e.value, &p, env, problems);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENV: &[(&str, &str)] = &[("PW", "s3cret"), ("EMPTY", ""), ("PORT", "5432")];

    fn run(s: &str) -> Result<String, Vec<InterpError>> {
        interpolate_str(s, &ENV)
    }

    #[test]
    fn substitutes_and_defaults() {
        assert_eq!(run("a${PW}b").unwrap(), "as3cretb");
        assert_eq!(run("${PORT}").unwrap(), "5432");
        assert_eq!(run("${NOPE:-x:y}").unwrap(), "x:y");
        assert_eq!(run("${EMPTY:-d}").unwrap(), "d");
        assert_eq!(run("${EMPTY}").unwrap(), "");
        assert_eq!(run("${NOPE:-}").unwrap(), "");
        assert_eq!(run("${PW:-d}").unwrap(), "s3cret");
    }

    #[test]
    fn literals_and_escapes() {
        // Left to right: `$` is literal, then `$${` is the escape.
        assert_eq!(run("$$${PW}").unwrap(), "$${PW}");
        assert_eq!(run("$${PW}").unwrap(), "${PW}");
        assert_eq!(run("cost $5 $ {x} $$").unwrap(), "cost $5 $ {x} $$");
        assert_eq!(run("{PW}").unwrap(), "{PW}");
        assert_eq!(run("é${PW}ü").unwrap(), "és3cretü");
    }

    #[test]
    fn undefined_is_named_with_offset() {
        let e = run("ab${MISSING}").unwrap_err();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].offset, 2);
        assert!(e[0].message.contains("`MISSING`"));
    }

    #[test]
    fn malformed_references() {
        assert!(run("${").unwrap_err()[0].message.contains("unterminated"));
        assert!(run("${PW").unwrap_err()[0].message.contains("unterminated"));
        assert!(
            run("${}").unwrap_err()[0]
                .message
                .contains("invalid variable")
        );
        assert!(
            run("${1A}").unwrap_err()[0]
                .message
                .contains("invalid variable")
        );
        assert!(
            run("${A-B}").unwrap_err()[0]
                .message
                .contains("invalid variable")
        );
        assert!(run("${A:-${B}}").unwrap_err()[0].message.contains("nested"));
        // All problems in one scalar are reported.
        assert_eq!(run("${X} ${Y}").unwrap_err().len(), 2);
    }

    #[test]
    fn value_is_not_reinterpolated() {
        let env: &[(&str, &str)] = &[("A", "${B}"), ("B", "no")];
        assert_eq!(interpolate_str("${A}", &env).unwrap(), "${B}");
    }
}
