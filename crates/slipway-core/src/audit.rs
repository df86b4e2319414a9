//! The tamper-evident audit chain: every lever pulled, hash-linked to the one before.
//!
//! Each [`AuditEntry`] (sequence number, time, actor, action, subject, payload digest) is sealed
//! into a [`SealedEntry`] whose hash is `BLAKE3(previous hash || canonical entry encoding)`; the
//! first entry's previous hash is [`GENESIS`]. [`verify`] walks a chain and reports the first
//! entry at which it breaks ([`ChainBreak`]): an edited field, a deleted, inserted or reordered
//! entry. A deleted *tail* leaves a valid shorter chain; [`verify_head`] catches it by comparing
//! with a head (sequence number and hash) recorded elsewhere.
//!
//! The canonical encoding ([`AuditEntry::canonical_bytes`]) is versioned ([`AUDIT_FORMAT`]) and
//! length-prefixed, so no two different entries encode to the same bytes.

use crate::Digest;
use std::fmt;

/// The format tag at the start of every encoded entry; part of every hash.
pub const AUDIT_FORMAT: &str = "slipway-audit-entry/1";

/// The "previous hash" of the first entry: 32 zero bytes.
pub const GENESIS: Digest = Digest::from_bytes([0; 32]);

/// One recorded action, before it is sealed into the chain.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AuditEntry {
    /// Position in the chain, starting at 1, without gaps.
    pub seq: u64,
    /// When it happened, milliseconds since the Unix epoch (passed in).
    pub time_ms: i64,
    /// Who did it (user name, token name, or `system`).
    pub actor: String,
    /// What was done, e.g. `model.promote`.
    pub action: String,
    /// What it was done to, e.g. `credit-risk@4/default`.
    pub subject: String,
    /// Digest of the action's payload (the request, decision record, ...).
    pub payload: Digest,
}

impl AuditEntry {
    /// The canonical bytes hashed into the chain: the format tag, then each field, every string
    /// length-prefixed (u64 little endian), integers as 8 little-endian bytes.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128);
        let mut put = |bytes: &[u8]| {
            out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
            out.extend_from_slice(bytes);
        };
        put(AUDIT_FORMAT.as_bytes());
        put(&self.seq.to_le_bytes());
        put(&self.time_ms.to_le_bytes());
        put(self.actor.as_bytes());
        put(self.action.as_bytes());
        put(self.subject.as_bytes());
        put(self.payload.as_bytes());
        out
    }

    /// The entry's hash given the previous entry's hash.
    pub fn hash_after(&self, prev: &Digest) -> Digest {
        let mut hasher = blake3::Hasher::new();
        hasher.update(prev.as_bytes());
        hasher.update(&self.canonical_bytes());
        Digest::from(hasher.finalize())
    }

    /// Seals this entry after `prev` (`None` for the first entry). Refuses a sequence number
    /// that does not follow `prev`'s.
    pub fn seal(self, prev: Option<&SealedEntry>) -> Result<SealedEntry, SequenceError> {
        let (expected, prev_hash) = match prev {
            Some(p) => (p.entry.seq + 1, p.hash),
            None => (1, GENESIS),
        };
        if self.seq != expected {
            return Err(SequenceError {
                expected,
                found: self.seq,
            });
        }
        let hash = self.hash_after(&prev_hash);
        Ok(SealedEntry { entry: self, hash })
    }
}

/// An entry whose sequence number does not follow the chain's last one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("audit entry has sequence number {found}; the next entry in the chain must be {expected}")]
pub struct SequenceError {
    /// The sequence number the chain needs next.
    pub expected: u64,
    /// The one given.
    pub found: u64,
}

/// An entry as stored: the entry and its chain hash.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SealedEntry {
    /// The recorded action.
    #[serde(flatten)]
    pub entry: AuditEntry,
    /// `BLAKE3(previous hash || entry.canonical_bytes())`.
    pub hash: Digest,
}

/// How a chain is broken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BreakKind {
    /// The entry's stored hash does not match its contents and the previous hash: it (or the
    /// entry before it) was edited, or an entry was inserted before it.
    HashMismatch {
        /// The hash recomputed from the stored fields.
        computed: Digest,
        /// The hash stored with the entry.
        stored: Digest,
    },
    /// The sequence number is not the next one: entries were deleted, inserted or reordered.
    Sequence {
        /// The sequence number expected here.
        expected: u64,
    },
    /// The chain ends before (or differs at) the head recorded elsewhere: the tail was deleted
    /// or rewritten.
    Head {
        /// The head's sequence number.
        head_seq: u64,
        /// The last sequence number present, 0 for an empty chain.
        last_seq: u64,
    },
}

