//! The loader never panics (or overflows its stack) on any input: random bytes,
//! YAML-ish token soup, and random edits of the example configs.

// Test helpers outside #[test] functions may fail loudly too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use proptest::prelude::*;

fn env() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("A".to_owned(), "1".to_owned()),
        ("B".to_owned(), "x: y".to_owned()),
    ])
}

fn examples() -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    v.sort();
    v
}

const TOKENS: &[&str] = &[
    "sources:",
    "log:",
    "sinks:",
    "http:",
    "kafka:",
    "brokers:",
    "- ",
    "  ",
    "    ",
    "\n",
    ": ",
    "name: a",
    "postgres:",
    "mysql:",
    "redis:",
    "search:",
    "url: ",
    "postgres://h/d",
    "redis://h",
    "[",
    "]",
    "{",
    "}",
    ",",
    "&a ",
    "*a",
    "!!str ",
    "!x ",
    "'",
    "\"",
    "|",
    ">",
    "#",
    "---",
    "...",
    "${A}",
    "${B}",
    "${",
    "$${",
    "${C:-d}",
    "~",
    "null",
    "true",
    "0x1F",
    "-5",
    "99999999999999999999999",
    "1.5e3",
    ".inf",
    "200ms",
    "?",
    "%YAML 1.2",
    "\t",
    "\u{feff}",
    "é",
    "server_id: ",
    "batch:",
    "max_rows: ",
    "<<: *a",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..1500)) {
        let _ = rowlog_config::load_bytes(&bytes, "fuzz.yaml", &env());
    }

    #[test]
    fn token_soup(parts in proptest::collection::vec(proptest::sample::select(TOKENS), 0..120)) {
        let text: String = parts.concat();
        let _ = rowlog_config::load_str(&text, "fuzz.yaml", &env());
    }

    #[test]
    fn edited_examples(
        which in 0usize..16,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), 0usize..8, proptest::sample::select(TOKENS)), 1..6),
    ) {
        let all = examples();
        let mut text = all[which % all.len()].clone();
        for (at, del, ins) in edits {
            let chars: Vec<char> = text.chars().collect();
            let i = at.index(chars.len() + 1);
            let end = (i + del).min(chars.len());
            text = chars[..i].iter().chain(ins.chars().collect::<Vec<_>>().iter()).chain(chars[end..].iter()).collect();
        }
        if let Err(e) = rowlog_config::load_str(&text, "fuzz.yaml", &env()) {
            // Every error is located.
            for err in e.iter() {
                prop_assert!(err.pos.is_some(), "unlocated error: {err}");
            }
        }
    }
}

#[test]
fn pathological_inputs() {
    let deep_flow = format!("a: {}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_block: String = (0..2000)
        .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
        .collect();
    let long_line = format!("a: {}", "x".repeat(1_000_000));
    let many_keys: String = (0..40_000).map(|i| format!("k{i}: v\n")).collect();
    for text in [
        deep_flow,
        deep_block,
        long_line,
        many_keys,
        "{---".to_owned(),
        "[{".to_owned(),
        "&a [*a]".to_owned(),
    ] {
        let _ = rowlog_config::load_str(&text, "p.yaml", &env());
    }
}
