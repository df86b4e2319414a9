//! API tokens: `slw_<id>_<secret>`; the id is public (it names the token), the secret is
//! 128 random bits stored only as its BLAKE3 digest.

use slipway_core::Digest;

/// A fresh token: (id, full token text, digest of the secret to store).
pub fn generate() -> (String, String, Digest) {
    let id = uuid::Uuid::new_v4().simple().to_string()[..12].to_string();
    let secret = uuid::Uuid::new_v4().simple().to_string();
    let token = format!("slw_{id}_{secret}");
    (id, token, Digest::of(secret.as_bytes()))
}

/// Splits a token into (id, digest of its secret); `None` if it is not a slipway token.
pub fn parse(token: &str) -> Option<(&str, Digest)> {
    let rest = token.strip_prefix("slw_")?;
    let (id, secret) = rest.split_once('_')?;
    let hex = |s: &str| s.chars().all(|c| c.is_ascii_hexdigit());
    (id.len() == 12 && secret.len() == 32 && hex(id) && hex(secret))
        .then(|| (id, Digest::of(secret.as_bytes())))
}

/// Compares two digests in constant time.
pub fn same(a: &Digest, b: &Digest) -> bool {
    a.as_bytes()
        .iter()
        .zip(b.as_bytes())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_garbage_is_refused() {
        let (id, token, hash) = generate();
        let (parsed_id, parsed_hash) = parse(&token).unwrap();
        assert_eq!(parsed_id, id);
        assert!(same(&parsed_hash, &hash));
        assert!(parse("Bearer x").is_none());
        assert!(parse(&token.replace("slw_", "xyz_")).is_none());
        assert!(parse(&format!("{token}0")).is_none());
        let (_, other, _) = generate();
        assert_ne!(token, other);
    }
}