/// The first place where a chain fails to verify.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("audit chain broken at entry {seq}: {why}")]
pub struct ChainBreak {
    /// The sequence number of the first bad entry (for a truncated tail, the head's).
    pub seq: u64,
    /// What is wrong there.
    pub why: BreakKind,
}

impl fmt::Display for BreakKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BreakKind::HashMismatch { computed, stored } => write!(
                f,
                "stored hash {} does not match the recomputed {}; the entry or one before it was edited, or an entry was inserted",
                stored.short(12),
                computed.short(12)
            ),
            BreakKind::Sequence { expected } => write!(
                f,
                "expected sequence number {expected} here; entries were deleted, inserted or reordered"
            ),
            BreakKind::Head { head_seq, last_seq } => write!(
                f,
                "the recorded head is entry {head_seq} but the chain ends at {last_seq} or differs there; the tail was deleted or rewritten"
            ),
        }
    }
}

/// Verifies a whole chain from its first entry (sequence 1, previous hash [`GENESIS`]).
pub fn verify(entries: &[SealedEntry]) -> Result<(), ChainBreak> {
    verify_from(0, &GENESIS, entries)
}

/// Verifies entries that continue a chain already verified up to `after_seq` with hash
/// `after_hash` (use `0` and [`GENESIS`] for the whole chain). For incremental verification.
pub fn verify_from(
    after_seq: u64,
    after_hash: &Digest,
    entries: &[SealedEntry],
) -> Result<(), ChainBreak> {
    let mut prev = *after_hash;
    for (expected, sealed) in (after_seq + 1..).zip(entries) {
        if sealed.entry.seq != expected {
            return Err(ChainBreak {
                seq: sealed.entry.seq,
                why: BreakKind::Sequence { expected },
            });
        }
        let computed = sealed.entry.hash_after(&prev);
        if computed != sealed.hash {
            return Err(ChainBreak {
                seq: sealed.entry.seq,
                why: BreakKind::HashMismatch {
                    computed,
                    stored: sealed.hash,
                },
            });
        }
        prev = sealed.hash;
    }
    Ok(())
}

