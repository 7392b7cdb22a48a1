//! A serde `Deserializer` over the positioned [`Node`] tree.
//!
//! Why not convert to `serde_json::Value` and use `serde_path_to_error`: the tree
//! knows the node being read when an error happens, so every error gets the exact
//! position of the offending value (or of the key, for unknown and missing keys)
//! without re-finding it; and a plain scalar keeps its source text, so a string field
//! reads `password: 0123` as `"0123"` rather than a number that lost its zero.
//!
//! Invariants:
//! - a string-typed field accepts any non-null scalar, as written; integer, boolean
//!   and float fields accept only plain scalars that the core schema resolves to that
//!   type (a quoted `"5432"` is a string, and the error says to drop the quotes);
//! - every error leaving [`deserialize_at`] carries a position, the key path below
//!   the given base, and a message that never echoes interpolated text.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IntoDeserializer, Visitor};

use crate::error::{KeyPath, Pos, Problem, Seg};
use crate::scalar::{Resolved, resolve};
use crate::suggest;
use crate::tree::{Entry, Node, NodeKind};

/// Separates a message from its hint in `de::Error::custom` text produced by this
/// crate's own `Deserialize` impls (see [`hinted`]).
const HINT_SEP: &str = "\u{1f}hint:";

/// A custom deserialization error with a hint, for this crate's value types.
pub(crate) fn hinted<E: de::Error>(message: impl fmt::Display, hint: impl fmt::Display) -> E {
    E::custom(format!("{message}{HINT_SEP}{hint}"))
}

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Custom,
    /// `expected X, found Y`; `text` is the found string, echoed only when safe.
    Mismatch {
        expected: String,
        found: String,
        text: Option<String>,
    },
    Missing(String),
    UnknownKey,
}

/// The error type of [`NodeDe`]; turned into a [`Problem`] at the boundary.
/// Boxed: it travels through every `Result` of the deserializer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DeError(Box<Inner>);

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Inner {
    kind: Kind,
    message: String,
    hint: Option<String>,
    pos: Option<Pos>,
    /// Path segments from the error outwards (innermost first).
    rev_path: Vec<Seg>,
    /// For a missing key: moved to the position of the parent key already.
    repositioned: bool,
    /// The node the error is about had interpolated text.
    interpolated: bool,
}

impl DeError {
    fn new(kind: Kind, message: String, hint: Option<String>) -> Self {
        DeError(Box::new(Inner {
            kind,
            message,
            hint,
            pos: None,
            rev_path: Vec::new(),
            repositioned: false,
            interpolated: false,
        }))
    }

    fn into_problem(self, base: &KeyPath) -> Problem {
        let Inner {
            kind,
            message,
            hint,
            pos,
            rev_path,
            interpolated,
            ..
        } = *self.0;
        let mut path = base.clone();
        path.0.extend(rev_path.into_iter().rev());
        let message = match kind {
            Kind::Missing(field) => {
                path = path.key(&field);
                format!("required key `{field}` is missing")
            }
            Kind::Mismatch {
                expected,
                found,
                text,
            } => match text {
                Some(t) if !interpolated => {
                    format!("expected {expected}, found {found} `{t}`")
                }
                _ if interpolated => {
                    format!("expected {expected}, found {found} (from an environment variable)")
                }
                _ => format!("expected {expected}, found {found}"),
            },
            Kind::Custom | Kind::UnknownKey => message,
        };
        Problem {
            pos,
            path,
            message,
            hint,
        }
    }
}

