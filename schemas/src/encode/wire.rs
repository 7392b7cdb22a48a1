//! Framing of Avro datums on the wire.
//!
//! Invariant: with a schema registry the record is the Confluent wire format
//! (magic byte `0`, the registry's schema id as 4 bytes big-endian, then the
//! Avro binary datum), which every Confluent-compatible consumer reads.
//! Without a registry the datum is written bare and readers must be given the
//! writer schema.

use crate::error::CodecError;

/// The Confluent magic byte.
pub const MAGIC: u8 = 0;

/// Prefixes `datum` with the magic byte and `schema_id`.
pub fn frame(schema_id: u32, datum: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(datum.len() + 5);
    out.push(MAGIC);
    out.extend_from_slice(&schema_id.to_be_bytes());
    out.extend_from_slice(datum);
    out
}

/// Splits a framed record into its schema id and datum.
pub fn unframe(bytes: &[u8]) -> Result<(u32, &[u8]), CodecError> {
    match bytes {
        [MAGIC, a, b, c, d, rest @ ..] => Ok((u32::from_be_bytes([*a, *b, *c, *d]), rest)),
        [m, ..] if *m != MAGIC => Err(CodecError::new(
            "record",
            format!(
                "first byte is {m:#04x}, not the Confluent magic byte 0x00; is the topic written with a schema registry?"
            ),
        )),
        _ => Err(CodecError::new(
            "record",
            format!(
                "{} bytes is too short for the Confluent wire format (5-byte header)",
                bytes.len()
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_round_trip_and_errors() {
        let f = frame(0x0102_0304, b"xyz");
        assert_eq!(f, [0, 1, 2, 3, 4, b'x', b'y', b'z']);
        assert_eq!(unframe(&f).unwrap(), (0x0102_0304, &b"xyz"[..]));
        assert!(unframe(&[0, 1, 2]).is_err());
        assert!(
            unframe(&[1, 0, 0, 0, 0])
                .unwrap_err()
                .message
                .contains("magic")
        );
    }
}