/// Verifies a whole chain and that it ends exactly at a head (sequence number and hash)
/// recorded elsewhere, which catches a deleted or rewritten tail.
pub fn verify_head(
    entries: &[SealedEntry],
    head_seq: u64,
    head_hash: &Digest,
) -> Result<(), ChainBreak> {
    verify(entries)?;
    let last = entries.last();
    let last_seq = last.map_or(0, |e| e.entry.seq);
    let last_hash = last.map_or(GENESIS, |e| e.hash);
    if last_seq != head_seq || last_hash != *head_hash {
        return Err(ChainBreak {
            seq: head_seq,
            why: BreakKind::Head { head_seq, last_seq },
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: u64, action: &str) -> AuditEntry {
        AuditEntry {
            seq,
            time_ms: 1_700_000_000_000 + seq as i64 * 1000,
            actor: if seq.is_multiple_of(2) {
                "alice"
            } else {
                "bob"
            }
            .into(),
            action: action.into(),
            subject: format!("credit-risk@{seq}/default"),
            payload: Digest::of(format!("payload {seq}").as_bytes()),
        }
    }

    fn chain(n: u64) -> Vec<SealedEntry> {
        let mut out: Vec<SealedEntry> = Vec::new();
        for seq in 1..=n {
            let sealed = entry(seq, "model.promote").seal(out.last()).unwrap();
            out.push(sealed);
        }
        out
    }

    #[test]
    fn intact_chain_verifies() {
        let c = chain(6);
        assert_eq!(verify(&c), Ok(()));
        assert_eq!(verify(&[]), Ok(()));
        assert_eq!(verify_head(&c, 6, &c[5].hash), Ok(()));
        // Incremental verification of a suffix.
        assert_eq!(verify_from(3, &c[2].hash, &c[3..]), Ok(()));
    }

    #[test]
    fn first_hash_is_pinned() {
        // A changed encoding silently breaks every stored chain; change AUDIT_FORMAT instead.
        let first = entry(1, "model.register").seal(None).unwrap();
        assert_eq!(
            first.hash.to_hex(),
            "4ff54f8644df088d218a41e56e1695b9be6416b384c7ca82704cf6b1f5ef3f89"
        );
    }

    #[test]
    fn edited_entry_is_detected_at_that_entry() {
        for field in 0..5 {
            let mut c = chain(6);
            let e = &mut c[3].entry;
            match field {
                0 => e.actor = "mallory".into(),
                1 => e.action = "model.rollback".into(),
                2 => e.subject.push('x'),
                3 => e.time_ms += 1,
                _ => e.payload = Digest::of(b"forged"),
            }
            let err = verify(&c).unwrap_err();
            assert_eq!(err.seq, 4, "field {field}");
            assert!(
                matches!(err.why, BreakKind::HashMismatch { .. }),
                "field {field}"
            );
        }
    }

    #[test]
    fn edited_entry_with_recomputed_hash_breaks_the_next_link() {
        let mut c = chain(6);
        c[2].entry.actor = "mallory".into();
        c[2].hash = c[2].entry.hash_after(&c[1].hash);
        let err = verify(&c).unwrap_err();
        assert_eq!(err.seq, 4);
        assert!(
            err.to_string()
                .starts_with("audit chain broken at entry 4: stored hash"),
            "{err}"
        );
    }

    #[test]
    fn deleted_entry_is_detected() {
        let mut c = chain(6);
        c.remove(2);
        let err = verify(&c).unwrap_err();
        assert_eq!(
            err,
            ChainBreak {
                seq: 4,
                why: BreakKind::Sequence { expected: 3 }
            }
        );
        assert!(
            err.to_string().contains("expected sequence number 3"),
            "{err}"
        );
        // Renumbering the rest to hide the gap breaks the hashes instead.
        for e in &mut c[2..] {
            e.entry.seq -= 1;
        }
        let err = verify(&c).unwrap_err();
        assert_eq!(err.seq, 3);
        assert!(matches!(err.why, BreakKind::HashMismatch { .. }));
    }

    #[test]
    fn inserted_entry_is_detected() {
        let mut c = chain(6);
        // A forged entry sealed correctly after entry 3, with the rest renumbered.
        let forged = entry(4, "model.approve").seal(Some(&c[2])).unwrap();
        c.insert(3, forged);
        for e in &mut c[4..] {
            e.entry.seq += 1;
        }
        let err = verify(&c).unwrap_err();
        assert_eq!(err.seq, 5);
        assert!(matches!(err.why, BreakKind::HashMismatch { .. }));
        // Inserted without renumbering: a duplicate sequence number.
        let mut c = chain(6);
        c.insert(3, c[2].clone());
        assert_eq!(
            verify(&c).unwrap_err(),
            ChainBreak {
                seq: 3,
                why: BreakKind::Sequence { expected: 4 }
            }
        );
    }

    #[test]
    fn reordered_entries_are_detected() {
        let mut c = chain(6);
        c.swap(1, 2);
        assert_eq!(
            verify(&c).unwrap_err(),
            ChainBreak {
                seq: 3,
                why: BreakKind::Sequence { expected: 2 }
            }
        );
        // Swapping the fields but keeping the sequence numbers in place breaks the hash.
        let mut c = chain(6);
        let (a, b) = (c[1].entry.clone(), c[2].entry.clone());
        c[1].entry = AuditEntry { seq: 2, ..b };
        c[2].entry = AuditEntry { seq: 3, ..a };
        let err = verify(&c).unwrap_err();
        assert_eq!(err.seq, 2);
        assert!(matches!(err.why, BreakKind::HashMismatch { .. }));
    }

    #[test]
    fn truncated_tail_needs_the_head() {
        let c = chain(6);
        let head = c[5].hash;
        let short = &c[..4];
        assert_eq!(verify(short), Ok(()), "a prefix is a valid chain by itself");
        let err = verify_head(short, 6, &head).unwrap_err();
        assert_eq!(
            err,
            ChainBreak {
                seq: 6,
                why: BreakKind::Head {
                    head_seq: 6,
                    last_seq: 4
                }
            }
        );
        assert!(verify_head(&[], 0, &GENESIS).is_ok());
    }

    #[test]
    fn seal_refuses_a_wrong_sequence() {
        let c = chain(2);
        let err = entry(4, "x").seal(c.last()).unwrap_err();
        assert_eq!(
            err,
            SequenceError {
                expected: 3,
                found: 4
            }
        );
        assert_eq!(entry(2, "x").seal(None).unwrap_err().expected, 1);
        assert_eq!(
            err.to_string(),
            "audit entry has sequence number 4; the next entry in the chain must be 3"
        );
    }

    #[test]
    fn field_boundaries_are_unambiguous() {
        let mut a = entry(1, "ab");
        a.subject = "c".into();
        let mut b = entry(1, "a");
        b.subject = "bc".into();
        assert_ne!(a.canonical_bytes(), b.canonical_bytes());
    }

    #[test]
    fn serde_shape_is_flat() {
        let c = chain(1);
        let json = serde_json::to_value(&c[0]).unwrap();
        assert_eq!(json["seq"], 1);
        assert_eq!(json["action"], "model.promote");
        assert!(json["hash"].is_string());
        let back: SealedEntry = serde_json::from_value(json).unwrap();
        assert_eq!(back, c[0]);
    }
}
