//! Errors of the row-log contract. All are permanent (bad data, not a
//! transient condition) and name what was wrong and where.

/// A value or position that does not parse or does not fit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ValueError(String);

impl ValueError {
    /// An error with its message.
    pub fn new(msg: impl Into<String>) -> ValueError {
        ValueError(msg.into())
    }
}

/// A message that cannot be encoded or decoded. `place` names the table,
/// column or field (`public.users.email`, `source.pos`), so a dead-letter
/// record says exactly what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{place}: {message}")]
pub struct CodecError {
    /// Where: table, column or envelope field.
    pub place: String,
    /// What went wrong and, where possible, how to fix it.
    pub message: String,
}

impl CodecError {
    /// An error at `place`.
    pub fn new(place: impl Into<String>, message: impl Into<String>) -> CodecError {
        CodecError {
            place: place.into(),
            message: message.into(),
        }
    }
}
