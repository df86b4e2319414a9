//! Run names for runs created without one, in MLflow's `adjective-animal-NNN` style.

const ADJECTIVES: &[&str] = &[
    "agile", "amber", "bold", "brave", "bright", "calm", "clever", "crisp", "daring", "eager",
    "fleet", "gentle", "glad", "golden", "honest", "keen", "lively", "lucid", "merry", "nimble",
    "noble", "orderly", "patient", "quiet", "rapid", "serene", "sharp", "steady", "sunny", "swift",
    "tidy", "vivid", "warm", "wise", "zesty",
];

const ANIMALS: &[&str] = &[
    "auk", "bass", "bat", "bear", "crane", "deer", "dove", "eel", "finch", "fox", "gnu", "hare",
    "heron", "ibis", "jay", "koi", "lark", "lynx", "mole", "newt", "owl", "panda", "quail", "ram",
    "seal", "skink", "stork", "toad", "vole", "wasp", "wren", "yak", "zebra",
];

/// A fresh name such as `orderly-skink-200`, drawn from the random bits of a UUIDv7.
pub fn generate() -> String {
    let bytes = uuid::Uuid::now_v7().into_bytes();
    // Bytes 8.. of a UUIDv7 are random.
    let n = u64::from_be_bytes(bytes[8..16].try_into().expect("8 bytes"));
    format!(
        "{}-{}-{}",
        ADJECTIVES[(n % ADJECTIVES.len() as u64) as usize],
        ANIMALS[((n >> 16) % ANIMALS.len() as u64) as usize],
        (n >> 32) % 1000
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_have_three_parts() {
        let name = super::generate();
        let parts: Vec<&str> = name.split('-').collect();
        assert_eq!(parts.len(), 3, "{name}");
        assert!(parts[2].parse::<u32>().unwrap() < 1000);
    }
}
