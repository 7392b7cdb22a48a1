//! Checks on the raw text before any YAML parsing.
//!
//! Invariants: nothing here allocates in proportion to input larger than
//! [`MAX_CONFIG_BYTES`]; a text that passes is valid UTF-8, at most that size,
//! and has no tab in the leading whitespace of any line (YAML forbids tabs for
//! indentation; we also reject them inside block scalars, where they would be
//! legal but are never needed in a config).

use crate::error::{Pos, Problem};

/// Largest accepted configuration file, in bytes (1 MiB).
pub const MAX_CONFIG_BYTES: usize = 1024 * 1024;

/// Reject over-long input, with the size and the limit.
pub(crate) fn check_size(len: u64) -> Result<(), Problem> {
    if len > MAX_CONFIG_BYTES as u64 {
        return Err(Problem::at(
            Pos::START,
            format!("file is {len} bytes, over the limit of {MAX_CONFIG_BYTES} bytes (1 MiB)"),
        )
        .with_hint("a rowlog config is a few kilobytes; is this the right file?"));
    }
    Ok(())
}

/// Decode UTF-8, naming the line:column of the first invalid byte.
pub(crate) fn check_utf8(bytes: &[u8]) -> Result<&str, Problem> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(text),
        Err(e) => {
            let valid = e.valid_up_to();
            let prefix = bytes
                .get(..valid)
                .and_then(|b| std::str::from_utf8(b).ok())
                .unwrap_or("");
            let bad = bytes.get(valid).copied().unwrap_or(0);
            Err(Problem::at(
                Pos::after(prefix),
                format!("file is not valid UTF-8: byte 0x{bad:02x} at byte offset {valid}"),
            )
            .with_hint("save the file as UTF-8"))
        }
    }
}

/// Every line whose leading whitespace contains a tab.
pub(crate) fn check_tabs(text: &str) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (i, line) in text.split('\n').enumerate() {
        let lead: String = line
            .chars()
            .take_while(|c| *c == ' ' || *c == '\t')
            .collect();
        let rest_is_blank = line.trim().is_empty();
        if rest_is_blank {
            continue;
        }
        if let Some(col) = lead.chars().position(|c| c == '\t') {
            problems.push(
                Problem::at(
                    Pos {
                        line: i + 1,
                        col: col + 1,
                    },
                    "tab character in indentation",
                )
                .with_hint("YAML allows only spaces for indentation; replace the tab with spaces"),
            );
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_limit() {
        assert!(check_size(MAX_CONFIG_BYTES as u64).is_ok());
        let e = check_size(10 * 1024 * 1024).unwrap_err();
        assert!(e.message.contains("10485760 bytes"), "{}", e.message);
        assert!(e.message.contains("1048576"), "{}", e.message);
    }

    #[test]
    fn utf8_position() {
        let e = check_utf8(b"a: 1\nbb: \xff\n").unwrap_err();
        assert_eq!(e.pos, Some(Pos { line: 2, col: 5 }));
        assert!(e.message.contains("0xff"));
        assert!(check_utf8("é: ü".as_bytes()).is_ok());
    }

    #[test]
    fn tabs_found_in_indentation_only() {
        let p = check_tabs("a:\n\tb: 1\nc: \"x\ty\"\n  \t\n");
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].pos, Some(Pos { line: 2, col: 1 }));
        let p = check_tabs("a:\n  \tb: 1\n");
        assert_eq!(p[0].pos, Some(Pos { line: 2, col: 3 }));
    }
}
