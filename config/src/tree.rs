//! The YAML document as a tree of positioned nodes.
//!
//! Built from `granit-parser`'s event stream (see the crate doc for why that
//! parser). Invariants of a [`Node`] tree built here:
//! - exactly one document; the root may be any node (the loader requires a mapping);
//! - mapping keys are scalars, unique within their mapping, kept in document order
//!   with the position of the key itself;
//! - aliases are expanded into copies of their anchored node (positions stay those of
//!   the anchor's definition), within a budget of [`MAX_NODES`] nodes and a depth of
//!   [`MAX_DEPTH`], so alias bombs and deep nesting are errors, not exhaustion;
//! - scalars keep their text as written (after YAML escapes) and whether they were
//!   plain; types (null, bool, int, float) are resolved later, on demand, by the YAML
//!   1.2 core schema — so a quoted `"0123"` stays a string and `${VAR}` can be
//!   interpolated before any type is decided;
//! - only core-schema tags are accepted (`!!str` makes a scalar a string).

use std::collections::HashMap;

use granit_parser::{Event, Marker, Parser, ScalarStyle, Span, Tag};

use crate::error::{Pos, Problem};

/// Most nodes a document may expand to (aliases included).
pub(crate) const MAX_NODES: usize = 200_000;
/// Deepest nesting of collections accepted.
pub(crate) const MAX_DEPTH: usize = 128;

#[derive(Debug, Clone)]
pub(crate) struct Node {
    /// Where the node starts.
    pub pos: Pos,
    pub kind: NodeKind,
    /// Number of nodes in this subtree, itself included.
    size: usize,
    /// Nesting height of this subtree (a scalar is 0).
    height: usize,
}

#[derive(Debug, Clone)]
pub(crate) enum NodeKind {
    Scalar(Scalar),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

#[derive(Debug, Clone)]
pub(crate) struct Scalar {
    /// The value after YAML escape processing (and, later, interpolation).
    pub text: String,
    /// Plain (unquoted, untagged) scalars get their type from the core schema;
    /// all others are strings.
    pub plain: bool,
    /// Position of the first character of `text` when the text maps 1:1 onto one
    /// source line (no escapes, no folding), so an offset in the text is a column.
    pub exact: Option<Pos>,
    /// True when `${...}` interpolation changed the text; such text is never
    /// echoed in error messages (it may come from a secret).
    pub interpolated: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub key: String,
    pub key_pos: Pos,
    pub value: Node,
}

impl Node {
    pub(crate) fn as_scalar(&self) -> Option<&Scalar> {
        match &self.kind {
            NodeKind::Scalar(s) => Some(s),
            _ => None,
        }
    }

    /// True for a plain scalar that the core schema reads as null.
    pub(crate) fn is_null(&self) -> bool {
        self.as_scalar()
            .is_some_and(|s| s.plain && crate::scalar::is_null(&s.text))
    }

    /// A short description of the node's kind, for messages.
    pub(crate) fn describe(&self) -> &'static str {
        match &self.kind {
            NodeKind::Scalar(_) if self.is_null() => "an empty value",
            NodeKind::Scalar(_) => "a scalar",
            NodeKind::Seq(_) => "a list",
            NodeKind::Map(_) => "a mapping",
        }
    }
}

fn pos_of(m: &Marker) -> Pos {
    Pos {
        line: m.line().max(1),
        col: m.col() + 1,
    }
}

enum Frame {
    Seq {
        pos: Pos,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        pos: Pos,
        anchor: usize,
        entries: Vec<Entry>,
        key: Option<(String, Pos)>,
    },
}

struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    root: Option<Node>,
    nodes: usize,
}

impl Builder {
    fn count(&mut self, pos: Pos, n: usize) -> Result<(), Problem> {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > MAX_NODES {
            return Err(Problem::at(
                pos,
                format!("document expands to more than {MAX_NODES} nodes"),
            )
            .with_hint(
                "a rowlog config is small; check aliases (*name) that repeat large anchors",
            ));
        }
        Ok(())
    }

    fn check_depth(&self, pos: Pos, height: usize) -> Result<(), Problem> {
        if self.stack.len() + height > MAX_DEPTH {
            return Err(Problem::at(
                pos,
                format!("nesting deeper than {MAX_DEPTH} levels"),
            ));
        }
        Ok(())
    }