impl std::ops::Deref for DeError {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl std::ops::DerefMut for DeError {
    fn deref_mut(&mut self) -> &mut Inner {
        &mut self.0
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

/// Plain-language description of what serde expected.
fn describe_expected(exp: &str) -> String {
    let int_range = |lo: &str, hi: &str| format!("a whole number from {lo} to {hi}");
    match exp {
        "u8" => int_range("0", "255"),
        "u16" => int_range("0", "65535"),
        "u32" => int_range("0", "4294967295"),
        "u64" | "usize" => int_range("0", "18446744073709551615"),
        "i8" => int_range("-128", "127"),
        "i16" => int_range("-32768", "32767"),
        "i32" => int_range("-2147483648", "2147483647"),
        "i64" | "isize" => "a whole number".to_owned(),
        "f32" | "f64" => "a number".to_owned(),
        "a boolean" => "`true` or `false`".to_owned(),
        "a sequence" => "a list".to_owned(),
        "a map" => "a mapping".to_owned(),
        e if e.starts_with("struct ") => "a mapping".to_owned(),
        e => e.to_owned(),
    }
}

fn describe_unexpected(u: &de::Unexpected<'_>) -> (String, Option<String>) {
    use de::Unexpected as U;
    match u {
        U::Bool(b) => ("the boolean".to_owned(), Some(b.to_string())),
        U::Unsigned(n) => ("the number".to_owned(), Some(n.to_string())),
        U::Signed(n) => ("the number".to_owned(), Some(n.to_string())),
        U::Float(n) => ("the number".to_owned(), Some(n.to_string())),
        U::Char(c) => ("the text".to_owned(), Some(c.to_string())),
        U::Str(s) => {
            let shown: String = s.chars().take(60).collect();
            ("the text".to_owned(), Some(shown))
        }
        U::Unit | U::Option => ("an empty value".to_owned(), None),
        U::Seq => ("a list".to_owned(), None),
        U::Map => ("a mapping".to_owned(), None),
        other => (other.to_string(), None),
    }
}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        let text = msg.to_string();
        match text.split_once(HINT_SEP) {
            Some((m, h)) => DeError::new(Kind::Custom, m.to_owned(), Some(h.trim().to_owned())),
            None => DeError::new(Kind::Custom, text, None),
        }
    }

    fn invalid_type(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        let (found, text) = describe_unexpected(&unexp);
        let expected = describe_expected(&exp.to_string());
        DeError::new(
            Kind::Mismatch {
                expected,
                found,
                text,
            },
            String::new(),
            None,
        )
    }

    fn invalid_value(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        Self::invalid_type(unexp, exp)
    }

    fn invalid_length(len: usize, exp: &dyn de::Expected) -> Self {
        DeError::new(
            Kind::Custom,
            format!(
                "expected {}, found {len} items",
                describe_expected(&exp.to_string())
            ),
            None,
        )
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        DeError::new(
            Kind::Custom,
            format!("unknown value `{variant}`"),
            suggest::hint_for(variant, expected),
        )
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        let hint = if field == "<<" {
            Some("YAML merge keys (`<<`) are not supported; repeat the keys".to_owned())
        } else if expected.is_empty() {
            Some("this mapping takes no keys".to_owned())
        } else {
            suggest::hint_for(field, expected)
        };
        DeError::new(Kind::UnknownKey, format!("unknown key `{field}`"), hint)
    }

    fn missing_field(field: &'static str) -> Self {
        DeError::new(Kind::Missing(field.to_owned()), String::new(), None)
    }

    fn duplicate_field(field: &'static str) -> Self {
        DeError::new(Kind::Custom, format!("duplicate key `{field}`"), None)
    }
}

/// Deserialize `node` as `T`; on error, a located [`Problem`] under `base`.
pub(crate) fn deserialize_at<'de, T: de::Deserialize<'de>>(
    node: &Node,
    base: &KeyPath,
) -> Result<T, Problem> {
    T::deserialize(NodeDe { node }).map_err(|mut e| {
        e.pos.get_or_insert(node.pos);
        e.into_problem(base)
    })
}

struct NodeDe<'a> {
    node: &'a Node,
}

impl NodeDe<'_> {
    /// Give an error raised while reading this node its position and hints.
    fn locate<T>(&self, r: Result<T, DeError>) -> Result<T, DeError> {
        r.map_err(|mut e| {
            if e.pos.is_none() {
                e.pos = Some(self.node.pos);
                if let Some(s) = self.node.as_scalar() {
                    e.interpolated = s.interpolated;
                    let hint = match &e.kind {
                        Kind::Mismatch { expected, .. } if e.hint.is_none() => {
                            mismatch_hint(expected, &s.text, s.plain)
                        }
                        _ => None,
                    };
                    if hint.is_some() {
                        e.hint = hint;
                    }
                }
            }
            e
        })
    }
}

