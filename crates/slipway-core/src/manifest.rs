//! Directory manifests: a directory is stored as the sorted list of its files, and the digest of
//! that list's canonical encoding is the directory's digest.

use crate::{Digest, RelPath};
use std::collections::BTreeMap;

/// The format tag written into every manifest; part of the digest, so a format change changes
/// every directory digest on purpose.
pub const MANIFEST_FORMAT: &str = "slipway-manifest/1";

/// One file inside a directory.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ManifestEntry {
    /// Path relative to the directory root.
    pub path: RelPath,
    /// Digest of the file's bytes.
    pub digest: Digest,
    /// Size of the file in bytes.
    pub size: u64,
    /// Whether the file is executable (any execute bit set).
    pub executable: bool,
}

/// A directory's content: its files sorted by path. Empty directories are not represented.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    entries: Vec<ManifestEntry>,
}

/// Why a list of entries, or a stored manifest, is not a valid manifest.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// Two entries have the same path.
    #[error("manifest lists `{0}` twice")]
    DuplicatePath(String),
    /// A file's path is also used as a directory by another entry.
    #[error("manifest lists `{file}` as a file and also `{nested}` inside it")]
    FileIsDirectory {
        /// The path listed as a file.
        file: String,
        /// An entry nested under it.
        nested: String,
    },
    /// The stored bytes are not a manifest.
    #[error("not a slipway manifest: {0}")]
    Malformed(String),
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Encoded {
    format: String,
    entries: Vec<ManifestEntry>,
}

impl Manifest {
    /// Builds a manifest from entries in any order; the result is sorted and validated.
    pub fn new(mut entries: Vec<ManifestEntry>) -> Result<Manifest, ManifestError> {
        entries.sort_by(|a, b| a.path.as_str().cmp(b.path.as_str()));
        for pair in entries.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            if a.path == b.path {
                return Err(ManifestError::DuplicatePath(a.path.to_string()));
            }
        }
        // A file `a` and an entry `a/x` cannot both exist. Sorted order does not put `a/x`
        // right after `a` (`a.txt` sorts between them), so check against the set of paths.
        let files: BTreeMap<&str, ()> = entries.iter().map(|e| (e.path.as_str(), ())).collect();
        for entry in &entries {
            let path = entry.path.as_str();
            let mut end = 0;
            while let Some(slash) = path[end..].find('/') {
                end += slash;
                if files.contains_key(&path[..end]) {
                    return Err(ManifestError::FileIsDirectory {
                        file: path[..end].to_string(),
                        nested: path.to_string(),
                    });
                }
                end += 1;
            }
        }
        Ok(Manifest { entries })
    }

    /// The entries, sorted by path.
    pub fn entries(&self) -> &[ManifestEntry] {
        &self.entries
    }

    /// Total size of all files.
    pub fn total_size(&self) -> u64 {
        self.entries.iter().map(|e| e.size).sum()
    }

    /// The canonical encoding: compact JSON with a fixed field order and sorted entries. These
    /// bytes are what the store keeps and what the directory digest is computed over.
    pub fn to_canonical_bytes(&self) -> Vec<u8> {
        let encoded = EncodedRef {
            format: MANIFEST_FORMAT,
            entries: &self.entries,
        };
        serde_json::to_vec(&encoded).expect("manifest entries always serialise")
    }

    /// The directory digest: the digest of the canonical encoding.
    pub fn digest(&self) -> Digest {
        Digest::of(&self.to_canonical_bytes())
    }

    /// Parses stored manifest bytes, checking the format tag and the entry invariants.
    pub fn from_bytes(bytes: &[u8]) -> Result<Manifest, ManifestError> {
        let encoded: Encoded =
            serde_json::from_slice(bytes).map_err(|e| ManifestError::Malformed(e.to_string()))?;
        if encoded.format != MANIFEST_FORMAT {
            return Err(ManifestError::Malformed(format!(
                "format `{}`, expected `{MANIFEST_FORMAT}`",
                encoded.format
            )));
        }
        Manifest::new(encoded.entries)
    }

    /// Whether these bytes look like a manifest (cheap prefix check, used when listing objects).
    pub fn looks_like_manifest(bytes: &[u8]) -> bool {
        bytes.starts_with(b"{\"format\":\"slipway-manifest/")
    }
}

