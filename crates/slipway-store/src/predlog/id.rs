//! Prediction ids: 128 bits, time-ordered, printed as 32 lowercase hex digits.
//!
//! Layout: 48 bits of Unix milliseconds, 32 random bits chosen once per process (so two gateways
//! never collide), 48 bits of a per-process counter. The time in the id is the record's time.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// The id of one prediction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PredictionId(pub u128);

impl PredictionId {
    /// The millisecond (Unix epoch) the prediction was made.
    pub fn time_ms(self) -> i64 {
        (self.0 >> 80) as i64
    }

    /// The big-endian bytes (their order is the ids' order).
    pub fn to_bytes(self) -> [u8; 16] {
        self.0.to_be_bytes()
    }

    /// From [`PredictionId::to_bytes`].
    pub fn from_bytes(bytes: [u8; 16]) -> PredictionId {
        PredictionId(u128::from_be_bytes(bytes))
    }
}

impl fmt::Display for PredictionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

impl serde::Serialize for PredictionId {
    /// As its text (32 hex digits), like [`fmt::Display`].
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Why a text is not a prediction id.
#[derive(Debug, thiserror::Error)]
#[error(
    "{0:?} is not a prediction id (32 hexadecimal digits, as in the `prediction_ids` of a response)"
)]
pub struct BadPredictionId(pub String);

impl std::str::FromStr for PredictionId {
    type Err = BadPredictionId;
    fn from_str(s: &str) -> Result<PredictionId, BadPredictionId> {
        if s.len() != 32 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(BadPredictionId(s.to_string()));
        }
        u128::from_str_radix(s, 16)
            .map(PredictionId)
            .map_err(|_| BadPredictionId(s.to_string()))
    }
}

/// Hands out ids; shared by every request of a process.
pub struct IdGenerator {
    process: u128,
    counter: AtomicU64,
}

impl Default for IdGenerator {
    fn default() -> IdGenerator {
        IdGenerator::new()
    }
}

impl IdGenerator {
    /// A generator with fresh random process bits.
    pub fn new() -> IdGenerator {
        let random = uuid::Uuid::new_v4().as_u128() as u32;
        IdGenerator {
            process: u128::from(random) << 48,
            counter: AtomicU64::new(0),
        }
    }

    /// The next id, stamped with `now_ms`.
    pub fn next(&self, now_ms: i64) -> PredictionId {
        let n = self.counter.fetch_add(1, Ordering::Relaxed) & ((1 << 48) - 1);
        let ms = (now_ms.max(0) as u128) & ((1 << 48) - 1);
        PredictionId((ms << 80) | self.process | u128::from(n))
    }
}
