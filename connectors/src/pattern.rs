//! Table and column patterns from the config: `schema.table` or
//! `schema.table.column` with `*` (any run of characters, including none)
//! and `?` (one character). Matching is case-sensitive, like quoted SQL
//! identifiers, and covers the whole name.
//!
//! Written by hand: a dozen lines, where a glob crate would bring path
//! semantics (`/`, `**`, character classes) that table names must not have.

/// Whether `name` matches `pattern`.
pub fn matches(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    // Iterative wildcard match with one backtrack point (linear in practice).
    let (mut pi, mut ni, mut star, mut mark) = (0, 0, None, 0);
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ni;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Whether `name` is selected by include patterns (empty = all) and not by
/// any exclude pattern.
pub fn selected(include: &[String], exclude: &[String], name: &str) -> bool {
    (include.is_empty() || include.iter().any(|p| matches(p, name)))
        && !exclude.iter().any(|p| matches(p, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(matches("public.*", "public.users"));
        assert!(matches("public.*", "public."));
        assert!(!matches("public.*", "audit.users"));
        assert!(matches("*.audit_?", "s.audit_1"));
        assert!(!matches("*.audit_?", "s.audit_12"));
        assert!(matches("a*b*c", "aXXbYYc"));
        assert!(!matches("a*b*c", "aXXbYY"));
        assert!(matches("Public.Users", "Public.Users"));
        assert!(!matches("public.users", "Public.Users"));
    }

    #[test]
    fn include_exclude() {
        let inc = vec!["public.*".to_string()];
        let exc = vec!["public.audit_*".to_string()];
        assert!(selected(&inc, &exc, "public.users"));
        assert!(!selected(&inc, &exc, "public.audit_log"));
        assert!(selected(&[], &[], "any.thing"));
    }
}