fn mismatch_hint(expected: &str, text: &str, plain: bool) -> Option<String> {
    let wants_number = expected.starts_with("a whole number") || expected == "a number";
    let wants_bool = expected.starts_with("`true`");
    let resolved = resolve(text);
    if !plain && wants_number && matches!(resolved, Resolved::Int(_) | Resolved::Float(_)) {
        return Some("remove the quotes so the value is read as a number".to_owned());
    }
    if !plain && wants_bool && matches!(resolved, Resolved::Bool(_)) {
        return Some("remove the quotes so the value is read as a boolean".to_owned());
    }
    if wants_bool && matches!(text, "yes" | "no" | "on" | "off" | "y" | "n") {
        return Some("YAML 1.2 booleans are `true` and `false` only".to_owned());
    }
    None
}

fn too_large() -> DeError {
    DeError::new(Kind::Custom, "integer is too large".to_owned(), None)
}

impl<'de> Deserializer<'de> for NodeDe<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let r = match &self.node.kind {
            NodeKind::Scalar(s) if !s.plain => visitor.visit_str(&s.text),
            NodeKind::Scalar(s) => match resolve(&s.text) {
                Resolved::Null => visitor.visit_unit(),
                Resolved::Bool(b) => visitor.visit_bool(b),
                Resolved::Int(n) => match (i64::try_from(n), u64::try_from(n)) {
                    (Ok(i), _) => visitor.visit_i64(i),
                    (_, Ok(u)) => visitor.visit_u64(u),
                    _ => Err(too_large()),
                },
                Resolved::IntTooLarge => Err(too_large()),
                Resolved::Float(f) => visitor.visit_f64(f),
                Resolved::Str(t) => visitor.visit_str(t),
            },
            NodeKind::Seq(items) => visitor.visit_seq(SeqAcc {
                items: items.iter(),
                index: 0,
            }),
            NodeKind::Map(entries) => visitor.visit_map(MapAcc {
                entries: entries.iter(),
                current: None,
            }),
        };
        self.locate(r)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.node.kind {
            NodeKind::Scalar(s) if !self.node.is_null() => {
                let r = visitor.visit_str(&s.text);
                self.locate(r)
            }
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if self.node.is_null() {
            let r = visitor.visit_none();
            self.locate(r)
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match &self.node.kind {
            NodeKind::Scalar(s) if !self.node.is_null() => {
                let r = visitor.visit_enum(s.text.as_str().into_deserializer());
                self.locate(r)
            }
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char bytes byte_buf
        unit unit_struct seq tuple tuple_struct map struct
    }
}

struct SeqAcc<'a> {
    items: std::slice::Iter<'a, Node>,
    index: usize,
}

impl<'de> de::SeqAccess<'de> for SeqAcc<'_> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        let Some(node) = self.items.next() else {
            return Ok(None);
        };
        let i = self.index;
        self.index += 1;
        seed.deserialize(NodeDe { node })
            .map(Some)
            .map_err(|mut e| {
                // A missing key in a list item is best shown at the item itself.
                e.repositioned = true;
                // Errors raised after a value was read (e.g. a URL that does not parse)
                // have no position yet: it is this item's.
                e.pos.get_or_insert(node.pos);
                e.rev_path.push(Seg::Index(i));
                e
            })
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct MapAcc<'a> {
    entries: std::slice::Iter<'a, Entry>,
    current: Option<&'a Entry>,
}

impl<'de> de::MapAccess<'de> for MapAcc<'_> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        let Some(entry) = self.entries.next() else {
            return Ok(None);
        };
        self.current = Some(entry);
        seed.deserialize(KeyDe { key: &entry.key })
            .map(Some)
            .map_err(|mut e| {
                e.pos = Some(entry.key_pos);
                e.rev_path.push(Seg::Key(entry.key.clone()));
                e
            })
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let Some(entry) = self.current.take() else {
            return Err(de::Error::custom("value requested before key"));
        };
        seed.deserialize(NodeDe { node: &entry.value })
            .map_err(|mut e| {
                if matches!(e.kind, Kind::Missing(_)) && !e.repositioned {
                    e.pos = Some(entry.key_pos);
                    e.repositioned = true;
                }
                e.pos.get_or_insert(entry.value.pos);
                e.rev_path.push(Seg::Key(entry.key.clone()));
                e
            })
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

/// Mapping keys are always strings.
struct KeyDe<'a> {
    key: &'a str,
}