    /// Attach a finished node to its parent (or make it the root).
    fn complete(&mut self, node: Node) -> Result<(), Problem> {
        match self.stack.last_mut() {
            None => {
                self.root = Some(node);
                Ok(())
            }
            Some(Frame::Seq { items, .. }) => {
                items.push(node);
                Ok(())
            }
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                Some((k, key_pos)) => {
                    entries.push(Entry {
                        key: k,
                        key_pos,
                        value: node,
                    });
                    Ok(())
                }
                None => {
                    let NodeKind::Scalar(s) = node.kind else {
                        return Err(Problem::at(
                            node.pos,
                            "a mapping key must be a scalar (text), not a list or mapping",
                        ));
                    };
                    if let Some(first) = entries.iter().find(|e| e.key == s.text) {
                        return Err(Problem::at(
                            node.pos,
                            format!(
                                "duplicate key `{}` (first defined at {})",
                                s.text, first.key_pos
                            ),
                        )
                        .with_hint("each key may appear once in a mapping; remove or merge one"));
                    }
                    *key = Some((s.text, node.pos));
                    Ok(())
                }
            },
        }
    }

    fn remember(&mut self, anchor: usize, node: &Node) {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
    }
}

fn check_tag(tag: Option<&Tag>, pos: Pos) -> Result<bool, Problem> {
    // Returns true when the tag forces a string.
    let Some(tag) = tag else { return Ok(false) };
    match tag.core_suffix() {
        Some("str") => Ok(true),
        Some(_) => Ok(false),
        None => Err(
            Problem::at(pos, format!("unsupported YAML tag `{}`", tag.original())).with_hint(
                "remove the tag; rowlog reads plain values, `!!str` is the only tag needed",
            ),
        ),
    }
}

fn exact_start(text: &str, style: ScalarStyle, span: &Span) -> Option<Pos> {
    if span.start.line() != span.end.line() {
        return None;
    }
    let len = span.end.index().checked_sub(span.start.index())?;
    let n = text.chars().count();
    let start = pos_of(&span.start);
    match style {
        ScalarStyle::Plain if len == n => Some(start),
        ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted if len == n + 2 => Some(Pos {
            line: start.line,
            col: start.col + 1,
        }),
        _ => None,
    }
}

