//! Key and index templates such as `{schema}.{table}:{key}`.
//!
//! Invariants: a template is literal text with `{name}` placeholders, where name is
//! `[A-Za-z_][A-Za-z0-9_]*`; a lone `{` or `}`, an empty `{}` or a bad name is an
//! error naming the character offset. Which names are allowed is decided by the
//! caller: table-level names are always known, key column names only at run time.

/// Names every template may use.
pub const TABLE_PLACEHOLDERS: &[&str] = &["source", "database", "schema", "table"];

/// One piece of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Text copied as is.
    Literal(String),
    /// A `{name}` to fill in.
    Placeholder(String),
}

/// Parse a template into pieces, or say (with the 0-based character offset) what is
/// malformed.
pub fn parse_template(t: &str) -> Result<Vec<Piece>, (usize, String)> {
    let mut pieces = Vec::new();
    let mut lit = String::new();
    let mut chars = t.chars().enumerate().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '{' => {
                let mut name = String::new();
                let mut closed = false;
                for (_, c) in chars.by_ref() {
                    if c == '}' {
                        closed = true;
                        break;
                    }
                    if c == '{' {
                        break;
                    }
                    name.push(c);
                }
                if !closed {
                    return Err((i, "`{` without a matching `}`".to_owned()));
                }
                let mut nc = name.chars();
                let valid = matches!(nc.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
                    && nc.all(|c| c == '_' || c.is_ascii_alphanumeric());
                if !valid {
                    return Err((i, format!("invalid placeholder `{{{name}}}`")));
                }
                if !lit.is_empty() {
                    pieces.push(Piece::Literal(std::mem::take(&mut lit)));
                }
                pieces.push(Piece::Placeholder(name));
            }
            '}' => return Err((i, "`}` without a matching `{`".to_owned())),
            c => lit.push(c),
        }
    }
    if !lit.is_empty() {
        pieces.push(Piece::Literal(lit));
    }
    Ok(pieces)
}

/// The placeholder names of a parsed template.
pub fn placeholders(pieces: &[Piece]) -> impl Iterator<Item = &str> {
    pieces.iter().filter_map(|p| match p {
        Piece::Placeholder(n) => Some(n.as_str()),
        Piece::Literal(_) => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        let p = parse_template("{table}:{id}").unwrap();
        assert_eq!(
            p,
            vec![
                Piece::Placeholder("table".into()),
                Piece::Literal(":".into()),
                Piece::Placeholder("id".into())
            ]
        );
        assert_eq!(placeholders(&p).collect::<Vec<_>>(), ["table", "id"]);
        assert_eq!(
            parse_template("plain").unwrap(),
            vec![Piece::Literal("plain".into())]
        );
    }

    #[test]
    fn malformed() {
        assert_eq!(parse_template("a{table").unwrap_err().0, 1);
        assert_eq!(parse_template("a}b").unwrap_err().0, 1);
        assert!(parse_template("{}").is_err());
        assert!(parse_template("{1x}").is_err());
        assert!(parse_template("{a b}").is_err());
        assert!(parse_template("{a{b}}").is_err());
    }
}
