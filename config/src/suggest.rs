//! "Did you mean …?" suggestions by edit distance.
//!
//! Invariant: a suggestion is only made when it is close enough to be a likely typo
//! (Damerau–Levenshtein distance at most 1 for words up to 4 characters, at most 2 up
//! to 8, at most 3 beyond, or an exact case-insensitive match); otherwise the hint
//! lists what is accepted instead.

/// The closest candidate to `word`, if any is plausibly what was meant.
pub fn did_you_mean<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let lower = word.to_lowercase();
    if let Some(c) = candidates.iter().find(|c| c.to_lowercase() == lower) {
        return Some(c);
    }
    let limit = match word.chars().count() {
        0..=4 => 1,
        5..=8 => 2,
        _ => 3,
    };
    candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(&lower, &c.to_lowercase()), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// `a`, `b`, `c` — for hints listing accepted words.
pub(crate) fn list(candidates: &[&str]) -> String {
    candidates
        .iter()
        .map(|c| format!("`{c}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A hint for an unknown `word`: a suggestion, or the accepted words.
pub(crate) fn hint_for(word: &str, candidates: &[&str]) -> Option<String> {
    if candidates.is_empty() {
        return None;
    }
    Some(match did_you_mean(word, candidates) {
        Some(c) => format!("did you mean `{c}`?"),
        None => format!("expected one of {}", list(candidates)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEYS: &[&str] = &[
        "batch_size",
        "batch",
        "on_error",
        "tables",
        "source",
        "name",
    ];

    #[test]
    fn suggests_close_words() {
        assert_eq!(did_you_mean("batch_sise", KEYS), Some("batch_size"));
        assert_eq!(did_you_mean("on_eror", KEYS), Some("on_error"));
        assert_eq!(did_you_mean("sorce", KEYS), Some("source"));
        assert_eq!(did_you_mean("Tables", KEYS), Some("tables"));
        assert_eq!(did_you_mean("nmae", KEYS), Some("name"));
    }

    #[test]
    fn no_wild_guesses() {
        assert_eq!(did_you_mean("completely_else", KEYS), None);
        assert_eq!(did_you_mean("xy", KEYS), None);
        assert_eq!(did_you_mean("", KEYS), None);
    }

    #[test]
    fn hint_lists_when_nothing_close() {
        let h = hint_for("zzz", &["json", "avro"]).unwrap();
        assert_eq!(h, "expected one of `json`, `avro`");
        assert_eq!(
            hint_for("jsn", &["json", "avro"]).unwrap(),
            "did you mean `json`?"
        );
    }
}
