//! What an artifact is: a digest plus what kind of thing the bytes are.

use crate::Digest;
use std::fmt;
use std::str::FromStr;

/// The role an artifact plays; recorded with it so lineage and governance can speak in these terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ArtifactKind {
    /// Raw or prepared data.
    Dataset,
    /// A feature table.
    Features,
    /// A model file or model directory.
    Model,
    /// An evaluation, validation or gate report.
    Report,
    /// Any other single file.
    File,
    /// A directory, stored as a manifest of its files.
    Directory,
}

impl ArtifactKind {
    /// Every kind, in display order.
    pub const ALL: [ArtifactKind; 6] = [
        ArtifactKind::Dataset,
        ArtifactKind::Features,
        ArtifactKind::Model,
        ArtifactKind::Report,
        ArtifactKind::File,
        ArtifactKind::Directory,
    ];

    /// The lowercase name used in files, the CLI and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            ArtifactKind::Dataset => "dataset",
            ArtifactKind::Features => "features",
            ArtifactKind::Model => "model",
            ArtifactKind::Report => "report",
            ArtifactKind::File => "file",
            ArtifactKind::Directory => "directory",
        }
    }
}

/// An unknown artifact kind name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown artifact kind `{0}`; expected one of dataset, features, model, report, file, directory"
)]
pub struct UnknownKind(pub String);

impl FromStr for ArtifactKind {
    type Err = UnknownKind;

    fn from_str(text: &str) -> Result<ArtifactKind, UnknownKind> {
        ArtifactKind::ALL
            .into_iter()
            .find(|k| k.as_str() == text)
            .ok_or_else(|| UnknownKind(text.to_string()))
    }
}

impl fmt::Display for ArtifactKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for ArtifactKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for ArtifactKind {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<ArtifactKind, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A reference to stored bytes: their digest, size and kind, and optionally a media type.
///
/// For a directory, `digest` is the manifest's digest and `size` the total size of its files.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ArtifactRef {
    /// Address of the bytes (or of the manifest, for a directory).
    pub digest: Digest,
    /// Size in bytes (total of all files, for a directory).
    pub size: u64,
    /// What the bytes are.
    pub kind: ArtifactKind,
    /// IANA media type when known, e.g. `text/csv`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_names_round_trip() {
        for kind in ArtifactKind::ALL {
            assert_eq!(kind.as_str().parse::<ArtifactKind>().unwrap(), kind);
        }
        let err = "weights".parse::<ArtifactKind>().unwrap_err();
        assert!(err.to_string().contains("expected one of"));
    }
}
