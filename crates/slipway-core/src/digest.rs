//! BLAKE3 content digests: the address of every object in the store.

use std::fmt;
use std::str::FromStr;

/// A BLAKE3-256 digest of some bytes; displayed and parsed as 64 lowercase hex characters.
///
/// Digests are the identity of artifacts: two artifacts with the same digest are the same bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest([u8; 32]);

/// Why a string is not a valid digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestParseError {
    /// The string is not 64 characters long.
    #[error("digest `{text}` has {len} characters; a digest is 64 lowercase hex characters")]
    Length {
        /// The offending text (truncated for display).
        text: String,
        /// Its length in characters.
        len: usize,
    },
    /// The string contains a character outside `0-9a-f`.
    #[error("digest `{text}` contains `{ch}`; a digest is 64 lowercase hex characters")]
    Character {
        /// The offending text.
        text: String,
        /// The first invalid character.
        ch: char,
    },
}

impl Digest {
    /// Length of a digest in bytes.
    pub const LEN: usize = 32;

    /// Digest of a byte slice.
    pub fn of(bytes: &[u8]) -> Digest {
        Digest(*blake3::hash(bytes).as_bytes())
    }

    /// Wraps raw digest bytes (e.g. from an incremental hasher).
    pub const fn from_bytes(bytes: [u8; 32]) -> Digest {
        Digest(bytes)
    }

    /// The raw 32 bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lowercase hex, 64 characters.
    pub fn to_hex(&self) -> String {
        let mut out = String::with_capacity(64);
        for byte in self.0 {
            out.push(HEX[(byte >> 4) as usize] as char);
            out.push(HEX[(byte & 0xf) as usize] as char);
        }
        out
    }

    /// The first `n` hex characters, for display in tables and messages.
    pub fn short(&self, n: usize) -> String {
        let mut hex = self.to_hex();
        hex.truncate(n.min(64));
        hex
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

impl From<blake3::Hash> for Digest {
    fn from(hash: blake3::Hash) -> Digest {
        Digest(*hash.as_bytes())
    }
}

impl FromStr for Digest {
    type Err = DigestParseError;

    fn from_str(text: &str) -> Result<Digest, DigestParseError> {
        let shown = || text.chars().take(80).collect::<String>();
        if text.len() != 64 {
            return Err(DigestParseError::Length {
                text: shown(),
                len: text.chars().count(),
            });
        }
        let mut bytes = [0u8; 32];
        let raw = text.as_bytes();
        for (i, byte) in bytes.iter_mut().enumerate() {
            let hi = hex_value(raw[2 * i]);
            let lo = hex_value(raw[2 * i + 1]);
            match (hi, lo) {
                (Some(hi), Some(lo)) => *byte = (hi << 4) | lo,
                _ => {
                    let ch = text
                        .chars()
                        .find(|c| !matches!(c, '0'..='9' | 'a'..='f'))
                        .unwrap_or('?');
                    return Err(DigestParseError::Character { text: shown(), ch });
                }
            }
        }
        Ok(Digest(bytes))
    }
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.short(12))
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Digest, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Test vectors pin the digest function: a changed digest is as bad as lost data.
    #[test]
    fn known_vectors() {
        assert_eq!(
            Digest::of(b"").to_hex(),
            "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
        );
        assert_eq!(
            Digest::of(b"abc").to_hex(),
            "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85"
        );
    }

    #[test]
    fn hex_round_trip() {
        let d = Digest::of(b"slipway");
        assert_eq!(d.to_hex().parse::<Digest>().unwrap(), d);
        assert_eq!(d.short(8).len(), 8);
    }

    #[test]
    fn rejects_bad_text() {
        assert!(matches!(
            "abc".parse::<Digest>(),
            Err(DigestParseError::Length { len: 3, .. })
        ));
        let upper = Digest::of(b"x").to_hex().to_uppercase();
        let err = upper.parse::<Digest>().unwrap_err();
        assert!(err.to_string().contains("lowercase hex"), "{err}");
    }

    #[test]
    fn serde_as_hex_string() {
        let d = Digest::of(b"abc");
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(json, format!("\"{}\"", d.to_hex()));
        assert_eq!(serde_json::from_str::<Digest>(&json).unwrap(), d);
    }
}