#[derive(serde::Serialize)]
struct EncodedRef<'a> {
    format: &'a str,
    entries: &'a [ManifestEntry],
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn entry(path: &str, content: &[u8], executable: bool) -> ManifestEntry {
        ManifestEntry {
            path: RelPath::new(path).unwrap(),
            digest: Digest::of(content),
            size: content.len() as u64,
            executable,
        }
    }

    #[test]
    fn canonical_encoding_is_pinned() {
        let m = Manifest::new(vec![entry("b.txt", b"b", false), entry("a/x", b"", true)]).unwrap();
        let text = String::from_utf8(m.to_canonical_bytes()).unwrap();
        assert_eq!(
            text,
            format!(
                "{{\"format\":\"slipway-manifest/1\",\"entries\":[\
                 {{\"path\":\"a/x\",\"digest\":\"{}\",\"size\":0,\"executable\":true}},\
                 {{\"path\":\"b.txt\",\"digest\":\"{}\",\"size\":1,\"executable\":false}}]}}",
                Digest::of(b""),
                Digest::of(b"b")
            )
        );
        assert!(Manifest::looks_like_manifest(text.as_bytes()));
        assert_eq!(Manifest::from_bytes(text.as_bytes()).unwrap(), m);
    }

    #[test]
    fn rejects_duplicates_and_file_dir_clash() {
        let dup = Manifest::new(vec![entry("a", b"1", false), entry("a", b"2", false)]);
        assert!(matches!(dup, Err(ManifestError::DuplicatePath(p)) if p == "a"));
        let clash = Manifest::new(vec![
            entry("a", b"1", false),
            entry("a.txt", b"2", false),
            entry("a/b", b"3", false),
        ]);
        assert!(matches!(clash, Err(ManifestError::FileIsDirectory { file, .. }) if file == "a"));
    }

    #[test]
    fn malformed_bytes_are_refused() {
        assert!(Manifest::from_bytes(b"not json").is_err());
        assert!(Manifest::from_bytes(b"{\"format\":\"other\",\"entries\":[]}").is_err());
        let traversal = format!(
            "{{\"format\":\"slipway-manifest/1\",\"entries\":[{{\"path\":\"../x\",\"digest\":\"{}\",\"size\":0,\"executable\":false}}]}}",
            Digest::of(b"")
        );
        assert!(Manifest::from_bytes(traversal.as_bytes()).is_err());
    }

    fn tree_strategy() -> impl Strategy<Value = Vec<(String, Vec<u8>, bool)>> {
        let name = "[a-z]{1,3}(/[a-z]{1,3}){0,2}\\.(csv|bin)";
        proptest::collection::btree_map(
            name,
            (proptest::collection::vec(any::<u8>(), 0..16), any::<bool>()),
            1..12,
        )
        .prop_map(|m| m.into_iter().map(|(k, (v, x))| (k, v, x)).collect())
    }

    fn manifest_of(tree: &[(String, Vec<u8>, bool)]) -> Manifest {
        Manifest::new(tree.iter().map(|(p, c, x)| entry(p, c, *x)).collect()).unwrap()
    }

    proptest! {
        /// The digest does not depend on the order in which the directory was listed.
        #[test]
        fn digest_independent_of_listing_order(tree in tree_strategy(), seed in any::<u64>()) {
            let mut shuffled = tree.clone();
            // A deterministic shuffle driven by the seed.
            let mut state = seed | 1;
            for i in (1..shuffled.len()).rev() {
                state ^= state << 13; state ^= state >> 7; state ^= state << 17;
                shuffled.swap(i, (state % (i as u64 + 1)) as usize);
            }
            prop_assert_eq!(manifest_of(&tree).digest(), manifest_of(&shuffled).digest());
        }

        /// Identical trees give identical digests; changing any byte, name or mode changes it.
        #[test]
        fn any_change_changes_digest(tree in tree_strategy(), pick in any::<prop::sample::Index>(), byte in any::<u8>(), what in 0u8..3) {
            let base = manifest_of(&tree).digest();
            prop_assert_eq!(base, manifest_of(&tree.clone()).digest());
            let mut changed = tree.clone();
            let i = pick.index(changed.len());
            match what {
                0 => changed[i].1.push(byte),
                1 => changed[i].2 = !changed[i].2,
                _ => changed[i].0.push('x'),
            }
            prop_assert_ne!(base, manifest_of(&changed).digest());
        }
    }
}