/// Parse one YAML document. `Ok(None)` when the text holds no document at all.
pub(crate) fn parse(text: &str) -> Result<Option<Node>, Problem> {
    let options = granit_parser::options! {
        emit_comments: false,
        flow_nesting_limit: MAX_DEPTH,
        block_nesting_limit: MAX_DEPTH,
    };
    let parser = Parser::new_from_str_with_options(text, options);
    let mut b = Builder {
        stack: Vec::new(),
        anchors: HashMap::new(),
        root: None,
        nodes: 0,
    };
    let mut documents = 0usize;
    for item in parser {
        let (event, span) = match item {
            Ok(x) => x,
            Err(e) => {
                let info = e.info();
                let msg = if info.is_empty() {
                    "YAML syntax error".to_owned()
                } else {
                    format!("YAML syntax error: {info}")
                };
                return Err(Problem::at(pos_of(e.marker()), msg)
                    .with_hint("check indentation, `key: value` spacing and quoting near here"));
            }
        };
        let pos = pos_of(&span.start);
        match event {
            Event::DocumentStart(..) => {
                documents += 1;
                if documents > 1 {
                    return Err(Problem::at(pos, "more than one YAML document in the file")
                        .with_hint("a config is one document; remove the second `---` and what follows, or split it into its own file"));
                }
            }
            Event::Scalar(value, style, anchor, tag) => {
                let forced_str = check_tag(tag.as_deref(), pos)?;
                b.count(pos, 1)?;
                let text = value.into_owned();
                let exact = exact_start(&text, style, &span);
                let node = Node {
                    pos,
                    kind: NodeKind::Scalar(Scalar {
                        plain: matches!(style, ScalarStyle::Plain) && !forced_str,
                        exact,
                        text,
                        interpolated: false,
                    }),
                    size: 1,
                    height: 0,
                };
                b.remember(anchor, &node);
                b.complete(node)?;
            }
            Event::SequenceStart(_, anchor, tag) => {
                check_tag(tag.as_deref(), pos)?;
                b.count(pos, 1)?;
                b.check_depth(pos, 1)?;
                b.stack.push(Frame::Seq {
                    pos,
                    anchor,
                    items: Vec::new(),
                });
            }
            Event::MappingStart(_, anchor, tag) => {
                check_tag(tag.as_deref(), pos)?;
                b.count(pos, 1)?;
                b.check_depth(pos, 1)?;
                b.stack.push(Frame::Map {
                    pos,
                    anchor,
                    entries: Vec::new(),
                    key: None,
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor) = match b.stack.pop() {
                    Some(Frame::Seq { pos, anchor, items }) => {
                        let size = 1 + items.iter().map(|n| n.size).sum::<usize>();
                        let height = 1 + items.iter().map(|n| n.height).max().unwrap_or(0);
                        (
                            Node {
                                pos,
                                kind: NodeKind::Seq(items),
                                size,
                                height,
                            },
                            anchor,
                        )
                    }
                    Some(Frame::Map {
                        pos,
                        anchor,
                        entries,
                        key,
                    }) => {
                        if let Some((k, key_pos)) = key {
                            return Err(Problem::at(key_pos, format!("key `{k}` has no value")));
                        }
                        let size = 1 + entries.iter().map(|e| e.value.size + 1).sum::<usize>();
                        let height = 1 + entries.iter().map(|e| e.value.height).max().unwrap_or(0);
                        (
                            Node {
                                pos,
                                kind: NodeKind::Map(entries),
                                size,
                                height,
                            },
                            anchor,
                        )
                    }
                    None => return Err(Problem::at(pos, "unbalanced YAML collection end")),
                };
                b.remember(anchor, &node);
                b.complete(node)?;
            }
            Event::Alias(id) => {
                let Some(target) = b.anchors.get(&id) else {
                    return Err(Problem::at(
                        pos,
                        "alias refers to an anchor that is not complete yet",
                    )
                    .with_hint(
                        "an alias (*name) cannot point into the node that defines its anchor",
                    ));
                };
                let mut copy = target.clone();
                b.count(pos, copy.size)?;
                b.check_depth(pos, copy.height)?;
                copy.pos = pos;
                b.complete(copy)?;
            }
            _ => {}
        }
    }
    Ok(b.root)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(node: &Node) -> &Vec<Entry> {
        match &node.kind {
            NodeKind::Map(e) => e,
            other => panic!("not a map: {other:?}"),
        }
    }

    #[test]
    fn positions_of_keys_and_values() {
        let root = parse("a: 1\nb:\n  c: 'x y'\n  d: [1, 2]\n")
            .unwrap()
            .unwrap();
        let e = map(&root);
        assert_eq!(e[0].key, "a");
        assert_eq!(e[0].key_pos, Pos { line: 1, col: 1 });
        assert_eq!(e[0].value.pos, Pos { line: 1, col: 4 });
        let inner = map(&e[1].value);
        assert_eq!(inner[0].key_pos, Pos { line: 3, col: 3 });
        let s = inner[0].value.as_scalar().unwrap();
        assert!(!s.plain);
        assert_eq!(s.exact, Some(Pos { line: 3, col: 7 }));
        assert_eq!(inner[1].value.pos, Pos { line: 4, col: 6 });
    }

    #[test]
    fn empty_documents() {
        assert!(parse("").unwrap().is_none());
        assert!(parse("# only a comment\n").unwrap().is_none());
        let root = parse("---\n").unwrap().unwrap();
        assert!(root.is_null());
    }

    #[test]
    fn duplicate_key_is_located() {
        let e = parse("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(e.pos, Some(Pos { line: 3, col: 1 }));
        assert!(e.message.contains("first defined at 1:1"), "{}", e.message);
    }

    #[test]
    fn aliases_expand_with_budget() {
        let root = parse("a: &x {k: v}\nb: *x\n").unwrap().unwrap();
        let e = map(&root);
        assert_eq!(map(&e[1].value)[0].key, "k");
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let p = i - 1;
            bomb.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let e = parse(&bomb).unwrap_err();
        assert!(e.message.contains("more than"), "{}", e.message);
    }

    #[test]
    fn deep_nesting_is_an_error() {
        let deep = format!("{}{}", "[".repeat(1000), "]".repeat(1000));
        assert!(parse(&deep).is_err());
    }

    #[test]
    fn second_document_rejected() {
        let e = parse("a: 1\n---\nb: 2\n").unwrap_err();
        assert!(e.message.contains("more than one"), "{}", e.message);
    }

    #[test]
    fn tags() {
        let root = parse("a: !!str 12\n").unwrap().unwrap();
        assert!(!map(&root)[0].value.as_scalar().unwrap().plain);
        assert!(parse("a: !custom 12\n").is_err());
    }
}