impl<'de> Deserializer<'de> for KeyDe<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_str(self.key)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum
        identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    use super::*;
    use crate::tree::parse;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields, rename_all = "snake_case")]
    enum Mode {
        Initial,
        Never,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        port: u16,
        #[serde(default)]
        flag: bool,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Outer {
        name: String,
        #[serde(default)]
        password: Option<String>,
        mode: Mode,
        inner: Vec<Inner>,
        #[serde(default)]
        map: BTreeMap<String, String>,
    }

    fn load(text: &str) -> Result<Outer, Problem> {
        let node = parse(text).unwrap().unwrap();
        deserialize_at(&node, &KeyPath::root())
    }

    #[test]
    fn reads_values() {
        let o = load("name: 123\npassword: 0123\nmode: never\ninner: [{port: 80, flag: true}]\nmap: {a.b: 5}\n").unwrap();
        assert_eq!(o.name, "123");
        assert_eq!(o.password.as_deref(), Some("0123"));
        assert_eq!(o.mode, Mode::Never);
        assert_eq!(
            o.inner[0],
            Inner {
                port: 80,
                flag: true
            }
        );
        assert_eq!(o.map["a.b"], "5");
        let o = load("name: x\npassword:\nmode: initial\ninner: []\n").unwrap();
        assert_eq!(o.password, None);
    }

    #[test]
    fn unknown_key_with_suggestion_at_key() {
        let e = load("name: x\nmode: initial\ninner:\n  - port: 1\n    flga: true\n").unwrap_err();
        assert_eq!(e.path.to_string(), "inner[0].flga");
        assert_eq!(e.pos, Some(Pos { line: 5, col: 5 }));
        assert_eq!(e.message, "unknown key `flga`");
        assert_eq!(e.hint.as_deref(), Some("did you mean `flag`?"));
    }

    #[test]
    fn missing_key_points_at_parent_key() {
        let e = load("name: x\nmode: initial\ninner:\n  - flag: true\n").unwrap_err();
        assert_eq!(e.path.to_string(), "inner[0].port");
        assert_eq!(e.pos, Some(Pos { line: 4, col: 5 }));
        assert!(e.message.contains("required key `port`"));
        let e = load("mode: initial\ninner: []\n").unwrap_err();
        assert_eq!(e.path.to_string(), "name");
    }

    #[test]
    fn type_errors_are_located_and_hinted() {
        let e = load("name: x\nmode: initial\ninner:\n  - port: \"80\"\n").unwrap_err();
        assert_eq!(e.pos, Some(Pos { line: 4, col: 11 }));
        assert!(
            e.message
                .contains("expected a whole number from 0 to 65535"),
            "{}",
            e.message
        );
        assert!(e.hint.unwrap().contains("remove the quotes"));
        let e = load("name: x\nmode: initial\ninner:\n  - port: 70000\n").unwrap_err();
        assert!(e.message.contains("70000"), "{}", e.message);
        let e = load("name: x\nmode: initial\ninner:\n  - port: -1\n").unwrap_err();
        assert!(e.message.contains("-1"), "{}", e.message);
        let e = load("name: [a]\nmode: initial\ninner: []\n").unwrap_err();
        assert!(e.message.contains("found a list"), "{}", e.message);
        let e = load("name:\nmode: initial\ninner: []\n").unwrap_err();
        assert!(e.message.contains("found an empty value"), "{}", e.message);
    }

    #[test]
    fn unknown_variant_suggests() {
        let e = load("name: x\nmode: intial\ninner: []\n").unwrap_err();
        assert_eq!(e.path.to_string(), "mode");
        assert_eq!(e.pos, Some(Pos { line: 2, col: 7 }));
        assert_eq!(e.hint.as_deref(), Some("did you mean `initial`?"));
    }

    #[test]
    fn interpolated_text_is_not_echoed() {
        let mut node = parse("name: x\nmode: initial\ninner:\n  - port: ${P}\n")
            .unwrap()
            .unwrap();
        let mut problems = Vec::new();
        let env: &[(&str, &str)] = &[("P", "topsecret")];
        crate::interpolate::interpolate_tree(&mut node, &KeyPath::root(), &env, &mut problems);
        let e = deserialize_at::<Outer>(&node, &KeyPath::root()).unwrap_err();
        assert!(!e.message.contains("topsecret"), "{}", e.message);
        assert!(e.message.contains("environment variable"), "{}", e.message);
    }
}
