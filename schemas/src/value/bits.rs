//! Bit strings (`bit(n)`, `bit varying`, MySQL `BIT(n)`).
//!
//! Invariant: the length in bits is kept apart from the packed bytes, so
//! `B'0010'` and `B'10'` differ; bits are packed most significant first and the
//! unused low bits of the last byte are zero.

use std::fmt;
use std::str::FromStr;

use crate::error::ValueError;

/// A string of bits of any length.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct BitString {
    len: usize,
    bytes: Vec<u8>,
}

impl BitString {
    /// `len` bits taken from the front of `bytes` (most significant bit first).
    pub fn from_bytes(len: usize, bytes: &[u8]) -> Result<BitString, ValueError> {
        if bytes.len() != len.div_ceil(8) {
            return Err(ValueError::new(format!(
                "a bit string of {len} bits needs {} bytes, got {}",
                len.div_ceil(8),
                bytes.len()
            )));
        }
        let mut bytes = bytes.to_vec();
        if !len.is_multiple_of(8)
            && let Some(last) = bytes.last_mut()
        {
            *last &= 0xFF << (8 - len % 8);
        }
        Ok(BitString { len, bytes })
    }
    /// Number of bits.
    pub fn len(&self) -> usize {
        self.len
    }
    /// Whether there are no bits.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Packed bits, most significant first.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
    /// Bit `i` (0 = first).
    pub fn get(&self, i: usize) -> Option<bool> {
        (i < self.len).then(|| self.bytes[i / 8] & (0x80 >> (i % 8)) != 0)
    }
}

impl fmt::Display for BitString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for i in 0..self.len {
            f.write_str(if self.get(i) == Some(true) { "1" } else { "0" })?;
        }
        Ok(())
    }
}

impl FromStr for BitString {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<BitString, ValueError> {
        let mut bytes = vec![0u8; s.len().div_ceil(8)];
        for (i, c) in s.bytes().enumerate() {
            match c {
                b'0' => {}
                b'1' => bytes[i / 8] |= 0x80 >> (i % 8),
                _ => {
                    return Err(ValueError::new(format!(
                        "`{s}` is not a bit string; expected only 0 and 1"
                    )));
                }
            }
        }
        Ok(BitString {
            len: s.len(),
            bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_length_and_masks_padding() {
        let b = BitString::from_bytes(4, &[0b0010_1111]).unwrap();
        assert_eq!(b.to_string(), "0010");
        assert_eq!(b.bytes(), &[0b0010_0000]);
        assert_ne!("0010".parse::<BitString>().unwrap(), "10".parse().unwrap());
        assert!("012".parse::<BitString>().is_err());
        assert!(BitString::from_bytes(9, &[1]).is_err());
    }
}
