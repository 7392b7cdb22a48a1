//! Key path → position in the document.
//!
//! Invariant: lookups never fail; a path that does not exist in the document
//! (a key left out and filled by a default) resolves to the position of its nearest
//! existing ancestor, so every validation error still points somewhere useful.

use crate::error::{KeyPath, Pos, Seg};
use crate::tree::{Node, NodeKind};

/// The node at `path` (if it exists), the deepest node found on the way, and the
/// position of the key of the last segment when it was found.
fn walk<'a>(root: &'a Node, path: &KeyPath) -> (Option<&'a Node>, &'a Node, Option<Pos>) {
    let mut node = root;
    let mut key_pos = None;
    for seg in &path.0 {
        let next = match (seg, &node.kind) {
            (Seg::Key(k), NodeKind::Map(entries)) => entries
                .iter()
                .find(|e| &e.key == k)
                .map(|e| (&e.value, Some(e.key_pos))),
            (Seg::Index(i), NodeKind::Seq(items)) => items.get(*i).map(|n| (n, None)),
            _ => None,
        };
        match next {
            Some((n, kp)) => {
                node = n;
                key_pos = kp;
            }
            None => return (None, node, None),
        }
    }
    (Some(node), node, key_pos)
}

/// Position of the value at `path`, or of its nearest existing ancestor.
pub(crate) fn value_pos(root: &Node, path: &KeyPath) -> Pos {
    walk(root, path).1.pos
}

/// Position of the key at the end of `path` (falling back like [`value_pos`]).
pub(crate) fn key_pos(root: &Node, path: &KeyPath) -> Pos {
    match walk(root, path) {
        (Some(_), _, Some(kp)) => kp,
        (_, nearest, _) => nearest.pos,
    }
}

/// The scalar at `path`, if there is one: for refining positions inside it.
pub(crate) fn scalar_start(root: &Node, path: &KeyPath) -> Option<Pos> {
    walk(root, path)
        .0
        .and_then(|n| n.as_scalar())
        .and_then(|s| s.exact)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::parse;

    #[test]
    fn finds_keys_values_and_ancestors() {
        let root = parse("sinks:\n  - name: a\n    redis:\n      url: x\n")
            .unwrap()
            .unwrap();
        let p = KeyPath::root()
            .key("sinks")
            .index(0)
            .key("redis")
            .key("url");
        assert_eq!(value_pos(&root, &p), Pos { line: 4, col: 12 });
        assert_eq!(key_pos(&root, &p), Pos { line: 4, col: 7 });
        let missing = KeyPath::root()
            .key("sinks")
            .index(0)
            .key("batch")
            .key("max_rows");
        assert_eq!(value_pos(&root, &missing), Pos { line: 2, col: 5 });
        let beyond = KeyPath::root().key("sinks").index(7);
        assert_eq!(value_pos(&root, &beyond), Pos { line: 2, col: 3 });
    }
}
